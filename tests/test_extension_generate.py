"""AI generation with a scripted code model: validation feedback, sandbox trial, save and register."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import Settings, load_settings
from extensions.generate import code_block, generate_extension
from extensions.host import SandboxHost
from extensions.registry import ExtensionRegistry
from tests.conftest import MODELS_DIR
from tests.fakes import ScriptedChatModel

GOOD = '''```python
"""Count the words in the user's message."""

import re

VERSION = "1.0.0"
METADATA = {
    "name": "word_counter",
    "description": "count the words in the message",
    "author": "Sena (generated)",
    "parameters": {},
    "requires": [],
    "permissions": [],
}


def execute(user_input, context, **kwargs):
    return "Your message has " + str(len(re.findall(r"[A-Za-z']+", user_input))) + " words."
```'''
USES_OS = GOOD.replace("import re", "import os\nimport re")
CRASHES = GOOD.replace('return "Your message', 'return 1 / 0\n    return "Your message')
SAMPLES = json.dumps({"samples": ["count the words in: hello big world", "how many words is this"]})


@pytest.fixture
def host(tmp_path: Path) -> Iterator[SandboxHost]:
    settings: Settings = load_settings(
        app={"data_dir": tmp_path / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={"user_dir": tmp_path / "user", "core": []},
    )
    h = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
    h.load_all()
    yield h
    h.close()


def test_code_block_takes_the_fenced_python() -> None:
    assert code_block("Here:\n```python\nx = 1\n```\nDone.") == "x = 1\n"
    assert code_block("x = 2") == "x = 2\n"


def test_a_refused_import_is_fed_back_and_the_fix_is_registered(host: SandboxHost) -> None:
    model = ScriptedChatModel().enqueue(SAMPLES, USES_OS, GOOD)
    result = asyncio.run(generate_extension("count the words in my message", model, host))
    assert (result.status, result.name, result.attempts) == ("success", "word_counter", 2)
    assert "import of 'os' is not allowed" in result.errors[0]
    assert "import of 'os' is not allowed" in model.prompts[-1][-1].text  # the model saw why
    assert result.outputs[0] == "Your message has 7 words."
    assert result.path == host.settings.generated_extensions_dir / "word_counter.py"
    assert "word_counter" in host.names()
    assert asyncio.run(host.run("word_counter", "one two three", {})) == "Your message has 3 words."
    assert host.registry.get("word_counter").origin == "generated"  # type: ignore[union-attr]


def test_code_that_fails_in_the_sandbox_is_test_failed_and_not_saved(host: SandboxHost) -> None:
    model = ScriptedChatModel().enqueue(SAMPLES, CRASHES, CRASHES, CRASHES)
    result = asyncio.run(generate_extension("count words", model, host))
    assert (result.status, result.attempts) == ("test_failed", 3)
    assert "ZeroDivisionError" in result.errors[-1]
    assert not host.settings.generated_extensions_dir.joinpath("word_counter.py").exists()
    assert "word_counter" not in host.names()


def test_never_valid_code_is_validation_failed(host: SandboxHost) -> None:
    model = ScriptedChatModel().enqueue(SAMPLES, "I cannot do that.", USES_OS, "```python\nprint('hi')\n```")
    result = asyncio.run(generate_extension("count words", model, host))
    assert (result.status, result.attempts, result.path) == ("validation_failed", 3, None)
    assert "syntax error" in result.errors[0] and "VERSION is missing" in result.errors[2]
