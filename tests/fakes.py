"""Test doubles: a scripted chat model and a registry that serves it for every role."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.output_parsers import JsonOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import Field

from config.settings import Role
from providers.registry import ModelChoice


class ScriptedChatModel(BaseChatModel):
    """Answer from a queue of scripted replies; an Exception in the queue is raised instead.

    With an empty queue it echoes the last human message, so long runs need no script.
    """

    name: str = "scripted"
    replies: list[str | Exception] = Field(default_factory=list)
    prompts: list[list[BaseMessage]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def enqueue(self, *replies: str | Exception) -> ScriptedChatModel:
        self.replies.extend(replies)
        return self

    def _next(self, messages: list[BaseMessage]) -> str:
        self.prompts.append(messages)
        if self.replies:
            reply = self.replies.pop(0)
            if isinstance(reply, Exception):
                raise reply
            return reply
        return f"echo: {messages[-1].text}"

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self._next(messages)))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        text = self._next(messages)
        for i, word in enumerate(text.split(" ")):
            yield ChatGenerationChunk(message=AIMessageChunk(content=word if i == 0 else " " + word))

    def with_structured_output(self, schema: Any, **kwargs: Any) -> Runnable[Any, Any]:
        return self | JsonOutputParser()


class ScriptedModels:
    """A `ChatModels` registry: one scripted model per name, roles mapped by `by_role`."""

    def __init__(self, by_role: dict[str, str] | None = None, fallback: str | None = None) -> None:
        self.models: dict[str, ScriptedChatModel] = {}
        self.by_role = by_role or {}
        self.fallback = fallback

    def model(self, name: str = "main") -> ScriptedChatModel:
        return self.models.setdefault(name, ScriptedChatModel(name=name))

    def choose(self, role: Role, override: str | None = None) -> ModelChoice:
        return ModelChoice(role, "embedded", override or self.by_role.get(role, "main"))

    def get(self, choice: ModelChoice) -> BaseChatModel:
        return self.model(choice.model)

    def fallback_for(self, failed: ModelChoice) -> ModelChoice | None:
        if self.fallback is None or self.fallback == failed.model:
            return None
        return ModelChoice("fast", "embedded", self.fallback)

    def available(self) -> list[str]:
        return sorted({"main", *self.models, *self.by_role.values()})

    def switch(self, role: Role, model: str) -> ModelChoice:
        if model not in self.available():
            raise ValueError(f"Unknown model {model!r}; known: {', '.join(self.available())}")
        self.by_role[role] = model
        return self.choose(role)


def router_reply(intent: str, confidence: float = 0.9) -> str:
    return json.dumps({"intent": intent, "confidence": confidence})


class ScriptedConversations:
    """A stand-in for `ConversationIndex.search` returning fixed past exchanges."""

    def __init__(self, exchanges: list[Any] | None = None) -> None:
        self.exchanges = exchanges or []
        self.queries: list[str] = []

    def search(
        self, query: str, user_id: str, limit: int = 3, threshold: float = 0.3, now: float | None = None
    ) -> list[Any]:
        self.queries.append(query)
        return self.exchanges[:limit]


class ScriptedMemory:
    """A stand-in for `MemoryStore.search` that returns fixed memories or raises."""

    def __init__(
        self, texts: list[str] | None = None, error: Exception | None = None, exchanges: list[Any] | None = None
    ) -> None:
        self.texts = texts or []
        self.error = error
        self.queries: list[tuple[str, str]] = []
        self.thresholds: list[float | None] = []
        self.conversations = ScriptedConversations(exchanges)

    def search(self, query: str, user_id: str, threshold: float | None = None, now: Any = None) -> list[Any]:
        from memory.store import MemoryRecord

        self.queries.append((query, user_id))
        self.thresholds.append(threshold)
        if self.error:
            raise self.error
        return [MemoryRecord(id=f"m{i}", text=t, score=0.9 - i / 10) for i, t in enumerate(self.texts)]

    def close(self) -> None:
        pass
