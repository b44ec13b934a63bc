"""`sena chat` as a user runs it: a real subprocess fed from stdin, on the real embedded model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import MODELS_DIR, small_model_env
from tests.serving import interactive

pytestmark = pytest.mark.slow
SENA = str(Path(sys.executable).parent / "sena")


def sena(args: list[str], stdin: str, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([SENA, *args], input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return result


def answers(stdout: str) -> list[str]:
    return [part.split("you>")[0].strip() for part in stdout.split("sena>")[1:]]


def test_default_model_answers_hello(tmp_path: Path) -> None:
    env = small_model_env(tmp_path)
    for key in [k for k in env if k.startswith("SENA_LLM__ROLES__")]:
        del env[key]  # the default: Qwen2.5-Coder-1.5B through llama.cpp
    env["SENA_LLM__ROLES__FAST__MAX_TOKENS"] = "32"
    result = sena(["chat"], "hello\n/exit\n", env)
    assert "embedded:qwen2.5-coder-1.5b" in result.stdout
    [answer] = answers(result.stdout)
    assert len(answer) > 1 and not answer.startswith("Sorry")


def test_second_process_sees_the_first_ones_history(tmp_path: Path) -> None:
    env = small_model_env(tmp_path)
    sena(["chat", "--thread", "t1"], "My favourite colour is teal.\n/exit\n", env)
    second = sena(["chat", "--thread", "t1"], "/history\n/exit\n", env)
    assert "Resumed thread t1 (2 messages)" in second.stdout
    assert "you> My favourite colour is teal." in second.stdout
    threads = sena(["threads"], "", env)
    assert "t1" in threads.stdout


def test_verbose_shows_greeting_skipping_retrieve_and_recall_running_it(tmp_path: Path) -> None:
    env = small_model_env(tmp_path)
    out = sena(["chat", "--verbose"], "hello\nwhat did I say earlier about cats?\n/exit\n", env).stdout
    greeting, recall = out.split("> classify_intent")[1:3]
    assert "memory=no: greeting" in greeting and "> retrieve" not in greeting
    assert "memory=yes: recall phrase" in recall and "> retrieve" in recall


def test_model_switch_in_chat(tmp_path: Path) -> None:
    env = small_model_env(tmp_path)
    out = sena(["chat"], "/model code qwen2.5-coder-1.5b\n/model\n/model code nope\n/exit\n", env).stdout
    assert "code -> embedded:qwen2.5-coder-1.5b" in out
    assert "Unknown embedded model 'nope'" in out


def test_bench_turn_reports_figures(tmp_path: Path) -> None:
    env = small_model_env(tmp_path)
    out = sena(["bench", "turn", "--turns", "5", "--embedded-turns", "1", "--json"], "", env).stdout
    report = json.loads(out)
    assert report["scripted"]["turns"] == 5
    assert set(report["scripted"]["nodes_ms_p50"]) >= {"classify_intent", "generate", "extract_learnings"}
    assert report["embedded"]["ttft_ms_p50"] > 0 and report["embedded"]["direct_ttft_ms_p50"] > 0
    import sqlite3

    with sqlite3.connect(tmp_path / "sena.db") as db:  # only the run's figures are kept there
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "checkpoints" not in tables and "threads" not in tables  # benchmarks never touch the user's threads
        assert db.execute("SELECT COUNT(DISTINCT session_id) FROM benchmarks WHERE suite = 'turn'").fetchone() == (1,)
    assert MODELS_DIR.exists()


def test_chat_killed_mid_answer_keeps_the_message_and_finishes_the_turn_on_reopen(tmp_path: Path) -> None:
    import os
    import signal
    import time

    env = small_model_env(tmp_path)
    for key in [k for k in env if k.startswith("SENA_LLM__ROLES__")]:
        del env[key]  # the default 1.5B model: slow enough to be killed mid-answer
    env.update(SENA_LLM__ROLES__FAST__MAX_TOKENS="400", PYTHONUNBUFFERED="1")
    question = "Write a long story about a lighthouse keeper and a storm."
    chat = interactive(env, "chat", "--thread", "crash", "--verbose")
    assert chat.stdin is not None and chat.stdout is not None
    chat.stdin.write(question + "\n")
    chat.stdin.flush()
    deadline, seen = time.monotonic() + 300, ""
    while time.monotonic() < deadline and "sena>" not in seen:  # the answer has begun streaming
        seen += chat.stdout.read(1)
    os.kill(chat.pid, signal.SIGKILL)
    chat.wait(30)
    assert "> generate" in seen and "sena>" in seen, seen
    env["SENA_LLM__ROLES__FAST__MAX_TOKENS"] = "24"
    reopened = sena(["chat", "--thread", "crash"], "/history\n/exit\n", env)
    assert "The last turn of this thread was interrupted; finishing it first." in reopened.stdout
    history = reopened.stdout.split("/history shows them.")[-1]
    assert f"you> {question}" in history and history.count("sena>") >= 2  # the finished answer, then /history


@pytest.mark.parametrize("small_disk", [64], indirect=True)  # over doctor's 50 MB floor, so chat starts
def test_chat_on_a_full_disk_says_so_keeps_the_text_and_goes_on_once_freed(small_disk: Path) -> None:
    import time

    from tests.helpers import fill

    env = small_model_env(small_disk)
    env.update(SENA_MEMORY__LONG_TERM="false", PYTHONUNBUFFERED="1")
    chat = interactive(env, "chat", "--thread", "disk")
    assert chat.stdin is not None and chat.stdout is not None
    seen = ""

    def send_and_wait(text: str | None, until: str) -> str:
        """Send a line (None: nothing), then read until `until` appears in what follows."""
        nonlocal seen
        assert chat.stdin is not None and chat.stdout is not None
        if text is not None:
            chat.stdin.write(text + "\n")
            chat.stdin.flush()
        start, deadline = len(seen), time.monotonic() + 300
        while until not in seen[start:] and time.monotonic() < deadline:
            if not (char := chat.stdout.read(1)):
                break  # the chat ended
            seen += char
        return seen[start:]

    send_and_wait(None, "you>")  # the first prompt
    assert "sena>" in send_and_wait("hello", "you>")
    filler = fill(small_disk)
    stopped = send_and_wait("my disk is full", "you>")
    assert "The turn stopped: The disk is full" in stopped and "Free some disk space" in stopped
    assert "could not be saved" in stopped and "Not saved: my disk is full" in stopped
    filler.unlink()
    assert "sena>" in send_and_wait("it is fixed now", "you>")
    history = send_and_wait("/history", "you> it is fixed now")  # the history, up to the last message
    chat.stdin.write("/exit\n")
    chat.stdin.close()
    chat.wait(60)
    assert "you> hello" in history and history.endswith("you> it is fixed now")
    assert "you> my disk is full" not in history and "Traceback" not in seen
