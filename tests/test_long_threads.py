"""A thread that lives for months: the checkpoint keeps a window, the conversation log keeps everything."""

from __future__ import annotations

from pathlib import Path

from langchain_core.messages import HumanMessage

from bench.turn import InstantModels
from config.settings import Settings, load_settings
from graph.session import open_sena
from graph.sessions import export_session, import_session
from tests.conftest import MODELS_DIR


def long_settings(root: Path, window: int = 4) -> Settings:
    settings = load_settings(
        app={"data_dir": root},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        memory={"long_term": False, "short_term_messages": window},
        extensions={"enabled": False},
    )
    settings.intent_routing.use_router_model = False
    return settings


async def talk(sena: object, thread: str, texts: list[str]) -> None:
    for text in texts:
        async for _ in sena.turn(thread, text):  # type: ignore[attr-defined]
            pass


async def checkpoint_bytes(sena: object, thread: str) -> int:
    saver = sena.graph.checkpointer  # type: ignore[attr-defined]
    snapshot = await saver.aget_tuple({"configurable": {"thread_id": thread}})
    _, blob = saver.serde.dumps_typed(snapshot.checkpoint)
    return len(blob)


async def test_state_size_does_not_grow_with_the_thread_and_nothing_is_lost(tmp_path: Path) -> None:
    said = [f"message number {i} about topic {i % 7}" for i in range(40)]
    async with open_sena(long_settings(tmp_path), models=InstantModels()) as sena:
        await talk(sena, "t", said[:10])
        early = await checkpoint_bytes(sena, "t")
        await talk(sena, "t", said[10:])
        late = await checkpoint_bytes(sena, "t")
        window = (await sena.state("t")).values["messages"]
        assert len(window) <= 4 + 2 and window[-2].text == said[-1]
        assert late <= early * 1.1, (early, late)
        transcript = await sena.messages("t")
        assert [m.text for m in transcript if isinstance(m, HumanMessage)] == said
        assert len(transcript) == 80 and all(m.text == InstantModels.REPLY for m in transcript[1::2])
        assert len({m.id for m in transcript}) == 80

        exported = await export_session(sena, "t")
        await import_session(sena, exported, "copy")
        again = await export_session(sena, "copy")
        assert {**again, "thread_id": "t"} == exported
        await talk(sena, "copy", ["one more"])
        assert [m.text for m in await sena.messages("copy")][-2:] == ["one more", InstantModels.REPLY]
        assert len(await sena.messages("copy")) == 82


async def test_a_thread_from_before_the_log_kept_ids_keeps_its_messages(tmp_path: Path) -> None:
    """Rows without message ids (an older sena.db): those messages stay in the checkpoint, none is lost."""
    settings = long_settings(tmp_path)
    async with open_sena(settings, models=InstantModels()) as sena:
        await talk(sena, "old", ["first", "second"])
        assert sena.services.log is not None
        sena.services.log._conn.execute("UPDATE conversations SET message_id = NULL, answer_id = NULL")
        await talk(sena, "old", [f"later {i}" for i in range(8)])
        texts = [m.text for m in await sena.messages("old") if isinstance(m, HumanMessage)]
        assert texts == ["first", "second", *[f"later {i}" for i in range(8)]]
