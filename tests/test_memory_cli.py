"""`sena memory ...` on the real store, and the single-process lock on the embedded store."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from api.background import free_port
from cli.app import app
from config.settings import load_settings
from memory.store import MemoryLocked, MemoryStore
from tests.conftest import small_model_env
from tests.fakes import ScriptedChatModel
from tests.serving import interactive, run_sena, running_server, serve_env

pytestmark = pytest.mark.slow


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SENA_APP__DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["memory", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_memory_commands(cli_env: Path) -> None:
    added = run("add", "The user's sister Lena lives in Porto")
    memory_id = re.search(r"Added ([0-9a-f-]{36})", added).group(1)  # type: ignore[union-attr]
    assert "Lena lives in Porto" in run("search", "where does Lena live?")
    run("edit", memory_id, "The user's sister Lena lives in Lyon")
    listed = run("list")
    assert "Lyon" in listed and "Porto" not in listed and memory_id in listed
    history = run("history", memory_id)
    assert "ADD" in history and "UPDATE" in history and "Porto" in history
    run("delete", memory_id)
    assert run("list").strip() == "No memories."


def test_bad_id_is_a_clear_error(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["memory", "delete", "not-an-id"])
    assert result.exit_code == 1
    assert "No memory with id 'not-an-id'" in result.output
    assert "Traceback" not in result.output


def test_second_process_on_the_embedded_store_is_told_why(tmp_path: Path) -> None:
    settings = load_settings(app={"data_dir": tmp_path})
    first = MemoryStore.open(settings.memory, tmp_path, ScriptedChatModel())
    try:
        with pytest.raises(MemoryLocked, match="open in another Sena process"):
            MemoryStore.open(settings.memory, tmp_path, ScriptedChatModel())
    finally:
        first.close()
    MemoryStore.open(settings.memory, tmp_path, ScriptedChatModel()).close()  # free again once closed


def read_until(process: subprocess.Popen[str], marker: str) -> str:
    """What the process printed up to and including `marker` (the test's timeout bounds the wait)."""
    assert process.stdout is not None
    seen = ""
    while marker not in seen:
        char = process.stdout.read(1)
        assert char, f"the process ended before {marker!r}: {seen}"
        seen += char
    return seen


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_memory_commands_work_beside_a_running_server_and_a_running_chat(tmp_path: Path) -> None:
    """One process owns a data folder; `sena memory ...` beside it goes through its API."""
    env = serve_env(tmp_path / "served")
    with running_server(env) as url:
        assert "Added" in run_sena(env, "memory", "add", "The user's bike is called Rocket")
        assert "Rocket" in run_sena(env, "memory", "list")
        assert "Rocket" in run_sena(env, "memory", "search", "bicycle name")
        assert (tmp_path / "served" / "data" / "server.json").exists()
        logs = httpx.get(f"{url}/api/v1/debug/logs", params={"q": "API ready"}, headers={"Authorization": "Bearer tok"})
        assert [r["message"] for r in logs.json()] == ["Sena API ready"]  # uvicorn left the log handlers alone
    assert not (tmp_path / "served" / "data" / "server.json").exists()  # a stopped server leaves no address

    env = small_model_env(tmp_path / "chatting")
    env.update(SENA_API__PORT=str(free_port()), PYTHONUNBUFFERED="1")
    chat = interactive(env, "chat", "--thread", "t")
    assert chat.stdin is not None
    try:
        read_until(chat, "/help for commands")  # the chat serves its API before it greets
        assert (tmp_path / "chatting" / "server.json").exists()
        assert "Added" in run_sena(env, "memory", "add", "The user drinks oolong tea")
        assert "oolong" in run_sena(env, "memory", "list")
        chat.stdin.write("/memory\n")
        chat.stdin.flush()
        assert "The user drinks oolong tea" in read_until(chat, "oolong tea")  # the chat sees it too
        chat.stdin.write("/exit\n")
        chat.stdin.flush()
        assert chat.wait(60) == 0
    finally:
        chat.kill()
    assert not (tmp_path / "chatting" / "server.json").exists()  # nothing serves the folder now
    assert "oolong" in run_sena(env, "memory", "list")  # on the store itself
