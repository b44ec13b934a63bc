"""Corrupt or missing configuration, a read-only data folder, a nearly full disk: a clear message
naming the fix, and the data already there is untouched."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from config.settings import load_settings
from graph.session import open_sena
from ops import doctor
from tests.conftest import small_model_env
from tests.fakes import ScriptedModels
from tests.helpers import fill

SENA = [sys.executable, "-m", "cli"]


def sena(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SENA, *args], input=stdin, capture_output=True, text=True, env=env, timeout=300)


def test_corrupt_yaml_names_the_file_and_the_fix(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.yaml").write_text("app:\n  name: [unclosed\n")
    env = small_model_env(tmp_path / "data")
    env["SENA_CONFIG_DIR"] = str(config)
    for command in (["chat"], ["doctor"], ["stats"]):
        result = sena(env, *command, stdin="hello\n")
        assert result.returncode == 2, result.stdout + result.stderr
        assert f"{config / 'settings.yaml'}: not valid YAML" in result.stderr
        assert "Fix the YAML at the line shown" in result.stderr and "Traceback" not in result.stderr


def test_missing_configuration_runs_on_defaults_and_says_so(tmp_path: Path) -> None:
    env = small_model_env(tmp_path / "data")
    env["SENA_CONFIG_DIR"] = str(tmp_path / "nowhere")
    result = sena(env, "config", "show")
    assert result.returncode == 0, result.stderr
    assert "No configuration files in" in result.stderr and "built-in defaults" in result.stderr
    assert "provider: embedded" in result.stdout


@contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` read-only even for root: a read-only bind mount of itself."""
    subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
        yield
    finally:
        subprocess.run(["umount", str(folder)], check=True)


async def test_a_read_only_data_folder_stops_chat_with_the_fix_and_keeps_the_history(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = load_settings(
        app={"data_dir": data}, memory={"long_term": False}, intent_routing={"use_router_model": False}
    )
    models = ScriptedModels(fallback=None)
    models.model("main").enqueue("Noted.")
    async with open_sena(settings, models=models) as first:
        [e async for e in first.turn("t", "I like trains")]
    with read_only(data):
        env = small_model_env(data)
        env["SENA_MEMORY__LONG_TERM"] = "false"
        result = sena(env, "chat", "--thread", "t", stdin="hello\n")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "is not writable: Read-only file system" in result.stdout and "SENA_APP__DATA_DIR" in result.stdout
        assert "Traceback" not in result.stdout + result.stderr
    async with open_sena(settings, models=models) as again:
        assert [m.text for m in await again.messages("t")] == ["I like trains", "Noted."]


@pytest.mark.parametrize("small_disk", [100], indirect=True)
def test_doctor_warns_then_fails_as_the_disk_fills(small_disk: Path) -> None:
    settings = load_settings(app={"data_dir": small_disk / "data"})
    assert doctor.disk_space(settings).status == "warn"  # 100 MB is under the 500 MB warning
    fill(small_disk)
    check = doctor.disk_space(settings)
    assert check.status == "fail" and "writes will fail" in check.detail and "SENA_APP__DATA_DIR" in check.fix
