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
