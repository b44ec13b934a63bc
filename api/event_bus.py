"""The debug feed's event bus: numbered events, a bounded replay buffer, bounded subscribers.

Every node event of every turn, every extension load/run/reload and every log record at or
above WARNING (or the level a subscriber asks for) is published here with a rising id. A
client that reconnects with `Last-Event-ID` gets what it missed, as far as the buffer reaches.
Each subscriber has a bounded queue; one that falls behind is dropped (its stream ends and
the browser reconnects), so a slow client can never make the server's memory grow.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}


@dataclass(frozen=True)
class FeedEvent:
    id: int
    name: str
    data: dict[str, Any]


@dataclass
class Subscriber:
    queue: asyncio.Queue[FeedEvent | None]
    loop: asyncio.AbstractEventLoop
    thread_id: str | None = None
    log_level: int = LEVELS["WARNING"]
    dropped: bool = False

    def wants(self, event: FeedEvent) -> bool:
        if event.name == "log":
            return int(event.data.get("levelno", 0)) >= self.log_level
        return self.thread_id is None or event.data.get("thread_id") in (None, self.thread_id)


@dataclass
class EventBus:
    """Publish from any thread; subscribe from the event loop."""

    buffer_size: int = 1000
    queue_size: int = 256
    _buffer: deque[FeedEvent] = field(init=False)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _subscribers: list[Subscriber] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._buffer = deque(maxlen=self.buffer_size)

    def publish(self, name: str, data: dict[str, Any]) -> FeedEvent:
        with self._lock:
            event = FeedEvent(next(self._ids), name, {"ts": time.time(), **data})
            self._buffer.append(event)
            subscribers = list(self._subscribers)
        for sub in subscribers:
            if sub.wants(event):
                sub.loop.call_soon_threadsafe(self._offer, sub, event)
        return event

    def forward(self, event: dict[str, Any]) -> None:
        """Publish an event dict that names itself in its `event` key (extension host events)."""
        self.publish(str(event["event"]), {k: v for k, v in event.items() if k != "event"})

    def _offer(self, sub: Subscriber, event: FeedEvent) -> None:
        if sub.dropped:
            return
        try:
            sub.queue.put_nowait(event)
        except asyncio.QueueFull:  # too slow: end its stream rather than buffer without bound
            sub.dropped = True
            self._remove(sub)
            while not sub.queue.empty():
                sub.queue.get_nowait()
            sub.queue.put_nowait(None)

    def _remove(self, sub: Subscriber) -> None:
        with self._lock:
            if sub in self._subscribers:
                self._subscribers.remove(sub)

    def recent(self, after: int = 0, limit: int | None = None) -> list[FeedEvent]:
        with self._lock:
            events = [e for e in self._buffer if e.id > after]
        return events[-limit:] if limit else events

    async def subscribe(
        self, after: int | None = None, thread_id: str | None = None, log_level: str = "WARNING"
    ) -> AsyncIterator[FeedEvent]:
        """Yield events as they come; first the buffered ones after `after`, if given."""
        sub = Subscriber(asyncio.Queue(self.queue_size), asyncio.get_running_loop(), thread_id, LEVELS[log_level])
        with self._lock:
            backlog = [e for e in self._buffer if after is not None and e.id > after]
            self._subscribers.append(sub)
        try:
            for event in backlog:
                if sub.wants(event):
                    yield event
            while (queued := await sub.queue.get()) is not None:
                yield queued
        finally:
            self._remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)


class BusLogHandler(logging.Handler):
    """Send log records to the bus (the feed's log view filters them by level)."""

    def __init__(self, bus: EventBus, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bus = bus

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("sse_starlette", "uvicorn.access")):
            return  # the feed's own traffic would feed itself
        try:
            self.bus.publish(
                "log",
                {
                    "ts": record.created,
                    "level": record.levelname,
                    "levelno": record.levelno,
                    "logger": record.name,
                    "message": record.getMessage()[:2000],
                },
            )
        except Exception:
            self.handleError(record)
