"""Process settings: YAML files under `config/`, overridden by `SENA_*` environment variables.

Precedence is env (`SENA_LLM__PROVIDER=ollama`, nested with `__`) > YAML file > defaults.
`load_settings()` is the only entry point; it turns validation failures into a
`ConfigError` whose message names the offending key, so a bad value fails fast.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from config.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = CONFIG_DIR.parent
CONFIG_FILES = (
    "settings.yaml", "models.yaml", "extensions.yaml", "logging.yaml", "intent_examples.yaml", "remark_examples.yaml"
)  # fmt: skip

Role = Literal["fast", "critical", "code", "router"]
ROLES: tuple[Role, ...] = ("fast", "critical", "code", "router")
Provider = Literal["embedded", "ollama"]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AppSettings(Section):
    name: str = "Sena"
    data_dir: Path = PROJECT_ROOT / "data"
    user_id: str = "local"
    system_prompt: str = (
        "You are Sena, a helpful personal assistant running locally on the user's machine. "
        "Sena is your name, not the user's; speak to the user as 'you'. Answer clearly and concisely. "
        "Use the provided context when it is relevant, "
        "and say so when you do not know something."
    )


class OllamaSettings(Section):
    base_url: str = "http://localhost:11434"
    timeout_s: float = Field(default=120.0, gt=0)
    keep_alive: str = "5m"


class EmbeddedModelSpec(Section):
    """Where a GGUF model comes from: one file in a package, or parts joined in order."""

    file: str
    package: str | None = None
    package_path: str | None = None
    parts_package: str | None = None
    parts_path: str | None = None
    parts: int = Field(default=0, ge=0)
    sha256: str | None = None
    size_bytes: int | None = None
    n_ctx: int = Field(default=4096, ge=256)


class EmbeddedSettings(Section):
    models_dir: Path | None = None
    n_threads: int = Field(default=0, ge=0, description="0 means one thread per core")
    n_batch: int = Field(default=512, ge=8)
    n_ctx: int | None = Field(default=None, ge=256)
    models: dict[str, EmbeddedModelSpec] = Field(default_factory=dict)


class RoleSettings(Section):
    ollama_model: str = "gemma2:2b"
    embedded_model: str = "qwen2.5-coder-1.5b"
    temperature: float = Field(default=0.7, ge=0, le=2)
    max_tokens: int = Field(default=512, ge=1)


class FallbackSettings(Section):
    enabled: bool = True
    provider: Provider = "embedded"
    role: Role = "fast"


class LLMSettings(Section):
    provider: Provider = "embedded"
    retries: int = Field(default=1, ge=0, le=5)
    timeout_s: float = Field(default=300.0, gt=0)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
    embedded: EmbeddedSettings = Field(default_factory=EmbeddedSettings)
    roles: dict[Role, RoleSettings] = Field(default_factory=lambda: {role: RoleSettings() for role in ROLES})
    fallback: FallbackSettings = Field(default_factory=FallbackSettings)
    allow_runtime_switch: bool = True  # `/model ROLE NAME` and PUT /api/v1/models/{role}
    switch_cooldown_s: float = Field(default=10.0, ge=0)  # between two switches of one role

    @field_validator("roles")
    @classmethod
    def _all_roles(cls, roles: dict[Role, RoleSettings]) -> dict[Role, RoleSettings]:
        return {role: roles.get(role, RoleSettings()) for role in ROLES}


class IntentRoute(Section):
    recommended_model: Role = "fast"
    required_extensions: list[str] = Field(default_factory=list)
    needs_memory: bool = True
    patterns: list[str] = Field(default_factory=list)
    description: str = ""


class IntentRoutingSettings(Section):
    default_intent: str = "conversation"
    rule_confidence: float = Field(default=0.9, ge=0, le=1)
    router_threshold: float = Field(default=0.6, ge=0, le=1)
    use_router_model: bool = True
    use_examples: bool = True  # compare with config/intent_examples.yaml before asking the router model
    # The classifier's probability for its best intent. 0.35: in five-fold cross-validation on the
    # examples, 92.6 % of messages reach it, and 90.8 % of those are right.
    examples_threshold: float = Field(default=0.35, ge=0, le=1)
    router_candidates: int = Field(default=3, ge=2)  # below it, the router model picks among this many
    intents: dict[str, IntentRoute] = Field(default_factory=dict)


class QdrantSettings(Section):
    url: str | None = None
    api_key: str | None = None


class MemorySettings(Section):
    short_term_messages: int = Field(default=20, ge=0)
    short_term_max_age_s: float = Field(default=3600, ge=0)
    long_term: bool = True
    collection: str = "sena_memories"
    search_limit: int = Field(default=5, ge=1, le=100)
    search_threshold: float = Field(default=0.2, ge=0, le=1)
    recency_weight: float = Field(default=0.3, ge=0, le=1)
    keyword_weight: float = Field(default=0.0, ge=0, le=2)
    conversations_collection: str = "sena_conversations"
    conversation_limit: int = Field(default=3, ge=0, le=20)
    topic_min_mentions: int = Field(default=3, ge=1)
    ask_model_when_unsure: bool = True
    remark_threshold: float = Field(default=0.7, ge=0, le=1)
    """A statement whose `passing` probability (config/remark_examples.yaml) reaches this is a
    remark about the moment and is not learned; 1 keeps every statement."""
    qdrant: QdrantSettings = Field(default_factory=QdrantSettings)


class SandboxLimits(Section):
    cpu_seconds: float = Field(default=2.0, gt=0)
    wall_seconds: float = Field(default=5.0, gt=0)
    memory_mb: int = Field(default=512, ge=64)
    open_files: int = Field(default=32, ge=8)
    max_output_chars: int = Field(default=4000, ge=100)


DEFAULT_IMPORTS = [
    "json", "math", "datetime", "re", "random", "statistics", "collections", "itertools",
    "functools", "textwrap", "decimal", "fractions", "unicodedata", "difflib", "calendar",
]  # fmt: skip


class ExtensionsSettings(Section):
    enabled: bool = True
    core: list[str] = Field(default_factory=list)
    user_dir: Path = PROJECT_ROOT / "extensions" / "user"
    generated_dir: Path | None = None  # defaults to <data_dir>/extensions/generated
    workspace: Path | None = None  # defaults to <data_dir>/workspace
    allowed_imports: list[str] = Field(default_factory=lambda: list(DEFAULT_IMPORTS))
    grants: dict[str, list[Literal["system", "workspace", "http", "apps"]]] = Field(default_factory=dict)
    watch: bool = True
    reload_debounce_s: float = Field(default=0.3, ge=0)
    max_consecutive_failures: int = Field(default=3, ge=1)
    limits: SandboxLimits = Field(default_factory=SandboxLimits)
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict)


class APISettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    auth_token: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost", "::1"])  # "*": any
    trusted_proxies: list[str] = Field(default_factory=list)  # whose X-Forwarded-For names the client
    rate_limit_per_minute: int = Field(default=120, ge=0)  # per identity; 0 = off
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    feed_buffer: int = Field(default=1000, ge=10)  # events kept for Last-Event-ID resumption
    feed_queue: int = Field(default=256, ge=8)  # per subscriber; a slower client is dropped
    heartbeat_s: float = Field(default=15.0, gt=0)
    serve_from_chat: bool = True  # `sena chat` serves this API too, so other commands can go through it


class DatabaseSettings(Section):
    path: Path | None = None
    checkpointer: Literal["sqlite", "postgres"] = "sqlite"
    postgres_url: str | None = None  # postgresql://user:password@host:5432/dbname
    pool_size: int = Field(default=10, ge=1)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    node_history_turns: int = Field(default=50, ge=1)  # turns per thread kept node by node; older: one checkpoint


class LoggingSettings(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "WARNING"  # on the terminal
    file: bool = True  # rotating files in <data_dir>/logs/
    file_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    store_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"  # the database's logs table
    max_bytes: int = Field(default=5 * 1024 * 1024, ge=10_000)
    backups: int = Field(default=5, ge=0)


class TelemetrySettings(Section):
    enabled: bool = True
    retention_days: int = Field(default=30, ge=1)
    local_traces: bool = False  # one JSON line per node span in <data_dir>/traces/YYYY-MM-DD.jsonl
    host_sample_s: float = Field(default=30.0, ge=0)  # the server samples CPU, memory and disk this often (0 = off)


class BenchSettings(Section):
    keep_sessions: int = Field(default=10, ge=1)  # results kept per suite
    regression_pct: float = Field(default=20.0, gt=0)  # worse than the previous run by more than this is flagged
    thresholds: dict[str, float] = Field(default_factory=dict)  # per "suite.metric" glob: its own %
    min_change_ms: float = Field(default=1.0, ge=0)  # time changes smaller than this are noise, never flagged


def config_dir() -> Path:
    """Where the YAML files are read from: SENA_CONFIG_DIR, else the package's config folder."""
    return Path(os.environ.get("SENA_CONFIG_DIR", CONFIG_DIR))


class YamlFilesSource(PydanticBaseSettingsSource):
    """Read every known YAML file in the config directory; top-level keys are sections."""

    def __init__(self, settings_cls: type[BaseSettings], config_dir: Path) -> None:
        super().__init__(settings_cls)
        self.config_dir = config_dir

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns everything at once

    def __call__(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for name in CONFIG_FILES:
            path = self.config_dir / name
            if not path.exists():
                continue
            try:
                loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            except yaml.YAMLError as exc:
                raise ConfigError(
                    f"{path}: not valid YAML: {exc}",
                    "Fix the YAML at the line shown (indentation, an unclosed bracket or quote), then start again.",
                ) from exc
            if not isinstance(loaded, dict):
                raise ConfigError(f"{path}: expected a mapping of sections at the top level")
            merged.update(loaded)
        return merged


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SENA_", env_nested_delimiter="__", extra="forbid", nested_model_default_partial_update=True
    )

    app: AppSettings = Field(default_factory=AppSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    intent_routing: IntentRoutingSettings = Field(default_factory=IntentRoutingSettings)
    intent_examples: dict[str, list[str]] = Field(default_factory=dict)
    remark_examples: dict[str, list[str]] = Field(default_factory=dict)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    extensions: ExtensionsSettings = Field(default_factory=ExtensionsSettings)
    api: APISettings = Field(default_factory=APISettings)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    bench: BenchSettings = Field(default_factory=BenchSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, YamlFilesSource(settings_cls, config_dir()))

    @property
    def data_dir(self) -> Path:
        return self.app.data_dir

    @property
    def database_path(self) -> Path:
        return self.database.path or self.app.data_dir / "sena.db"

    @property
    def generated_extensions_dir(self) -> Path:
        return self.extensions.generated_dir or self.app.data_dir / "extensions" / "generated"

    @property
    def workspace_dir(self) -> Path:
        return self.extensions.workspace or self.app.data_dir / "workspace"

    @property
    def models_dir(self) -> Path:
        return self.llm.embedded.models_dir or self.app.data_dir / "models"


def load_settings(**overrides: Any) -> Settings:
    """Load settings from YAML and env, raising `ConfigError` that names the bad key."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"])
            env = "SENA_" + "__".join(str(part).upper() for part in err["loc"])
            problems.append(f"  {key}: {err['msg']} (got {err.get('input')!r}; set in config/*.yaml or {env})")
        raise ConfigError("Invalid configuration:\n" + "\n".join(problems)) from exc
