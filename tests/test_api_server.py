"""A real `sena serve` process on a free loopback port, with the embedded model (tiny, for speed)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.serving import SENA, running_server, serve_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return serve_env(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def server(server_env: dict[str, str]) -> Iterator[str]:
    with running_server(server_env) as url:
        yield url


def feed(url: str, events: list[tuple[str, str, dict[str, Any]]], stop: threading.Event, **headers: str) -> None:
    """Collect (id, event, data) from the debug stream until `stop` is set."""
    with httpx.stream(
        "GET",
        f"{url}/api/v1/debug/stream",
        params={"level": "INFO"},
        headers={"Authorization": "Bearer tok", **headers},
        timeout=None,
    ) as response:
        event_id, name = "", ""
        for line in response.iter_lines():
            if line.startswith("id:"):
                event_id = line[3:].strip()
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                events.append((event_id, name, json.loads(line[5:].strip())))
            if stop.is_set():
                return


def test_real_server_chat_feed_and_resume(server: str) -> None:
    auth = {"Authorization": "Bearer tok"}
    assert httpx.get(f"{server}/api/v1/threads").status_code == 401

    seen: list[tuple[str, str, dict[str, Any]]] = []
    stop = threading.Event()
    listener = threading.Thread(target=feed, args=(server, seen, stop), daemon=True)
    listener.start()
    time.sleep(0.5)
    hello = {"message": "hello", "thread_id": "s1"}
    answer = httpx.post(f"{server}/api/v1/chat", json=hello, headers=auth, timeout=300)
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(name == "turn_end" for _, name, _ in seen):
        time.sleep(0.1)
    stop.set()
    nodes = [data["node"] for _, name, data in seen if name == "node_end"]
    assert nodes[:2] == ["classify_intent", "decide_memory"] and "generate" in nodes

    # A client that reconnects with Last-Event-ID gets the events after it, from the buffer.
    first_id = next(event_id for event_id, name, _ in seen if name == "node_end")
    resumed: list[tuple[str, str, dict[str, Any]]] = []
    stop_again = threading.Event()
    again = threading.Thread(target=feed, args=(server, resumed, stop_again), kwargs={"Last-Event-ID": first_id})
    again.daemon = True
    again.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(name == "turn_end" for _, name, _ in resumed):
        time.sleep(0.1)
    stop_again.set()
    assert resumed and int(resumed[0][0]) == int(first_id) + 1

    streamed = httpx.post(
        f"{server}/api/v1/chat/stream", json={"message": "hello again", "thread_id": "s1"}, headers=auth, timeout=300
    )
    assert "event: token" in streamed.text and "event: done" in streamed.text
    history = httpx.get(f"{server}/api/v1/chat/history", params={"thread_id": "s1"}, headers=auth).json()
    assert len(history) == 4


def chat(env: dict[str, str], *args: str, stdin: str) -> str:
    result = subprocess.run([SENA, "chat", *args], input=stdin, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_chat_over_the_api_and_automatically_when_the_server_owns_the_data(
    server: str, server_env: dict[str, str]
) -> None:
    explicit = chat(server_env, "--server", server, "--thread", "cli", stdin="hello\n/history\n/exit\n")
    assert f"via {server}" in explicit and "sena>" in explicit and "you> hello" in explicit
    automatic = chat(server_env, "--thread", "cli", stdin="/history\n/exit\n")
    assert "Another Sena process owns" in automatic and "you> hello" in automatic


def test_a_killed_server_loses_no_message_and_finishes_the_turn_after_restart(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    for key in [k for k in env if k.startswith("SENA_LLM__ROLES__")]:
        del env[key]  # the default 1.5B model: slow enough to be killed mid-answer
    env["SENA_LLM__ROLES__FAST__MAX_TOKENS"] = "400"
    auth = {"Authorization": "Bearer tok"}
    long_question = {"message": "Write a long story about a lighthouse keeper and a storm.", "thread_id": "crash"}
    with running_server(env) as url:
        pid = httpx.get(f"{url}/health").json()["pid"]

        def ask() -> None:
            with contextlib.suppress(httpx.HTTPError):  # the server dies under it
                httpx.post(f"{url}/api/v1/chat", json=long_question, headers=auth, timeout=300)

        sender = threading.Thread(target=ask, daemon=True)
        sender.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # wait until it is generating
            state = httpx.get(f"{url}/api/v1/debug/state", params={"thread_id": "crash"}, headers=auth)
            if state.status_code == 200 and "generate" in state.json()["next"]:
                break
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
    with running_server(env) as url:
        history = httpx.get(f"{url}/api/v1/chat/history", params={"thread_id": "crash"}, headers=auth).json()
        assert [m["content"] for m in history] == [long_question["message"]]  # the message survived the kill
        after = httpx.post(
            f"{url}/api/v1/chat", json={"message": "thanks", "thread_id": "crash"}, headers=auth, timeout=600
        )
        assert after.status_code == 200
        roles = [
            m["role"]
            for m in httpx.get(f"{url}/api/v1/chat/history", params={"thread_id": "crash"}, headers=auth).json()
        ]
        assert roles == ["user", "assistant", "user", "assistant"]  # the cut turn was finished first
