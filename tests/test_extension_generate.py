"""AI generation with a scripted code model: the rendered template, deterministic repairs,
samples that mean something, retries with the failing line, save and register."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from config.settings import DEFAULT_IMPORTS, Settings, load_settings
from extensions.examples import EXAMPLES, closest
from extensions.generate import Plan, generate_extension, matches, samples, user_example
from extensions.host import SandboxHost
from extensions.registry import ExtensionRegistry
from extensions.sandbox import ExtensionFailed
from extensions.spec import read_spec
from extensions.template import Param, Written, render, repair
from extensions.validator import validate
from tests.conftest import MODELS_DIR
from tests.fakes import ScriptedChatModel

CUPS = Plan("cups_to_ml", "US cups to millilitres", (Param("cups", "number", "how many US cups", ("2", "0.5")),))
CUPS_PLAN = json.dumps(
    {
        "name": "cups to ml",
        "description": "US cups to millilitres",
        "parameters": [{"name": "cups", "type": "number", "description": "how many US cups", "examples": ["2", "0.5"]}],
    }
)
GOOD = '```python\ndef run(cups: float) -> str:\n    return f"{cups:g} cups is {cups * 236.588:.0f} ml"\n```'
USES_TIME = (
    "```python\nimport time\n\ndef run(cups: float) -> str:\n"
    '    time.sleep(0)\n    return f"{cups * 236.588:.0f} ml"\n```'
)
CRASHES = '```python\ndef run(cups: float) -> str:\n    ml = cups / 0\n    return f"{ml} ml"\n```'
ECHOES = "```python\ndef run(cups: float) -> str:\n    return str(cups)\n```"
WRONG = '```python\ndef run(cups: float) -> str:\n    return f"{cups * 250:.0f} ml"\n```'
REQUEST = "cups to milliliters for baking, e.g. 2 cups -> 473 ml"


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


def written(code: str, plan: Plan = CUPS) -> Written:
    return repair(code, plan, list(DEFAULT_IMPORTS))


def test_the_template_renders_a_valid_module_around_the_function(tmp_path: Path) -> None:
    source = render(written('def run(cups: float) -> str:\n    return f"{cups * 236.588:.0f} ml"\n'))
    spec = read_spec(tmp_path / "cups_to_ml.py", "generated", source)
    assert validate(spec, DEFAULT_IMPORTS) == []
    assert spec.metadata["parameters"] == {"cups": {"type": "number", "description": "how many US cups"}}
    assert spec.metadata["author"] == "Sena (generated)" and spec.version == "1.0.0"
    namespace: dict[str, object] = {}
    exec(compile(source, "cups_to_ml.py", "exec"), namespace)  # trusted here: we wrote it
    execute = namespace["execute"]
    assert execute("", {}, cups=2) == "473 ml"  # type: ignore[operator]
    assert execute("how much is 3 cups", {}) == "710 ml"  # type: ignore[operator]  # read from the message
    with pytest.raises(ValueError, match="I need cups"):
        execute("a cup of tea", {})  # type: ignore[operator]


def test_a_missing_switch_is_off_and_a_mistaken_module_name_is_said_as_python_says_it(host: SandboxHost) -> None:
    plan = Plan("loud", "the text, louder", (Param("text", "string", "t"), Param("shout", "boolean", "capitals?")))
    source = render(
        written('def run(text: str, shout: bool) -> str:\n    return text.upper() if shout else text + "!"\n', plan)
    )
    host.sandbox.load("loud", "v1", source)
    assert host.sandbox.call("loud", "v1", "hi", {}, {}) == "hi!"
    assert host.sandbox.call("loud", "v1", "hi", {}, {"shout": "yes"}) == "HI"
    host.sandbox.load(
        "oops",
        "v1",
        "import datetime\n\ndef execute(user_input, context, **kwargs):\n    return str(datetime.today())\n",
    )
    with pytest.raises(ExtensionFailed, match="module 'datetime' has no attribute 'today'"):
        host.sandbox.call("oops", "v1", "x", {}, {})


@pytest.mark.parametrize(
    ("code", "repaired", "says"),
    [
        (
            "import regex\n\ndef run(cups: float) -> str:\n    return regex.sub('a', 'b', str(cups))\n",
            "re.sub(",
            "import regex -> import re",
        ),
        (
            "import time\n\ndef run(cups: float) -> str:\n    return str(cups * 2)\n",
            "return str(cups * 2)",
            "dropped `import time`",
        ),
        (
            "from string import ascii_lowercase\n\ndef run(cups: float) -> str:\n    return ascii_lowercase[:3]\n",
            "ascii_lowercase = 'abcdefghijklmnopqrstuvwxyz'",
            "wrote out the constants",
        ),
        (
            "import string\n\ndef run(cups: float) -> str:\n    return string.digits + str(cups)\n",
            "return '0123456789' + str(cups)",
            "wrote out string's constants",
        ),
        (
            "def convert(cups: float) -> str:\n    return str(cups)\n",
            "def run(cups",
            "renamed the function convert() to run()",
        ),
        ("def run(amount: float) -> str:\n    return str(amount)\n", "def run(amount", "renamed 'amount'"),
        (
            "import datetime\n\ndef run(cups: float) -> str:\n    return str(datetime.today().year + cups)\n",
            "datetime.date.today().year",
            "fixed datetime calls",
        ),
        (
            "from datetime import datetime\n\ndef run(cups: float) -> str:\n    return str(datetime.datetime.now())\n",
            "return str(datetime.now())",
            "fixed datetime calls",
        ),
    ],
)
def test_mechanical_mistakes_are_repaired_and_said(code: str, repaired: str, says: str) -> None:
    result = written(code)
    source = render(result)
    assert result.problems == []
    assert repaired in source
    assert any(says in r for r in result.repairs), result.repairs
    assert validate(read_spec(Path("cups_to_ml.py"), "generated", source), DEFAULT_IMPORTS) == []


def test_a_parameter_the_model_added_gets_its_type_from_the_default_or_annotation() -> None:
    result = written('def run(cups: float, rounding=1, metric: bool = True) -> str:\n    return "x"\n')
    assert [(p.name, p.type) for p in result.plan.parameters] == [
        ("cups", "number"),
        ("rounding", "integer"),
        ("metric", "boolean"),
    ]
    assert "parameter 'rounding' added with type integer (from its default or name)" in result.repairs


def test_a_forbidden_module_in_use_is_a_problem_with_what_to_use_instead() -> None:
    result = written(USES_TIME.strip("`").removeprefix("python\n"))
    assert result.problems == [
        "import of 'time' is not allowed; use datetime (datetime.datetime.now(), datetime.timedelta)"
    ]


def test_the_users_own_example_is_read_from_the_request() -> None:
    assert user_example(REQUEST) == ("2 cups", "473 ml")
    assert user_example("title case, e.g. 'hello world' -> 'Hello World'") == ("hello world", "Hello World")
    assert user_example("convert celsius to fahrenheit") is None
    assert matches("2 cups is 473.18 mL", "473 ml") and not matches("500 ml", "473 ml")
    assert matches("Hello World", "Hello World") and not matches("hello world", "6.2")


def test_samples_cover_the_plans_examples_other_values_of_the_type_and_the_users_example() -> None:
    tests = samples(CUPS, user_example(REQUEST))
    assert [s.arguments for s in tests] == [{"cups": 2.0}, {"cups": 0.5}, {"cups": 5.25}]
    assert tests[0].expect == "473 ml"  # the user's "2 cups" is the plan's first example: one sample, with its check


def test_the_examples_shown_are_the_ones_most_like_the_request() -> None:
    assert closest("convert ounces to grams", count=1)[0].request == "turn pounds into kilograms"
    assert closest("grab every phone number from this email", count=1)[0].request.startswith("find all the phone")
    assert len(EXAMPLES) >= 8


def test_a_forbidden_import_is_fed_back_with_its_line_and_the_fix_is_registered(host: SandboxHost) -> None:
    model = ScriptedChatModel().enqueue(CUPS_PLAN, USES_TIME, GOOD)
    result = asyncio.run(generate_extension(REQUEST, model, host))
    assert (result.status, result.name, result.attempts) == ("success", "cups_to_ml", 2)
    assert "import of 'time' is not allowed" in result.errors[0]
    assert "import of 'time' is not allowed; use datetime" in model.prompts[-1][-1].text  # the model saw why
    assert "Write the corrected `def run(cups: float) -> str:`" in model.prompts[-1][-1].text
    assert "Request: turn pounds into kilograms" in model.prompts[1][1].text  # a worked example came first
    assert result.outputs[0] == "2 cups is 473 ml"
    assert result.path == host.settings.generated_extensions_dir / "cups_to_ml.py"
    assert result.code == result.path.read_text()
    assert asyncio.run(host.run("cups_to_ml", "convert 1 cup", {})) == "1 cups is 237 ml"
    assert asyncio.run(host.run("cups_to_ml", "convert", {}, cups=4)) == "4 cups is 946 ml"
    assert host.registry.get("cups_to_ml").origin == "generated"  # type: ignore[union-attr]


def test_a_crash_is_retried_with_the_failing_line(host: SandboxHost) -> None:
    model = ScriptedChatModel().enqueue(CUPS_PLAN, CRASHES, GOOD)
    told: list[dict[str, Any]] = []
    result = asyncio.run(generate_extension(REQUEST, model, host, progress=told.append))
    assert (result.status, result.attempts) == ("success", 2)
    assert [(e["event"], e.get("status")) for e in told] == [  # each attempt told as it happens (the studio)
        ("generation_planned", None),
        ("generation_attempt", "test_failed"),
        ("generation_attempt", "success"),
    ]
    assert "ZeroDivisionError" in told[1]["error"] and "cups / 0" in told[1]["code"]
    assert "ZeroDivisionError" in result.errors[0] and "(line " in result.errors[0]
    assert "The failing line: ml = cups / 0" in model.prompts[-1][-1].text


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (CRASHES, "ZeroDivisionError"),
        (ECHOES, "returned its input unchanged for every sample"),
        (WRONG, "but the user expects '473 ml'"),
        ('```python\ndef run(cups: float) -> str:\n    return ""\n```', "returned an empty string"),
    ],
)
def test_code_that_fails_its_samples_is_test_failed_and_not_saved(host: SandboxHost, reply: str, reason: str) -> None:
    model = ScriptedChatModel().enqueue(CUPS_PLAN, reply, reply, reply)
    result = asyncio.run(generate_extension(REQUEST, model, host))
    assert (result.status, result.attempts) == ("test_failed", 3)
    assert any(reason in e for e in result.errors), result.errors
    assert not host.settings.generated_extensions_dir.joinpath("cups_to_ml.py").exists()
    assert "cups_to_ml" not in host.names()


def test_never_valid_code_is_validation_failed(host: SandboxHost) -> None:
    model = ScriptedChatModel().enqueue(CUPS_PLAN, "I cannot do that.", USES_TIME, "```python\nrun = 1\n```")
    result = asyncio.run(generate_extension(REQUEST, model, host))
    assert (result.status, result.attempts, result.path) == ("validation_failed", 3, None)
    assert "syntax error" in result.errors[0] and "no function" in result.errors[2]


def test_a_plan_the_model_cannot_give_falls_back_to_one_text_parameter(host: SandboxHost) -> None:
    code = '```python\ndef run(text: str) -> str:\n    return " ".join(reversed(text.split()))\n```'
    model = ScriptedChatModel().enqueue(ValueError("no JSON"), code)
    result = asyncio.run(generate_extension("reverse the order of words", model, host))
    assert result.status == "success", result.errors
    assert asyncio.run(host.run(result.name or "", "one two three", {})) == "three two one"


@pytest.mark.slow
def test_the_embedded_model_writes_a_working_extension(tmp_path: Path) -> None:
    from providers.registry import ModelRegistry

    settings = load_settings(
        app={"data_dir": tmp_path / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={"user_dir": tmp_path / "user", "core": []},
    )
    host = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
    models = ModelRegistry(settings.llm, settings.models_dir)
    try:
        host.load_all()
        request = "count how many vowels are in a piece of text"
        result = asyncio.run(generate_extension(request, models.get(models.choose("code")), host))
        assert result.status == "success", result.errors
        assert result.name and result.path and result.path.exists()
        spec = host.spec(result.name)
        assert spec is not None
        assert "3" in asyncio.run(host.run(result.name, "banana", {}, **{p.name: "banana" for p in spec.parameters}))
    finally:
        host.close()
        models.close()


def test_a_generated_tool_never_takes_the_name_of_a_users_extension(host: SandboxHost) -> None:
    user = host.settings.extensions.user_dir
    user.mkdir(parents=True, exist_ok=True)
    (user / "cups_to_ml.py").write_text(
        "VERSION = '1.0.0'\nMETADATA = {'name': 'cups_to_ml', 'description': 'mine', 'author': 'me'}\n"
        "def execute(user_input, context, **kwargs):\n    return 'mine'\n"
    )
    host.load_all()
    model = ScriptedChatModel().enqueue(CUPS_PLAN, GOOD)
    result = asyncio.run(generate_extension(REQUEST, model, host))
    assert (result.status, result.name) == ("success", "cups_to_ml_generated")
    assert asyncio.run(host.run("cups_to_ml", "x", {})) == "mine"


def test_a_host_call_is_declared_as_the_permission_it_needs_and_still_needs_a_grant(host: SandboxHost) -> None:
    code = "```python\nimport sena\n\ndef run(path: str) -> str:\n    return sena.read_file(path)[:50]\n```"
    plan = json.dumps(
        {"name": "peek", "description": "the start of a file", "parameters": [
            {"name": "path", "type": "string", "description": "file", "examples": ["notes.txt"]}]}
    )  # fmt: skip
    model = ScriptedChatModel().enqueue(plan, code, code, code)
    result = asyncio.run(generate_extension("show me the start of a file", model, host))
    assert "'permissions': ['workspace']" in (result.code or "")
    assert "sena.read_file(path) -> str" in model.prompts[1][0].text  # the model was told the host calls
    assert result.status == "test_failed" and "permission" in result.errors[0].lower()  # no grant by default
