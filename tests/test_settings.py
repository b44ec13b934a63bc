"""Configuration precedence (env > file > defaults) and fail-fast errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.app import app
from config.settings import ConfigError, load_settings


def test_files_then_env_then_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(yaml.safe_dump({"llm": {"provider": "ollama", "retries": 3}}))
    monkeypatch.setenv("SENA_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("SENA_LLM__RETRIES", "2")
    settings = load_settings()
    assert settings.llm.provider == "ollama"  # from the file
    assert settings.llm.retries == 2  # env beats the file
    assert settings.llm.ollama.base_url == "http://localhost:11434"  # default
    assert settings.llm.roles["code"].temperature == 0.7  # default role filled in


def test_repository_config_loads() -> None:
    settings = load_settings()
    assert settings.llm.provider == "embedded"
    assert settings.llm.roles["code"].ollama_model == "codellama:7b"
    assert {"greeting", "memory_recall", "question", "conversation"} <= set(settings.intent_routing.intents)
    assert settings.memory.short_term_messages == 20


def test_nested_env_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENA_LLM__ROLES__FAST__MAX_TOKENS", "7")
    settings = load_settings()
    assert settings.llm.roles["fast"].max_tokens == 7
    assert settings.llm.roles["fast"].ollama_model == "gemma2:2b"


@pytest.mark.parametrize(
    ("var", "value", "key"),
    [
        ("SENA_LLM__PROVIDER", "bogus", "llm.provider"),
        ("SENA_API__PORT", "99999", "api.port"),
        ("SENA_MEMORY__SHORT_TERM_MESSAGES", "-1", "memory.short_term_messages"),
    ],
)
def test_invalid_value_names_the_key(monkeypatch: pytest.MonkeyPatch, var: str, value: str, key: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_settings()


def test_unknown_key_in_file_is_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("app:\n  nmae: typo\n")
    monkeypatch.setenv("SENA_CONFIG_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"app\.nmae"):
        load_settings()


def test_config_show_prints_effective_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENA_LLM__PROVIDER", "ollama")
    monkeypatch.setenv("SENA_API__AUTH_TOKEN", "secret")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code == 0
    shown = yaml.safe_load(result.output)
    assert shown["llm"]["provider"] == "ollama"
    assert shown["api"]["auth_token"] == "***"


def test_cli_reports_bad_config_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENA_LLM__PROVIDER", "bogus")
    result = CliRunner().invoke(app, ["threads"])
    assert result.exit_code == 2
    assert "llm.provider" in result.output
    assert "Traceback" not in result.output
