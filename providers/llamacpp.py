"""A LangChain chat model over llama-cpp-python: streaming and JSON-schema constrained output.

`LlamaRuntime` owns one loaded `llama_cpp.Llama` (loaded lazily, once, off the event loop,
and used by one call at a time); `ChatLlamaCpp` is the thin `BaseChatModel` the graph sees.
Several roles that name the same GGUF share one runtime, so the weights load once and
llama.cpp can reuse its KV cache across calls that share the stable system-prompt prefix.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.output_parsers import JsonOutputParser, PydanticOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_json_schema
from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)


_native_log_callback: Any = None


def _route_native_logs() -> None:
    """Send llama.cpp's own log lines to `logging` (debug level) instead of stderr."""
    global _native_log_callback
    if _native_log_callback is not None:
        return
    import ctypes

    import llama_cpp

    native = logging.getLogger("llama_cpp.native")

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        native.debug("%s", text.decode("utf-8", errors="replace").rstrip())

    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    _native_log_callback = callback  # keep a reference: ctypes does not


class LlamaRuntime:
    """Load a GGUF model once and serialise access to it (llama.cpp contexts are not thread-safe)."""

    def __init__(
        self,
        name: str,
        resolve_path: Callable[[], Path],
        *,
        n_ctx: int = 4096,
        n_threads: int = 0,
        n_batch: int = 512,
    ) -> None:
        self.name = name
        self._resolve_path = resolve_path
        self.n_ctx = n_ctx
        self.n_threads = n_threads or (os.cpu_count() or 1)
        self.n_batch = n_batch
        self._llama: Llama | None = None
        self._load_lock = threading.Lock()
        self.call_lock = threading.Lock()
        self.load_seconds: float | None = None

    @property
    def loaded(self) -> bool:
        return self._llama is not None

    def llama(self) -> Llama:
        """Return the loaded model, loading it on first use (seconds; call off the event loop)."""
        if self._llama is None:
            with self._load_lock:
                if self._llama is None:
                    from llama_cpp import Llama  # heavy import, deferred until needed

                    path = self._resolve_path()
                    started = time.perf_counter()
                    _route_native_logs()
                    # verbose=False would silence llama.cpp by pointing fds 1 and 2 at /dev/null
                    # while the model loads, swallowing whatever other threads print meanwhile
                    # (the chat prompt, an answer). Load verbosely instead, with native logs
                    # routed to `logging` and the Python-level prints captured.
                    with contextlib.redirect_stderr(io.StringIO()):
                        llama = Llama(
                            model_path=str(path),
                            n_ctx=self.n_ctx,
                            n_threads=self.n_threads,
                            n_batch=self.n_batch,
                            verbose=True,
                        )
                    llama.verbose = False  # no per-call prints from here on
                    self._llama = llama
                    self.load_seconds = time.perf_counter() - started
                    log.info("loaded %s from %s in %.1fs", self.name, path, self.load_seconds)
        return self._llama

    def close(self) -> None:
        with self._load_lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None


def to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    """Convert LangChain messages to the OpenAI-style dicts llama-cpp-python expects."""
    roles: dict[type[BaseMessage], str] = {
        SystemMessage: "system",
        HumanMessage: "user",
        AIMessage: "assistant",
        ToolMessage: "tool",
    }
    converted = []
    for message in messages:
        role = next((r for cls, r in roles.items() if isinstance(message, cls)), "user")
        converted.append({"role": role, "content": message.text})
    return converted


class ChatLlamaCpp(BaseChatModel):
    """Chat with a local GGUF model through llama.cpp, streaming tokens as they are sampled."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    runtime: LlamaRuntime = Field(exclude=True)
    model_name: str
    temperature: float = 0.7
    max_tokens: int = 512
    seed: int | None = None

    @property
    def _llm_type(self) -> str:
        return "llama-cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "temperature": self.temperature}

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "stop": stop or [],
        }
        if self.seed is not None:
            params["seed"] = self.seed
        for key in ("response_format", "max_tokens", "temperature", "seed"):
            if key in kwargs:
                params[key] = kwargs[key]
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        llama = self.runtime.llama()
        with self.runtime.call_lock:
            response: Any = llama.create_chat_completion(
                messages=to_llama_messages(messages),  # type: ignore[arg-type]
                **self._params(stop, kwargs),
            )
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            response_metadata={"model_name": self.model_name, "finish_reason": choice.get("finish_reason")},
            usage_metadata={
                "input_tokens": usage.get("prompt_tokens", 0),
                "output_tokens": usage.get("completion_tokens", 0),
                "total_tokens": usage.get("total_tokens", 0),
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        llama = self.runtime.llama()
        with self.runtime.call_lock:
            stream: Any = llama.create_chat_completion(
                messages=to_llama_messages(messages),  # type: ignore[arg-type]
                stream=True,
                **self._params(stop, kwargs),
            )
            for part in stream:
                choice = part["choices"][0]
                delta = choice.get("delta", {}).get("content") or ""
                finish = choice.get("finish_reason")
                if not delta and not finish:
                    continue
                metadata = {"model_name": self.model_name, "finish_reason": finish} if finish else {}
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=delta, response_metadata=metadata))
                if run_manager and delta:
                    run_manager.on_llm_new_token(delta, chunk=chunk)
                yield chunk

    def with_structured_output(
        self,
        schema: dict[str, Any] | type,
        *,
        method: Literal["json_schema"] = "json_schema",
        include_raw: bool = False,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """Constrain sampling to the JSON schema (llama.cpp grammar) and parse the result."""
        if include_raw:
            raise NotImplementedError("include_raw is not supported by ChatLlamaCpp")
        json_schema = schema if isinstance(schema, dict) else convert_to_json_schema(schema)
        bound = self.bind(response_format={"type": "json_object", "schema": json_schema})
        if isinstance(schema, type) and issubclass(schema, BaseModel):
            return bound | PydanticOutputParser(pydantic_object=schema)
        return bound | JsonOutputParser()
