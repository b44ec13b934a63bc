"""A running Sena: the compiled graph with its SQLite checkpointer and services, opened once.

The CLI (and later the API lifespan and the benchmarks) open one with `open_sena()` and
drive turns through `Sena.turn()`, which yields the node events and tokens as they happen.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import StateSnapshot

from config.errors import classify
from config.settings import ROLES, Settings
from graph.builder import build_graph
from graph.services import Services, build_services
from graph.state import SenaContext, SenaState, intent_record, turn_input, window_size
from graph.tracing import LocalTraceSink
from providers.model_files import Progress
from providers.registry import ChatModels, ModelChoice, SwitchableModels
from storage.checkpointer import open_checkpointer
from storage.compaction import Compactor, PostgresCompactor, SqliteCompactor
from storage.conversation_log import TurnRecord
from storage.thread_locks import Held, PostgresThreadLocks, SqliteThreadLocks, ThreadLocks

log = logging.getLogger(__name__)

Event = dict[str, Any]


@dataclass
class Sena:
    """A running Sena, and the one place a turn's rules live.

    Every surface (local chat, remote chat through the API, the API's JSON and SSE routes, the
    studio, `sena turns fork`) runs a turn through `turn()` (or `fork()`), so they all get:

    - one turn at a time per thread: queued in this process by an `asyncio.Lock`, across
      processes by `locks` (a row in `sena.db`, or a PostgreSQL advisory lock);
    - a turn of the thread that a crash cut short finished first (`turn_resumed`), so nothing
      the user said is lost; checked only when another process may have left one;
    - the turn's result (`turn_end`) read from the state it streamed, under the lock, so a
      queued turn cannot overwrite it first.
    """

    graph: CompiledStateGraph[SenaState, SenaContext, Any, Any]
    services: Services
    traces: LocalTraceSink | None = None
    compactor: Compactor | None = None
    locks: ThreadLocks | None = None
    listeners: list[Callable[[Event], None]] = field(default_factory=list)
    """Hear every event of every turn but the tokens (the API's debug feed)."""
    _local: dict[str, asyncio.Lock] = field(default_factory=dict)
    _finished: set[str] = field(default_factory=set)  # threads whose last turn ran to the end here
    _switched: dict[str, float] = field(default_factory=dict)  # role -> when it was last switched (monotonic)

    def _config(self, thread_id: str) -> Any:
        return {"configurable": {"thread_id": thread_id}}

    def context(
        self, thread_id: str, model_overrides: dict[str, str] | None = None, extensions: tuple[str, ...] = ()
    ) -> SenaContext:
        return SenaContext(
            thread_id=thread_id,
            user_id=self.services.settings.app.user_id,
            model_overrides=dict(model_overrides or {}),
            extensions=extensions,
        )

    @asynccontextmanager
    async def hold(self, thread_id: str) -> AsyncIterator[Held]:
        """The thread, to this caller alone: this process's lock, then the cross-process one."""
        async with self._local.setdefault(thread_id, asyncio.Lock()):
            if self.locks is None:
                yield Held(waited=False, untouched=False)
            else:
                async with self.locks.hold(thread_id) as held:
                    yield held

    def busy(self, thread_id: str) -> bool:
        """Whether a turn of the thread is running in this process or, as far as can be told, another."""
        lock = self._local.get(thread_id)
        return bool(lock and lock.locked()) or (self.locks is not None and self.locks.busy(thread_id))

    async def turn(
        self,
        thread_id: str,
        text: str | None,
        model_overrides: dict[str, str] | None = None,
        extensions: tuple[str, ...] = (),
        at: float | None = None,
        resumed_tokens: bool = True,
        mode: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> AsyncIterator[Event]:
        """Run one turn and yield its events, ending with `turn_end` and the turn's summary; with
        `text=None`, only finish the thread's interrupted turn, if it has one.

        `turn_queued` comes first when another turn holds the thread (listeners also hear
        `turn_failed` when the turn raises); `turn_resumed` announces
        an interrupted turn being finished (its tokens are yielded too unless `resumed_tokens` is
        False). `extensions` are run whatever the intent (the chat's `/ext NAME ...`); `at` dates
        the message (default: now), which is when its "next week" is counted from; `mode` picks
        the role that answers, and `context` gives the model facts about the request (the API's
        blueprint fields)."""
        if self.busy(thread_id):
            yield self._heard({"event": "turn_queued", "thread_id": thread_id})
        async with self.hold(thread_id) as held:
            if not (held.untouched and thread_id in self._finished) and await self.interrupted(thread_id):
                yield self._heard({"event": "turn_resumed", "thread_id": thread_id})
                async for event in self._run(thread_id, None, {}):
                    if resumed_tokens or event["event"] != "token":
                        yield event
            if text is None:
                return
            yield self._heard({"event": "turn_start", "thread_id": thread_id, "message": text[:200]})
            started, final = time.perf_counter(), dict[str, Any]()
            graph_input = turn_input(text, at, mode, context)
            try:
                async for event in self._run(thread_id, graph_input, final, model_overrides, extensions):
                    yield event
            except BaseException as exc:  # the feed's listeners see the turn end too, then the caller
                stopped = isinstance(exc, (GeneratorExit, asyncio.CancelledError, KeyboardInterrupt))
                why = "interrupted: the next turn on the thread finishes it" if stopped else str(exc)[:300]
                self._heard({"event": "turn_failed", "thread_id": thread_id, "error": type(exc).__name__,
                             "message": why or type(exc).__name__})  # fmt: skip
                raise
            yield self._heard({"event": "turn_end", **summary(thread_id, final, time.perf_counter() - started)})

    async def fork(
        self, thread_id: str, checkpoint: str, values: dict[str, Any], as_node: str | None = None
    ) -> tuple[str, list[Event]]:
        """Write edited state onto a past checkpoint as a new branch and continue it, under the
        thread's lock like any turn; an `intent` given by name becomes its configured record."""
        from graph.time_travel import fork

        values = with_intent_record(values, self.services.settings)
        async with self.hold(thread_id):
            self._finished.discard(thread_id)
            head, events = await fork(self.graph, thread_id, checkpoint, values, as_node)
            self._finished.add(thread_id)
        return head, events

    def models_in_use(self) -> dict[str, str]:
        """Which model serves each role now."""
        return {role: self.services.models.choose(role).label for role in ROLES}

    def models_available(self) -> list[str]:
        """The models a role can be switched to (none when they cannot be switched)."""
        models = self.services.models
        return models.available() if isinstance(models, SwitchableModels) else []

    def switch_model(self, role: str, model: str) -> ModelChoice:
        """Serve `role` with `model` from the next turn on, if runtime switching is allowed and the
        role was not switched within the cooldown (`llm.allow_runtime_switch`, `switch_cooldown_s`).

        Raises `SwitchRefused` (with `retry_after` during the cooldown) or ValueError for a role
        or model that does not exist."""
        llm = self.services.settings.llm
        if role not in ROLES:
            raise ValueError(f"No role {role!r}; roles: {', '.join(ROLES)}")
        if not llm.allow_runtime_switch:
            raise SwitchRefused("Switching models at runtime is turned off (llm.allow_runtime_switch: false).")
        models = self.services.models
        if not isinstance(models, SwitchableModels):
            raise SwitchRefused("This Sena's models cannot be switched.")
        known = models.available()
        if known and model not in known:
            raise ValueError(f"Unknown {llm.provider} model {model!r}; known: {', '.join(known)}")
        wait = llm.switch_cooldown_s - (time.monotonic() - self._switched.get(role, float("-inf")))
        if wait > 0:
            raise SwitchRefused(f"{role} was switched moments ago; try again in {wait:.0f} s.", retry_after=wait)
        choice = models.switch(role, model)
        self._switched[role] = time.monotonic()
        log.info("%s now served by %s", role, choice.label)
        return choice

    def _heard(self, event: Event) -> Event:
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a listener never breaks a turn
                log.warning("event listener failed on %s", event.get("event"), exc_info=True)
        return event

    async def _run(
        self,
        thread_id: str,
        graph_input: dict[str, Any] | None,
        final: dict[str, Any],
        model_overrides: dict[str, str] | None = None,
        extensions: tuple[str, ...] = (),
    ) -> AsyncIterator[Event]:
        """Stream the graph for one turn (or the rest of an interrupted one, `graph_input=None`);
        `final` receives the state after the last step (streamed: no checkpoint read)."""
        telemetry = self.services.telemetry
        started = time.perf_counter()
        measured: list[Event] = []
        self._finished.discard(thread_id)
        try:
            if self.services.log is not None:
                await asyncio.to_thread(self.services.log.touch_thread, thread_id)
            run_id = str(uuid.uuid4())
            async for mode, chunk in self.graph.astream(
                graph_input,
                self._config(thread_id),
                context=self.context(thread_id, model_overrides, extensions),
                stream_mode=["custom", "values"],
            ):
                if mode == "values":
                    final.clear()
                    final.update(cast(dict[str, Any], chunk))
                    continue
                event = cast(Event, chunk)
                if self.traces is not None:
                    self.traces.write(run_id, event)
                if event["event"] in ("memory_search", "recovered"):
                    measured.append(event)
                yield event if event["event"] == "token" else self._heard(event)
        except Exception as exc:
            if telemetry is not None:
                telemetry.failure(thread_id, classify(exc))
            raise
        self._finished.add(thread_id)
        if telemetry is not None:
            telemetry.turn(thread_id, final, measured, (time.perf_counter() - started) * 1000)
        await self.compact(thread_id)

    async def compact(self, thread_id: str) -> None:
        """Compact the turn of `thread_id` that just left the node-level history (storage/compaction.py)."""
        if self.compactor is None:
            return
        try:
            done = await asyncio.to_thread(self.compactor.compact_thread, thread_id)
            if done.turns:
                await asyncio.to_thread(self.compactor.give_back_space)
        except Exception:  # the turn is done and saved; compaction tries again after the next one
            log.warning("compacting thread %s failed", thread_id, exc_info=True)

    async def state(self, thread_id: str) -> StateSnapshot:
        return await self.graph.aget_state(self._config(thread_id))

    async def messages(self, thread_id: str, turns: int | None = None) -> list[BaseMessage]:
        """The thread's transcript: the conversation log, then what only the checkpoint holds yet
        (the window's messages of a turn still running or cut short, or from before the log).
        With `turns`, the messages of the latest `turns` turns only."""
        snapshot = await self.state(thread_id)
        window = list(snapshot.values.get("messages") or [])
        log = self.services.log
        logged = transcript(await asyncio.to_thread(log.turns, thread_id, turns)) if log is not None else []
        known = {m.id for m in logged}
        if turns is not None and logged:  # the window's older messages are in the log too
            oldest = float(logged[0].additional_kwargs.get("ts") or 0.0)
            window = [m for m in window if float(m.additional_kwargs.get("ts") or 0.0) >= oldest]
        merged = logged + [m for m in window if m.id not in known]
        ordered = sorted(merged, key=lambda m: float(m.additional_kwargs.get("ts") or 0.0))
        if turns is not None:
            starts = [i for i, m in enumerate(ordered) if isinstance(m, HumanMessage)]
            ordered = ordered[starts[-turns] :] if len(starts) > turns else ordered
        return ordered

    async def saved(self, thread_id: str, text: str) -> bool:
        """Tell whether `text` reached the thread's checkpoint as the user's last message
        (after a failed turn: a full disk can stop even that write)."""
        try:
            messages = await self.messages(thread_id)
        except Exception:
            return False
        mine = [m for m in messages if m.type == "human"]
        return bool(mine) and mine[-1].text == text

    async def interrupted(self, thread_id: str) -> bool:
        """Tell whether the thread's last turn stopped before reaching the end (e.g. a crash)."""
        snapshot = await self.state(thread_id)
        return bool(snapshot.next)


def compactor_for(settings: Settings, saver: Any, services: Services) -> Compactor:
    """The compactor for the configured checkpointer (storage/compaction.py)."""
    window = window_size(settings.memory.short_term_messages)
    keep = settings.database.node_history_turns
    if settings.database.checkpointer == "postgres" and settings.database.postgres_url:
        recorder = services.recorder
        forget = recorder.forget_turns if recorder is not None else None
        return PostgresCompactor(settings.database.postgres_url, keep, window, saver.serde, forget)
    return SqliteCompactor(settings.database_path, keep, window, saver.serde)


def transcript(turns: list[TurnRecord]) -> list[BaseMessage]:
    """Messages from the log's rows that carry message ids (older rows are in the checkpoint)."""
    messages: list[BaseMessage] = []
    for turn in turns:
        if turn.message_id is None:
            continue
        messages.append(
            HumanMessage(content=turn.user_input, id=turn.message_id, additional_kwargs={"ts": turn.message_ts})
        )
        if turn.answer_id is not None:
            metadata = {"model": turn.model_used} if turn.model_used else {}
            messages.append(
                AIMessage(
                    content=turn.response,
                    id=turn.answer_id,
                    additional_kwargs={"ts": turn.answer_ts},
                    response_metadata=metadata,
                )
            )
    return messages


class SwitchRefused(Exception):
    """A runtime model switch that is not allowed now; `retry_after` seconds when it is a cooldown."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def summary(thread_id: str, values: dict[str, Any], seconds: float) -> dict[str, Any]:
    """A finished turn's answer and what went into it, from its final state."""
    intent = values.get("intent") or {}
    plan = values.get("memory_plan") or {}
    return {
        "thread_id": thread_id,
        "answer": values.get("answer", ""),
        "model_used": values.get("model_used", ""),
        "processing_ms": round(seconds * 1000, 1),
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


def with_intent_record(values: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Fork values with an intent given by name made into its configured record."""
    values = dict(values)
    routing = settings.intent_routing
    if isinstance(values.get("intent"), str):
        if values["intent"] not in routing.intents:
            raise ValueError(f"no intent {values['intent']!r}; see intent_routing in config/models.yaml")
        values["intent"] = intent_record(routing, values["intent"], 1.0, "rules")
    return values


def thread_locks(settings: Settings) -> ThreadLocks:
    """The cross-process turn lock for where the checkpoints are (storage/thread_locks.py)."""
    if settings.database.checkpointer == "postgres" and settings.database.postgres_url:
        return PostgresThreadLocks(settings.database.postgres_url, settings.database.connect_timeout_s)
    return SqliteThreadLocks.from_path(settings.database_path)


@asynccontextmanager
async def open_sena(
    settings: Settings, progress: Progress | None = None, models: ChatModels | None = None, upgrade: bool = True
) -> AsyncIterator[Sena]:
    """Open the checkpointer and services, compile the graph, and close everything on exit.

    The first start after bounded history shipped compacts an older database (graph/upkeep.py)."""
    settings.database_path.parent.mkdir(parents=True, exist_ok=True)
    services = build_services(settings, progress, models)
    try:
        async with open_checkpointer(settings) as saver:
            traces = LocalTraceSink(settings.data_dir / "traces") if settings.telemetry.local_traces else None
            compactor = compactor_for(settings, saver, services)
            locks = thread_locks(settings)
            try:
                sena = Sena(build_graph(services, saver), services, traces, compactor, locks)
                if upgrade:
                    from graph.upkeep import upgrade_once

                    await upgrade_once(sena)
                yield sena
            finally:
                await locks.aclose()
                if compactor is not None:
                    compactor.close()
        if services.learner is not None:
            await services.learner.drain()  # what the last turns taught is not lost at exit
    finally:
        services.close()
