"""Long-lived services the nodes use, built once by the CLI, the API or the studio factory."""

from __future__ import annotations

from dataclasses import dataclass, field

from config.settings import Settings
from extensions.host import ExtensionHost, NoExtensions
from providers.model_files import Progress
from providers.registry import ChatModels, ModelRegistry
from storage.conversations import ConversationLog


@dataclass
class Services:
    settings: Settings
    models: ChatModels
    log: ConversationLog | None = None
    extensions: ExtensionHost = field(default_factory=NoExtensions)

    def close(self) -> None:
        if isinstance(self.models, ModelRegistry):
            self.models.close()
        if self.log is not None:
            self.log.close()


def build_services(settings: Settings, progress: Progress | None = None, models: ChatModels | None = None) -> Services:
    """Create the model registry (unless given) and open the conversation log.

    Models load lazily, on first use.
    """
    return Services(
        settings=settings,
        models=models or ModelRegistry(settings.llm, settings.models_dir, progress),
        log=ConversationLog.from_path(settings.database_path),
    )
