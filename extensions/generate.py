"""Write an extension with the `code` model: template -> validate -> sandbox test -> save -> register.

Generated code is untrusted code. It passes the same validator and runs in the same sandbox
as any other extension, first against sample inputs the model proposes; failures are fed
back for up to `attempts` tries. Nothing is saved unless it validated and every sample ran.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from extensions.host import SandboxHost
from extensions.sandbox import ExtensionFailed
from extensions.spec import SpecError, read_spec
from extensions.validator import validate

log = logging.getLogger(__name__)

Status = Literal["success", "validation_failed", "test_failed"]

TEMPLATE = '''"""Repeat the user's message in capital letters."""

import re

VERSION = "1.0.0"
METADATA = {
    "name": "shout",
    "description": "repeat the user's message in capital letters",
    "author": "Sena (generated)",
    "parameters": {},
    "requires": [],
    "permissions": [],
}


def execute(user_input, context, **kwargs):
    text = re.sub(r"\\s+", " ", user_input).strip()
    return text.upper() + "!"
'''

SYSTEM = (
    "You write Sena extensions: one small Python module in exactly this shape:\n\n{template}\n"
    "Rules: keep VERSION and METADATA as plain literals; METADATA['name'] is a short snake_case name; "
    "execute(user_input, context, **kwargs) must work from user_input alone and return a string; "
    "import only from: {imports}; no names starting with an underscore, no open/eval/exec/getattr/type; "
    "no code at module level except imports, assignments and function definitions. "
    "Reply with the complete module in one ```python block and nothing else."
)
SAMPLES_SCHEMA: dict[str, Any] = {
    "title": "Samples",
    "type": "object",
    "properties": {"samples": {"type": "array", "items": {"type": "string", "maxLength": 200}, "maxItems": 3}},
    "required": ["samples"],
}


@dataclass
class Generation:
    status: Status
    name: str | None = None
    path: Path | None = None
    attempts: int = 0
    errors: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)


def code_block(reply: str) -> str:
    """Take the Python out of the model's reply (a fenced block, or the whole reply)."""
    match = re.search(r"```(?:python)?\s*\n(.*?)```", reply, re.DOTALL)
    return (match.group(1) if match else reply).strip() + "\n"


async def sample_inputs(model: BaseChatModel, description: str) -> list[str]:
    prompt = [
        SystemMessage("Write 3 short, realistic messages a user might send to a tool that does the following."),
        HumanMessage(description),
    ]
    try:
        found: Any = await model.with_structured_output(SAMPLES_SCHEMA, method="json_schema").ainvoke(prompt)
        samples = [s for s in found.get("samples", []) if isinstance(s, str) and s.strip()]
    except Exception as exc:  # samples are a test aid; fall back to the description itself
        log.warning("could not get sample inputs: %s", exc)
        samples = []
    return samples[:3] or [description]


async def generate_extension(
    description: str, model: BaseChatModel, host: SandboxHost, attempts: int = 3
) -> Generation:
    """Generate, check and register an extension for `description`; say how it went and why."""
    folder = host.settings.generated_extensions_dir
    imports = ", ".join(host.config.allowed_imports)
    messages: list[BaseMessage] = [
        SystemMessage(SYSTEM.format(template=TEMPLATE, imports=imports)),
        HumanMessage(f"Write an extension that does this: {description}"),
    ]
    samples = await sample_inputs(model, description)
    result = Generation(status="validation_failed")
    for attempt in range(1, attempts + 1):
        result.attempts = attempt
        reply = (await model.ainvoke(messages)).text
        source = code_block(reply)
        problems, name = check(source, folder, host)
        if problems or name is None:
            result.status, feedback = "validation_failed", "It does not validate:\n- " + "\n- ".join(problems)
        else:
            outputs, failures = await trial(host, name, source, samples)
            if not failures:
                path = folder / f"{name}.py"
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(source, encoding="utf-8")
                loaded = await asyncio.to_thread(host.reload_file, path, True)
                log.info("generated extension %s: %s", name, loaded)
                return Generation("success", name, path, attempt, result.errors, outputs)
            result.status, feedback = "test_failed", "It failed when run:\n- " + "\n- ".join(failures)
        result.errors.append(f"attempt {attempt}: {feedback}")
        messages += [AIMessage(reply), HumanMessage(f"{feedback}\nFix it and reply with the whole module again.")]
    return result


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


async def trial(host: SandboxHost, name: str, source: str, samples: list[str]) -> tuple[list[str], list[str]]:
    """Run the candidate in the sandbox on each sample; return outputs and failures."""
    candidate = f"candidate_{name}"
    outputs, failures = [], []
    try:
        await asyncio.to_thread(host.sandbox.load, candidate, "trial", source)
        for sample in samples:
            try:
                output = await asyncio.to_thread(host.sandbox.call, candidate, "trial", sample, {}, {})
            except ExtensionFailed as exc:
                failures.append(f"input {sample!r}: {exc}".replace(candidate, name))
                continue
            if not output.strip():
                failures.append(f"input {sample!r}: execute returned an empty string")
            outputs.append(output)
    except ExtensionFailed as exc:
        failures.append(str(exc).replace(candidate, name))
    finally:
        host.sandbox.unload(candidate)
    return outputs, failures
