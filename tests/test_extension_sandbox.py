"""The sandbox on a real worker process: normal code works; each class of escape is refused or stopped."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from extensions.sandbox import ExtensionFailed, ExtensionTimeout, Limits, Sandbox
from extensions.spec import read_spec
from extensions.validator import validate

ALLOWED = frozenset({"json", "math", "datetime", "re", "collections"})


def capabilities(extension: str, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    if op == "setting":
        return {"greeting": "hi"}.get(args[0])
    raise PermissionError(f"{extension} may not {op}")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox(ALLOWED, Limits(cpu_seconds=1, wall_seconds=3, memory_mb=256), capabilities, test_hooks=True)
    yield box
    box.close()


def run(sandbox: Sandbox, body: str, user_input: str = "x", context: dict[str, Any] | None = None) -> str:
    source = f"def execute(user_input, context, **kwargs):\n{body}\n"
    name = f"t{abs(hash(body))}"
    sandbox.load(name, "d", source)
    return sandbox.call(name, "d", user_input, context or {"who": "tester"}, {})


def test_a_normal_extension_uses_json_math_datetime_and_its_context(sandbox: Sandbox) -> None:
    source = """
import json
import math
import re
from collections import Counter
from datetime import date, datetime
import sena

def execute(user_input, context, **kwargs):
    words = re.findall(r"[a-z]+", user_input.lower())
    when = datetime.strptime("2026-01-02", "%Y-%m-%d").date()
    return json.dumps({"words": len(words), "root": math.sqrt(16), "year": date(2026, 1, 2).year,
                       "top": Counter(words).most_common(1)[0][0], "day": f"{when:%A}",
                       "who": context["who"], "greeting": sena.setting("greeting"),
                       "label": "{} of {}".format(len(words), "{0[who]}".format(context))})
"""
    sandbox.load("normal", "v1", source)
    assert sandbox.call("normal", "v1", "count these three three", {"who": "ana"}, {}) == (
        '{"words": 4, "root": 4.0, "year": 2026, "top": "three", "day": "Friday", "who": "ana", '
        '"greeting": "hi", "label": "4 of ana"}'
    )
    facts = sandbox.worker_facts
    assert facts["nproc"] == 0 and set(facts["environment"]) <= {"LANG", "TZ"}


@pytest.mark.parametrize(
    ("body", "refusal"),
    [
        ("    import os\n    return os.getcwd()", "import of 'os' is not allowed"),
        ("    import datetime\n    return str(datetime.sys.modules['os'])", "datetime.sys is not available"),
        ("    from datetime import sys\n    return 'x'", "cannot import 'sys' from 'datetime'"),
        ("    return '{0.__class__}'.format(1)", "invalid attribute name"),
        ("    import json\n    return str(json.decoder)", "json.decoder is not available"),
        ("    context['who'] = 'me'\n    return 'changed'", "does not support item"),
        ("    import sena\n    return sena.read_file('/etc/passwd')", "may not read_file"),
        ("    import sena\n    return sena.http_get('http://example.com')", "may not http_get"),
        ("    g = (x for x in [1])\n    return str(g.gi_frame.f_back.f_globals)", "restricted name"),
        ("    return open('/etc/passwd').read()", "name 'open' is not defined"),
        ("    import socket\n    return str(socket.socket())", "import of 'socket' is not allowed"),
    ],
    ids=[
        "import-os",
        "module-attribute",
        "from-import-module",
        "format-string",
        "submodule",
        "context",
        "files",
        "network",
        "frame-walk",
        "open",
        "socket",
    ],
)
def test_escapes_are_refused_at_run_time(sandbox: Sandbox, body: str, refusal: str) -> None:
    with pytest.raises(ExtensionFailed, match=refusal):
        run(sandbox, body)


def test_subclasses_walk_and_dunder_access_do_not_compile(sandbox: Sandbox) -> None:
    with pytest.raises(ExtensionFailed, match="SyntaxError"):
        run(sandbox, "    return str(().__class__.__bases__[0].__subclasses__())")
    with pytest.raises(ExtensionFailed, match="SyntaxError"):
        run(sandbox, "    def f(_getattr_=None, /):\n        return 1\n    return str(f())")


def test_an_infinite_loop_is_stopped_by_the_cpu_limit() -> None:
    # A wall clock far beyond the CPU limit: on a busy machine the loop gets a fraction of a core,
    # and the CPU limit must still be what stops it.
    box = Sandbox(ALLOWED, Limits(cpu_seconds=1, wall_seconds=30, memory_mb=256), capabilities)
    try:
        with pytest.raises(ExtensionFailed, match="CPU time"):
            run(box, "    while True:\n        pass")
    finally:
        box.close()


def test_the_cpu_limit_cannot_strike_halfway_through_a_capability_exchange() -> None:
    """Raised between a message's length and its body, the limit left the body on the channel,
    and the worker died on it after a clean refusal (seen once in CI): the signal must wait."""
    import signal

    from extensions.sandbox.worker import capability_caller

    class Channel:
        masks: list[set[int | signal.Signals]] = []

        def send(self, message: Any) -> None:
            self.masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))

        def recv(self) -> Any:
            self.masks.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
            return ["ok", "r1", "v"]

    channel = Channel()
    assert capability_caller(channel, {"rid": "r1"}).setting("k") == "v"  # type: ignore[arg-type, attr-defined]
    assert len(channel.masks) == 2 and all(signal.SIGXCPU in mask for mask in channel.masks)
    assert signal.SIGXCPU not in signal.pthread_sigmask(signal.SIG_BLOCK, [])


def test_a_loop_that_swallows_the_cpu_signal_is_killed_and_the_worker_respawned(sandbox: Sandbox) -> None:
    sandbox.load("steady", "v1", "def execute(user_input, context, **kwargs):\n    return 'still here'\n")
    before = sandbox.respawns
    with pytest.raises(ExtensionTimeout, match="was stopped"):
        run(
            sandbox,
            "    while True:\n        try:\n            while True:\n                pass\n"
            "        except BaseException:\n            pass",
        )
    assert sandbox.respawns == before + 1
    assert sandbox.call("steady", "v1", "", {}, {}) == "still here"  # reloaded into the new worker


def test_unbounded_allocation_is_stopped(sandbox: Sandbox) -> None:
    with pytest.raises(ExtensionFailed, match="MemoryError"):
        run(sandbox, "    data = 'x' * (10 ** 10)\n    return 'allocated'")


def test_raw_python_in_the_worker_cannot_write_spawn_or_read_root_files(sandbox: Sandbox, tmp_path: Path) -> None:
    """The OS layers alone: unrestricted Python in the confined worker (the test hook)."""
    target = tmp_path / "out.txt"
    os.chmod(tmp_path, 0o777)
    code = f"""
import subprocess
outcomes = []
for name, attempt in [
    ("write", lambda: open({str(target)!r}, "w").write("x" * 10)),
    ("spawn", lambda: subprocess.run(["true"])),
    ("root-file", lambda: open("/root/.bashrc").read()),
]:
    try:
        attempt()
        outcomes.append(name + " ALLOWED")
    except BaseException as exc:
        outcomes.append(name + " refused " + type(exc).__name__)
result = "; ".join(outcomes)
"""
    outcome = sandbox.raw("raw", code)
    assert "ALLOWED" not in outcome and outcome.count("refused") == 3, outcome
    assert not target.exists()


def test_a_worker_that_cannot_drop_root_refuses_to_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    if os.getuid() != 0:
        pytest.skip("the privilege drop happens only when Sena runs as root")
    import extensions.sandbox.client as client

    failing_drop = (
        "import sys, os; sys.path.insert(0, sys.argv[1]); "
        "os.setuid = lambda uid: (_ for _ in ()).throw(PermissionError(1, 'Operation not permitted')); "
        "from extensions.sandbox.worker import main; main(int(sys.argv[2]))"
    )
    monkeypatch.setattr(client, "BOOT", failing_drop)
    box = Sandbox(ALLOWED, Limits(), capabilities)
    with pytest.raises(ExtensionFailed, match="refused to start: ConfinementFailed: could not drop root"):
        box.load("any", "d", "def execute(user_input, context, **kwargs):\n    return 'ran'\n")
    box.close()


def test_the_worker_sees_none_of_the_hosts_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-token-for-the-test"
    monkeypatch.setenv("SENA_API__AUTH_TOKEN", secret)
    monkeypatch.setenv("SENA_DATABASE__POSTGRES_URL", f"postgresql://sena:{secret}@db/sena")
    box = Sandbox(ALLOWED, Limits(), capabilities, test_hooks=True)
    seen = box.raw("env", "import os\nresult = repr(dict(os.environ))")
    assert secret not in seen and "SENA_" not in seen
    assert box.raw("env", "import os\nresult = ','.join(sorted(os.environ))") in ("LANG", "LANG,TZ")
    box.close()


def test_the_validator_refuses_before_anything_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "sneaky.py"
    path.write_text(
        "import os\n"
        f"open({str(marker)!r}, 'w').write('x')\n"
        "VERSION = '1'\n"
        "METADATA = {'name': 'sneaky', 'description': 'd', 'author': 'a'}\n"
        "def execute(user_input, context, **kwargs):\n    return eval('1')\n"
    )
    problems = validate(read_spec(path, "user"), ALLOWED)
    assert any("import of 'os'" in p for p in problems)
    assert any("'open'" in p for p in problems) and any("'eval'" in p for p in problems)
    assert any("only imports, definitions and assignments" in p for p in problems)
    assert not marker.exists()
