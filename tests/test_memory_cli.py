"""`sena memory ...` on the real store, and the single-process lock on the embedded store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from config.settings import load_settings
from memory.store import MemoryLocked, MemoryStore
from tests.fakes import ScriptedChatModel

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
