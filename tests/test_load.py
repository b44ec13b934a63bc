"""50 concurrent chats through the API on loopback: nothing lost, nothing locked (latency is reported)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bench.load import run
from config.settings import load_settings
from tests.conftest import MODELS_DIR
from tests.fakes import ScriptedModels

pytestmark = pytest.mark.slow


def test_fifty_concurrent_chats_lose_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(
        app={"data_dir": tmp_path / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={"user_dir": tmp_path / "user", "watch": False},
        api={"rate_limit_per_minute": 0},
    )
    settings.intent_routing.use_router_model = False
    with caplog.at_level(logging.WARNING):
        report = run(settings, ScriptedModels(), clients=50, turns=2)
    print(report)  # the latency figures go in the notes
    assert report["failed_requests"] == 0 and report["lost_messages"] == 0, report
    assert report["turns_missing_from_log"] == 0, report
    assert not [r for r in caplog.records if "database is locked" in r.getMessage()]
