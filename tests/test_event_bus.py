"""The debug feed's bus: replay after Last-Event-ID, filters, and dropping a client that falls behind."""

from __future__ import annotations

import asyncio
import logging

from api.event_bus import BusLogHandler, EventBus, FeedEvent


async def take(stream: object, n: int) -> list[FeedEvent]:
    out = []
    async for event in stream:  # type: ignore[attr-defined]
        out.append(event)
        if len(out) == n:
            break
    return out


async def test_reconnecting_client_gets_what_it_missed_from_the_buffer() -> None:
    bus = EventBus(buffer_size=5)
    for i in range(8):
        bus.publish("node_end", {"thread_id": "t", "i": i})
    missed = await asyncio.wait_for(take(bus.subscribe(after=5), 3), 2)
    assert [e.id for e in missed] == [6, 7, 8]
    assert [e.id for e in bus.recent()] == [4, 5, 6, 7, 8]  # bounded


async def test_filters_by_thread_and_log_level() -> None:
    bus = EventBus()
    stream = bus.subscribe(thread_id="mine", log_level="ERROR")
    task = asyncio.create_task(take(stream, 2))
    await asyncio.sleep(0)
    bus.publish("node_end", {"thread_id": "other"})
    bus.publish("log", {"levelno": logging.WARNING, "message": "quiet"})
    bus.publish("node_end", {"thread_id": "mine"})
    bus.publish("log", {"levelno": logging.ERROR, "message": "loud"})
    got = await asyncio.wait_for(task, 2)
    got_names = [(e.name, e.data.get("thread_id") or e.data["message"]) for e in got]
    assert got_names == [("node_end", "mine"), ("log", "loud")]


async def test_a_client_that_falls_behind_is_dropped_not_buffered() -> None:
    bus = EventBus(queue_size=4)
    stream = bus.subscribe()
    first = asyncio.create_task(take(stream, 1))
    await asyncio.sleep(0)
    bus.publish("node_end", {"i": 0})
    await asyncio.wait_for(first, 2)
    assert bus.subscribers == 1
    for i in range(50):  # the client reads nothing meanwhile
        bus.publish("node_end", {"i": i})
    await asyncio.sleep(0.05)
    assert bus.subscribers == 0
    rest = [e async for e in stream]  # its stream ends instead of holding 50 events
    assert rest == []


async def test_log_records_reach_the_bus() -> None:
    bus = EventBus()
    logger = logging.getLogger("sena.test.bus")
    handler = BusLogHandler(bus)
    logger.addHandler(handler)
    try:
        logger.warning("disk almost full")
    finally:
        logger.removeHandler(handler)
    [event] = [e for e in bus.recent() if e.name == "log"]
    assert (event.data["level"], event.data["message"]) == ("WARNING", "disk almost full")
