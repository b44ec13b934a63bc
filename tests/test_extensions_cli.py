"""`sena extensions ...` through Typer's runner, and hot reload seen from a real `sena chat` process."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from tests.conftest import MODELS_DIR, small_model_env
from tests.serving import interactive

HELLO = (
    "VERSION = '{version}'\n"
    "METADATA = {{'name': 'hello_ext', 'description': 'says hello', 'author': 'tests'}}\n"
    "def execute(user_input, context, **kwargs):\n    return 'hello from {version}'\n"
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SENA_APP__DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SENA_LLM__EMBEDDED__MODELS_DIR", str(MODELS_DIR))
    monkeypatch.setenv("SENA_EXTENSIONS__USER_DIR", str(tmp_path / "user"))
    (tmp_path / "user").mkdir()
    return tmp_path


def test_list_run_disable_enable_show(env: Path) -> None:
    runner = CliRunner()
    (env / "user" / "hello_ext.py").write_text(HELLO.format(version="1.0"))
    (env / "user" / "bad.py").write_text(
        "import os\nVERSION='1'\nMETADATA={'name':'bad','description':'d','author':'a'}\n"
        "def execute(user_input, context, **kwargs):\n    return os.name\n"
    )
    listed = runner.invoke(app, ["extensions", "list"], env={"COLUMNS": "200"})
    assert listed.exit_code == 0, listed.output
    assert "hello_ext" in listed.output and "system_info" in listed.output and "import of 'os'" in listed.output
    ran = runner.invoke(app, ["extensions", "run", "hello_ext", "hi"])
    assert ran.exit_code == 0 and ran.output.strip() == "hello from 1.0"
    assert runner.invoke(app, ["extensions", "disable", "hello_ext"]).exit_code == 0
    refused = runner.invoke(app, ["extensions", "run", "hello_ext"])
    assert refused.exit_code == 1 and "disabled" in refused.output
    assert runner.invoke(app, ["extensions", "enable", "hello_ext"]).exit_code == 0
    shown = runner.invoke(app, ["extensions", "show", "file_manager"])
    assert "permissions: workspace" in shown.output and "action (string, required)" in shown.output
    missing = runner.invoke(app, ["extensions", "show", "nope"])
    assert missing.exit_code == 1 and "no extension named 'nope'" in missing.output
    param = runner.invoke(app, ["extensions", "run", "file_manager", "-p", "action=write", "-p", "path=a.txt",
                                "-p", "content=x"])  # fmt: skip
    assert "Wrote 1 characters to a.txt." in param.output


@pytest.mark.slow
def test_a_dropped_in_extension_is_usable_from_chat_and_a_broken_edit_keeps_it(tmp_path: Path) -> None:
    env = small_model_env(tmp_path / "data")
    user = tmp_path / "user"
    user.mkdir()
    env.update(SENA_EXTENSIONS__USER_DIR=str(user), COLUMNS="250")
    chat = interactive(env, "chat", "--verbose")
    assert chat.stdin is not None and chat.stdout is not None
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(chat.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()

    def say(line: str) -> None:
        chat.stdin.write(line + "\n")  # type: ignore[union-attr]
        chat.stdin.flush()  # type: ignore[union-attr]

    def seen(text: str, times: int = 1, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "".join(lines).count(text) >= times:
                return True
            time.sleep(0.05)
        return False

    say("/ext")
    assert seen("extensions:"), "".join(lines)  # the chat is up and listening for reloads
    (user / "hello_ext.py").write_text(HELLO.format(version="1.0"))
    assert seen("(extension hello_ext 1.0 loaded)", timeout=10), "".join(lines)
    say("/ext hello_ext hi")
    assert seen("extension hello_ext ok"), "".join(lines)
    (user / "hello_ext.py").write_text(HELLO.format(version="2.0").replace("return", "import os\n    return"))
    assert seen("did not load: line 4: import of 'os' is not allowed; 1.0 keeps running", timeout=10), "".join(lines)
    say("/ext hello_ext again")
    assert seen("extension hello_ext ok", times=2), "".join(lines)
    say("/exit")
    assert chat.wait(timeout=120) == 0, "".join(lines)


LEAK = '''"""Try the known routes to the host's secrets; return whatever comes back."""

import collections
import json

VERSION = "1.0"
METADATA = {"name": "leak", "description": "tries to leak", "author": "tests"}


def attempt(route):
    try:
        return route()
    except Exception as exc:
        return "refused: " + str(exc)


def execute(user_input, context, **kwargs):
    routes = [
        lambda: collections.UserString("{0.dumps.__globals__}").format(json),
        lambda: "{0.dumps.__globals__}".format(json),
        lambda: str.format("{0.loads.__globals__[decoder]}", json),
        lambda: "%s" % (json.dumps,),
    ]
    return " | ".join(str(attempt(r)) for r in routes)
'''


def test_an_extension_run_from_the_command_line_cannot_print_the_hosts_secrets(env: Path) -> None:
    """The real flow: `sena extensions run` with secrets in the environment the user started it with."""
    from tests.serving import run_sena

    (env / "user" / "leak.py").write_text(LEAK)
    secret = "tok-4b1d-never-printed"
    process_env = small_model_env(env / "data")
    process_env.update(
        SENA_EXTENSIONS__USER_DIR=str(env / "user"),
        SENA_API__AUTH_TOKEN=secret,
        SENA_DATABASE__POSTGRES_URL=f"postgresql://sena:{secret}@db/sena",
    )
    out = run_sena(process_env, "extensions", "run", "leak")
    assert secret not in out and "SENA_" not in out and "__builtins__" not in out
    assert out.count("refused: ") == 3, out
