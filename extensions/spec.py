"""What an extension is, read from its source without running any of it.

An extension is one Python module with `VERSION`, `METADATA` and
`execute(user_input, context, **kwargs) -> str` (optionally `validate(user_input, **kwargs)
-> (bool, str)`). `VERSION` and `METADATA` must be literals: they are read from the syntax
tree, so nothing in an untrusted file executes before the validator has passed it.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Origin = Literal["core", "user", "generated"]
PARAMETER_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
PERMISSIONS = ("system", "workspace", "http", "apps")


class SpecError(ValueError):
    """The file is not a readable extension (syntax, missing or non-literal VERSION/METADATA)."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    description: str
    required: bool = False


@dataclass(frozen=True)
class ExtensionSpec:
    name: str
    version: str
    description: str
    author: str
    origin: Origin
    path: Path
    source: str
    parameters: tuple[Parameter, ...] = ()
    requires: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    has_validate: bool = False
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.source.encode()).hexdigest()[:16]

    def parameter_schema(self) -> dict[str, Any]:
        """JSON schema of the parameters, for schema-constrained extraction by the model."""
        return {
            "title": f"{self.name}_parameters",
            "type": "object",
            "properties": {p.name: {"type": p.type, "description": p.description} for p in self.parameters},
            "required": [p.name for p in self.parameters if p.required],
        }


def _literal(tree: ast.Module, name: str) -> Any:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                raise SpecError(f"{name} must be a literal (a plain string or dict), not computed") from None
    raise SpecError(f"{name} is missing")


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def metadata_problems(metadata: Any) -> list[str]:
    """Check METADATA against the schema; return what is wrong (empty when valid)."""
    if not isinstance(metadata, dict):
        return ["METADATA must be a dict"]
    problems = []
    for key in ("name", "description", "author"):
        if not isinstance(metadata.get(key), str) or not metadata[key].strip():
            problems.append(f"METADATA[{key!r}] must be a non-empty string")
    name = metadata.get("name")
    if isinstance(name, str) and not name.isidentifier():
        problems.append(f"METADATA['name'] {name!r} must be a Python identifier (letters, digits, _)")
    parameters = metadata.get("parameters", {})
    if not isinstance(parameters, dict):
        problems.append("METADATA['parameters'] must be a dict of name -> {type, description}")
    else:
        for pname, info in parameters.items():
            if not isinstance(info, dict) or info.get("type") not in PARAMETER_TYPES:
                problems.append(f"parameter {pname!r} needs a type, one of {', '.join(PARAMETER_TYPES)}")
            elif not isinstance(info.get("description"), str):
                problems.append(f"parameter {pname!r} needs a description")
    requires = metadata.get("requires", [])
    if not isinstance(requires, list) or not all(isinstance(r, str) for r in requires):
        problems.append("METADATA['requires'] must be a list of extension names")
    permissions = metadata.get("permissions", [])
    if not isinstance(permissions, list) or not set(permissions) <= set(PERMISSIONS):
        problems.append(f"METADATA['permissions'] must be a list drawn from {', '.join(PERMISSIONS)}")
    return problems


def read_spec(path: Path, origin: Origin, source: str | None = None) -> ExtensionSpec:
    """Parse `path` (or `source`) into a spec; raise SpecError naming what is wrong."""
    source = path.read_text(encoding="utf-8") if source is None else source
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise SpecError(f"syntax error on line {exc.lineno}: {exc.msg}") from None
    version = _literal(tree, "VERSION")
    metadata = _literal(tree, "METADATA")
    problems = metadata_problems(metadata)
    if not isinstance(version, str):
        problems.append("VERSION must be a string such as '1.0.0'")
    functions = _functions(tree)
    if "execute" not in functions:
        problems.append("execute(user_input, context, **kwargs) is missing")
    elif [a.arg for a in functions["execute"].args.args[:2]] != ["user_input", "context"]:
        problems.append("execute must take (user_input, context, **kwargs)")
    if problems:
        raise SpecError("; ".join(problems))
    return ExtensionSpec(
        name=metadata["name"],
        version=version,
        description=metadata["description"],
        author=metadata["author"],
        origin=origin,
        path=path,
        source=source,
        parameters=tuple(
            Parameter(n, i["type"], i["description"], bool(i.get("required", False)))
            for n, i in metadata.get("parameters", {}).items()
        ),
        requires=tuple(metadata.get("requires", [])),
        permissions=tuple(metadata.get("permissions", [])),
        has_validate="validate" in functions,
        metadata=metadata,
    )
