"""Logs go to the terminal at `logging.level` and to rotating files in <data_dir>/logs/."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.common import setup_logging
from config.settings import Settings


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers, root.level = handlers, level


def test_records_reach_a_rotating_file(settings: Settings) -> None:
    settings.logging.max_bytes = 10_000
    settings.logging.backups = 2
    setup_logging(settings)
    log = logging.getLogger("sena.test")
    log.info("kept in the file")
    log.debug("below the file level")
    for i in range(400):
        log.warning("filler line %d %s", i, "x" * 60)
    folder = settings.data_dir / "logs"
    assert (folder / "sena.log").exists() and (folder / "sena.log.1").exists()
    assert not (folder / "sena.log.3").exists()  # only `backups` rotated files are kept
    text = "".join(p.read_text() for p in folder.glob("sena.log*"))
    assert "below the file level" not in text and "filler line 399" in text


def test_an_unwritable_data_folder_does_not_stop_logging(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    settings.app.data_dir = tmp_path / "file" / "data"
    setup_logging(settings)  # no exception: the start-up checks report the folder
    logging.getLogger("sena.test").warning("still logged to the terminal")


def test_records_at_the_store_level_are_kept_in_the_database(settings: Settings) -> None:
    from storage.logs import LogStore

    settings.logging.store_level = "WARNING"
    setup_logging(settings, keep_records=True)
    log = logging.getLogger("sena.test.db")
    log.info("not kept in the database")
    log.warning("disk almost full")
    log.error("extension crashed")
    for handler in logging.getLogger().handlers:
        handler.flush()
        if type(handler).__name__ == "SqliteLogHandler":
            handler.close()  # drains the queue
    store = LogStore.from_path(settings.database_path)
    kept = [(r["level"], r["message"]) for r in store.recent(limit=10) if r["logger"] == "sena.test.db"]
    store.close()
    assert kept == [("WARNING", "disk almost full"), ("ERROR", "extension crashed")]


def test_kept_records_are_found_by_level_text_and_time(tmp_path: Path) -> None:
    from datetime import datetime

    from storage.logs import LogStore, SqliteLogHandler

    store = LogStore.from_path(tmp_path / "sena.db")
    handler = SqliteLogHandler(store, logging.INFO)
    log = logging.getLogger("sena.test.query")
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)
    try:
        log.debug("below the store level")
        log.info("memory ADD: The user likes 100% rye_bread")
        log.warning("model slow")
        log.critical("database gone")
    finally:
        log.removeHandler(handler)
        handler.close()  # writes what is queued
    reader = LogStore.from_path(tmp_path / "sena.db")
    everything = [r["message"] for r in reader.query(logging.DEBUG)]
    assert everything == ["memory ADD: The user likes 100% rye_bread", "model slow", "database gone"]
    assert [r["level"] for r in reader.query(logging.WARNING)] == ["WARNING", "CRITICAL"]
    assert [r["message"] for r in reader.query(search="100% rye_")] == [everything[0]]  # % and _ are literal
    assert reader.query(search="1000%") == [] and reader.query(search="rye%bread") == []
    assert [r["message"] for r in reader.query(search="TEST.QUERY", limit=1)] == ["database gone"]  # the logger
    assert reader.query(since=datetime(2999, 1, 1)) == [] and len(reader.query(until=datetime(2999, 1, 1))) == 3
    reader.close()


def test_a_writer_that_falls_behind_drops_records_instead_of_blocking(tmp_path: Path) -> None:
    import queue

    from storage.logs import DroppingQueueHandler

    waiting: queue.Queue[logging.LogRecord] = queue.Queue(2)  # nobody drains it
    handler = DroppingQueueHandler(waiting)
    for n in range(5):
        handler.handle(logging.makeLogRecord({"msg": f"record {n}", "levelno": logging.INFO}))
    assert waiting.qsize() == 2 and handler.dropped == 3
