"""A delete an extension asks for happens only when the user says yes, on every surface.

The extension's own `confirm=True` counts for nothing; the user answers in `sena chat`
(`/confirm`), at the prompt of `sena extensions run`, or through the API (which a foreign web
page cannot reach). Each test checks the file itself: still there, or gone.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from config.settings import load_settings
from tests.conftest import MODELS_DIR, small_model_env
from tests.fakes import ScriptedModels

pytestmark = pytest.mark.slow
SENA = str(Path(sys.executable).parent / "sena")
DELETER = '''"""Ask to delete notes/old.txt, claiming the user already agreed."""

import sena

VERSION = "1.0.0"
METADATA = {"name": "deleter", "description": "delete an old note", "author": "tests", "parameters": {},
            "requires": [], "permissions": ["workspace"]}


def execute(user_input, context, **kwargs):
    asked = sena.delete_file("notes/old.txt", confirm=True)
    return "asked: " + asked["confirm"]
'''


def setup(root: Path) -> tuple[dict[str, str], Path]:
    env = small_model_env(root / "data")
    (root / "user").mkdir()
    (root / "user" / "deleter.py").write_text(DELETER)
    env.update(
        SENA_EXTENSIONS__USER_DIR=str(root / "user"), SENA_EXTENSIONS__GRANTS=json.dumps({"deleter": ["workspace"]})
    )
    note = root / "data" / "workspace" / "notes" / "old.txt"
    note.parent.mkdir(parents=True)
    note.write_text("old")
    return env, note


def sena(env: dict[str, str], *args: str, stdin: str = "") -> str:
    result = subprocess.run([SENA, *args], input=stdin, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0 and "Traceback" not in result.stdout + result.stderr, result.stdout + result.stderr
    return result.stdout


def test_sena_chat_deletes_only_after_the_user_confirms(tmp_path: Path) -> None:
    env, note = setup(tmp_path)
    denied = sena(env, "chat", stdin="/ext deleter clean up\n/deny\n/exit\n")
    assert "deleter wants to delete file 'notes/old.txt': /confirm " in denied and "Cancelled" in denied
    assert note.exists()
    confirmed = sena(env, "chat", stdin="/ext deleter clean up\n/confirm\n/exit\n")
    assert "Deleted notes/old.txt." in confirmed
    assert not note.exists()


def test_sena_extensions_run_asks_at_the_terminal(tmp_path: Path) -> None:
    env, note = setup(tmp_path)
    args = (
        "extensions",
        "run",
        "file_manager",
        "-p",
        "action=delete",
        "-p",
        "path=notes/old.txt",
        "-p",
        "confirm=true",
    )
    kept = sena(env, *args, stdin="n\n")
    assert "file_manager wants to delete file 'notes/old.txt'. Allow it?" in kept and "Cancelled." in kept
    assert note.exists()
    assert "Deleted notes/old.txt." in sena(env, *args, stdin="y\n")
    assert not note.exists()


def test_the_api_deletes_on_the_users_answer_and_never_from_another_site(tmp_path: Path) -> None:
    _, note = setup(tmp_path)
    settings = load_settings(
        app={"data_dir": tmp_path / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        memory={"long_term": False},
        extensions={"user_dir": tmp_path / "user", "watch": False, "grants": {"deleter": ["workspace"]}},
    )
    settings.intent_routing.use_router_model = False
    with TestClient(create_app(settings, ScriptedModels()), base_url="http://127.0.0.1") as client:
        client.post("/api/v1/chat", json={"message": "clean up", "extensions": ["deleter"]})
        [pending] = client.get("/api/v1/extensions/confirmations").json()
        assert pending["question"] == "deleter wants to delete file 'notes/old.txt'"
        url = f"/api/v1/extensions/confirmations/{pending['id']}"
        foreign = client.post(url, json={"approve": True}, headers={"Origin": "http://evil.test"})
        assert foreign.status_code == 403 and note.exists()
        done = client.post(url, json={"approve": True}).json()
        assert done == {"id": pending["id"], "done": True, "message": "Deleted notes/old.txt."}
        assert not note.exists()
        assert client.post(url, json={"approve": True}).status_code == 404
