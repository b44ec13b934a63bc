"""Run turns for API clients: one at a time per thread, every event also sent to the debug feed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from api.events import EventBus
from graph.session import Event, Sena


@dataclass
class TurnRunner:
    sena: Sena
    bus: EventBus
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)

    def _lock(self, thread_id: str) -> asyncio.Lock:
        return self._locks.setdefault(thread_id, asyncio.Lock())

    async def stream(
        self,
        thread_id: str,
        message: str,
        model_overrides: dict[str, str] | None = None,
        extensions: tuple[str, ...] = (),
    ) -> AsyncIterator[Event]:
        """Run one turn and yield its events (tokens and node events).

        A turn of this thread that a crash cut short is finished first (its message is in the
        checkpoint), so nothing the user said is lost; its events are published to the feed.
        """
        async with self._lock(thread_id):
            if await self.sena.interrupted(thread_id):
                self.bus.publish("turn_resumed", {"thread_id": thread_id})
                async for event in self.sena.turn(thread_id, None):
                    if event["event"] != "token":
                        self.bus.publish(event["event"], {k: v for k, v in event.items() if k != "event"})
            self.bus.publish("turn_start", {"thread_id": thread_id, "message": message[:200]})
            async for event in self.sena.turn(thread_id, message, model_overrides, extensions):
                if event["event"] != "token":  # tokens stay with the asking client
                    self.bus.publish(event["event"], {k: v for k, v in event.items() if k != "event"})
                yield event
            self.bus.publish("turn_end", {"thread_id": thread_id})

    async def summary(self, thread_id: str, started: float) -> dict[str, Any]:
        """The finished turn's answer and metadata, read from its checkpoint."""
        values = (await self.sena.state(thread_id)).values
        intent = values.get("intent") or {}
        plan = values.get("memory_plan") or {}
        return {
            "thread_id": thread_id,
            "answer": values.get("answer", ""),
            "model_used": values.get("model_used", ""),
            "processing_ms": round((time.perf_counter() - started) * 1000, 1),
            "intent": intent.get("intent_type"),
            "memory_reason": plan.get("reason"),
            "memories": [
                {"id": s["id"], "source": s["source"], "score": s["score"], "text": s["text"]}
                for s in values.get("snippets") or []
            ],
            "extensions_used": [
                {"name": r["name"], "ok": r["ok"], "duration_ms": r["duration_ms"]}
                for r in values.get("extension_results") or []
            ],
            "errors": list(values.get("errors") or []),
            "timings_ms": values.get("timings") or {},
        }
