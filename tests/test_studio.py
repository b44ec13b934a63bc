"""`langgraph dev` serves the graph from langgraph.json offline, and a run streams through the SDK."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from langgraph_sdk import get_client

from api.background import free_port
from config.settings import PROJECT_ROOT
from tests.conftest import small_model_env

pytestmark = pytest.mark.slow


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = small_model_env(tmp_path)
    env.update(LANGGRAPH_NO_VERSION_CHECK="true", LANGSMITH_TRACING="false")
    log = (tmp_path / "dev.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "langgraph"), "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 120
        while True:
            try:
                if httpx.get(f"{url}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("langgraph dev did not start:\n" + (tmp_path / "dev.log").read_text())
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


async def test_langgraph_dev_lists_and_runs_the_sena_graph(dev_server: str) -> None:
    found = httpx.post(f"{dev_server}/assistants/search", json={}, timeout=10).json()
    assert [a["graph_id"] for a in found] == ["sena"]

    client = get_client(url=dev_server)
    thread = await client.threads.create()
    nodes: list[str] = []
    async for part in client.runs.stream(
        thread["thread_id"],
        "sena",
        input=cast(Any, {"messages": [{"role": "user", "content": "hello"}]}),
        stream_mode="updates",
    ):
        if part.event == "updates" and isinstance(part.data, dict):
            nodes.extend(part.data)
    assert nodes == ["classify_intent", "decide_memory", "generate", "extract_learnings"]
    state: Any = await client.threads.get_state(thread["thread_id"])
    assert state["values"]["intent"]["intent_type"] == "greeting"
    assert state["values"]["answer"]
    history = await client.threads.get_history(thread["thread_id"])
    assert len(history) >= 5  # a checkpoint after every step
