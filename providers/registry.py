"""Chat models by role: nodes ask for `fast`, `critical`, `code` or `router`, never a provider.

The registry builds each model once (an Ollama client, or a view onto a shared llama.cpp
runtime), applies runtime switches (`/model code <name>`) and per-run overrides, and names
the fallback to try when a role's model fails.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import httpx
from langchain_core.language_models import BaseChatModel

from config.errors import ContextOverflow, ModelError, classify
from config.settings import LLMSettings, Provider, Role
from providers.llamacpp import ChatLlamaCpp, LlamaRuntime
from providers.model_files import ModelFileError, Progress, resolve_model_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelChoice:
    """Which model serves a role: enough to build it, show it and key recordings by it."""

    role: Role
    provider: Provider
    model: str

    @property
    def label(self) -> str:
        return f"{self.provider}:{self.model}"


class ChatModels(Protocol):
    """What nodes need from a model registry (tests provide a scripted one)."""

    def choose(self, role: Role, override: str | None = None) -> ModelChoice: ...

    def get(self, choice: ModelChoice) -> BaseChatModel: ...

    def fallback_for(self, failed: ModelChoice) -> ModelChoice | None: ...


@runtime_checkable
class SwitchableModels(ChatModels, Protocol):
    """A registry whose roles can be given another model at runtime (`/model`, PUT /models/{role})."""

    def switch(self, role: Role, model: str) -> ModelChoice: ...

    def available(self) -> list[str]: ...


class ModelRegistry:
    """Build and cache chat models for roles from `LLMSettings`."""

    def __init__(self, settings: LLMSettings, models_dir: Path, progress: Progress | None = None) -> None:
        self.settings = settings
        self.models_dir = models_dir
        self.progress = progress
        self._switches: dict[Role, str] = {}
        self._models: dict[ModelChoice, BaseChatModel] = {}
        self._runtimes: dict[str, LlamaRuntime] = {}

    def choose(self, role: Role, override: str | None = None, provider: Provider | None = None) -> ModelChoice:
        provider = provider or self.settings.provider
        role_settings = self.settings.roles[role]
        configured = role_settings.embedded_model if provider == "embedded" else role_settings.ollama_model
        return ModelChoice(role, provider, override or self._switches.get(role) or configured)

    def available(self) -> list[str]:
        """The models a role can be switched to: the embedded ones known; [] for Ollama, which
        serves whatever it has pulled (a wrong name fails at the next turn, with the fix)."""
        if self.settings.provider == "embedded":
            return sorted(self.settings.embedded.models)
        return []

    def switch(self, role: Role, model: str) -> ModelChoice:
        """Serve `role` with `model` from now on (`Sena.switch_model` checks whether it may)."""
        if self.settings.provider == "embedded" and model not in self.settings.embedded.models:
            known = ", ".join(sorted(self.settings.embedded.models))
            raise ValueError(f"Unknown embedded model {model!r}; known: {known}")
        self._switches[role] = model
        return self.choose(role)

    def fallback_for(self, failed: ModelChoice) -> ModelChoice | None:
        fallback = self.settings.fallback
        if not fallback.enabled:
            return None
        choice = self.choose(fallback.role, provider=fallback.provider)
        return None if choice.label == failed.label else choice

    def get(self, choice: ModelChoice) -> BaseChatModel:
        model = self._models.get(choice)
        if model is None:
            model = self._build(choice)
            self._models[choice] = model
        return model

    def runtime(self, name: str) -> LlamaRuntime:
        """Return the shared llama.cpp runtime for an embedded model (not loaded until used)."""
        runtime = self._runtimes.get(name)
        if runtime is None:
            embedded = self.settings.embedded
            spec = embedded.models.get(name)
            if spec is None:
                known = ", ".join(sorted(embedded.models)) or "none"
                raise ModelFileError(f"No embedded model named {name!r} (configured: {known}).")
            runtime = LlamaRuntime(
                name,
                lambda: resolve_model_file(spec, self.models_dir, self.progress),
                n_ctx=embedded.n_ctx or spec.n_ctx,
                n_threads=embedded.n_threads,
                n_batch=embedded.n_batch,
            )
            self._runtimes[name] = runtime
        return runtime

    def _build(self, choice: ModelChoice) -> BaseChatModel:
        role = self.settings.roles[choice.role]
        if choice.provider == "embedded":
            return ChatLlamaCpp(
                runtime=self.runtime(choice.model),
                model_name=choice.model,
                temperature=role.temperature,
                max_tokens=role.max_tokens,
            )
        from langchain_ollama import ChatOllama  # imported only when Ollama is used

        ollama = self.settings.ollama
        return ChatOllama(
            model=choice.model,
            base_url=ollama.base_url,
            temperature=role.temperature,
            num_predict=role.max_tokens,
            keep_alive=ollama.keep_alive,
            client_kwargs={"timeout": ollama.timeout_s},
        )

    def close(self) -> None:
        for runtime in self._runtimes.values():
            runtime.close()


def check_ollama(base_url: str, timeout_s: float = 2.0) -> str | None:
    """Return None when an Ollama server answers at `base_url`, else what is wrong and how to fix it."""
    try:
        httpx.get(f"{base_url.rstrip('/')}/api/version", timeout=timeout_s).raise_for_status()
    except httpx.HTTPError as exc:
        return (
            f"Ollama is not reachable at {base_url} ({type(exc).__name__}). "
            "Start it with `ollama serve`, set SENA_LLM__OLLAMA__BASE_URL to where it runs, "
            "or use the embedded model with SENA_LLM__PROVIDER=embedded."
        )
    return None


def explain_model_error(exc: BaseException, choice: ModelChoice, settings: LLMSettings) -> ModelError:
    """Turn a model failure into a `ModelError` saying what went wrong and what to do."""
    error = classify(exc, "llm")
    if not isinstance(error, ModelError) or isinstance(error, ContextOverflow):
        return error if isinstance(error, ModelError) else ModelError(error.message, error.hint)
    text = str(exc) or type(exc).__name__
    if isinstance(exc, ModelFileError):
        return ModelError(f"The embedded model {choice.model!r} is not available: {exc.message}", exc.hint)
    if choice.provider == "ollama":
        if "not found" in text and "model" in text:
            return ModelError(
                f"Ollama does not have the model {choice.model!r}.", f"Pull it with `ollama pull {choice.model}`."
            )
        if isinstance(exc, (httpx.ConnectError, ConnectionError, httpx.TimeoutException)) or "connect" in text.lower():
            return ModelError(
                f"Ollama is not reachable at {settings.ollama.base_url}.",
                "Start it with `ollama serve`, or switch to the embedded model with SENA_LLM__PROVIDER=embedded.",
            )
    return ModelError(f"The {choice.role} model ({choice.label}) failed: {text}", "Run `sena doctor` to check it.")
