"""The extension host: one door for core, user and generated extensions.

`ExtensionHost` is what the graph asks of it (names, specs, run). `SandboxHost` discovers
extension files, validates them without running them, orders them by `requires`
(a cycle or a missing dependency rejects only the extensions involved), loads them into
the sandboxed worker, records them in the registry, and reloads a file when it changes:
a new version that fails validation or loading leaves the previous one running, with the
reason recorded and reported.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Protocol

from config.settings import Settings
from extensions.capabilities import Capabilities
from extensions.confirmations import Confirmations
from extensions.registry import ExtensionRecord, ExtensionRegistry
from extensions.sandbox import ExtensionFailed, ExtensionInvalid, Limits, Sandbox
from extensions.spec import ExtensionSpec, Origin, SpecError, read_spec
from extensions.validator import validate

log = logging.getLogger(__name__)

CORE_DIR = Path(__file__).resolve().parent / "core"
Listener = Callable[[dict[str, Any]], None]


class ExtensionHost(Protocol):
    def names(self) -> list[str]:
        """Return the names of the active extensions."""
        ...

    def spec(self, name: str) -> ExtensionSpec | None:
        """Return the loaded spec of `name`, if any."""
        ...

    async def run(self, name: str, user_input: str, context: Mapping[str, Any], **kwargs: Any) -> str:
        """Run one extension and return its text output; raise on failure."""
        ...

    async def disable(self, name: str, reason: str) -> None:
        """Disable `name` (it keeps failing) until the user enables it again."""
        ...


class NoExtensions:
    """A host with nothing registered."""

    def names(self) -> list[str]:
        return []

    def spec(self, name: str) -> ExtensionSpec | None:
        return None

    async def run(self, name: str, user_input: str, context: Mapping[str, Any], **kwargs: Any) -> str:
        raise KeyError(f"extension {name!r} is not installed")

    async def disable(self, name: str, reason: str) -> None:
        return None


@dataclass(frozen=True)
class LoadReport:
    loaded: list[str]
    rejected: dict[str, str]  # name or file -> why


def dependency_order(specs: dict[str, ExtensionSpec], known: set[str]) -> tuple[list[str], dict[str, str]]:
    """Order `specs` so each comes after what it requires; reject missing dependencies and cycles.

    `known` are extensions already running (their dependents may load). Rejection spreads to
    everything that depends on a rejected extension; the rest still load.
    """
    rejected: dict[str, str] = {}
    graph = {name: set(spec.requires) for name, spec in specs.items()}
    changed = True
    while changed:
        changed = False
        for name, needs in graph.items():
            if name in rejected:
                continue
            missing = [n for n in needs if (n not in graph and n not in known) or n in rejected]
            if missing:
                rejected[name] = f"requires {', '.join(sorted(missing))}, which is not available"
                changed = True
    remaining = {n: {d for d in needs if d in graph} for n, needs in graph.items() if n not in rejected}
    while True:
        try:
            return list(TopologicalSorter(remaining).static_order()), rejected
        except CycleError as exc:
            cycle = list(dict.fromkeys(exc.args[1]))
            for name in cycle:
                rejected[name] = f"dependency cycle: {' -> '.join([*cycle, cycle[0]])}"
                remaining.pop(name, None)
            for needs in remaining.values():
                needs.difference_update(cycle)


class SandboxHost:
    """Extensions validated, sandboxed, registered and reloadable; safe to share between threads."""

    def __init__(self, settings: Settings, registry: ExtensionRegistry, sandbox: Sandbox | None = None) -> None:
        self.settings = settings
        self.config = settings.extensions
        self.registry = registry
        self.directories: list[tuple[Origin, Path]] = [
            ("core", CORE_DIR),
            ("user", self.config.user_dir),
            ("generated", settings.generated_extensions_dir),
        ]
        limits = Limits(**self.config.limits.model_dump())
        self.confirmations = Confirmations()
        self.confirmations.listeners.append(
            lambda p: self._emit("confirmation_needed", id=p.id, name=p.extension, action=p.action, target=p.target)
        )
        capabilities = Capabilities(self.config, settings.workspace_dir, self.granted, self.confirmations)
        self.sandbox = sandbox or Sandbox(frozenset(self.config.allowed_imports), limits, capabilities)
        self._specs: dict[str, ExtensionSpec] = {}
        self._lock = threading.RLock()
        self._listeners: list[Listener] = []

    # events ---------------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def _emit(self, event: str, **fields: Any) -> None:
        payload = {"event": event, "ts": time.time(), **fields}
        log.info("extensions: %s %s", event, fields)
        for listener in list(self._listeners):
            try:
                listener(payload)
            except Exception:  # a broken listener must not break loading
                log.exception("extension event listener failed")

    # discovery and loading ------------------------------------------------------------------

    def _files(self) -> list[tuple[Origin, Path]]:
        files: list[tuple[Origin, Path]] = []
        for origin, folder in self.directories:
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.py")):
                if path.name.startswith("_"):
                    continue
                if origin == "core" and path.stem not in self.config.core:
                    continue
                files.append((origin, path))
        return files

    def granted(self, name: str) -> frozenset[str]:
        spec = self._specs.get(name)
        if spec is None:
            return frozenset()
        declared = set(spec.permissions)
        if spec.origin == "core":
            return frozenset(declared)
        return frozenset(declared & set(self.config.grants.get(name, [])))

    def _read(self, origin: Origin, path: Path) -> ExtensionSpec:
        spec = read_spec(path, origin)
        problems = validate(spec, self.config.allowed_imports)
        if problems:
            raise SpecError("; ".join(problems))
        return spec

    def load_all(self) -> LoadReport:
        """Discover, validate, order and load every extension; report what was rejected and why."""
        with self._lock:
            candidates: dict[str, ExtensionSpec] = {}
            rejected: dict[str, str] = {}
            for origin, path in self._files():
                try:
                    spec = self._read(origin, path)
                except (SpecError, OSError) as exc:
                    rejected[path.stem] = str(exc)
                    self.registry.failed_to_load(path.stem, origin, path, str(exc))
                    continue
                if spec.name in candidates:  # core < user: your own file replaces a core one
                    if why := takes_over(spec, candidates[spec.name]):
                        rejected[f"{spec.name} ({origin})"] = why
                        self.registry.failed_to_load(spec.name, origin, path, why)
                        continue
                    log.warning("%s overrides %s", path, candidates[spec.name].path)
                candidates[spec.name] = spec
            order, unresolved = dependency_order(candidates, set())
            for name, why in unresolved.items():
                spec = candidates[name]
                rejected[name] = why
                self.registry.failed_to_load(name, spec.origin, spec.path, why)
            self.sandbox.start({name: group_of(candidates[name]) for name in order})
            loaded = []
            for name in order:
                if self._install(candidates[name], rejected):
                    loaded.append(name)
                else:
                    self.sandbox.unload(name)  # no idle worker is left for it
            self._emit("extensions_loaded", loaded=loaded, rejected=rejected)
            return LoadReport(loaded, rejected)

    def _install(self, spec: ExtensionSpec, rejected: dict[str, str]) -> bool:
        try:
            self._specs[spec.name] = spec  # grants are looked up while the module body runs
            self.sandbox.load(spec.name, spec.digest, spec.source, group_of(spec))
        except ExtensionFailed as exc:
            self._specs.pop(spec.name, None)
            rejected[spec.name] = str(exc)
            self.registry.failed_to_load(spec.name, spec.origin, spec.path, str(exc))
            return False
        self.registry.loaded(spec.name, spec.version, spec.origin, spec.path, spec.description)
        return True

    def reload_file(self, path: Path, force: bool = False) -> str:
        """(Re)load one changed file; on failure keep the running version. Return what happened."""
        origin = next((o for o, folder in self.directories if path.parent.resolve() == folder.resolve()), None)
        if origin is None:
            return f"{path} is not in an extension folder"
        with self._lock:
            started = time.perf_counter()
            if not path.exists():
                return self._removed(path)
            previous = self._specs.get(path.stem)
            try:
                spec = self._read(origin, path)
            except (SpecError, OSError) as exc:
                return self._reload_failed(path.stem, origin, path, str(exc), previous)
            if previous is not None and previous.digest == spec.digest and not force:
                return f"{spec.name} is unchanged"
            if previous is not None and (why := takes_over(spec, previous)):
                return f"{spec.name} did not load: {why}"
            known = set(self._specs) - {spec.name}
            _, unresolved = dependency_order({spec.name: spec}, known)
            if unresolved:
                return self._reload_failed(spec.name, origin, path, unresolved[spec.name], previous)
            rejected: dict[str, str] = {}
            if not self._install(spec, rejected):
                if previous is not None:
                    self._specs[spec.name] = previous
                return self._reload_failed(spec.name, origin, path, rejected[spec.name], previous)
            ms = round((time.perf_counter() - started) * 1000, 1)
            self._emit("extension_reloaded", name=spec.name, version=spec.version, ms=ms)
            return f"{spec.name} {spec.version} loaded"

    def _reload_failed(self, name: str, origin: Origin, path: Path, why: str, previous: ExtensionSpec | None) -> str:
        self.registry.failed_to_load(name, origin, path, why)
        kept = f"; version {previous.version} keeps running" if previous else ""
        self._emit("extension_reload_failed", name=name, error=why, kept=previous.version if previous else None)
        return f"{name} did not load: {why}{kept}"

    def _removed(self, path: Path) -> str:
        spec = self._specs.get(path.stem)
        if spec is None or spec.path.resolve() != path.resolve():
            return f"{path.name} was not loaded"
        dependents = [s.name for s in self._specs.values() if spec.name in s.requires]
        self._specs.pop(spec.name)
        self.sandbox.unload(spec.name)
        self.registry.removed(spec.name)
        self._emit("extension_removed", name=spec.name, dependents=dependents)
        return f"{spec.name} removed" + (f" ({', '.join(dependents)} depend on it)" if dependents else "")

    def reload(self, name: str) -> str:
        """Reload an extension by name from its file."""
        spec = self._specs.get(name)
        record = self.registry.get(name)
        path = spec.path if spec else Path(record.file_path) if record else None
        if path is None:
            raise KeyError(f"no extension named {name!r}; `sena extensions list` shows them")
        return self.reload_file(path, force=True)

    # the ExtensionHost protocol -------------------------------------------------------------

    def names(self) -> list[str]:
        active = {r.name for r in self.registry.all() if r.status == "active"}
        return sorted(n for n in self._specs if n in active)

    def spec(self, name: str) -> ExtensionSpec | None:
        return self._specs.get(name)

    def records(self) -> list[ExtensionRecord]:
        return self.registry.all()

    def set_enabled(self, name: str, enabled: bool) -> None:
        if self.registry.get(name) is None:
            raise KeyError(f"no extension named {name!r}; `sena extensions list` shows them")
        self.registry.set_enabled(name, enabled)
        self._emit("extension_toggled", name=name, enabled=enabled)

    async def disable(self, name: str, reason: str) -> None:
        await asyncio.to_thread(self.registry.set_enabled, name, False, reason)
        self._emit("extension_disabled", name=name, reason=reason)

    async def run(self, name: str, user_input: str, context: Mapping[str, Any], **kwargs: Any) -> str:
        spec = self._specs.get(name)
        if spec is None or name not in self.names():
            raise KeyError(f"extension {name!r} is not installed or is disabled")
        started = time.perf_counter()
        try:
            output = await asyncio.to_thread(self.sandbox.call, name, spec.digest, user_input, context, kwargs)
        except ExtensionInvalid:  # the extension works; it turned down this input
            await asyncio.to_thread(self.registry.ran, name, True)
            raise
        except ExtensionFailed as exc:
            exc.failures = await asyncio.to_thread(self.registry.ran, name, False, str(exc))
            self._emit("extension_run", name=name, ok=False, error=str(exc), ms=_ms(started))
            raise  # what to do about it is a recovery strategy (graph/recovery.py)
        await asyncio.to_thread(self.registry.ran, name, True)
        self._emit("extension_run", name=name, ok=True, ms=_ms(started))
        return output

    def close(self) -> None:
        self.sandbox.close()
        self.registry.close()


def takes_over(spec: ExtensionSpec, existing: ExtensionSpec) -> str | None:
    """Why `spec` may not replace `existing` of the same name (None when it may).

    A generated extension never replaces a core or user one: it would inherit that name's grants.
    """
    if spec.origin == "generated" and existing.origin != "generated":
        return f"the name {spec.name!r} belongs to a {existing.origin} extension; a generated one cannot replace it"
    return None


def group_of(spec: ExtensionSpec) -> str | None:
    """Core extensions share a worker; each user or generated one runs in its own."""
    return "core" if spec.origin == "core" else None


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
