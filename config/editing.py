"""The effective configuration key by key, where each value comes from, and edits to the YAML files.

What the studio's settings view stands on:
- `entries` flattens the running settings into dotted keys, each with its source: an
  environment variable (`SENA_MEMORY__SEARCH_THRESHOLD`), a file under `config/`, or the
  default. Secrets are masked and cannot be edited here.
- `validated` checks a new value with the same validation as at start (the whole `Settings` is
  built with it), so a bad value is refused with the message `sena` would print.
- `write` sets a key in the YAML file that holds its section with ruamel.yaml's round trip, so
  the file keeps its comments, order and layout; it returns the value it replaced, which is
  how an edit is reverted.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from config.errors import ConfigError
from config.settings import CONFIG_FILES, Settings, config_dir, load_settings

SECRET = re.compile(r"(?:^|_)(?:token|api_key|password|secret|dsn)$")
MASK = "***"
SKIPPED = ("intent_examples", "remark_examples")
"""Example lists: edited in their own files, not key by key."""
MISSING: Any = object()
"""A key the file did not have (reverting removes it again)."""


@dataclass(frozen=True)
class Entry:
    key: str
    value: Any
    default: Any
    source: str
    """"default", "file:<name>" or "env:<VARIABLE>"."""
    secret: bool


def is_secret(key: str) -> bool:
    return bool(SECRET.search(key.rsplit(".", 1)[-1]))


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as dotted keys; lists and scalars are values."""
    if not isinstance(data, dict) or not data:
        return {prefix: data}
    out: dict[str, Any] = {}
    for key, value in data.items():
        out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return out


def file_values(folder: Path | None = None) -> dict[str, tuple[str, Any]]:
    """Every dotted key the YAML files set, with the file that sets it."""
    found: dict[str, tuple[str, Any]] = {}
    folder = folder or config_dir()
    for name in CONFIG_FILES:
        path = folder / name
        if path.exists():
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for key, value in flatten({k: v for k, v in data.items() if k not in SKIPPED}).items():
                found[key] = (name, value)
    return found


def env_name(key: str) -> str:
    return "SENA_" + "__".join(part.upper() for part in key.split("."))


def shown_keys(settings: Settings) -> dict[str, Any]:
    return flatten({k: v for k, v in settings.model_dump(mode="json").items() if k not in SKIPPED})


def entries(settings: Settings, folder: Path | None = None) -> list[Entry]:
    """The running settings, key by key, with where each value came from."""
    running = flatten({k: v for k, v in settings.model_dump(mode="json").items() if k not in SKIPPED})
    defaults = flatten(
        {k: v for k, v in Settings.model_construct().model_dump(mode="json").items() if k not in SKIPPED}
    )
    files = file_values(folder)
    out = []
    for key, value in running.items():
        parts = key.split(".")
        env = next(
            (
                env_name(".".join(parts[:i]))
                for i in range(len(parts), 0, -1)
                if env_name(".".join(parts[:i])) in os.environ
            ),
            None,
        )
        source = f"env:{env}" if env else f"file:{files[key][0]}" if key in files else "default"
        secret = is_secret(key)
        shown = MASK if secret and value else value
        default = MASK if secret and defaults.get(key) else defaults.get(key)
        out.append(Entry(key, shown, default, source, secret))
    return out


def nested(key: str, value: Any) -> dict[str, Any]:
    for part in reversed(key.split(".")):
        value = {part: value}
    return value


def validated(key: str, value: Any) -> Settings:
    """Settings as they would load with `key` set to `value`; ConfigError when that is invalid."""
    if key.split(".")[0] in SKIPPED or is_secret(key):
        raise ConfigError(f"{key} cannot be edited here.", "Edit its file under config/ instead.")
    known = flatten(Settings.model_construct().model_dump(mode="json"))
    if key not in known and not any(k.startswith(key + ".") for k in known):
        section = key.rsplit(".", 1)[0]
        if not any(k.startswith(section + ".") for k in known):
            raise ConfigError(f"There is no setting {key!r}.", "The settings view lists every key.")
    return load_settings(**nested(key, value))


def value_at(settings: Settings, key: str) -> Any:
    value: Any = settings
    for part in key.split("."):
        value = value[part] if isinstance(value, dict) else getattr(value, part)
    return value


def file_for(key: str, folder: Path | None = None) -> Path:
    """The YAML file holding the key's top-level section (settings.yaml when none does)."""
    folder = folder or config_dir()
    section = key.split(".")[0]
    for name in CONFIG_FILES:
        path = folder / name
        if path.exists() and section in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}):
            return path
    return folder / "settings.yaml"


def write(key: str, value: Any, folder: Path | None = None) -> tuple[Path, Any]:
    """Set `key` in its YAML file, keeping the file's comments; return the file and the value it
    had there (`MISSING` when the file did not set it). `value=MISSING` removes the key."""
    from ruamel.yaml import YAML

    path = file_for(key, folder)
    round_trip = YAML()
    round_trip.preserve_quotes = True
    round_trip.indent(mapping=2, sequence=4, offset=2)  # the files' own layout: "  - item" under a key
    round_trip.width = 4096  # never fold a long pattern
    round_trip.representer.add_representer(  # "null" stays "null", not an empty value
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    data = round_trip.load(path.read_text(encoding="utf-8")) if path.exists() else None
    if data is None:
        from ruamel.yaml.comments import CommentedMap

        data = CommentedMap()
    *parents, last = key.split(".")
    node = data
    for part in parents:
        if part not in node or not isinstance(node[part], dict):
            if value is MISSING:
                return path, MISSING
            node[part] = {}
        node = node[part]
    old = node.get(last, MISSING)
    if value is MISSING:
        node.pop(last, None)
    else:
        node[last] = value
    with path.open("w", encoding="utf-8") as out:
        round_trip.dump(data, out)
    return path, old
