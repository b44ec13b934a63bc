"""The import layers of docs/ARCHITECTURE.md, checked on the source: no import cycles, and every
import points down (or across, within a layer).

Imports inside functions count (a lazy import is still a dependency); those under
`if TYPE_CHECKING:` do not (they are annotations only).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from config.settings import PROJECT_ROOT

PACKAGES = ("config", "storage", "providers", "memory", "extensions", "graph", "nodes", "ops", "api", "bench", "cli")
LAYERS: tuple[tuple[str, ...], ...] = (
    ("config",),  # settings and the error hierarchy: the ground floor
    ("storage", "providers"),  # SQLite stores (log, topics, telemetry, logs, locks), checkpointers; models
    ("memory", "extensions"),  # long-term memory; the extension host and sandbox
    ("graph.state", "graph.events", "graph.recording", "graph.recovery", "graph.tracing", "graph.services"),
    ("nodes",),  # one module per node, on the graph's state, events, services and recovery strategies
    ("graph",),  # the wiring: builder, session (the turn's policy), time travel, thread files, upkeep
    ("ops",),  # the doctor
    ("api", "bench"),
    ("cli",),
)
FORBIDDEN = (("api", "nodes"),)
"""Imports the layers would allow but the design does not: a router goes through `Sena`."""


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (PROJECT_ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    annotations_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in annotations_only:
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            named = [f"{node.module}.{a.name}" for a in node.names]
            yield from (m for m in [node.module, *named] if m in known)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: set(imports(path, known)) - {name} for name, path in known.items()}


def layer(module: str) -> int:
    best, depth = -1, -1
    for index, members in enumerate(LAYERS):
        for member in members:
            if (module == member or module.startswith(member + ".")) and member.count(".") > depth:
                best, depth = index, member.count(".")
    assert best >= 0, f"{module} is in no layer: add it to LAYERS"
    return best


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_another_that_imports_it_back() -> None:
    assert cycles(graph()) == []


def test_every_import_points_down_the_layers() -> None:
    upward = [
        f"{source} (layer {layer(source)}) imports {target} (layer {layer(target)})"
        for source, targets in graph().items()
        for target in sorted(targets)
        if layer(target) > layer(source)
    ]
    assert upward == []


def test_the_design_rules_the_layers_leave_open() -> None:
    broken = [
        f"{source} imports {target}"
        for source, targets in graph().items()
        for target in targets
        for importer, imported in FORBIDDEN
        if source.split(".")[0] == importer and target.split(".")[0] == imported
    ]
    assert broken == []


def test_the_checker_sees_a_cycle_and_an_upward_import() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer("nodes.generate") < layer("graph.builder") and layer("graph.state") < layer("nodes.retrieve")
