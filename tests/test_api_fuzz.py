"""Fuzz the OpenAPI schema of a real server with schemathesis: no input may produce a 5xx."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.serving import TOKEN, running_server, serve_env

pytestmark = pytest.mark.slow


def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    env["SENA_API__RATE_LIMIT_PER_MINUTE"] = "0"  # the fuzzer sends far more than a person would
    with running_server(env) as url:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "st"), "run", f"{url}/openapi.json",
                "--checks", "not_a_server_error",
                "--phases", "examples,fuzzing",
                "--max-examples", "25",
                "--header", f"Authorization: Bearer {TOKEN}",
                "--exclude-path", "/api/v1/debug/stream",  # endless by design; tested on its own
                "--exclude-path", "/api/v1/extensions/generate",  # minutes of model time per example
                "--request-timeout", "120",
                "--workers", "1",
                "--seed", "7",
            ],
            capture_output=True, text=True, timeout=1800, env={**env, "NO_COLOR": "1"},
        )  # fmt: skip
    summary = result.stdout[-3000:]
    assert result.returncode == 0, summary
    assert "Server error" not in result.stdout and "generated" in result.stdout, summary
