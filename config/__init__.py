"""Configuration: typed settings loaded from `config/*.yaml` and `SENA_*` env vars."""

from config.errors import ConfigError
from config.settings import ROLES, Role, Settings, load_settings

__all__ = ["ROLES", "ConfigError", "Role", "Settings", "load_settings"]
