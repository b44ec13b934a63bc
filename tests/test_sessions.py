"""Sessions: export -> import is lossless, Markdown transcripts, tags and status, search, prune."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli.app import app
from config.settings import Settings
from graph.session import open_sena
from graph.thread_files import export_session, import_session, to_markdown
from tests.fakes import ScriptedModels


@pytest.fixture
def quiet(settings: Settings) -> Settings:
    settings.memory.long_term = False
    settings.extensions.enabled = False
    settings.intent_routing.use_router_model = False
    return settings


async def test_export_then_import_is_lossless(quiet: Settings) -> None:
    models = ScriptedModels()
    models.model("main").enqueue("Hi Ana!", "Teal is a fine colour.")
    async with open_sena(quiet, models=models) as sena:
        async for _ in sena.turn("orig", "hello, I'm Ana"):
            pass
        async for _ in sena.turn("orig", "My favourite colour is teal."):
            pass
        assert sena.services.log is not None
        sena.services.log.describe("orig", title="Colours", status="paused", tags=["personal", "demo"])
        exported = await export_session(sena, "orig")
        copy = await import_session(sena, json.loads(json.dumps(exported)), "copy")
        again = await export_session(sena, copy)
        with pytest.raises(ValueError, match="already exists"):
            await import_session(sena, exported, "copy")
    assert {**again, "thread_id": "orig"} == exported
    assert [m["content"] for m in exported["messages"]] == [
        "hello, I'm Ana",
        "Hi Ana!",
        "My favourite colour is teal.",
        "Teal is a fine colour.",
    ]
    markdown = to_markdown(exported)
    assert markdown.startswith("# Colours") and "- tags: demo, personal" in markdown and "**Sena** (" in markdown


def test_threads_cli_tag_search_export_and_prune(quiet: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    async def seed() -> None:
        async with open_sena(quiet, models=ScriptedModels()) as sena:
            async for _ in sena.turn("old", "tell me about otters"):
                pass
            async for _ in sena.turn("new", "hello there"):
                pass
            assert sena.services.log is not None
            sena.services.log.describe("old", updated_at="2020-01-01T00:00:00Z")

    asyncio.run(seed())
    monkeypatch.setenv("SENA_APP__DATA_DIR", str(quiet.data_dir))
    monkeypatch.setenv("SENA_MEMORY__LONG_TERM", "false")
    monkeypatch.setenv("SENA_EXTENSIONS__ENABLED", "false")
    runner = CliRunner()
    tagged = runner.invoke(app, ["threads", "tag", "new", "--add", "work", "--status", "completed"])
    assert tagged.exit_code == 0 and "completed; tags: work" in tagged.output
    assert "new" in runner.invoke(app, ["threads", "list", "--tag", "work"], env={"COLUMNS": "200"}).output
    assert runner.invoke(app, ["threads", "tag", "new", "--status", "done"]).exit_code == 1
    assert "otters" in runner.invoke(app, ["threads", "search", "OTTER"]).output
    md = runner.invoke(app, ["threads", "export", "old", "--format", "md"])
    assert md.exit_code == 0 and "tell me about otters" in md.output
    assert (
        "Would delete 1 thread(s): old"
        in runner.invoke(app, ["threads", "prune", "--older-than", "30d", "--dry-run"]).output
    )
    assert "Deleted 1 thread(s): old" in runner.invoke(app, ["threads", "prune", "--older-than", "30d"]).output
    listed = runner.invoke(app, ["threads"], env={"COLUMNS": "200"}).output
    assert "new" in listed and "old" not in listed
    assert runner.invoke(app, ["threads", "export", "old"]).exit_code == 1  # gone, checkpoints too
    assert runner.invoke(app, ["threads", "prune", "--older-than", "soon"]).exit_code == 2
