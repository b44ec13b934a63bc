"""The graph's shape is deliberate: a snapshot of its Mermaid, and our packages import from here."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT, Settings
from graph.builder import build_graph
from graph.services import Services
from tests.fakes import ScriptedModels

SNAPSHOT = Path(__file__).parent / "snapshots" / "graph.mmd"


def test_mermaid_snapshot(settings: Settings) -> None:
    mermaid = build_graph(Services(settings=settings, models=ScriptedModels())).get_graph().draw_mermaid()
    if os.environ.get("SENA_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(mermaid + "\n")
    assert mermaid.strip() == SNAPSHOT.read_text().strip(), "topology changed: rerun with SENA_UPDATE_SNAPSHOTS=1"


@pytest.mark.parametrize(
    "package", ["graph", "nodes", "extensions", "api", "cli", "config", "providers", "storage", "bench", "memory"]
)
def test_top_level_packages_are_ours(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().is_relative_to(PROJECT_ROOT), f"{package} imports from {module.__file__}"


def test_importing_sena_loads_no_model_or_server_library() -> None:
    code = (
        "import sys, cli.app, graph.studio, graph.session; "
        "heavy = [m for m in ('llama_cpp', 'langchain_ollama', 'fastapi') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
