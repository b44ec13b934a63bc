"""Static checks an extension must pass before any of its code runs.

The file must compile under RestrictedPython (no names or attributes starting with `_`, no
`exec`/`eval`), import only allow-listed modules (and `sena`, the host's capability module),
use no blocked built-ins, keep import-time code to definitions and assignments, and carry a
valid `METADATA`. Passing here is necessary, not sufficient: the code still runs only inside
the sandboxed worker (extensions/sandbox.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from extensions.spec import ExtensionSpec

BLOCKED_NAMES = frozenset(
    {
        "__import__",
        "breakpoint",
        "compile",
        "delattr",
        "dir",
        "eval",
        "exec",
        "exit",
        "getattr",
        "globals",
        "help",
        "input",
        "locals",
        "memoryview",
        "open",
        "quit",
        "setattr",
        "type",
        "vars",
    }
)
CAPABILITY_MODULE = "sena"
TOP_LEVEL = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)


def import_problems(tree: ast.Module, allowed: Iterable[str]) -> list[str]:
    allowed_set = {*allowed, CAPABILITY_MODULE}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                problems.append(f"line {node.lineno}: relative imports are not allowed")
                continue
            names = [node.module or ""]
        else:
            continue
        for name in names:
            if name not in allowed_set:
                problems.append(f"line {node.lineno}: import of {name!r} is not allowed")
    return problems


def name_problems(tree: ast.Module) -> list[str]:
    return [
        f"line {node.lineno}: {node.id!r} is not available to extensions"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in BLOCKED_NAMES
    ]


def top_level_problems(tree: ast.Module) -> list[str]:
    """Import-time code may only define things: no loops, calls or other statements at top level."""
    problems = []
    for index, node in enumerate(tree.body):
        docstring = index == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if not docstring and not isinstance(node, TOP_LEVEL):
            problems.append(f"line {node.lineno}: only imports, definitions and assignments may run at import")
    return problems


def restricted_problems(source: str, filename: str) -> list[str]:
    from RestrictedPython import compile_restricted_exec

    result = compile_restricted_exec(source, filename=filename)
    return [str(error) for error in result.errors]


def validate(spec: ExtensionSpec, allowed_imports: Iterable[str]) -> list[str]:
    """Return every problem found in `spec` (empty when it may be loaded into the sandbox)."""
    tree = ast.parse(spec.source)
    problems = restricted_problems(spec.source, str(spec.path))
    problems += import_problems(tree, allowed_imports)
    problems += name_problems(tree)
    problems += top_level_problems(tree)
    if spec.path.stem != spec.name:
        problems.append(f"the file must be named {spec.name}.py after METADATA['name']")
    return problems
