"""An adversarial corpus against the extension sandbox: restricted code that tries to break out.

Each probe is an extension (or, for hot reload, an extension file) written the way an attacker
who knows CPython and RestrictedPython's history would write it. Whatever the probe's own
outcome, the uniform effect check (tests/sandbox_probes.py, `World.check`) then asserts that
no secret (host environment, data-folder file) and no sign of interpreter machinery appears
in its output or error, that the loopback listener accepted nothing, that no file appeared,
that no SysV object was left behind, that every worker is still childless and unprivileged,
and that a canary extension in the same worker still answers exactly as before (the worker
survives and its shared modules were not tampered with).

Probe ids read `class:probe`; the classes are imports, frames, modules, bombs, capabilities,
reload and environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pathlib
import posixpath
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from textwrap import dedent, indent
from typing import Any
from urllib.parse import unquote

import psutil
import pytest

from config.settings import ExtensionsSettings, load_settings
from extensions.capabilities import Capabilities
from extensions.confirmations import Confirmations
from extensions.host import SandboxHost
from extensions.registry import ExtensionRegistry
from extensions.sandbox import ExtensionFailed, Sandbox
from tests.conftest import MODELS_DIR
from tests.sandbox_probes import ALLOWED, ESCAPED, LIMITS, Findings, World, describe, open_world

CONTEXT = {"user_id": "u", "thread_id": "t"}
VICTIM_KEY = "victim-api-key-0f9e8d7c"
GRANTS = {"ws_": "workspace", "web_": "http", "sys_": "system", "app_": "apps"}
CANARY = """
import json, math, textwrap, decimal, collections, calendar
import sena

def execute(user_input, context, **kwargs):
    try:
        json.JSONEncoder().default(json)
        default = 'default-replaced'
    except TypeError:
        default = 'default-intact'
    return json.dumps([math.pi, textwrap.fill('hello there everyone', 8), str(decimal.Decimal(1) / decimal.Decimal(7)),
                       collections.Counter('abracadabra').most_common(2), json.dumps({'a': [1, 2.5, None]}),
                       '{0}-{k}'.format('a', k='b'), calendar.month_name[3], sorted(context), default,
                       sena.setting('greeting')])
"""


# ---------------------------------------------------------------------------------------------
# the world the probes run in


class SearchStub(BaseHTTPRequestHandler):
    """The configured web-search backend: records every path it is asked for."""

    paths: list[str] = []
    evil_port = 0

    def do_GET(self) -> None:
        SearchStub.paths.append(self.path)
        path = self.path.split("?")[0]
        if path.startswith("/search/redirect"):
            self.send_response(302)
            self.send_header("location", f"http://127.0.0.1:{SearchStub.evil_port}/stolen")
            self.send_header("content-length", "0")
            self.end_headers()
            return
        if path.startswith("/search/big"):
            body = b"A" * (1024 * 1024)
            kind = "text/plain"
        elif path == "/search" or path.startswith("/search/"):
            body, kind = b'{"results": []}', "application/json"
        else:
            body, kind = b"not here", "text/plain"
            self.send_response(404)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@dataclass
class Corpus:
    world: World
    sandbox: Sandbox
    capabilities: Capabilities
    confirmations: Confirmations
    stub_port: int
    calls: list[tuple[str, str, tuple[Any, ...]]] = field(default_factory=list)
    canaries: set[str] = field(default_factory=set)
    baseline: str = ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.stub_port}/search"

    def canary(self, group: str) -> str:
        name = f"canary_{group.replace('-', '_')}"
        if group not in self.canaries:
            self.sandbox.load(name, "c1", CANARY, group=group)
            self.canaries.add(group)
        return self.sandbox.call(name, "c1", "", CONTEXT, {})


def granted(name: str) -> frozenset[str]:
    return frozenset(permission for prefix, permission in GRANTS.items() if name.startswith(prefix))


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with open_world() as w:
        yield w


@pytest.fixture(scope="module")
def corpus(world: World) -> Iterator[Corpus]:
    ws = world.workspace
    (ws / "notes.txt").write_text("workspace notes")
    (ws / "link_out").symlink_to(world.secret_file)
    (ws / "dir_out").symlink_to(world.data)
    (ws / "dangling_out").symlink_to(world.markers / "made-through-a-dangling-link.txt")
    SearchStub.paths = []
    SearchStub.evil_port = world.listener.port
    server = ThreadingHTTPServer(("127.0.0.1", 0), SearchStub)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}/search"
    settings = ExtensionsSettings(
        settings={
            "web_search": {"url": base},
            "app_launcher": {"allowed": {"noop": ["true"]}},
            "ws_victim": {"api_key": VICTIM_KEY},
        }
    )
    confirmations = Confirmations()
    capabilities = Capabilities(settings, ws, granted, confirmations)
    calls: list[tuple[str, str, tuple[Any, ...]]] = []

    def answer(extension: str, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        calls.append((extension, op, args))
        if op == "setting" and args == ("greeting",):
            return "hi"
        return capabilities(extension, op, args, kwargs)

    sandbox = Sandbox(ALLOWED, LIMITS, answer, test_hooks=True)
    box = Corpus(world, sandbox, capabilities, confirmations, server.server_port, calls)
    box.baseline = box.canary("reference")
    yield box
    sandbox.close()
    server.shutdown()
    server.server_close()


# ---------------------------------------------------------------------------------------------
# probes


@dataclass(frozen=True)
class Probe:
    klass: str
    id: str
    body: str
    prelude: str = ""
    group: str = "probes"
    name: str = ""
    user_input: str | Callable[[Corpus], str] = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    verify: Callable[[Corpus, str], None] | None = None
    setup: Callable[[Corpus], Callable[[], None]] | None = None  # returns its undo
    max_seconds: float = 0.0  # a bomb must be over within this long

    @property
    def extension(self) -> str:
        return self.name or "p_" + self.id.replace("-", "_")

    def source(self) -> str:
        body = indent(dedent(self.body).strip("\n"), "    ")
        return f"{dedent(self.prelude).strip()}\n\ndef execute(user_input, context, **kwargs):\n{body}\n"


def probe(klass: str, id: str, body: str, **options: Any) -> Probe:
    return Probe(klass, id, body, **options)


IMPORTS = [
    probe("imports", "import-os", "import os\nreturn 'ESCAPED ' + repr(os.environ)"),
    probe("imports", "import-sys-from-function", "import sys\nreturn 'ESCAPED ' + repr(sys.modules)"),
    probe("imports", "dunder-import", "return 'ESCAPED ' + repr(__import__('os'))"),
    probe("imports", "import-builtins", "import builtins\nreturn 'ESCAPED ' + repr(builtins.open)"),
    probe("imports", "from-json-import-submodule", "from json import decoder\nreturn 'ESCAPED ' + repr(decoder)"),
    probe("imports", "dotted-import", "import collections.abc\nreturn 'ESCAPED ' + repr(collections.abc)"),
    probe("imports", "relative-import", "from . import sena\nreturn 'ESCAPED ' + repr(sena)"),
    probe("imports", "from-view-import-private", "from json import _default_encoder\nreturn 'ESCAPED'"),
    probe("imports", "from-sena-import-private", "from sena import __init__\nreturn 'ESCAPED ' + repr(__init__)"),
    probe(
        "imports",
        "builtin-open",
        "return 'ESCAPED ' + open(user_input).read()",
        user_input=lambda c: str(c.world.secret_file),
    ),
    probe("imports", "builtin-getattr", "return 'ESCAPED ' + repr(getattr(json, 'sys'))", prelude="import json"),
    probe(
        "imports",
        "builtin-type-three-args",
        "X = type('X', (), {'__format__': lambda s, spec: 'ESCAPED'})\nreturn format(X(), '')",
    ),
    probe("imports", "builtin-vars-dir-globals", "return 'ESCAPED ' + repr(vars()) + repr(dir()) + repr(globals())"),
    probe(
        "imports",
        "setattr-on-a-shared-class",
        "setattr(json.JSONEncoder, 'default', lambda self, o: 'ESCAPED')\nreturn json.dumps(json)",
        prelude="import json",
    ),
    probe(
        "imports",
        "assign-over-a-module-view",
        "json.dumps = lambda *a, **k: 'ESCAPED'\nreturn json.dumps(1)",
        prelude="import json",
    ),
    probe(
        "imports",
        "assign-over-sena",
        "sena.read_file = lambda p: 'ESCAPED'\nreturn sena.read_file('x')",
        prelude="import sena",
    ),
    probe("imports", "format-class-walk", "return 'ESCAPED ' + '{0.__class__.__mro__[1].__subclasses__}'.format(1)"),
    probe(
        "imports",
        "format-globals-walk",
        "def f():\n    pass\nreturn 'ESCAPED ' + '{0.__globals__[__builtins__]}'.format(f)",
    ),
    probe("imports", "unbound-str-format", "def f():\n    pass\nreturn 'ESCAPED ' + str.format('{0.__globals__}', f)"),
    probe(
        "imports",
        "format-map-defaultdict",
        "def g():\n    yield 1\nd = collections.defaultdict(g)\nreturn 'ESCAPED ' + '{x.gi_frame}'.format_map(d)",
        prelude="import collections",
    ),
    probe(
        "imports", "nested-format-spec", "def f():\n    pass\nreturn 'ESCAPED ' + '{0:{1.__globals__}}'.format(1, f)"
    ),
    probe(
        "imports",
        "str-subclass-format",
        "class S(str):\n    pass\ndef f():\n    pass\n"
        "return 'ESCAPED ' + S('{0.__globals__}').format(f) + S.format('{0.__globals__}', f)",
    ),
    probe(
        "imports",
        "other-objects-format",
        "return 'ESCAPED ' + calendar.month_name.format + '{0.format}'.format(calendar.month_name)",
        prelude="import calendar",
    ),
    probe(
        "imports",
        "namedtuple-module-spoof-format",
        "P = collections.namedtuple('P', ['format'], module='sena_extension_p_namedtuple_module_spoof_format')\n"
        "p = P(str)\nreturn 'ESCAPED ' + repr(p.format('{0.__class__.__base__.__subclasses__}', 1))",
        prelude="import collections",
    ),
    probe(
        "imports",
        "percent-mapping",
        "def g():\n    yield 1\nreturn '%(x)s %(x)r' % {'x': g()} + '%(x.gi_frame)s' % {'x': g()}",
    ),
    probe("imports", "decorator-formatter", "@'{0.__globals__}'.format\ndef f():\n    pass\nreturn 'ESCAPED ' + f"),
    probe(
        "imports",
        "positional-only-guard-shadow",
        "def f(_getattr_=None, /):\n    return _getattr_\nreturn 'ESCAPED ' + repr(f())",
    ),
    probe(
        "imports",
        "lambda-default-guard-shadow",
        "h = lambda _getitem_=dict.get: _getitem_\nreturn 'ESCAPED ' + repr(h())",
    ),
    probe("imports", "walrus-guard-shadow", "if (_getattr_ := None) is None:\n    return 'ESCAPED'"),
    probe("imports", "comprehension-guard-shadow", "return 'ESCAPED ' + repr([_getiter_ for _getiter_ in [1]])"),
    probe("imports", "global-guard-rebind", "global _write_\n_write_ = lambda o: o\nreturn 'ESCAPED'"),
    probe("imports", "except-as-guard-rebind", "try:\n    1 / 0\nexcept Exception as _getattr_:\n    return 'ESCAPED'"),
    probe("imports", "import-as-guard-rebind", "import json as _getattr_\nreturn 'ESCAPED'"),
    probe(
        "imports", "star-unpack-module-view", "a, *rest = json\nreturn 'ESCAPED ' + repr(rest)", prelude="import json"
    ),
    probe(
        "imports",
        "match-class-pattern",
        "def g():\n    yield 1\nmatch g():\n    case object(gi_frame=f):\n        return 'ESCAPED ' + repr(f)",
    ),
    probe("imports", "metaclass-keyword", "class M:\n    pass\nclass A(metaclass=M):\n    pass\nreturn 'ESCAPED'"),
    probe("imports", "init-subclass-hook", "class A:\n    def __init_subclass__(cls):\n        pass\nreturn 'ESCAPED'"),
    probe("imports", "try-star", "try:\n    pass\nexcept* ValueError:\n    pass\nreturn 'ESCAPED'"),
    probe(
        "imports", "async-coroutine-frame", "async def c():\n    pass\nreturn 'ESCAPED ' + '{0.cr_frame}'.format(c())"
    ),
    probe(
        "imports",
        "allowed-magic-eq-harvest",
        "class A:\n    def __eq__(self, other):\n        seen.append(other)\n        return False\n"
        "seen = []\nx = A() in list(calendar.day_name)\ny = A() in [json, sena]\n"
        "z = sorted([A(), A()], key=lambda a: 0)\nreturn repr(seen)",
        prelude="import calendar, json\nimport sena",
    ),
]

FRAMES = [
    probe(
        "frames", "generator-frame-by-format", "def g():\n    yield 1\nreturn 'ESCAPED ' + '{0.gi_frame}'.format(g())"
    ),
    probe(
        "frames",
        "running-generator-caller-frame",
        "def g():\n    yield '{0.gi_frame.f_back.f_globals}'.format(it)\nit = g()\nreturn 'ESCAPED ' + next(it)",
    ),
    probe("frames", "generator-code-consts", "def g():\n    yield 1\nreturn 'ESCAPED ' + '{0.gi_code}'.format(g())"),
    probe(
        "frames",
        "yield-from-inner",
        "def inner():\n    yield 1\ndef outer():\n    yield from inner()\no = outer()\nnext(o)\n"
        "return 'ESCAPED ' + '{0.gi_yieldfrom}'.format(o)",
    ),
    probe("frames", "generator-frame-attribute", "def g():\n    yield 1\nreturn 'ESCAPED ' + repr(g().gi_frame)"),
    probe(
        "frames",
        "exception-traceback-by-format",
        "try:\n    1 / 0\nexcept Exception as e:\n    return 'ESCAPED ' + '{0.__traceback__.tb_frame}'.format(e)",
    ),
    probe(
        "frames",
        "exception-traceback-attribute",
        "try:\n    1 / 0\nexcept Exception as e:\n    return 'ESCAPED ' + repr(e.__traceback__)",
    ),
    probe(
        "frames",
        "exception-context-chain",
        "try:\n    try:\n        json.nothing\n    except AttributeError:\n        raise ValueError('x')\n"
        "except ValueError as e:\n    return 'ESCAPED ' + '{0.__context__.__context__}'.format(e)",
        prelude="import json",
    ),
    probe(
        "frames",
        "attribute-error-obj",
        "found = []\nfor target in (json, sena, datetime.datetime, context):\n    try:\n        target.nothing\n"
        "    except AttributeError as e:\n        found.append(repr(e.obj))\nreturn ' '.join(found)",
        prelude="import json, datetime\nimport sena",
    ),
    probe(
        "frames",
        "generator-throw-traceback",
        "def g():\n    try:\n        yield 1\n    except ValueError as e:\n"
        "        yield '{0.__traceback__}'.format(e)\n"
        "it = g()\nnext(it)\nreturn 'ESCAPED ' + it.throw(ValueError('x'))",
    ),
    probe(
        "frames",
        "stop-iteration-value",
        "def g():\n    return 'v'\n    yield 1\ntry:\n    next(g())\nexcept StopIteration as e:\n"
        "    return repr(e.value) + '{0.__traceback__}'.format(e)",
    ),
]

MODULES = [
    probe("modules", "datetime-sys", "return 'ESCAPED ' + repr(datetime.sys.modules['os'])", prelude="import datetime"),
    probe(
        "modules",
        "format-walk-through-view",
        "return 'ESCAPED ' + '{0.sys.modules[os].environ}'.format(datetime)",
        prelude="import datetime",
    ),
    probe("modules", "json-submodule", "return 'ESCAPED ' + repr(json.decoder.scanstring)", prelude="import json"),
    probe("modules", "view-private-names", "return 'ESCAPED ' + '{0._view_names}'.format(json)", prelude="import json"),
    probe(
        "modules",
        "json-parse-object-globals",
        "f = json.JSONDecoder().parse_object\nreturn 'ESCAPED ' + '{0.__globals__[sys]}'.format(f)",
        prelude="import json",
    ),
    probe(
        "modules",
        "json-scanner-hooks",
        "s = json.JSONDecoder().scan_once\nreturn repr(s.parse_constant) + '{0.parse_constant.__self__}'.format(s)",
        prelude="import json",
    ),
    probe(
        "modules",
        "random-bound-instance",
        "return 'ESCAPED ' + '{0.__self__.__class__.__module__}'.format(random.random)",
        prelude="import random",
    ),
    probe(
        "modules",
        "calendar-bound-method-self",
        "return 'ESCAPED ' + '{0.__self__}'.format(calendar.month)",
        prelude="import calendar",
    ),
    probe(
        "modules",
        "functools-wrapped-globals",
        "w = functools.lru_cache(json.dumps)\nreturn 'ESCAPED ' + '{0.__wrapped__.__globals__}'.format(w)",
        prelude="import functools, json",
    ),
    probe(
        "modules",
        "mro-to-object-subclasses",
        "o = json.JSONDecodeError.mro()[-1]\nreturn 'ESCAPED ' + repr(o.__subclasses__())",
        prelude="import json",
    ),
    probe(
        "modules",
        "mro-subclasses-by-format",
        "o = json.JSONDecodeError.mro()[-1]\nreturn 'ESCAPED ' + '{0.__subclasses__}'.format(o)",
        prelude="import json",
    ),
    probe(
        "modules",
        "namedtuple-field-injection",
        "P = collections.namedtuple('P', 'a, b): import os; os.system(\"id\")  # ')\nreturn 'ESCAPED'",
        prelude="import collections",
    ),
    probe(
        "modules",
        "sena-closure",
        "return 'ESCAPED ' + '{0.read_file.__closure__[0].cell_contents}'.format(sena)",
        prelude="import sena",
    ),
    probe(
        "modules",
        "textwrap-class-table-tamper",
        "textwrap.TextWrapper.unicode_whitespace_trans[ord('e')] = 'ESCAPED'\nreturn 'tampered'",
        prelude="import textwrap",
        group="tamper-textwrap",
    ),
    probe(
        "modules",
        "decimal-context-left-open",
        "def hold():\n    with decimal.localcontext(prec=2):\n        yield 1\nit = hold()\nnext(it)\nKEEP.append(it)\n"
        "return str(decimal.Decimal(1) / decimal.Decimal(7))",
        prelude="import decimal\nKEEP = []",
        group="tamper-decimal",
    ),
    probe(
        "modules",
        "random-seed-for-everyone",
        "random.seed(42)\nreturn 'seeded'",
        prelude="import random",
        group="tamper-random",
        verify=lambda c, out: victim_random_unpredictable(c),
    ),
]


def victim_random_unpredictable(corpus: Corpus) -> None:
    """Another extension in the worker draws a number; the attacker must not have chosen it."""
    victim = "import random\n\ndef execute(user_input, context, **kwargs):\n    return repr(random.random())\n"
    corpus.sandbox.load("random_victim", "v1", victim, group="tamper-random")
    try:
        drawn = corpus.sandbox.call("random_victim", "v1", "", CONTEXT, {})
    finally:
        corpus.sandbox.unload("random_victim")
    assert drawn != repr(random.Random(42).random()), "another extension's random numbers were seeded by the attacker"


def bomb(id: str, body: str, prelude: str = "", seconds: float = LIMITS.wall_seconds + 3, **options: Any) -> Probe:
    return probe("bombs", id, body, prelude=prelude, group="bombs", max_seconds=seconds, **options)


def short_output(limit: int) -> Callable[[Corpus, str], None]:
    def verify(corpus: Corpus, out: str) -> None:
        assert len(out) <= limit, f"the output was not truncated: {len(out)} characters"

    return verify


BOMBS = [
    bomb("cpu-loop", "while True:\n    pass"),
    bomb(
        "cpu-loop-swallowing-the-signal",
        "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
    ),
    bomb("memory-string", "return 'ESCAPED ' + str(len('x' * (10 ** 10)))"),
    bomb("memory-list", "return 'ESCAPED ' + str(len([0] * (10 ** 9)))"),
    bomb("memory-growth", "a = []\nwhile True:\n    a.append('x' * (10 ** 6))"),
    bomb("bytes-allocation", "return 'ESCAPED ' + str(len(bytes(10 ** 9)))"),
    bomb("recursion", "def f(n):\n    return f(n + 1)\nreturn 'ESCAPED ' + str(f(0))"),
    bomb(
        "deep-repr", "a = []\ni = 0\nwhile i < 200000:\n    a = [a]\n    i += 1\nreturn 'ESCAPED ' + str(len(repr(a)))"
    ),
    bomb(
        "c-stack-tuple-hash",
        "t = ()\ni = 0\nwhile i < 300000:\n    t = (t,)\n    i += 1\nreturn 'ESCAPED ' + str(hash(t))",
    ),
    bomb("output-flood", "return 'y' * (10 ** 7)", verify=short_output(LIMITS.max_output_chars)),
    bomb("error-flood", "raise ValueError('y' * (10 ** 7))", verify=short_output(1000)),
    bomb("int-string-bomb", "return 'ESCAPED ' + str(len(str(10 ** 100000)))"),
    bomb("redos", "return 'ESCAPED ' + repr(re.match(r'(a+)+$', 'a' * 40 + 'b'))", prelude="import re"),
    bomb("capability-flood", "while True:\n    sena.setting('k')", prelude="import sena"),
    bomb(
        "capability-message-too-big",
        "return 'ESCAPED ' + repr(sena.setting('x' * (5 * 10 ** 6)))",
        prelude="import sena",
    ),
    bomb(
        "capability-args-nested-deeply",
        "n = 999\nwhile n > 850:\n    a = []\n    i = 0\n    while i < n:\n        a = [a]\n        i += 1\n"
        "    try:\n        sena.setting('k', a)\n        return 'sent ' + str(n)\n"
        "    except Exception:\n        n -= 2\nreturn 'none sent'",
        prelude="import sena",
    ),
]


def workspace_files_named(*names: str) -> Callable[[Corpus, str], None]:
    def verify(corpus: Corpus, out: str) -> None:
        for name in names:
            assert name not in out, f"{name!r} (outside the workspace) appeared in: {out[:500]}"

    return verify


def nothing_new_in_data(corpus: Corpus, out: str) -> None:
    assert sorted(p.name for p in corpus.world.data.iterdir()) == ["secret.txt"], "a file appeared in the data folder"


def stub_stayed_under_search(corpus: Corpus, out: str) -> None:
    for path in SearchStub.paths:
        plain = posixpath.normpath(unquote(path.split("?")[0]))
        assert plain == "/search" or plain.startswith("/search/"), f"the backend was asked for {path!r}"


def url(template: str) -> Callable[[Corpus], str]:
    return lambda c: template.format(port=c.stub_port, evil=c.world.listener.port, base=c.base)


def web(id: str, template: str, **options: Any) -> Probe:
    return probe(
        "capabilities",
        f"http-{id}",
        "return 'ESCAPED ' + str(sena.http_get(user_input))",
        prelude="import sena",
        name="web_" + id.replace("-", "_"),
        user_input=url(template),
        group="caps",
        verify=stub_stayed_under_search,
        **options,
    )


def pending_of(out: str) -> str:
    return str(json.loads(out)["pending"])


def delete_then_user_approves(swap: Callable[[Path], None] | None, victim: str) -> Callable[[Corpus, str], None]:
    """The user approves the delete the extension asked for; only what the question named may go."""

    def verify(corpus: Corpus, out: str) -> None:
        ws = corpus.world.workspace
        if swap is not None:
            swap(ws)
        with contextlib.suppress(PermissionError, FileNotFoundError, OSError):
            corpus.confirmations.approve(pending_of(out))
        target = ws / victim if not victim.startswith("/") else Path(victim)
        assert target.exists(), f"approving the delete the user was shown removed {target}"

    return verify


def swap_to_link(name: str, target: Callable[[Path], Path]) -> Callable[[Path], None]:
    def swap(ws: Path) -> None:
        (ws / name).unlink()
        (ws / name).symlink_to(target(ws))

    return swap


def swap_dir_to_link(name: str, target: Callable[[Path], Path]) -> Callable[[Path], None]:
    def swap(ws: Path) -> None:
        for child in (ws / name).iterdir():
            child.unlink()
        (ws / name).rmdir()
        (ws / name).symlink_to(target(ws), target_is_directory=True)

    return swap


def prepare_delete(corpus: Corpus) -> None:
    """Fresh files for a delete probe (a previous probe may have swapped some for symlinks)."""
    ws = corpus.world.workspace
    for name in ("keep.txt", "keep2.txt", "doomed.txt", "asked.txt", "asked2.txt", "alias", "sub"):
        path = ws / name
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            for child in path.iterdir():
                child.unlink()
            path.rmdir()
    (ws / "keep.txt").write_text("precious, never asked about")
    (ws / "keep2.txt").write_text("precious too")
    (ws / "doomed.txt").write_text("the extension wants this gone")
    (ws / "asked.txt").write_text("the user is asked about this one")
    (ws / "asked2.txt").write_text("and this one")
    (ws / "sub").mkdir()
    (ws / "sub" / "secret.txt").write_text("inside")
    (ws / "alias").symlink_to("keep.txt")


def swap_when_resolved(corpus: Corpus, swap: Callable[[Path], None]) -> Callable[[], None]:
    """Make the host's path check race a swap: the swap lands right after `resolve` returns."""
    capabilities = corpus.capabilities.files  # the workspace's own check (extensions/workspace.py)
    real = capabilities.resolve
    done: list[bool] = []

    def resolve_then_swap(relative: str) -> Path:
        path = real(relative)
        if not done:
            done.append(True)
            swap(corpus.world.workspace)
        return path

    capabilities.resolve = resolve_then_swap  # type: ignore[method-assign]
    return lambda: setattr(capabilities, "resolve", real)


def write_race(corpus: Corpus) -> Callable[[], None]:
    ws, markers = corpus.world.workspace, corpus.world.markers
    undo = swap_when_resolved(corpus, lambda w: (w / "deep").symlink_to(markers, target_is_directory=True))

    def cleanup() -> None:
        undo()
        with contextlib.suppress(FileNotFoundError):
            (ws / "deep").unlink()
        for leftover in markers.iterdir():
            leftover.rmdir() if leftover.is_dir() else leftover.unlink()

    return cleanup


def approve_while_swapping(corpus: Corpus, out: str) -> None:
    """The user approves; between the host's re-check and the unlink the folder becomes a link out."""
    undo = swap_when_resolved(corpus, swap_dir_to_link("sub", lambda ws: ws.parent / "data"))
    try:
        with contextlib.suppress(PermissionError, FileNotFoundError, OSError):
            corpus.confirmations.approve(pending_of(out))
    finally:
        undo()
    assert corpus.world.secret_file.exists(), "the approved delete removed a file outside the workspace"


def no_self_approval(corpus: Corpus, out: str) -> None:
    assert (corpus.world.workspace / "doomed.txt").exists(), "the extension's own confirmation deleted the file"
    for pending in corpus.confirmations.pending():
        corpus.confirmations.deny(pending.id)


def victim_key_hidden(corpus: Corpus, out: str) -> None:
    assert VICTIM_KEY not in out, "another extension's setting leaked"
    assert "workspace notes" not in out, "a workspace file was read without the grant"


def only_dispatched_names(corpus: Corpus, out: str) -> None:
    names = {extension for extension, _, _ in corpus.calls if not extension.startswith("canary_")}
    assert names <= {"thief_forges_its_name"}, f"capabilities were answered for {names}"


CAPABILITIES = [
    probe(
        "capabilities",
        "path-traversal",
        "return 'ESCAPED ' + sena.read_file('../data/secret.txt')",
        prelude="import sena",
        name="ws_traversal",
        group="caps",
    ),
    probe(
        "capabilities",
        "absolute-path",
        "return 'ESCAPED ' + sena.read_file(user_input)",
        prelude="import sena",
        name="ws_absolute",
        group="caps",
        user_input=lambda c: str(c.world.secret_file),
    ),
    probe(
        "capabilities",
        "symlink-to-outside-file",
        "return 'ESCAPED ' + sena.read_file('link_out')",
        prelude="import sena",
        name="ws_symlink_file",
        group="caps",
    ),
    probe(
        "capabilities",
        "symlink-to-outside-folder",
        "return 'ESCAPED ' + sena.read_file('dir_out/secret.txt')",
        prelude="import sena",
        name="ws_symlink_dir",
        group="caps",
    ),
    probe(
        "capabilities",
        "list-outside",
        "out = []\nfor p in ['..', 'dir_out', '../data', '/']:\n    try:\n        out.append(repr(sena.list_dir(p)))\n"
        "    except Exception as e:\n        out.append(str(e))\nreturn ' | '.join(out)",
        prelude="import sena",
        name="ws_list_outside",
        group="caps",
        verify=workspace_files_named("secret.txt", "markers", "etc"),
    ),
    probe(
        "capabilities",
        "write-traversal",
        "return 'ESCAPED ' + repr(sena.write_file('../markers/x.txt', 'x'))",
        prelude="import sena",
        name="ws_write_traversal",
        group="caps",
    ),
    probe(
        "capabilities",
        "write-through-symlink",
        "return 'ESCAPED ' + repr(sena.write_file('link_out', 'pwned'))",
        prelude="import sena",
        name="ws_write_symlink",
        group="caps",
    ),
    probe(
        "capabilities",
        "write-through-dangling-symlink",
        "return 'ESCAPED ' + repr(sena.write_file('dangling_out', 'x'))",
        prelude="import sena",
        name="ws_write_dangling",
        group="caps",
    ),
    probe(
        "capabilities",
        "write-through-folder-symlink",
        "return 'ESCAPED ' + repr(sena.write_file('dir_out/planted.txt', 'x'))",
        prelude="import sena",
        name="ws_write_dir_link",
        group="caps",
        verify=nothing_new_in_data,
    ),
    probe(
        "capabilities",
        "mkdir-outside-by-write",
        "return 'ESCAPED ' + repr(sena.write_file('sub/../../markers/made/x.txt', 'x'))",
        prelude="import sena",
        name="ws_mkdir_outside",
        group="caps",
    ),
    probe(
        "capabilities",
        "no-grant-read",
        "return 'ESCAPED ' + sena.read_file('notes.txt')",
        prelude="import sena",
        name="thief_no_grant",
        group="caps",
        verify=victim_key_hidden,
    ),
    probe(
        "capabilities",
        "forge-extension-kwarg",
        "out = []\nfor attempt in [lambda: sena.read_file(extension='ws_traversal', relative='notes.txt'),\n"
        "                lambda: sena.setting(key='api_key', extension='ws_victim'),\n"
        "                lambda: sena.setting('api_key', None, 'ws_victim')]:\n"
        "    try:\n        out.append(repr(attempt()))\n    except Exception as e:\n        out.append(str(e))\n"
        "return ' | '.join(out)",
        prelude="import sena",
        name="thief_forges_kwargs",
        group="caps",
        verify=victim_key_hidden,
    ),
    probe(
        "capabilities",
        "own-settings-only",
        "return repr(sena.setting('api_key'))",
        prelude="import sena",
        name="thief_settings",
        group="caps",
        verify=victim_key_hidden,
    ),
    probe(
        "capabilities",
        "system-without-grant",
        "return 'ESCAPED ' + repr(sena.system_info())",
        prelude="import sena",
        name="thief_system",
        group="caps",
    ),
    probe(
        "capabilities",
        "launch-not-allow-listed",
        "out = []\nfor app in ['noop; touch ' + user_input, '../../bin/sh', ['noop'], 'true', '/usr/bin/touch']:\n"
        "    try:\n        out.append(repr(sena.launch_app(app)))\n    except Exception as e:\n"
        "        out.append(str(e))\nreturn ' | '.join(out)",
        prelude="import sena",
        name="app_launch_tricks",
        group="caps",
        user_input=lambda c: str(c.world.markers / "launched"),
    ),
    probe(
        "capabilities",
        "launch-extra-argv",
        "return repr(sena.launch_app('noop', argv=['touch', user_input]))",
        prelude="import sena",
        name="app_launch_argv",
        group="caps",
        user_input=lambda c: str(c.world.markers / "launched"),
    ),
    probe(
        "capabilities",
        "delete-outside",
        "return 'ESCAPED ' + repr(sena.delete_file('../data/secret.txt'))",
        prelude="import sena",
        name="ws_delete_outside",
        group="caps",
    ),
    probe(
        "capabilities",
        "approve-own-delete",
        "asked = sena.delete_file('doomed.txt', confirm=True)\nout = [repr(asked)]\n"
        "for attempt in [lambda: sena.delete_file('doomed.txt', confirm=asked['pending']),\n"
        "                lambda: sena.approve(asked['pending']), lambda: sena.confirm(asked['pending']),\n"
        "                lambda: sena.delete_file(asked['confirm'], True)]:\n"
        "    try:\n        out.append(repr(attempt()))\n    except Exception as e:\n        out.append(str(e))\n"
        "return ' | '.join(out)",
        prelude="import sena",
        name="ws_self_approve",
        group="caps",
        verify=no_self_approval,
    ),
    probe(
        "capabilities",
        "delete-through-alias-symlink",
        "return json.dumps(sena.delete_file('alias'))",
        prelude="import sena, json",
        name="ws_delete_alias",
        group="caps",
        verify=delete_then_user_approves(None, "keep.txt"),
    ),
    probe(
        "capabilities",
        "delete-swapped-to-inside-link-before-approval",
        "return json.dumps(sena.delete_file('asked.txt'))",
        prelude="import sena, json",
        name="ws_delete_swap_in",
        group="caps",
        verify=delete_then_user_approves(swap_to_link("asked.txt", lambda ws: ws / "keep2.txt"), "keep2.txt"),
    ),
    probe(
        "capabilities",
        "delete-swapped-to-outside-link-before-approval",
        "return json.dumps(sena.delete_file('asked2.txt'))",
        prelude="import sena, json",
        name="ws_delete_swap_out",
        group="caps",
        verify=delete_then_user_approves(
            swap_to_link("asked2.txt", lambda ws: ws.parent / "data" / "secret.txt"), "../data/secret.txt"
        ),
    ),
    probe(
        "capabilities",
        "delete-folder-swapped-to-outside-before-approval",
        "return json.dumps(sena.delete_file('sub/secret.txt'))",
        prelude="import sena, json",
        name="ws_delete_swap_dir",
        group="caps",
        verify=delete_then_user_approves(swap_dir_to_link("sub", lambda ws: ws.parent / "data"), "../data/secret.txt"),
    ),
    probe(
        "capabilities",
        "delete-folder-swapped-during-the-approved-delete",
        "return json.dumps(sena.delete_file('sub/secret.txt'))",
        prelude="import sena, json",
        name="ws_delete_swap_late",
        group="caps",
        verify=approve_while_swapping,
    ),
    probe(
        "capabilities",
        "write-folder-swapped-after-the-path-check",
        "return 'ESCAPED ' + repr(sena.write_file('deep/new/x.txt', 'x'))",
        prelude="import sena",
        name="ws_write_race",
        group="caps",
        setup=write_race,
    ),
    probe(
        "capabilities",
        "reply-amplified-past-the-channel-limit",
        "return 'ESCAPED ' + sena.read_file('\"' + \"'\" * 1400000)",  # the host's error repr()s the path: x3
        prelude="import sena",
        name="ws_amplify",
        group="caps",
    ),
    probe(
        "capabilities",
        "http-without-grant",
        "return 'ESCAPED ' + str(sena.http_get(user_input))",
        prelude="import sena",
        name="thief_http",
        group="caps",
        user_input=url("{base}"),
    ),
    web("other-port", "http://127.0.0.1:{evil}/search"),
    web("userinfo-host-swap", "http://127.0.0.1:{port}@127.0.0.1:{evil}/search"),
    web("at-in-path", "http://127.0.0.1:{evil}/search@127.0.0.1:{port}"),
    web("path-suffix", "http://127.0.0.1:{port}/searchx/../admin"),
    web("dot-dot", "http://127.0.0.1:{port}/search/../admin"),
    web("encoded-dot-dot", "http://127.0.0.1:{port}/search/%2e%2E/admin"),
    web("double-encoded-dot-dot", "http://127.0.0.1:{port}/search/%252e%252e/admin"),
    web("encoded-slash-dot-dot", "http://127.0.0.1:{port}/search%2f..%2fadmin"),
    web("backslash", "http://127.0.0.1:{port}/search\\..\\admin"),
    web("fragment-host", "http://127.0.0.1:{evil}#@127.0.0.1:{port}/search"),
    web("ipv6-loopback", "http://[::1]:{port}/search"),
    web("localhost-name", "http://localhost:{evil}/search"),
    web("trailing-dot-host", "http://127.0.0.1.:{evil}/search"),
    web("decimal-ip", "http://2130706433:{evil}/search"),
    web("https-downgrade", "https://127.0.0.1:{evil}/search"),
    web("file-scheme", "file:///{port}/../etc/passwd"),
    web("crlf-injection", "http://127.0.0.1:{port}/search\r\nHost: 127.0.0.1:{evil}\r\n\r\n"),
    web("redirect-to-evil", "{base}/redirect"),
    web(
        "response-size-cap",
        "{base}/big",
    ),
]

ENVIRONMENT = [
    probe(
        "environment",
        "context-is-read-only",
        "m = context.keys().mapping\ntry:\n    m['user_id'] = 'x'\nexcept Exception as e:\n    pass\n"
        "return repr(dict(context)) + repr(context.copy())",
    ),
    probe(
        "environment",
        "settings-by-env-name",
        "return repr([sena.setting(k) for k in ['SENA_API__AUTH_TOKEN', 'auth_token', 'api', 'database', 'env']])",
        prelude="import sena",
        name="thief_env_settings",
    ),
    probe("environment", "system-info", "return repr(sena.system_info())", prelude="import sena", name="sys_env"),
    probe(
        "environment",
        "proc-environ-via-capability",
        "out = []\nfor p in ['/proc/self/environ', '../../../../../../proc/self/environ', user_input,\n"
        "          '../../../../../../proc/' + user_input.split('/')[2] + '/environ']:\n"
        "    try:\n        out.append(sena.read_file(p))\n    except Exception as e:\n        out.append(str(e))\n"
        "return ' | '.join(out)",
        prelude="import sena",
        name="ws_proc_environ",
        user_input=lambda c: f"/proc/{os.getpid()}/environ",
    ),
    probe(
        "environment",
        "host-error-messages",
        "out = []\nfor attempt in [lambda: sena.read_file('missing/none.txt'), lambda: sena.http_get('http://x'),\n"
        "                lambda: sena.setting([1]), lambda: sena.launch_app({})]:\n"
        "    try:\n        out.append(repr(attempt()))\n    except Exception as e:\n        out.append(str(e))\n"
        "return ' | '.join(out)",
        prelude="import sena",
        name="ws_error_texts",
    ),
    probe(
        "environment",
        "time-zone-and-locale",
        "return repr([datetime.datetime.now().astimezone().tzname(), str(datetime.datetime(2026, 1, 1)),\n"
        "             calendar.month_name[1], unicodedata.name('a')])",
        prelude="import datetime, calendar, unicodedata",
    ),
]

PROBES = IMPORTS + FRAMES + MODULES + BOMBS + CAPABILITIES + ENVIRONMENT


KILLED = ("and was stopped", "crashed the extension worker")


def no_escape_sign(out: str) -> None:
    assert ESCAPED not in out, f"the probe got what it wanted: {out[:300]}"


def within(seconds: float, limit: float) -> None:
    assert seconds < limit, f"the bomb ran {seconds:.1f} s"


def clean(unclean: str | None) -> None:
    assert unclean is None, f"not a clean failure: the host raised {unclean}"


def survived(pid: int | None, out: str) -> None:
    assert pid is not None and worker_alive(pid), f"the worker died after a clean refusal: {out[:200]}"


def canary_unchanged(corpus: Corpus, group: str) -> None:
    try:
        after = corpus.canary(group)
    except Exception as exc:
        raise AssertionError(f"the next extension in the same worker failed: {describe(exc)}") from exc
    assert after == corpus.baseline, f"another extension in the same worker now sees: {after}"


def worker_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def run(corpus: Corpus, p: Probe) -> tuple[str, str | None, float]:
    """Load and call the probe; return (output or refusal, an unclean failure if any, seconds)."""
    user_input = p.user_input(corpus) if callable(p.user_input) else p.user_input
    started = time.monotonic()
    unclean = None
    try:
        corpus.sandbox.load(p.extension, "v1", p.source(), group=p.group)
        out = corpus.sandbox.call(p.extension, "v1", user_input, CONTEXT, dict(p.kwargs))
    except ExtensionFailed as exc:
        out = f"refused: {exc}"
    except Exception as exc:  # anything but ExtensionFailed is not a clean failure
        out, unclean = describe(exc), describe(exc)
    return out, unclean, time.monotonic() - started


@pytest.mark.parametrize("p", PROBES, ids=[f"{p.klass}:{p.id}" for p in PROBES])
def test_probe(corpus: Corpus, p: Probe) -> None:
    if p.klass == "capabilities" and "delete" in p.id:
        prepare_delete(corpus)
    corpus.canary(p.group)
    corpus.calls.clear()
    pid = corpus.sandbox.worker(f"canary_{p.group.replace('-', '_')}").pid
    undo = p.setup(corpus) if p.setup is not None else None
    out, unclean, seconds = run(corpus, p)
    print(f"[{p.klass}:{p.id}] {seconds:.2f}s {out[:400]!r}")  # shown with -s or on failure
    try:
        findings = Findings()
        findings.check(lambda: corpus.world.check(out, sandbox=corpus.sandbox))
        findings.check(no_escape_sign, out)
        if p.verify is not None:
            findings.check(p.verify, corpus, out)
        if p.max_seconds:
            findings.check(within, seconds, p.max_seconds)
        findings.check(clean, unclean)
        if not any(kill in out for kill in KILLED):  # only a timeout or a crash may cost the worker its life
            time.sleep(0.2 if p.klass == "bombs" else 0)
            findings.check(survived, pid, out)
        findings.check(canary_unchanged, corpus, p.group)
        findings.assert_none()
    finally:
        if undo is not None:
            undo()
        with contextlib.suppress(Exception):
            corpus.sandbox.unload(p.extension)


def test_capabilities_are_answered_only_for_the_dispatched_extension(corpus: Corpus) -> None:
    """A raw worker (Python layer assumed broken) speaks the protocol itself, claiming other names."""
    corpus.calls.clear()
    code = dedent(
        """
        import gc
        channel = next(o for o in gc.get_objects() if type(o).__name__ == 'Channel')
        caller = next(f for f in gc.get_objects() if type(f).__name__ == 'function' and f.__name__ == 'call'
                      and 'current' in f.__code__.co_freevars)
        rid = caller.__closure__[caller.__code__.co_freevars.index('current')].cell_contents['rid']
        answers = []
        for message in [['cap', rid, 'read_file', ['notes.txt'], {}],
                        ['cap', rid, 'read_file', ['notes.txt'], {'extension': 'ws_victim'}],
                        ['cap', rid, 'setting', ['api_key'], {}],
                        ['cap', rid, 'approve', ['x'], {}]]:
            channel.send(message)
            answers.append(channel.recv())
        result = repr(answers)
        """
    )
    out = corpus.sandbox.raw("thief_forges_its_name", code)
    corpus.world.check(out, sandbox=corpus.sandbox)
    only_dispatched_names(corpus, out)
    victim_key_hidden(corpus, out)


@pytest.mark.parametrize(
    "message",
    [
        "['cap', rid, 'read_file', ['notes.txt'], {}, 'ws_victim']",  # a name where none belongs
        "['cap', 'ws_victim', 'read_file', ['notes.txt'], {}]",  # the old shape: a name for the id
        "['ok', rid, 'queued for the next extension']",  # a reply, then keep talking
    ],
    ids=["extra-name", "name-for-id", "queued-reply"],
)
def test_a_worker_that_breaks_the_protocol_is_stopped_and_answered_for_nobody(corpus: Corpus, message: str) -> None:
    corpus.calls.clear()
    code = dedent(
        f"""
        import gc
        channel = next(o for o in gc.get_objects() if type(o).__name__ == 'Channel')
        caller = next(f for f in gc.get_objects() if type(f).__name__ == 'function' and f.__name__ == 'call'
                      and 'current' in f.__code__.co_freevars)
        rid = caller.__closure__[caller.__code__.co_freevars.index('current')].cell_contents['rid']
        channel.send({message})
        result = 'still talking'
        """
    )
    respawns = corpus.sandbox.respawns
    if "queued" in message:
        # The forged reply may be read before the real one is written: then it is this call's own
        # answer (an extension can return any text for itself), and what follows it is caught
        # before the next request. Either way, it is answered for nobody else.
        try:
            assert corpus.sandbox.raw("thief_breaks_protocol", code) == "queued for the next extension"
        except ExtensionFailed as exc:
            assert "the extension worker has been restarted" in str(exc)
    else:
        with pytest.raises(ExtensionFailed, match="the extension worker has been restarted"):
            corpus.sandbox.raw("thief_breaks_protocol", code)
    assert corpus.calls == [], "a capability was answered for a worker that broke the protocol"
    assert corpus.sandbox.raw("thief_breaks_protocol", "result = 'fresh'") == "fresh"  # a new worker serves next
    assert corpus.sandbox.respawns == respawns + 1


def test_a_message_written_after_the_answer_is_caught_before_the_next_request(corpus: Corpus) -> None:
    """protocol: a worker that keeps writing after its answer (slowly, so the answer's own check
    cannot see it) is replaced before the next request reads anything from it."""
    code = dedent(
        """
        import gc, signal
        channel = next(o for o in gc.get_objects() if type(o).__name__ == 'Channel')
        caller = next(f for f in gc.get_objects() if type(f).__name__ == 'function' and f.__name__ == 'call'
                      and 'current' in f.__code__.co_freevars)
        rid = caller.__closure__[caller.__code__.co_freevars.index('current')].cell_contents['rid']
        signal.signal(signal.SIGALRM, lambda *_: channel.send(['ok', rid, 'for whoever asks next']))
        signal.setitimer(signal.ITIMER_REAL, 0.3)  # fires while the worker waits for its next request
        result = 'mine'
        """
    )
    respawns = corpus.sandbox.respawns
    assert corpus.sandbox.raw("thief_writes_late", code) == "mine"
    time.sleep(0.6)
    assert corpus.sandbox.raw("thief_writes_late", "result = 'fresh'") == "fresh"
    assert corpus.sandbox.respawns == respawns + 1


def test_a_fifo_in_the_workspace_cannot_stall_the_host(corpus: Corpus) -> None:
    """capabilities: reading a named pipe someone left in the workspace must end within the wall clock."""
    fifo = corpus.world.workspace / "pipe"
    os.mkfifo(fifo)
    source = "import sena\n\ndef execute(user_input, context, **kwargs):\n    return sena.read_file('pipe')\n"
    outcome: list[str] = []

    def call() -> None:
        try:
            outcome.append(corpus.sandbox.call("ws_fifo", "v1", "", CONTEXT, {}))
        except Exception as exc:
            outcome.append(describe(exc))

    corpus.sandbox.load("ws_fifo", "v1", source, group="fifo")
    thread = threading.Thread(target=call, daemon=True)
    started = time.monotonic()
    thread.start()
    thread.join(LIMITS.wall_seconds + 2)
    stalled = thread.is_alive()
    if stalled:  # let the host go: open the other end
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(5)
    try:
        corpus.world.check(*outcome, sandbox=corpus.sandbox)
        assert not stalled, f"the host was stuck in the capability call for {time.monotonic() - started:.1f} s"
    finally:
        fifo.unlink()
        corpus.sandbox.unload("ws_fifo")


# ---------------------------------------------------------------------------------------------
# hot reload: the file changes while it is validated and loaded; the evil version never runs


def extension_file(body: str, top_level: str = "", version: str = "1") -> str:
    return (
        f'"""racer"""\n\nimport sena\n\nVERSION = {version!r}\n'
        "METADATA = {'name': 'racer', 'description': 'a racing extension', 'author': 'tests', "
        "'parameters': {}, 'requires': [], 'permissions': ['workspace']}\n"
        f"{top_level}\n\ndef execute(user_input, context, **kwargs):\n    {body}\n"
    )


GOOD = [extension_file("return 'good-1'", version="1"), extension_file("return 'good-2'", version="2")]
EVIL = extension_file(
    "return 'EVIL ' + sena.read_file('evil-ran.txt')",
    top_level="sena.write_file('evil-ran.txt', 'the unvalidated version ran')",  # refused by the validator
    version="666",
)


@pytest.fixture
def reload_host(world: World, tmp_path: Path) -> Iterator[SandboxHost]:
    root = world.root / f"host-{tmp_path.name}"
    settings = load_settings(
        app={"data_dir": root / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={
            "user_dir": root / "user",
            "workspace": root / "ws",
            "core": [],
            "grants": {"racer": ["workspace"]},
            "limits": {"cpu_seconds": 1, "wall_seconds": 3},
            "max_consecutive_failures": 1000,
        },
    )
    settings.extensions.user_dir.mkdir(parents=True)
    (settings.extensions.user_dir / "racer.py").write_text(GOOD[0])
    host = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
    host.load_all()
    yield host
    host.close()


def racer_outputs(host: SandboxHost, times: int = 1) -> list[str]:
    outs = []
    for _ in range(times):
        try:
            outs.append(asyncio.run(host.run("racer", "", CONTEXT)))
        except (ExtensionFailed, KeyError) as exc:
            outs.append(f"refused: {exc}")
    return outs


def assert_evil_never_ran(host: SandboxHost, world: World, outs: list[str]) -> None:
    marker = host.settings.workspace_dir / "evil-ran.txt"
    world.check(*outs, sandbox=host.sandbox)
    assert not marker.exists(), "the unvalidated version of the file ran (it wrote its marker)"
    assert not [o for o in outs if o.startswith("EVIL")], f"the evil execute ran: {outs}"
    final = racer_outputs(host)
    assert final[0] in ("good-1", "good-2"), f"after the race the extension answers {final}"


def flip_the_file(path: Path, stop: threading.Event, atomic: bool) -> None:
    versions = [GOOD[0], EVIL, GOOD[1], EVIL]
    i = 0
    while not stop.is_set():
        text = versions[i % len(versions)]
        if atomic:
            aside = path.with_name(f".racer-{i}.tmp")
            aside.write_text(text)
            os.replace(aside, path)
        else:
            path.write_text(text)
        i += 1
        time.sleep(0.001)
    path.write_text(GOOD[1])


def reload_under_a_flipping_file(host: SandboxHost, world: World, atomic: bool, reloaders: int) -> None:
    path = host.config.user_dir / "racer.py"
    stop = threading.Event()
    outs: list[str] = []
    writer = threading.Thread(target=flip_the_file, args=(path, stop, atomic), daemon=True)

    def reload_loop() -> None:
        while not stop.is_set():
            try:
                outs.append(host.reload_file(path))
            except Exception as exc:  # a torn read is fine; anything else is reported
                outs.append(describe(exc))

    threads = [threading.Thread(target=reload_loop, daemon=True) for _ in range(reloaders)]
    writer.start()
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        outs.extend(racer_outputs(host))
    stop.set()
    writer.join(5)
    for thread in threads:
        thread.join(10)
    outs.append(host.reload_file(path))
    outs.extend(racer_outputs(host, 3))
    print(f"[reload:flip] {len(outs)} outcomes, {sum('did not load' in o for o in outs)} refused reloads")
    assert any("did not load" in o for o in outs), "the race never showed the host an evil version"
    assert_evil_never_ran(host, world, outs)


def reload_swapped_right_after_reading(host: SandboxHost, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    path = host.config.user_dir / "racer.py"
    real_read_text = pathlib.Path.read_text

    def read_then_swap(self: Path, *args: Any, **kwargs: Any) -> str:
        text = real_read_text(self, *args, **kwargs)
        if self.name == "racer.py":
            self.write_bytes(EVIL.encode())  # swapped between reading and loading
        return text

    path.write_text(GOOD[1])
    monkeypatch.setattr(pathlib.Path, "read_text", read_then_swap)
    outs = [host.reload_file(path)]
    outs += racer_outputs(host, 2)
    outs.append(host.reload_file(path))  # now the file on disk is the evil one
    outs.append(host.reload("racer"))
    outs += racer_outputs(host, 2)
    monkeypatch.setattr(pathlib.Path, "read_text", real_read_text)
    assert_evil_never_ran(host, world, outs)


RACES = {
    "flip-in-place-one-reloader": lambda h, w, m: reload_under_a_flipping_file(h, w, atomic=False, reloaders=1),
    "flip-by-rename-two-reloaders": lambda h, w, m: reload_under_a_flipping_file(h, w, atomic=True, reloaders=2),
    "swap-right-after-reading": reload_swapped_right_after_reading,
}


@pytest.mark.parametrize("race", list(RACES), ids=[f"reload:{r}" for r in RACES])
def test_reload_race(reload_host: SandboxHost, world: World, monkeypatch: pytest.MonkeyPatch, race: str) -> None:
    RACES[race](reload_host, world, monkeypatch)


def test_nested_capability_arguments_through_the_real_host(world: World, tmp_path: Path) -> None:
    """bombs: the production path (host.run in a thread) must also end in a clean failure."""
    root = world.root / "host-nested"
    settings = load_settings(
        app={"data_dir": root / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={"user_dir": root / "user", "core": [], "limits": {"cpu_seconds": 1, "wall_seconds": 3}},
    )
    settings.extensions.user_dir.mkdir(parents=True)
    nested = next(p for p in BOMBS if p.id == "capability-args-nested-deeply")
    source = (
        '"""nest"""\n\nimport sena\n\nVERSION = "1"\n'
        "METADATA = {'name': 'nest', 'description': 'nests', 'author': 'tests'}\n\n" + nested.source()
    )
    (settings.extensions.user_dir / "nest.py").write_text(source)
    host = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
    try:
        assert host.load_all().loaded == ["nest"]
        outs = []
        for _ in range(2):
            try:
                outs.append(asyncio.run(host.run("nest", "", CONTEXT)))
            except ExtensionFailed as exc:
                outs.append(f"refused: {exc}")
            except Exception as exc:
                pytest.fail(f"not a clean failure: host.run raised {describe(exc)}")
        print("[bombs:nested-through-host]", outs)
        world.check(*outs, sandbox=host.sandbox)
    finally:
        host.close()
