"""Start a real `sena serve` process on a free loopback port for a test, and stop it after."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from api.background import free_port
from config.settings import CONFIG_DIR
from tests.conftest import small_model_env

SENA = str(Path(sys.executable).parent / "sena")
TOKEN = "tok"


def run_sena(env: dict[str, str], *args: str, stdin: str = "") -> str:
    """Run the `sena` command as a user would; fail the test on a non-zero exit."""
    result = subprocess.run([SENA, *args], input=stdin, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def interactive(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """Start `sena ARGS` with piped stdin and stdout (stderr merged), to drive it line by line."""
    process = subprocess.Popen(
        [SENA, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    assert process.stdin is not None and process.stdout is not None
    return process


def serve_env(root: Path) -> dict[str, str]:
    """Environment for a server on the tiny embedded model, with auth on, a port of its own and a
    copy of config/ (the settings API writes to its files)."""
    env = small_model_env(root / "data")
    shutil.copytree(
        CONFIG_DIR, root / "config", ignore=shutil.ignore_patterns("__pycache__", "*.py"), dirs_exist_ok=True
    )
    env.update(SENA_EXTENSIONS__USER_DIR=str(root / "user"), SENA_API__AUTH_TOKEN=TOKEN)
    env["SENA_CONFIG_DIR"] = str(root / "config")
    env["SENA_API__PORT"] = str(free_port())
    return env


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[str]:
    process = subprocess.Popen([SENA, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{env['SENA_API__PORT']}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/health", timeout=1).json()["status"] == "ok":
                break
        except (httpx.HTTPError, ValueError):
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("sena serve did not come up: " + (process.stdout.read() if process.stdout else ""))
    try:
        yield url
    finally:
        process.terminate()
        process.wait(30)
