"""Hot reload: watch the user and generated extension folders and reload what changes.

Editors save in bursts (truncate, write, chmod) or atomically (write a temporary file, then
rename it over the original), so events are collected per file and acted on once the file
has been quiet for the debounce interval; a rename counts as a change of its destination.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def is_extension_file(path: str | bytes | None) -> bool:
    if not path:
        return False
    name = Path(str(path)).name
    return name.endswith(".py") and not name.startswith(("_", "."))


class ExtensionWatcher:
    """Call `reload(path)` for each extension file that changed, after `debounce_s` of quiet."""

    def __init__(self, folders: list[Path], reload: Callable[[Path], Any], debounce_s: float = 0.3) -> None:
        self.folders = folders
        self.reload = reload
        self.debounce_s = debounce_s
        self._timers: dict[Path, threading.Timer] = {}
        self._lock = threading.Lock()
        self._observer: Any = None

    def start(self) -> None:
        from watchdog.events import FileSystemEvent, FileSystemEventHandler
        from watchdog.observers import Observer

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory or event.event_type in ("opened", "closed_no_write"):
                    return
                for path in (event.src_path, getattr(event, "dest_path", None)):
                    if is_extension_file(path):
                        watcher.touched(Path(str(path)))

        self._observer = Observer()
        for folder in self.folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._observer.schedule(Handler(), str(folder), recursive=False)
        self._observer.daemon = True
        self._observer.start()
        log.info("watching %s for extension changes", ", ".join(map(str, self.folders)))

    def touched(self, path: Path) -> None:
        """Note a change to `path`; reload it once nothing has changed for the debounce interval."""
        with self._lock:
            if (timer := self._timers.pop(path, None)) is not None:
                timer.cancel()
            timer = threading.Timer(self.debounce_s, self._fire, args=(path,))
            timer.daemon = True
            self._timers[path] = timer
            timer.start()

    def _fire(self, path: Path) -> None:
        with self._lock:
            self._timers.pop(path, None)
        try:
            log.info("extension file changed: %s: %s", path.name, self.reload(path))
        except Exception:
            log.exception("reloading %s failed", path)

    def stop(self) -> None:
        with self._lock:
            for timer in self._timers.values():
                timer.cancel()
            self._timers.clear()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(5)
            self._observer = None
