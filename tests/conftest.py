"""Shared fixtures: isolated settings and data dirs, both checkpointers, and a network guard."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from config.settings import CONFIG_DIR, PROJECT_ROOT, Settings, load_settings
from tests.fakes import ScriptedModels

os.environ["LANGSMITH_TRACING"] = "false"
os.environ.pop("LANGSMITH_API_KEY", None)
for key in [k for k in os.environ if k.startswith("SENA_")]:
    del os.environ[key]

# The assembled embedded model is shared by the suite and by `make chat` (it is 1.1 GB).
MODELS_DIR = PROJECT_ROOT / "data" / "models"
SMALL_MODEL = "smollm2-135m"


def small_model_env(data_dir: Path) -> dict[str, str]:
    """Environment for a `sena` subprocess that uses the tiny model for every role."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENA_")}
    env.update(SENA_APP__DATA_DIR=str(data_dir), SENA_LLM__EMBEDDED__MODELS_DIR=str(MODELS_DIR))
    for role in ("FAST", "CRITICAL", "CODE", "ROUTER"):
        env[f"SENA_LLM__ROLES__{role}__EMBEDDED_MODEL"] = SMALL_MODEL
        env[f"SENA_LLM__ROLES__{role}__MAX_TOKENS"] = "24"
    return env


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any test that tries to reach a model or service beyond this machine."""
    real_connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host not in ("127.0.0.1", "::1", "localhost") and not str(host).startswith("127."):
                raise RuntimeError(f"test tried to reach {address}; tests must stay on loopback")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def own_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test reads a copy of config/, so nothing a test does (the settings API writes the
    YAML files) can change the repository's configuration."""
    if "SENA_CONFIG_DIR" in os.environ:
        return
    copy = tmp_path_factory.mktemp("config")
    shutil.copytree(CONFIG_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"), dirs_exist_ok=True)
    monkeypatch.setenv("SENA_CONFIG_DIR", str(copy))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(app={"data_dir": tmp_path}, llm={"embedded": {"models_dir": MODELS_DIR}})


@pytest.fixture
def small_settings(tmp_path: Path) -> Settings:
    roles = {role: {"embedded_model": SMALL_MODEL, "max_tokens": 24} for role in ("fast", "critical", "code", "router")}
    return load_settings(app={"data_dir": tmp_path}, llm={"embedded": {"models_dir": MODELS_DIR}, "roles": roles})


@pytest.fixture
def models() -> ScriptedModels:
    return ScriptedModels(fallback="fallback")


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def checkpointer(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BaseCheckpointSaver[Any]]:
    if request.param == "memory":
        yield InMemorySaver()
    elif request.param == "sqlite":
        async with AsyncSqliteSaver.from_conn_string(str(tmp_path / "checkpoints.db")) as saver:
            yield saver
    else:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

        from tests.postgres import fresh_database

        url = fresh_database(request.getfixturevalue("postgres_url"))
        async with AsyncPostgresSaver.from_conn_string(url) as saver:
            await saver.setup()
            yield saver


@pytest.fixture
def repo_root() -> Iterator[Path]:
    yield PROJECT_ROOT


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL server on loopback for the whole session (see tests/postgres.py)."""
    from tests.postgres import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=[8])
def small_disk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """A real filesystem (tmpfs) of `param` MB to fill up; needs root, as in CI."""
    mount = tmp_path / "disk"
    mount.mkdir()
    size = f"size={request.param}m"
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", size, "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
