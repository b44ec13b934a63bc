"""Configuration: typed settings loaded from `config/*.yaml` and `SENA_*` env vars."""

from config.settings import ROLES, Role, Settings, load_settings
from ops.errors import ConfigError

__all__ = ["ROLES", "ConfigError", "Role", "Settings", "load_settings"]
