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


def test_warnings_and_worse_are_kept_in_the_database(settings: Settings) -> None:
    from ops.logstore import LogStore

    setup_logging(settings, keep_warnings=True)
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
