"""Long-lived services the nodes use, built once by the CLI, the API or the studio factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config.settings import Settings
from extensions.host import ExtensionHost, NoExtensions, SandboxHost
from providers.model_files import Progress
from providers.registry import ChatModels, ModelRegistry
from storage.conversation_log import ConversationLog
from storage.topics import TopicStore

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from extensions.watcher import ExtensionWatcher
    from graph.recording import Recorder
    from memory.by_example import RemarkFilter
    from memory.learnings import Learner
    from memory.store import MemoryStore
    from providers.registry import ModelChoice
    from storage.telemetry import Telemetry

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    models: ChatModels
    log: ConversationLog | None = None
    extensions: ExtensionHost = field(default_factory=NoExtensions)
    memory: MemoryStore | None = None
    memory_problem: str | None = None
    """Why long-term memory is off in this process, if it is (shown to the user)."""
    learner: Learner | None = None
    topics: TopicStore | None = None
    """Topics each user keeps returning to (decide_memory retrieves for them)."""
    watcher: ExtensionWatcher | None = None
    extension_problems: dict[str, str] = field(default_factory=dict)
    """Extensions that did not load at start, and why (shown to the user)."""
    recorder: Recorder | None = None
    """Keeps each turn's model and extension outputs for faithful replays."""
    telemetry: Telemetry | None = None
    """Timings and failures of every turn, for `sena stats` and the API."""
    _recording: dict[Any, Any] = field(default_factory=dict, repr=False)
    intent_index: Any = field(default=None, repr=False)
    """classify_intent's example index, built there on first use and kept for this Sena's life."""

    def chat_model(self, choice: ModelChoice) -> BaseChatModel:
        """The role's chat model, recorded (or replayed) when a recorder is set."""
        model = self.models.get(choice)
        if self.recorder is None:
            return model
        if choice not in self._recording:
            from graph.recording import RecordingChatModel

            self._recording[choice] = RecordingChatModel(inner=model, recorder=self.recorder, label=choice.label)
        wrapped: BaseChatModel = self._recording[choice]
        return wrapped

    def extension_runner(self) -> ExtensionHost:
        """The extension host, recorded (or replayed) when a recorder is set."""
        if self.recorder is None:
            return self.extensions
        if "extensions" not in self._recording:
            from graph.recording import RecordingExtensions

            self._recording["extensions"] = RecordingExtensions(self.extensions, self.recorder)
        runner: ExtensionHost = self._recording["extensions"]
        return runner

    def close(self) -> None:
        """Close every component; one failing to close does not keep the others open."""
        closers: list[Any] = [self.watcher.stop if self.watcher is not None else None]
        if isinstance(self.extensions, SandboxHost):
            closers.append(self.extensions.close)
        if isinstance(self.models, ModelRegistry):
            closers.append(self.models.close)
        parts = (self.log, self.topics, self.recorder, self.memory, self.telemetry)
        closers += [part.close for part in parts if part is not None]
        for close in filter(None, closers):
            try:
                close()
            except Exception:
                log.exception("closing %s failed", close)


def open_memory(settings: Settings, models: ChatModels) -> tuple[MemoryStore | None, str | None]:
    """Open the long-term store, or return why it is unavailable (the turn then uses short-term only)."""
    if not settings.memory.long_term:
        return None, None
    from memory.store import MemoryStore

    try:
        llm = models.get(models.choose("fast"))
        return MemoryStore.open(settings.memory, settings.data_dir, llm), None
    except Exception as exc:
        log.warning("long-term memory unavailable: %s", exc)
        return None, f"Long-term memory is off for this session: {exc}"


def open_extensions(
    settings: Settings, watch: bool | None = None
) -> tuple[ExtensionHost, ExtensionWatcher | None, dict[str, str]]:
    """Load the extensions into their sandbox and, if configured, watch their folders for changes.

    Return the host, the watcher and the extensions rejected at load, with why."""
    if not settings.extensions.enabled:
        return NoExtensions(), None, {}
    from extensions.registry import ExtensionRegistry
    from extensions.watcher import ExtensionWatcher

    host = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
    report = host.load_all()
    for name, why in report.rejected.items():
        log.warning("extension %s not loaded: %s", name, why)
    watcher = None
    if settings.extensions.watch if watch is None else watch:
        folders = [settings.extensions.user_dir, settings.generated_extensions_dir]
        watcher = ExtensionWatcher(folders, host.reload_file, settings.extensions.reload_debounce_s)
        watcher.start()
    return host, watcher, report.rejected


def remarks(settings: Settings, memory: MemoryStore) -> RemarkFilter | None:
    """The classifier that keeps passing remarks out of memory (None without its examples, or at
    threshold 1); it shares the store's embedder, fitted on first use."""
    if settings.memory.remark_threshold >= 1 or len(settings.remark_examples) < 2:
        return None
    from memory.by_example import RemarkFilter

    return RemarkFilter(settings.remark_examples, settings.memory.remark_threshold, getattr(memory, "embedder", None))


def build_services(settings: Settings, progress: Progress | None = None, models: ChatModels | None = None) -> Services:
    """Create the model registry (unless given), open the conversation log, the memory store
    and the extension host.

    Models load lazily, on first use.
    """
    models = models or ModelRegistry(settings.llm, settings.models_dir, progress)
    memory, problem = open_memory(settings, models)
    learner = None
    if memory is not None:
        from memory.learnings import Learner

        # The router role runs at temperature 0, as extraction should.
        learner = Learner(
            memory,
            models.get(models.choose("router")),
            conversations=memory.conversations,
            remarks=remarks(settings, memory),
        )
    extensions, watcher, rejected = open_extensions(settings)
    from graph.recording import Recorder

    telemetry = None
    if settings.telemetry.enabled:
        from storage.telemetry import Telemetry, TelemetryStore

        telemetry = Telemetry(TelemetryStore.from_path(settings.database_path), settings.telemetry.retention_days)
        if learner is not None:
            learner.listeners.append(telemetry.memory_write)
    return Services(
        settings=settings,
        models=models,
        log=ConversationLog.from_path(settings.database_path),
        memory=memory,
        memory_problem=problem,
        learner=learner,
        topics=TopicStore.from_path(settings.database_path) if memory is not None else None,
        extensions=extensions,
        watcher=watcher,
        extension_problems=rejected,
        recorder=Recorder.from_path(settings.database_path),
        telemetry=telemetry,
    )
