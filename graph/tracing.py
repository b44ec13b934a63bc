"""Tracing: LangSmith only when it is configured and reachable, and a local JSONL sink.

LangSmith's client sends traces from a background thread and waits for it at exit; with
no reachable endpoint that wait took 15-190 s. So tracing stays off unless an API key is
set, and even then it is switched off (with a warning) when the endpoint does not answer a
TCP connect within a second. For people who do not use LangSmith, `tracing.local` writes
one JSON line per node span (and per model call) to `data/traces/YYYY-MM-DD.jsonl`.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://api.smith.langchain.com"
SPAN_EVENTS = frozenset({"node_end", "node_error", "model_call", "extension_run", "memory_search", "recovered"})


def tracing_requested() -> bool:
    flag = os.environ.get("LANGSMITH_TRACING") or os.environ.get("LANGCHAIN_TRACING_V2") or ""
    return flag.lower() in ("1", "true", "yes")


def reachable(url: str, timeout_s: float = 1.0) -> bool:
    parsed = urlparse(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname or "", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def configure_langsmith(timeout_s: float = 1.0) -> str | None:
    """Leave LangSmith tracing on only with a key and a reachable endpoint; return why it is off."""
    if not tracing_requested():
        os.environ["LANGSMITH_TRACING"] = "false"
        return None
    key = os.environ.get("LANGSMITH_API_KEY") or os.environ.get("LANGCHAIN_API_KEY")
    endpoint = os.environ.get("LANGSMITH_ENDPOINT") or os.environ.get("LANGCHAIN_ENDPOINT") or DEFAULT_ENDPOINT
    why = None
    if not key:
        why = "LangSmith tracing is off: LANGSMITH_TRACING is set but LANGSMITH_API_KEY is not."
    elif not reachable(endpoint, timeout_s):
        why = f"LangSmith tracing is off: {endpoint} cannot be reached (offline?); exits would wait on it."
    if why:
        os.environ["LANGSMITH_TRACING"] = "false"
        os.environ["LANGCHAIN_TRACING_V2"] = "false"
        log.warning(why)
    return why


class LocalTraceSink:
    """Append node spans as JSON lines, one file per day; safe to call from several threads."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()

    def path(self) -> Path:
        return self.folder / f"{datetime.now(UTC).date().isoformat()}.jsonl"

    def write(self, run_id: str, event: dict[str, Any]) -> None:
        if event.get("event") not in SPAN_EVENTS:
            return
        span = {"run_id": run_id, **{k: v for k, v in event.items() if k != "hits"}}
        if "duration_ms" in event:
            span["start"] = round(float(event.get("ts", time.time())) - float(event["duration_ms"]) / 1000, 6)
        line = json.dumps(span, default=str)
        with self._lock:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self.path().open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
