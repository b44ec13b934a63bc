"""Debugging a real turn from the command line: turns, inspect, a recorded replay with no model reachable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT
from tests.conftest import small_model_env
from tests.serving import run_sena as sena

pytestmark = pytest.mark.slow


def broken_model_config(tmp_path: Path) -> Path:
    """A copy of the configuration whose small model file cannot be found: every model call fails."""
    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    models = config / "models.yaml"
    models.write_text(models.read_text().replace("SmolLM2-135M-Instruct.Q4_1.gguf", "missing.gguf"))
    return config


def test_recorded_replay_of_a_real_turn_needs_no_model(tmp_path: Path) -> None:
    env = small_model_env(tmp_path)
    sena(env, "chat", "--thread", "dbg", stdin="how much disk space is left?\n/exit\n")
    [turn] = json.loads(sena(env, "turns", "dbg", "--json"))
    assert turn["intent"] == "system_info" and turn["complete"]
    detail = json.loads(sena(env, "inspect", "dbg", "1", "--json"))
    assert [s["node"] for s in detail["steps"]] == [
        "classify_intent",
        "decide_memory",
        "run_extensions",
        "generate",
        "extract_learnings",
    ]
    assert detail["skipped"] == ["retrieve"] and all(s["duration_ms"] is not None for s in detail["steps"])
    start = detail["checkpoints"][1]  # before classify_intent

    offline = {**env, "SENA_CONFIG_DIR": str(broken_model_config(tmp_path))}
    replayed = json.loads(sena(offline, "replay", "dbg", "--from", start, "--recorded", "--json"))
    assert replayed["identical"], replayed["changes"]
    assert replayed["answer"] == detail["answer"] and replayed["answer"]
    live = json.loads(sena(offline, "replay", "dbg", "--from", start, "--live", "--json"))
    assert not live["identical"] and "missing.gguf" in json.dumps(live["changes"])  # the live model call fails
    assert [t["turn"] for t in json.loads(sena(env, "turns", "dbg", "--json"))] == [1]


def test_every_turn_of_a_real_thread_replays_from_its_start(tmp_path: Path) -> None:
    """Turns made by `sena chat` on the embedded model: the first, a later one, and one the router model decided."""
    env = small_model_env(tmp_path)
    env["SENA_INTENT_ROUTING__ROUTER_THRESHOLD"] = "0"  # the tiny router's answer counts however unsure it is
    env["SENA_INTENT_ROUTING__EXAMPLES_THRESHOLD"] = "1"  # and the example classifier is never sure: it decides
    messages = ["hello", "roses and violets for my aunt", "how much disk space is left?"]
    sena(env, "chat", "--thread", "long", stdin="\n".join(messages) + "\n/exit\n")
    turns = json.loads(sena(env, "turns", "long", "--json"))
    assert [t["message"] for t in turns] == messages and all(t["complete"] for t in turns)
    routed = json.loads(sena(env, "inspect", "long", "2", "--json"))
    assert routed["steps"][0]["update"]["intent"]["source"] == "router"  # no rule covers it
    offline = {**env, "SENA_CONFIG_DIR": str(broken_model_config(tmp_path))}
    for turn in turns:
        replayed = json.loads(
            sena(offline, "replay", "long", "--from", turn["start_checkpoint"], "--recorded", "--json")
        )
        assert replayed["identical"] and not replayed["divergences"], (turn["turn"], replayed["changes"])
        original = json.loads(sena(env, "inspect", "long", str(turn["turn"]), "--json"))["answer"]
        assert replayed["answer"] == original and original


def test_a_turn_made_over_the_api_replays_from_its_start(tmp_path: Path) -> None:
    import httpx

    from tests.serving import running_server, serve_env

    env = serve_env(tmp_path)
    auth = {"Authorization": "Bearer tok"}
    with running_server(env) as url:
        for message in ("hello", "tell me something about otters"):
            answer = httpx.post(
                f"{url}/api/v1/chat", json={"message": message, "thread_id": "api"}, headers=auth, timeout=300
            )
            assert answer.status_code == 200, answer.text
        turns = httpx.get(f"{url}/api/v1/threads/api/turns", headers=auth).json()
        for turn in turns:
            body = {"checkpoint": turn["start_checkpoint"], "mode": "recorded"}
            replayed = httpx.post(f"{url}/api/v1/threads/api/replay", json=body, headers=auth, timeout=300).json()
            assert replayed["identical"] and replayed["answer"], (turn["turn"], replayed)
