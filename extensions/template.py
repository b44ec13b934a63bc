"""A generated extension's fixed parts, rendered by Sena around the one function the model writes.

The model gives the metadata as schema-constrained JSON and writes `run(<parameters>) -> str`;
everything with a fixed shape (`VERSION`, `METADATA`, `execute`, reading the parameters) is
rendered here, so the model never writes it by hand. Before validation, mechanical mistakes
are repaired where that is safe (`repair`), and each repair is said.
"""

from __future__ import annotations

import ast
import keyword
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from extensions.capabilities import PERMISSION_OF
from extensions.validator import CAPABILITY_MODULE

TYPES = ("string", "integer", "number", "boolean")
ANNOTATIONS = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
PYTHON_TYPES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}

STRING_CONSTANTS = {
    name: getattr(string, name)
    for name in ("ascii_letters", "ascii_lowercase", "ascii_uppercase", "digits", "hexdigits", "octdigits",
                 "punctuation", "whitespace")
}  # fmt: skip
"""`string` is not an allowed module; its constants are written out instead."""
DROP_IN = {"regex": "re"}
"""Forbidden modules with an allowed module of the same interface."""
INSTEAD = {
    "time": "datetime (datetime.datetime.now(), datetime.timedelta)",
    "dateutil": "datetime (datetime.date.fromisoformat, datetime.datetime.strptime)",
    "pytz": "datetime",
    "arrow": "datetime",
    "numpy": "statistics and math",
    "string": "plain string methods (str.upper, str.isalpha, ...)",
    "os": "nothing: work only with the parameters",
    "sys": "nothing: work only with the parameters",
}
"""What to use instead of a module that is not allowed, told to the model."""


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    description: str
    examples: tuple[str, ...] = ()

    @property
    def python_type(self) -> str:
        return PYTHON_TYPES[self.type]


@dataclass(frozen=True)
class Plan:
    name: str
    description: str
    parameters: tuple[Param, ...]

    def signature(self) -> str:
        return signature((p.name, p.type) for p in self.parameters)


def signature(parameters: Iterable[tuple[str, str]]) -> str:
    """`run`'s parameters as written: "weight_lb: float, text: str"."""
    return ", ".join(f"{name}: {PYTHON_TYPES[kind]}" for name, kind in parameters)


@dataclass
class Written:
    """The model's function after repairs: its code, the imports it needs, and what was changed."""

    code: str
    imports: list[str]
    plan: Plan
    repairs: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    """What the host calls it makes need ("workspace" for `sena.read_file`); granted only by the user."""


def snake(name: str, fallback: str = "value") -> str:
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower())
    cleaned = "_".join(words)[:40].strip("_")
    if not cleaned or cleaned[0].isdigit() or keyword.iskeyword(cleaned):
        cleaned = f"{fallback}_{cleaned}".strip("_")
    return cleaned


def infer_type(default: Any = None, annotation: str | None = None, description: str = "", name: str = "") -> str:
    """A parameter's type from its annotation, else its default, else its words ("count", "text")."""
    if annotation in ANNOTATIONS:
        return ANNOTATIONS[annotation]
    if isinstance(default, bool):
        return "boolean"
    if isinstance(default, int):
        return "integer"
    if isinstance(default, float):
        return "number"
    words = f"{name} {description}".lower()
    if re.search(r"\b(count|how many|number of|years?|days?|n)\b", words) and "text" not in words:
        return "integer" if re.search(r"\b(count|how many|number of|n)\b", words) else "number"
    if re.search(r"\b(amount|rate|price|weight|height|length|distance|temperature|value|percent\w*)\b", words):
        return "number"
    if re.search(r"\b(whether|flag|is_|enable)\b", words):
        return "boolean"
    return "string"


def function_code(reply: str) -> str:
    """The Python in the model's reply (a fenced block, or the whole reply)."""
    match = re.search(r"```(?:python|py)?\s*\n(.*?)```", reply, re.DOTALL)
    return (match.group(1) if match else reply).strip() + "\n"


def repair(code: str, plan: Plan, allowed: list[str]) -> Written:
    """Read the model's function and fix what is mechanical, saying what was changed.

    - the function is renamed `run` if the model named it otherwise;
    - a forbidden import with a drop-in equivalent is replaced (`regex` -> `re`), `string`'s
      constants are written out, and a forbidden import the code never uses is dropped;
    - the parameters follow the function: renamed when the model renamed them, and typed from
      the annotation, the default or the description when the model added one.
    What cannot be fixed (a forbidden module in use, no function at all) is left in `problems`.
    """
    written = Written(code, [], plan)
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        line = code.splitlines()[exc.lineno - 1].strip() if exc.lineno and exc.lineno <= len(code.splitlines()) else ""
        written.problems.append(f"syntax error on line {exc.lineno}: {exc.msg}" + (f": {line}" if line else ""))
        return written
    functions = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
    if not functions:
        written.problems.append("there is no function: write `def run(...) -> str:`")
        return written
    main = next((f for f in functions if f.name == "run"), functions[-1] if len(functions) > 1 else functions[0])
    if main.name != "run":
        code = re.sub(rf"\bdef {main.name}\(", "def run(", code)
        code = re.sub(rf"\b{main.name}\(", "run(", code)
        written.repairs.append(f"renamed the function {main.name}() to run()")
    code = _datetime_calls(code, written)
    code, imports = _imports(code, tree, [*allowed, CAPABILITY_MODULE], written)
    written.code, written.imports = code, imports
    calls = set(re.findall(rf"\b{CAPABILITY_MODULE}\.(\w+)\(", code))
    written.permissions = sorted({p for c in calls if (p := PERMISSION_OF.get(c))})
    written.plan = _parameters(main, plan, written)
    return written


def _imports(code: str, tree: ast.Module, allowed: list[str], written: Written) -> tuple[str, list[str]]:
    """Lift the module's imports out of the code; repair or report the forbidden ones."""
    kept: list[str] = []
    drop: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        drop.update(range(node.lineno - 1, (node.end_lineno or node.lineno)))
        names = (
            [(a.name, a.asname) for a in node.names] if isinstance(node, ast.Import) else [(node.module or "", None)]
        )
        for module, alias in names:
            top = module.split(".")[0]
            used = alias or top
            if top in allowed:
                kept.append(
                    ast.unparse(node)
                    if isinstance(node, ast.ImportFrom)
                    else f"import {module}" + (f" as {alias}" if alias else "")
                )
            elif top in DROP_IN:
                kept.append(f"import {DROP_IN[top]}")
                code = re.sub(rf"\b{used}\.", f"{DROP_IN[top]}.", code)
                written.repairs.append(f"import {top} -> import {DROP_IN[top]} (the same interface)")
            elif top == "string" and isinstance(node, ast.ImportFrom):
                for alias_node in node.names:
                    if alias_node.name in STRING_CONSTANTS:
                        kept.append(f"{alias_node.asname or alias_node.name} = {STRING_CONSTANTS[alias_node.name]!r}")
                written.repairs.append("wrote out the constants imported from string (string is not allowed)")
            elif top == "string" and not re.search(
                rf"\b{used}\.(?!{'|'.join(STRING_CONSTANTS)}\b)", _without_imports(code)
            ):
                code = re.sub(
                    rf"\b{used}\.({'|'.join(STRING_CONSTANTS)})\b", lambda m: repr(STRING_CONSTANTS[m.group(1)]), code
                )
                written.repairs.append("wrote out string's constants (string is not allowed)")
            elif not re.search(rf"\b{used}\b", _without_imports(code)):
                written.repairs.append(f"dropped `import {module}`, which was not allowed and not used")
            else:
                hint = INSTEAD.get(top, "one of: " + ", ".join(allowed))
                written.problems.append(f"import of {module!r} is not allowed; use {hint}")
    body = "\n".join(line for i, line in enumerate(code.splitlines()) if i not in drop)
    return body.strip() + "\n", list(dict.fromkeys(kept))


DATETIME_MODULE_CALLS = {
    "today": "datetime.date.today",
    "now": "datetime.datetime.now",
    "strptime": "datetime.datetime.strptime",
    "fromisoformat": "datetime.date.fromisoformat",
}
"""`import datetime` then `datetime.today()`: the class's methods called on the module."""


def _datetime_calls(code: str, written: Written) -> str:
    """Fix the commonest datetime mix-up, in whichever way the module was imported: methods of
    the `datetime`/`date` classes called on the module (`import datetime; datetime.today()`), or
    the module's path written after importing the class (`from datetime import datetime;
    datetime.datetime.now()`)."""
    fixed = code
    if re.search(r"^\s*import datetime\b", code, re.M):
        for method, full in DATETIME_MODULE_CALLS.items():
            fixed = re.sub(rf"(?<![\w.])datetime\.{method}\(", f"{full}(", fixed)
    if re.search(r"^\s*from datetime import [^\n]*\bdatetime\b", code, re.M):
        fixed = re.sub(r"(?<![\w.])datetime\.datetime\.", "datetime.", fixed)
    if re.search(r"^\s*from datetime import [^\n]*\bdate\b", code, re.M):
        fixed = re.sub(r"(?<![\w.])datetime\.date\.", "date.", fixed)
    if fixed != code:
        written.repairs.append("fixed datetime calls to match how datetime was imported")
    return fixed


def _without_imports(code: str) -> str:
    return "\n".join(line for line in code.splitlines() if not re.match(r"\s*(?:import|from)\s", line))


def _parameters(main: ast.FunctionDef, plan: Plan, written: Written) -> Plan:
    """The plan's parameters, made to match the function the model wrote."""
    args = main.args.args
    defaults: list[Any] = [None] * (len(args) - len(main.args.defaults)) + [
        ast.literal_eval(d) if isinstance(d, ast.Constant) else None for d in main.args.defaults
    ]
    names = [a.arg for a in args]
    if names == [p.name for p in plan.parameters]:
        return plan
    by_name = {p.name: p for p in plan.parameters}
    params: list[Param] = []
    for position, (arg, default) in enumerate(zip(args, defaults, strict=True)):
        annotation = arg.annotation.id if isinstance(arg.annotation, ast.Name) else None
        known = by_name.get(arg.arg)
        if known is None and len(args) == len(plan.parameters):
            known = replace(plan.parameters[position], name=arg.arg)
            written.repairs.append(
                f"parameter {plan.parameters[position].name!r} renamed {arg.arg!r}, as the function names it"
            )
        if known is None:
            kind = infer_type(default, annotation, "", arg.arg)
            known = Param(arg.arg, kind, arg.arg.replace("_", " "), (str(default),) if default is not None else ())
            source = "annotation" if annotation else "default or name"
            written.repairs.append(f"parameter {arg.arg!r} added with type {kind} (from its {source})")
        params.append(known)
    dropped = [p.name for p in plan.parameters if p.name not in {q.name for q in params}]
    if dropped:
        written.repairs.append(f"parameter(s) {', '.join(dropped)} dropped: the function does not take them")
    return replace(plan, parameters=tuple(params))


READ_ARGUMENTS = '''
def read_arguments(user_input, given):
    """The parameters as given; a missing one is read from the message (numbers in order, or the text)."""
    numbers = re.findall(r"-?\\d+(?:\\.\\d+)?", user_input.replace(",", ""))
    values = {}
    for name, info in METADATA["parameters"].items():
        value = given.get(name)
        if value is None and info["type"] in ("number", "integer") and numbers:
            value = numbers.pop(0)
        if value is None and info["type"] == "string":
            value = user_input
        if value is None and info["type"] == "boolean":
            value = False
        if value is None:
            raise ValueError("I need " + name + ": " + info["description"])
        if info["type"] == "integer":
            value = int(float(value))
        elif info["type"] == "number":
            value = float(value)
        elif info["type"] == "boolean":
            value = str(value).strip().lower() in ("true", "yes", "y", "1", "on")
        else:
            value = str(value)
        values[name] = value
    return values


def execute(user_input, context, **kwargs):
    return str(run(**read_arguments(user_input, kwargs)))
'''


def render(written: Written) -> str:
    """The whole extension module: docstring, imports, VERSION, METADATA, the model's code, execute."""
    plan = written.plan
    metadata = {
        "name": plan.name,
        "description": plan.description,
        "author": "Sena (generated)",
        "parameters": {p.name: {"type": p.type, "description": p.description} for p in plan.parameters},
        "requires": [],
        "permissions": written.permissions,
    }
    imports = sorted({"import re", *written.imports}, key=lambda line: (not line.startswith(("import", "from")), line))
    header = [line for line in imports if line.startswith(("import", "from"))]
    constants = [line for line in imports if not line.startswith(("import", "from"))]
    docstring = plan.description.replace('"""', "'''").replace("\\", "\\\\")
    parts = [
        f'"""{docstring}"""\n',
        "\n".join(header) + "\n",
        'VERSION = "1.0.0"',
        f"METADATA = {metadata!r}\n" + ("\n".join(constants) + "\n" if constants else ""),
        "\n" + written.code.rstrip() + "\n",
        READ_ARGUMENTS,
    ]
    return "\n".join(parts)
