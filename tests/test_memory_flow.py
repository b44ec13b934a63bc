"""The user's story on the real stack: tell a fact, recall it elsewhere, change it (default Qwen model)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import small_model_env
from tests.serving import run_sena as sena

pytestmark = pytest.mark.slow


def test_tell_recall_and_update_a_fact_across_processes(tmp_path: Path) -> None:
    env = small_model_env(tmp_path)
    for key in [k for k in env if k.startswith("SENA_LLM__ROLES__")]:
        del env[key]  # the default embedded model for every role
    env["COLUMNS"] = "250"

    sena(env, "chat", "--thread", "one", stdin="My sister Lena lives in Porto.\n/exit\n")
    assert "Lena lives in Porto" in sena(env, "memory", "list")

    recall = sena(env, "chat", "--thread", "two", "--verbose", stdin="where does Lena live?\n/exit\n")
    assert "1 memories" in recall
    assert "Porto" in recall.split("sena>")[-1]

    sena(env, "chat", "--thread", "three", stdin="Lena moved to Lyon.\n/exit\n")
    found = sena(env, "memory", "search", "where does Lena live?")
    assert "Lyon" in found and "Porto" not in found
    memory_id = re.search(r"([0-9a-f]{8}-[0-9a-f-]{27})", found).group(1)  # type: ignore[union-attr]
    history = sena(env, "memory", "history", memory_id)
    assert "UPDATE" in history and "Porto" in history

    discussed = sena(env, "chat", "--thread", "four", "--verbose", stdin="what did we discuss about Lena?\n/exit\n")
    assert re.search(r"[1-9] past exchanges", discussed), discussed
