"""Record what models and extensions returned during a turn, and play it back.

A replay that calls the model again rarely reproduces a bad answer. So every model call
(plain or structured), every extension call and every memory search made inside a node is stored, keyed by the
turn (the id of the user's message that opened it), the node and the call's position within
that node, in `data/sena.db` (`recordings`), capped in size. From async code every read and write goes
through a worker thread: a blocking SQLite call on the event loop can deadlock against the
checkpointer's aiosqlite connection, which needs the loop to commit. A `--recorded` replay
(`SenaContext.replay == "recorded"`) re-runs the graph's own logic -- routing, prompts,
parsing -- but takes each model and extension output from the recording: no model needed,
and the answer comes out bit for bit. The prompt's digest is stored too, so a replay can
say when the prompt it built differs from the original one.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import ConfigDict

from extensions.host import ExtensionHost
from extensions.sandbox import ExtensionFailed
from extensions.spec import ExtensionSpec
from storage.db import SqliteStore

log = logging.getLogger(__name__)

Mode = Literal["record", "live", "recorded"]
"""A normal turn records; a replay either calls the models again (`live`) or plays back (`recorded`)."""
MAX_OUTPUT_CHARS = 16_000
MAX_PROMPT_CHARS = 32_000
"""A call's prompt is kept (for people reading a turn) up to this size; its digest is always whole."""

MIGRATIONS = (
    """
    CREATE TABLE recordings (
        turn TEXT NOT NULL,
        node TEXT NOT NULL,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        prompt_digest TEXT,
        output TEXT NOT NULL,
        thread_id TEXT,
        created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        PRIMARY KEY (turn, node, seq)
    );
    CREATE INDEX recordings_thread ON recordings(thread_id)
    """,
    "ALTER TABLE recordings ADD COLUMN prompt TEXT",  # what the call was given, for the studio
)


class ReplayMissing(RuntimeError):
    """A recorded replay needed an output that was never recorded."""


@dataclass(frozen=True)
class Recording:
    kind: str
    name: str
    output: str
    prompt_digest: str | None


class Recorder(SqliteStore):
    COMPONENT = "recordings"
    MIGRATIONS = MIGRATIONS

    def save(
        self,
        site: CallSite,
        seq: int,
        kind: str,
        name: str,
        output: str,
        prompt_digest: str | None,
        prompt: str | None = None,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO recordings"
                " (turn, node, seq, kind, name, prompt_digest, output, thread_id, prompt)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    site.turn,
                    site.node,
                    seq,
                    kind,
                    name,
                    prompt_digest,
                    output[:MAX_OUTPUT_CHARS],
                    site.thread_id,
                    prompt[:MAX_PROMPT_CHARS] if prompt is not None else None,
                ),
            )

    def load(self, turn: str, node: str, seq: int) -> Recording | None:
        rows = self._query(
            "SELECT kind, name, output, prompt_digest FROM recordings WHERE turn = ? AND node = ? AND seq = ?",
            (turn, node, seq),
        )
        row = rows[0] if rows else None
        return Recording(row["kind"], row["name"], row["output"], row["prompt_digest"]) if row else None

    def for_turn(self, turn: str) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT node, seq, kind, name, prompt, output, prompt_digest FROM recordings WHERE turn = ? ORDER BY rowid",
            (turn,),
        )
        return [dict(r) for r in rows]

    def forget_turns(self, turns: list[str]) -> int:
        """Drop the recordings of these turns (by their question's id): compacted, no longer replayable."""
        marks = ",".join("?" * len(turns))
        with self._tx() as conn:
            return conn.execute(f"DELETE FROM recordings WHERE turn IN ({marks})", turns).rowcount

    def forget_threads(self, thread_ids: list[str]) -> int:
        marks = ",".join("?" * len(thread_ids))
        with self._tx() as conn:
            return conn.execute(f"DELETE FROM recordings WHERE thread_id IN ({marks})", thread_ids).rowcount


@dataclass
class CallSite:
    """Where a call happens: which turn, which node, live or replayed; counts the node's calls."""

    turn: str
    node: str
    thread_id: str
    mode: Mode
    calls: int = 0
    divergences: list[str] = field(default_factory=list)

    def next_seq(self) -> int:
        self.calls += 1
        return self.calls


_site: contextvars.ContextVar[CallSite | None] = contextvars.ContextVar("sena_call_site", default=None)


@contextmanager
def call_site(site: CallSite) -> Iterator[CallSite]:
    token = _site.set(site)
    try:
        yield site
    finally:
        _site.reset(token)


def current_site() -> CallSite | None:
    return _site.get()


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, default=str, sort_keys=True).encode()).hexdigest()[:16]


def _prompt_items(messages: Any) -> list[Any]:
    items = messages if isinstance(messages, list) else [messages]
    return [(m.type, m.text) if isinstance(m, BaseMessage) else str(m) for m in items]


def prompt_digest(messages: Any) -> str:
    return digest(_prompt_items(messages))


def prompt_text(messages: Any) -> str:
    """The prompt as JSON, a list of [role, text] pairs: what the model was sent."""
    return json.dumps(_prompt_items(messages), ensure_ascii=False)


def _recorded(recorder: Recorder, site: CallSite, seq: int, kind: str, name: str, digest_now: str | None) -> str:
    found = recorder.load(site.turn, site.node, seq)
    if found is None:
        raise ReplayMissing(f"no recording of {kind} call {seq} in {site.node} for this turn; replay it --live")
    if digest_now and found.prompt_digest and found.prompt_digest != digest_now:
        site.divergences.append(f"{site.node} call {seq}: the prompt differs from the recorded one")
    return found.output


async def recorded_output(
    recorder: Recorder | None,
    kind: str,
    name: str,
    call: str,
    produce: Callable[[], Awaitable[str]],
    given: str | None = None,
) -> str:
    """The output of a call other than a model's or an extension's (a memory search): produced and
    recorded in a live turn, played back in a recorded replay.

    A turn recorded before such calls were kept has none: the replay then produces it again, and
    says so, since memory may have changed since."""
    site = current_site()
    if recorder is None or site is None:
        return await produce()
    seq = site.next_seq()
    if site.mode == "recorded":
        try:
            return await asyncio.to_thread(_recorded, recorder, site, seq, kind, name, call)
        except ReplayMissing:
            site.divergences.append(f"{site.node}: no recorded {kind} call {seq} for this turn; ran it again as of now")
            return await produce()
    output = await produce()
    if site.mode == "record":
        await asyncio.to_thread(recorder.save, site, seq, kind, name, output, call, given)
    return output


class RecordingChatModel(BaseChatModel):
    """Wrap a chat model: record its outputs in a live turn, replay them in a recorded one."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    inner: BaseChatModel
    recorder: Recorder
    label: str

    @property
    def _llm_type(self) -> str:
        return "recording"

    def _replaying(self, messages: Any) -> tuple[CallSite | None, int, str]:
        site = current_site()
        return site, site.next_seq() if site else 0, prompt_digest(messages)

    async def _play(self, site: CallSite, seq: int, kind: str, digest_now: str) -> str:
        return await asyncio.to_thread(_recorded, self.recorder, site, seq, kind, self.label, digest_now)

    async def _keep(
        self, site: CallSite | None, seq: int, kind: str, output: str, digest_now: str, messages: Any
    ) -> None:
        """Save the output, and the prompt it answered, when this is a recording turn (not a replay)."""
        if site and site.mode == "record":
            prompt = prompt_text(messages)
            await asyncio.to_thread(self.recorder.save, site, seq, kind, self.label, output, digest_now, prompt)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        site, seq, digest_now = self._replaying(messages)
        if site and site.mode == "recorded":
            text = _recorded(self.recorder, site, seq, "model", self.label, digest_now)
        else:
            text = self.inner.invoke(messages, stop=stop, **kwargs).text
            if site and site.mode == "record":
                self.recorder.save(site, seq, "model", self.label, text, digest_now, prompt_text(messages))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        site, seq, digest_now = self._replaying(messages)
        if site and site.mode == "recorded":
            text = await self._play(site, seq, "model", digest_now)
        else:
            text = (await self.inner.ainvoke(messages, stop=stop, **kwargs)).text
            await self._keep(site, seq, "model", text, digest_now, messages)
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        site, seq, digest_now = self._replaying(messages)
        if site and site.mode == "recorded":
            text = await self._play(site, seq, "model", digest_now)
            for i, word in enumerate(text.split(" ")):
                yield ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))
            return
        parts = []
        async for chunk in self.inner.astream(messages, stop=stop, **kwargs):
            parts.append(chunk.text)
            yield ChatGenerationChunk(message=AIMessageChunk(content=chunk.content))
        await self._keep(site, seq, "model", "".join(parts), digest_now, messages)

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable[Any, Any]:
        structured = self.inner.with_structured_output(schema, **kwargs)

        async def call(messages: Any) -> Any:
            site, seq, digest_now = self._replaying(messages)
            if site and site.mode == "recorded":
                return json.loads(await self._play(site, seq, "structured", digest_now))
            result = await structured.ainvoke(messages, config={"tags": ["nostream"]})
            await self._keep(site, seq, "structured", json.dumps(result, default=str), digest_now, messages)
            return result

        return RunnableLambda(call)


class RecordingExtensions:
    """Wrap an extension host: record outputs (and failures) live, replay them when recorded."""

    def __init__(self, inner: ExtensionHost, recorder: Recorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def names(self) -> list[str]:
        return self.inner.names()

    def spec(self, name: str) -> ExtensionSpec | None:
        return self.inner.spec(name)

    async def disable(self, name: str, reason: str) -> None:
        site = current_site()
        if not (site and site.mode == "recorded"):  # replaying a turn never changes the registry
            await self.inner.disable(name, reason)

    async def run(self, name: str, user_input: str, context: Mapping[str, Any], **kwargs: Any) -> str:
        site = current_site()
        seq = site.next_seq() if site else 0
        call = digest([name, user_input, kwargs])
        given = json.dumps({"input": user_input, **kwargs}, ensure_ascii=False, default=str)
        if site and site.mode == "recorded":
            outcome = json.loads(await asyncio.to_thread(_recorded, self.recorder, site, seq, "extension", name, call))
            if "error" in outcome:
                raise ExtensionFailed(outcome["error"])
            return str(outcome["output"])
        try:
            output = await self.inner.run(name, user_input, context, **kwargs)
        except Exception as exc:
            if site and site.mode == "record":
                failure = json.dumps({"error": str(exc)})
                await asyncio.to_thread(self.recorder.save, site, seq, "extension", name, failure, call, given)
            raise
        if site and site.mode == "record":
            recorded = json.dumps({"output": output})
            await asyncio.to_thread(self.recorder.save, site, seq, "extension", name, recorded, call, given)
        return output
