"""Write an extension with the `code` model: plan -> function -> repair -> render -> validate -> test.

1. The model plans the tool as JSON constrained by a schema (name, description, typed parameters
   with example values), so the fixed shape cannot be broken.
2. It writes one function, `run(<parameters>) -> str`, after two or three worked examples like
   the request (`extensions/examples.py`), told which modules it may import.
3. Mechanical mistakes are repaired, and said (`extensions/template.py`); Sena renders the module
   (`VERSION`, `METADATA`, `execute`) around the function.
4. The module passes the same validator and runs in the same sandbox as any other extension, with
   no grants, on samples that mean something: the plan's example values, values made for each
   parameter's type, and the user's own example when the request gives one ("2 cups -> 473 ml").
   It fails when it raises, returns nothing, returns its input unchanged for every sample, or
   misses the user's expected result.
5. A failure is retried with one short error and the failing line, up to `attempts` tries.
Nothing is saved unless every check passed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from extensions.examples import Embed, Example, closest
from extensions.host import SandboxHost
from extensions.sandbox import ExtensionFailed
from extensions.spec import SpecError, read_spec
from extensions.template import (
    TYPES,
    Param,
    Plan,
    function_code,
    infer_type,
    render,
    repair,
    signature,
    snake,
)
from extensions.validator import validate

log = logging.getLogger(__name__)

Status = Literal["success", "validation_failed", "test_failed"]

PLAN_SCHEMA: dict[str, Any] = {
    "title": "Tool",
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "description": {"type": "string", "maxLength": 140},
        "parameters": {
            "type": "array",
            "maxItems": 4,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 30},
                    "type": {"type": "string", "enum": list(TYPES)},
                    "description": {"type": "string", "maxLength": 100},
                    "examples": {"type": "array", "items": {"type": "string", "maxLength": 80}, "maxItems": 2},
                },
                "required": ["name", "type", "description", "examples"],
            },
        },
    },
    "required": ["name", "description", "parameters"],
}
PLAN_PROMPT = (
    "You design a small tool from a user's request. Give it a snake_case name, a one-line description "
    "of what it returns, and the parameters it needs: each with a snake_case name, a type (string, "
    "integer, number or boolean), a one-line description and two realistic example values written as "
    "text. Use as few parameters as the request needs: a text to work on is one string parameter; "
    "numbers the user gives are number parameters.\n\nFor example:\n{examples}"
)
CODE_PROMPT = (
    "You write one Python function for a tool. Import only these modules: {imports}. Nothing else is "
    "available: no files, no network, no time module, no print, no names starting with an underscore. "
    "Only if the request needs files, the web or the computer, `import sena` offers host calls, each "
    "working only when the user grants it: {host_calls}. "
    "The function returns a short, readable string. Reply with the function in one ```python block."
)
HOST_CALLS = (
    "sena.read_file(path) -> str, sena.write_file(path, text) -> int, sena.list_dir(path='.') -> list, "
    "sena.http_get(url, params=None) -> dict, sena.system_info() -> dict, sena.setting(key, default=None)"
)
"""The `sena` capability module's calls, one line each (extensions/capabilities.py)."""


@dataclass
class Generation:
    status: Status
    name: str | None = None
    path: Path | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    code: str | None = None
    """The rendered module of the last attempt (saved only on success)."""
    repairs: list[str] = field(default_factory=list)
    """What Sena fixed in the model's code by itself, attempt by attempt."""


@dataclass(frozen=True)
class Sample:
    user_input: str
    arguments: dict[str, Any]
    expect: str | None = None
    """The result the user gave in their request, for their example input."""


NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
"""A number as people write it (thousands commas removed first); `read_arguments` in the
rendered module has its own copy, since the sandbox runs the module alone."""
EXAMPLE_IN_REQUEST = re.compile(
    r"(?:e\.?g\.?|for example|for instance|like|such as)\s*:?\s*['\"]?(?P<given>[^'\"]+?)['\"]?\s*"
    r"(?:->|=>|→|gives|becomes|should (?:give|be|return)|returns|=)\s*['\"]?(?P<expect>[^'\"]+?)['\"]?\s*(?:[,;)]|$)",
    re.IGNORECASE,
)


def user_example(request: str) -> tuple[str, str] | None:
    """The input and expected result the request itself gives ("e.g. 2 cups -> 473 ml"), if any."""
    match = EXAMPLE_IN_REQUEST.search(request)
    if match is None:
        return None
    return match["given"].strip(), re.sub(r"\s*\(.*$", "", match["expect"]).strip()


def coerce(value: Any, kind: str) -> Any:
    text = str(value).strip()
    if kind in ("number", "integer"):
        found = NUMBER.search(text.replace(",", ""))
        number = float(found.group()) if found else 7.0
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return text.lower() in ("true", "yes", "y", "1", "on")
    return text


TYPE_EXAMPLES = {
    "string": ("Meet Ana at 10:30 on 2026-05-04 and bring 3 apples, 2 pears!", "the quick brown fox"),
    "integer": ("7", "12"),
    "number": ("3.5", "12"),
    "boolean": ("true", "false"),
}
"""Values for a parameter the model gave no example of."""


def samples(plan: Plan, given: tuple[str, str] | None) -> list[Sample]:
    """Inputs that test the tool: the plan's two example values per parameter, values made for
    each parameter's type (other numbers, the other boolean), and the user's own example."""
    found: list[Sample] = []
    for index in (0, 1):
        arguments = {p.name: coerce(pick(p.examples or TYPE_EXAMPLES[p.type], index), p.type) for p in plan.parameters}
        found.append(Sample(" ".join(str(v) for v in arguments.values()), arguments))
    typed = {p.name: _variant(found[0].arguments[p.name], p) for p in plan.parameters}
    if plan.parameters and typed != found[0].arguments:
        found.append(Sample(" ".join(str(v) for v in typed.values()), typed))
    if given is not None:
        text, expect = given
        numbers = NUMBER.findall(text.replace(",", ""))
        arguments = {}
        for p in plan.parameters:
            if p.type in ("number", "integer") and numbers:
                arguments[p.name] = coerce(numbers.pop(0), p.type)
            else:
                arguments[p.name] = coerce(text, p.type) if p.type != "boolean" else True
        found.append(Sample(text, arguments, expect))
    unique: dict[str, Sample] = {}
    for sample in sorted(found, key=lambda s: s.expect is None):  # the user's example first, with its check
        unique.setdefault(repr(sorted(sample.arguments.items())), sample)
    return list(unique.values())


def pick(values: tuple[str, ...], index: int) -> str:
    return values[index % len(values)]


def _variant(value: Any, param: Param) -> Any:
    if param.type == "boolean":
        return not value
    if param.type == "integer":
        return int(value) * 2 + 3
    if param.type == "number":
        return round(float(value) * 1.5 + 2.25, 2)
    return value


def matches(output: str, expect: str) -> bool:
    """Whether an output gives the user's expected result: its text, or each of its numbers
    (to the precision the user wrote: "473 ml" matches "473.18 mL")."""
    out = output.lower().replace(",", "")
    if expect.lower() in out:
        return True
    wanted = NUMBER.findall(expect.replace(",", ""))
    got = [float(n) for n in NUMBER.findall(out)]
    if not wanted:
        return False
    for number in wanted:
        places = len(number.split(".")[1]) if "." in number else 0
        if not any(abs(g - float(number)) < 0.51 * 10**-places + 1e-9 for g in got):
            return False
    return True


async def plan_tool(model: BaseChatModel, request: str, shown: list[Example]) -> Plan:
    examples = "\n".join(
        f"- {e.request!r}: parameters " + ", ".join(f"{n} ({t}): {d}" for n, t, d in e.parameters) for e in shown
    )
    prompt = [SystemMessage(PLAN_PROMPT.format(examples=examples)), HumanMessage(f"Request: {request}")]
    reply: Any = await model.with_structured_output(PLAN_SCHEMA, method="json_schema").ainvoke(prompt)
    params: list[Param] = []
    for item in reply.get("parameters") or []:
        name = snake(str(item.get("name") or ""), "value")
        if name in {p.name for p in params}:
            continue
        description = str(item.get("description") or name.replace("_", " "))
        kind = item.get("type") if item.get("type") in TYPES else infer_type(None, None, description, name)
        values = tuple(str(e) for e in item.get("examples") or [] if str(e).strip())
        params.append(Param(name, kind, description, values))
    name = snake(str(reply.get("name") or ""), "tool")
    return Plan(name, str(reply.get("description") or request).strip() or request, tuple(params))


def code_prompt(request: str, plan: Plan, shown: list[Example], imports: str) -> list[BaseMessage]:
    messages: list[BaseMessage] = [SystemMessage(CODE_PROMPT.format(imports=imports, host_calls=HOST_CALLS))]
    for example in shown:
        written = signature((n, t) for n, t, _ in example.parameters)
        messages += [
            HumanMessage(f"Request: {example.request}\nWrite `def run({written}) -> str:`"),
            AIMessage(f"```python\n{example.code}```"),
        ]
    messages.append(HumanMessage(f"Request: {request}\nWrite `def run({plan.signature()}) -> str:`"))
    return messages


Progress = Callable[[dict[str, Any]], None]
"""Told of each step of a generation as it happens (the studio shows them live)."""


async def generate_extension(
    description: str,
    model: BaseChatModel,
    host: SandboxHost,
    attempts: int = 3,
    embed: Embed | None = None,
    progress: Progress | None = None,
) -> Generation:
    """Generate, check and register an extension for `description`; say how it went and why.
    `progress` hears `generation_planned`, then one `generation_attempt` per attempt (its
    status, code and the validation or test error fed back)."""

    def tell(event: str, **fields: Any) -> None:
        if progress is not None:
            try:
                progress({"event": event, "description": description[:200], **fields})
            except Exception:  # a listener never breaks a generation
                log.warning("generation progress listener failed", exc_info=True)

    folder = host.settings.generated_extensions_dir
    allowed = list(host.config.allowed_imports)
    shown = closest(description, embed)
    result = Generation(status="validation_failed")
    try:
        plan = await plan_tool(model, description, shown)
    except Exception as exc:  # the plan has a schema; a model that cannot follow it still gets a default
        log.warning("could not plan the tool: %s", exc)
        plan = Plan(
            snake(description, "tool")[:30], description, (Param("text", "string", "the text", (description,)),)
        )
    taken = host.spec(plan.name)
    if taken is not None and taken.origin != "generated":  # never shadow a core or user extension
        plan = replace(plan, name=f"{plan.name}_generated")
    given = user_example(description)
    tell("generation_planned", name=plan.name, signature=plan.signature(), attempts=attempts)
    messages = code_prompt(description, plan, shown, ", ".join(allowed))
    for attempt in range(1, attempts + 1):
        result.attempts = attempt
        reply = (await model.ainvoke(messages)).text
        written = repair(function_code(reply), plan, allowed)
        result.repairs += [f"attempt {attempt}: {r}" for r in written.repairs]
        source = render(written)
        result.code = source
        problems = written.problems or check(source, folder, host)[0]
        if problems:
            result.status, feedback = "validation_failed", problems[0]
        else:
            outputs, failures = await trial(host, written.plan.name, source, samples(written.plan, given))
            result.outputs = outputs
            if not failures:
                path = folder / f"{written.plan.name}.py"
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(source, encoding="utf-8")
                loaded = await asyncio.to_thread(host.reload_file, path, True)
                log.info("generated extension %s after %d attempt(s): %s", written.plan.name, attempt, loaded)
                result.status, result.name, result.path = "success", written.plan.name, path
                tell("generation_attempt", attempt=attempt, status="success", name=result.name, code=source,
                     outputs=outputs)  # fmt: skip
                return result
            result.status, feedback = "test_failed", failures[0]
        result.errors.append(f"attempt {attempt}: {feedback}")
        tell("generation_attempt", attempt=attempt, status=result.status, error=feedback, code=source)
        log.info("generation attempt %d failed: %s", attempt, feedback)
        plan = written.plan
        line = "" if written.problems else failing_line(feedback, source)  # their lines are the model's code
        fix = f"{feedback}{line}\nWrite the corrected `def run({plan.signature()}) -> str:`."
        messages = [
            *code_prompt(description, plan, shown, ", ".join(allowed)),
            AIMessage(f"```python\n{written.code}```"),
            HumanMessage(fix),
        ]
    return result


def failing_line(feedback: str, source: str) -> str:
    """The line an error names, quoted, so the fix can aim at it."""
    match = re.search(r"\bline (\d+)\b", feedback)
    lines = source.splitlines()
    if match is None or not 0 < int(match.group(1)) <= len(lines):
        return ""
    return f"\nThe failing line: {lines[int(match.group(1)) - 1].strip()}"


def check(source: str, folder: Path, host: SandboxHost) -> tuple[list[str], str | None]:
    """Validate without running; refuse names that would shadow a core or user extension."""
    try:
        spec = read_spec(folder / "candidate.py", "generated", source)
    except SpecError as exc:
        return [str(exc)], None
    spec = read_spec(folder / f"{spec.name}.py", "generated", source)
    problems = validate(spec, host.config.allowed_imports)
    existing = host.spec(spec.name)
    if existing is not None and existing.origin != "generated":
        problems.append(f"the name {spec.name!r} belongs to a {existing.origin} extension; choose another")
    return problems, spec.name


async def trial(host: SandboxHost, name: str, source: str, tests: list[Sample]) -> tuple[list[str], list[str]]:
    """Run the candidate in the sandbox on each sample; return outputs and failures.

    A sample fails when the call raises or returns nothing, or misses the user's own expected
    result; the samples fail together when every output is its input unchanged."""
    candidate = f"candidate_{name}"
    outputs, failures, unchanged = [], [], 0
    try:
        await asyncio.to_thread(host.sandbox.load, candidate, "trial", source)
        for sample in tests:
            shown = ", ".join(f"{k}={v!r}" for k, v in sample.arguments.items())
            try:
                output = await asyncio.to_thread(
                    host.sandbox.call, candidate, "trial", sample.user_input, {}, sample.arguments
                )
            except ExtensionFailed as exc:
                failures.append(f"run({shown}) failed: {exc}".replace(candidate, name))
                continue
            outputs.append(output)
            if not output.strip():
                failures.append(f"run({shown}) returned an empty string")
            elif sample.expect is not None and not matches(output, sample.expect):
                failures.append(f"run({shown}) returned {output[:120]!r}, but the user expects {sample.expect!r}")
            if output.strip() in {str(v).strip() for v in sample.arguments.values()} | {sample.user_input.strip()}:
                unchanged += 1
    except ExtensionFailed as exc:
        failures.append(str(exc).replace(candidate, name))
    finally:
        host.sandbox.unload(candidate)
    if tests and unchanged == len(tests):
        failures.insert(0, "run() returned its input unchanged for every sample: it must compute the result")
    return outputs, failures
