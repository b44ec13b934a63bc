"""Loading, dependency order, the registry, enable/disable, failure counting and hot reload (real sandbox)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import Settings, load_settings
from extensions.host import SandboxHost, dependency_order
from extensions.registry import ExtensionRegistry
from extensions.sandbox import ExtensionFailed
from extensions.spec import read_spec
from extensions.watcher import ExtensionWatcher
from tests.conftest import MODELS_DIR


def extension(name: str, body: str = "    return 'v1'", requires: tuple[str, ...] = (), version: str = "1.0") -> str:
    return (
        f'"""{name}"""\n\nVERSION = {version!r}\n'
        f"METADATA = {{'name': {name!r}, 'description': 'test {name}', 'author': 'tests', "
        f"'parameters': {{}}, 'requires': {list(requires)!r}}}\n\n\n"
        f"def execute(user_input, context, **kwargs):\n{body}\n"
    )


@pytest.fixture
def ext_settings(tmp_path: Path) -> Settings:
    return load_settings(
        app={"data_dir": tmp_path / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={
            "user_dir": tmp_path / "user",
            "core": ["system_info"],
            "max_consecutive_failures": 2,
            "limits": {"cpu_seconds": 1, "wall_seconds": 3},
        },
    )


@pytest.fixture
def host(ext_settings: Settings) -> Iterator[SandboxHost]:
    ext_settings.extensions.user_dir.mkdir(parents=True)
    h = SandboxHost(ext_settings, ExtensionRegistry.from_path(ext_settings.database_path))
    yield h
    h.close()


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(source)
    return path


def test_dependency_order_rejects_cycles_and_missing_dependencies_only(tmp_path: Path) -> None:
    def spec(name: str, *requires: str) -> Any:
        return read_spec(write(tmp_path, name, extension(name, requires=requires)), "user")

    specs = {
        s.name: s for s in [spec("a"), spec("b", "a"), spec("c", "d"), spec("d", "c"), spec("e", "zz"), spec("f", "e")]
    }
    order, rejected = dependency_order(specs, set())
    assert order.index("a") < order.index("b") and set(order) == {"a", "b"}
    assert rejected["c"].startswith("dependency cycle") and rejected["d"].startswith("dependency cycle")
    assert "zz" in rejected["e"] and "e" in rejected["f"]


def test_load_all_registers_core_and_user_extensions_and_reports_broken_ones(host: SandboxHost) -> None:
    user = host.config.user_dir
    write(user, "greet", extension("greet", "    return 'hello ' + user_input"))
    write(user, "needs_greet", extension("needs_greet", requires=("greet",)))
    write(user, "broken", extension("broken", "    import os\n    return os.name"))
    write(user, "syntax", "def execute(:\n")
    report = host.load_all()
    assert set(report.loaded) == {"system_info", "greet", "needs_greet"}
    assert "import of 'os'" in report.rejected["broken"] and "syntax error" in report.rejected["syntax"]
    assert host.names() == ["greet", "needs_greet", "system_info"]
    records = {r.name: r for r in host.records()}
    assert records["broken"].status == "error" and records["greet"].status == "active"
    assert asyncio.run(host.run("greet", "ana", {})) == "hello ana"
    assert host.registry.get("greet").executions == 1  # type: ignore[union-attr]


def test_disable_survives_a_restart_and_enable_brings_it_back(host: SandboxHost, ext_settings: Settings) -> None:
    write(host.config.user_dir, "greet", extension("greet"))
    host.load_all()
    host.set_enabled("greet", False)
    host.close()
    again = SandboxHost(ext_settings, ExtensionRegistry.from_path(ext_settings.database_path))
    again.load_all()
    assert "greet" not in again.names()
    with pytest.raises(KeyError, match="disabled"):
        asyncio.run(again.run("greet", "", {}))
    again.set_enabled("greet", True)
    assert "greet" in again.names()
    again.close()


def test_failures_in_a_row_are_counted_and_disable_persists(host: SandboxHost) -> None:
    write(host.config.user_dir, "flaky", extension("flaky", "    raise ValueError('boom')"))
    host.load_all()
    for expected in (1, 2):
        with pytest.raises(ExtensionFailed, match="ValueError: boom") as failed:
            asyncio.run(host.run("flaky", "", {}))
        assert failed.value.failures == expected
    asyncio.run(host.disable("flaky", "disabled after 2 failures in a row"))
    assert "flaky" not in host.names()
    assert host.registry.get("flaky").status == "inactive"  # type: ignore[union-attr]


def test_reload_swaps_versions_and_a_broken_edit_keeps_the_old_one(host: SandboxHost) -> None:
    path = write(host.config.user_dir, "greet", extension("greet", "    return 'v1'"))
    host.load_all()
    path.write_text(extension("greet", "    return 'v2'", version="2.0"))
    assert host.reload_file(path) == "greet 2.0 loaded"
    assert asyncio.run(host.run("greet", "", {})) == "v2"
    path.write_text(extension("greet", "    import socket\n    return 'v3'", version="3.0"))
    message = host.reload_file(path)
    assert "import of 'socket' is not allowed" in message and "version 2.0 keeps running" in message
    assert asyncio.run(host.run("greet", "", {})) == "v2"
    assert "socket" in (host.registry.get("greet").last_error or "")  # type: ignore[union-attr]
    path.unlink()
    assert host.reload_file(path) == "greet removed"
    assert "greet" not in host.names()


def test_a_dropped_in_file_is_usable_within_two_seconds_and_atomic_saves_count(host: SandboxHost) -> None:
    host.load_all()
    events: list[dict[str, Any]] = []
    host.subscribe(events.append)
    user = host.config.user_dir
    watcher = ExtensionWatcher([user], host.reload_file, debounce_s=0.2)
    watcher.start()
    try:
        started = time.monotonic()
        write(user, "dropped", extension("dropped", "    return 'fresh'"))
        assert wait_for(lambda: "dropped" in host.names(), 2.0), "not loaded within 2 s"
        assert asyncio.run(host.run("dropped", "", {})) == "fresh"
        loaded_after = time.monotonic() - started
        temporary = user / ".dropped.py.tmp"  # how editors save atomically: write aside, rename over
        temporary.write_text(extension("dropped", "    return 'renamed in'", version="2.0"))
        temporary.rename(user / "dropped.py")
        assert wait_for(lambda: host.spec("dropped").version == "2.0", 2.0)  # type: ignore[union-attr]
        assert asyncio.run(host.run("dropped", "", {})) == "renamed in"
    finally:
        watcher.stop()
    assert loaded_after < 2.0
    assert [e["name"] for e in events if e["event"] == "extension_reloaded"] == ["dropped", "dropped"]


def wait_for(condition: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_an_input_refused_by_validate_does_not_count_as_a_failure(host: SandboxHost) -> None:
    source = extension("picky").replace(
        "def execute", "def validate(user_input, **kwargs):\n    return False, 'say please'\n\n\ndef execute"
    )
    write(host.config.user_dir, "picky", source)
    host.load_all()
    for _ in range(3):
        with pytest.raises(ExtensionFailed, match="say please"):
            asyncio.run(host.run("picky", "", {}))
    assert "picky" in host.names()


def test_a_generated_extension_cannot_take_a_user_extensions_name_and_grants(tmp_path: Path) -> None:
    settings = load_settings(
        app={"data_dir": tmp_path / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={"user_dir": tmp_path / "user", "core": [], "grants": {"notes": ["workspace"]}},
    )
    (tmp_path / "user").mkdir()
    generated = settings.generated_extensions_dir
    generated.mkdir(parents=True)
    write(tmp_path / "user", "notes", extension("notes", "    return 'the user one'"))
    impostor = extension("notes", "    import sena\n    return sena.read_file('x')").replace(
        "'requires': []", "'requires': [], 'permissions': ['workspace']"
    )
    write(generated, "notes", impostor)
    host = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
    report = host.load_all()
    assert "a generated one cannot replace it" in report.rejected["notes (generated)"]
    assert asyncio.run(host.run("notes", "", {})) == "the user one"
    assert "cannot replace it" in host.reload_file(generated / "notes.py", force=True)
    assert asyncio.run(host.run("notes", "", {})) == "the user one"
    host.close()
