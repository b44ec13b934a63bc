"""Configuration: typed settings loaded from `config/*.yaml` and `SENA_*` env vars."""

from config.settings import ROLES, ConfigError, Role, Settings, load_settings

__all__ = ["ROLES", "ConfigError", "Role", "Settings", "load_settings"]
