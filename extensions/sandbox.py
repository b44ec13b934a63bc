"""Run extension code in a separate, resource-limited worker process under RestrictedPython.

One persistent worker (a fresh interpreter, `python -m extensions.sandbox`; never a `fork` of
the threaded host) serves calls one at a time over a socket pair. Inside it:

- limits: CPU seconds per call (SIGXCPU), address space, open files, no file writes, no child
  processes; when started as root it drops to `nobody` first so those limits bind;
- RestrictedPython's compiled code with guarded attribute access that also refuses module
  objects (so `datetime.sys.modules["os"]` is out of reach), a guarded `__import__` that only
  admits the allow-list, and a read-only context;
- side effects only through the `sena` capability module, whose calls are sent back to the
  host and checked there against the extension's granted permissions.

A call that runs past its wall-clock timeout gets the worker killed and a fresh one started.
"""

from __future__ import annotations

import json
import logging
import math
import operator
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ops.errors import ExtensionError

log = logging.getLogger(__name__)

CapabilityHandler = Callable[[str, str, tuple[Any, ...], dict[str, Any]], Any]
"""(extension name, operation, args, kwargs) -> result; raises PermissionError when refused."""


class ExtensionFailed(ExtensionError, RuntimeError):
    """An extension call did not produce a result; the message says why, for the user.

    `failures` is how many times in a row the extension has now failed (set by the host).
    """

    default_hint = ""
    failures: int = 0


class ExtensionTimeout(ExtensionFailed):
    pass


class ExtensionInvalid(ExtensionFailed):
    """The extension's own `validate` refused the input."""


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 2.0
    wall_seconds: float = 5.0
    memory_mb: int = 512
    open_files: int = 32
    max_output_chars: int = 4000


class Channel:
    """JSON messages over a connection, both ways: neither side ever unpickles what the other sent."""

    def __init__(self, conn: Connection, max_bytes: int = 4 * 1024 * 1024) -> None:
        self.conn = conn
        self.max_bytes = max_bytes

    def send(self, message: Any) -> None:
        self.conn.send_bytes(json.dumps(message, default=str).encode())

    def recv(self) -> Any:
        return json.loads(self.conn.recv_bytes(self.max_bytes))

    def poll(self, timeout: float) -> bool:
        return self.conn.poll(timeout)

    def close(self) -> None:
        self.conn.close()


# --- inside the worker ---------------------------------------------------------------------


def _apply_limits(limits: Limits) -> dict[str, Any]:
    import resource

    applied: dict[str, Any] = {}
    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # no file grows: writes fail
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    if os.getuid() == 0:  # root ignores RLIMIT_NPROC and file permissions: become nobody
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            applied["user"] = "nobody"
        except OSError as exc:
            applied["user"] = f"root (could not drop: {exc})"
    else:
        applied["user"] = str(os.getuid())
    applied.update(memory_mb=limits.memory_mb, open_files=limits.open_files, nproc=0, fsize=0)
    return applied


def _freeze(value: Any) -> Any:
    from types import MappingProxyType

    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, set):
        return frozenset(_freeze(v) for v in value)
    return value


class _Capabilities:
    """The `sena` module as extensions see it: each call is answered by the host."""

    def __init__(self, call: Callable[[str, tuple[Any, ...], dict[str, Any]], Any]) -> None:
        def op(name: str) -> Callable[..., Any]:
            def invoke(*args: Any, **kwargs: Any) -> Any:
                return call(name, args, kwargs)

            return invoke

        self.system_info = op("system_info")
        self.list_dir = op("list_dir")
        self.read_file = op("read_file")
        self.write_file = op("write_file")
        self.delete_file = op("delete_file")
        self.http_get = op("http_get")
        self.launch_app = op("launch_app")
        self.setting = op("setting")


def _restricted_globals(name: str, allowed: frozenset[str], capabilities: _Capabilities) -> dict[str, Any]:
    import builtins
    from types import ModuleType

    from RestrictedPython import limited_builtins, safe_builtins
    from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
    from RestrictedPython.Guards import (
        full_write_guard,
        guarded_iter_unpack_sequence,
        guarded_unpack_sequence,
        safer_getattr_raise,
    )

    def guarded_getattr(obj: Any, attr: str, *default: Any) -> Any:
        """RestrictedPython's getattr guard, which also never hands out a module object."""
        value = safer_getattr_raise(obj, attr, *default)
        if isinstance(value, ModuleType):
            raise AttributeError(f"{attr!r} is a module; extensions may only use the modules they import")
        return value

    def guarded_import(
        module: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if level:
            raise ImportError("relative imports are not allowed")
        if module == "sena":
            return capabilities
        if module not in allowed:
            raise ImportError(f"import of {module!r} is not allowed")
        imported = __import__(module, fromlist=fromlist or ())
        for item in fromlist or ():
            if item.startswith("_") or isinstance(getattr(imported, item, None), ModuleType):
                raise ImportError(f"cannot import {item!r} from {module!r}")
        return imported

    def inplace(op: str, left: Any, right: Any) -> Any:
        ops = {"+=": operator.iadd, "-=": operator.isub, "*=": operator.imul, "/=": operator.itruediv,
               "//=": operator.ifloordiv, "%=": operator.imod, "**=": operator.ipow, "|=": operator.ior,
               "&=": operator.iand}  # fmt: skip
        if op not in ops:
            raise SyntaxError(f"operator {op} is not allowed")
        return ops[op](left, right)

    extra = ("dict", "list", "set", "frozenset", "sorted", "min", "max", "sum", "enumerate", "zip", "map",
             "filter", "any", "all", "reversed", "iter", "next", "format", "bytes")  # fmt: skip
    allowed_builtins = {**safe_builtins, **limited_builtins, **{n: getattr(builtins, n) for n in extra}}
    allowed_builtins["__import__"] = guarded_import
    return {
        "__builtins__": allowed_builtins,
        "__name__": f"sena_extension_{name}",
        "__metaclass__": type,
        "_getattr_": guarded_getattr,
        "_getitem_": default_guarded_getitem,
        "_getiter_": default_guarded_getiter,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_write_": full_write_guard,
        "_inplacevar_": inplace,
        "_apply_": lambda f, *a, **k: f(*a, **k),
    }


class _CpuExceeded(BaseException):  # not an Exception, so `except Exception` cannot swallow it
    pass


def _on_xcpu(signum: int, frame: Any) -> None:
    raise _CpuExceeded


def _capability_caller(conn: Channel, name: str) -> _Capabilities:
    def call(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        conn.send(("cap", name, op, args, kwargs))
        status, value = conn.recv()
        if status == "ok":
            return value
        raise PermissionError(value) if status == "denied" else RuntimeError(value)

    return _Capabilities(call)


def _load(conn: Channel, name: str, source: str, allowed: frozenset[str], cpu_seconds: float) -> dict[str, Any]:
    """Compile under RestrictedPython and run the module body; return its namespace."""
    from RestrictedPython import compile_restricted_exec

    result = compile_restricted_exec(source, filename=f"<extension {name}>")
    if result.errors or result.code is None:
        raise SyntaxError("; ".join(result.errors))
    namespace = _restricted_globals(name, allowed, _capability_caller(conn, name))
    _with_cpu(cpu_seconds, partial(exec, result.code, namespace))
    return namespace


def _call(
    namespace: dict[str, Any], user_input: str, context: Mapping[str, Any], kwargs: dict[str, Any]
) -> tuple[str, str]:
    """Run `validate` (if any), then `execute`, on a read-only copy of the context."""
    check = namespace.get("validate")
    if check is not None:
        ok, why = check(user_input, **kwargs)
        if not ok:
            return "invalid", str(why)
    return "ok", str(namespace["execute"](user_input, _freeze(context), **kwargs))


def _worker(conn: Channel) -> None:
    """Serve load and call requests until the host closes the connection."""
    import signal

    init = conn.recv()
    limits, allowed = Limits(**init["limits"]), frozenset(init["allowed"])
    signal.signal(signal.SIGXCPU, _on_xcpu)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for module in sorted(allowed):  # import while the files are readable; nobody may not read them
        try:
            __import__(module)
        except ImportError:
            log.warning("allowed module %s is not installed", module)
    import RestrictedPython.Eval  # noqa: F401 - likewise, before the privileges go

    conn.send(("ready", _apply_limits(limits)))
    modules: dict[str, tuple[str, dict[str, Any]]] = {}
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        kind, name, digest = request[:3]
        try:
            if kind == "load":
                modules[name] = (digest, _load(conn, name, request[3], allowed, limits.cpu_seconds))
                conn.send(("ok", None))
            elif kind == "call":
                loaded = modules.get(name)
                if loaded is None or loaded[0] != digest:
                    conn.send(("error", "NotLoaded", f"{name} is not loaded in this worker"))
                    continue
                user_input, context, kwargs = request[3:6]
                status, text = _with_cpu(limits.cpu_seconds, partial(_call, loaded[1], user_input, context, kwargs))
                conn.send((status, text[: limits.max_output_chars]))
        except _CpuExceeded:
            conn.send(("error", "CpuTimeExceeded", f"used more than {limits.cpu_seconds:g} s of CPU time"))
        except MemoryError:
            conn.send(("error", "MemoryError", f"tried to use more than {limits.memory_mb} MB of memory"))
        except Exception as exc:  # the extension's own error, reported to the host
            conn.send(("error", type(exc).__name__, str(exc)[:500]))


def _with_cpu(seconds: float, fn: Callable[[], Any]) -> Any:
    """Run `fn` with a CPU-time budget of `seconds` beyond what the worker has used so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = usage.ru_utime + usage.ru_stime
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(used + seconds), hard))
    try:
        return fn()
    finally:
        resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, hard))


# --- in the host ---------------------------------------------------------------------------


class Sandbox:
    """The host's handle on the worker: load extension sources, call them, respawn on timeout."""

    def __init__(self, allowed_imports: frozenset[str], limits: Limits, capabilities: CapabilityHandler) -> None:
        self.allowed = allowed_imports
        self.limits = limits
        self.capabilities = capabilities
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Channel | None = None
        self._loaded: dict[str, tuple[str, str]] = {}  # name -> (digest, source), replayed on respawn
        self.worker_facts: dict[str, Any] = {}
        self.respawns = 0

    def _start(self) -> Channel:
        ours, theirs = socket.socketpair()
        process = subprocess.Popen(
            [sys.executable, "-m", "extensions.sandbox", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parent.parent,
        )
        theirs.close()
        parent = Channel(Connection(ours.detach()))
        parent.send({"limits": asdict(self.limits), "allowed": sorted(self.allowed)})
        if not parent.poll(30):
            process.kill()
            raise ExtensionFailed("the extension worker did not start")
        _, self.worker_facts = parent.recv()
        self._process, self._conn = process, parent
        for name, (digest, source) in self._loaded.items():
            self._request(("load", name, digest, source), self.limits.wall_seconds)
        return parent

    def _connection(self) -> Channel:
        if self._conn is None or self._process is None or self._process.poll() is not None:
            if self._process is not None:
                self.respawns += 1
                log.warning("extension worker gone; starting a new one")
            return self._start()
        return self._conn

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None

    def _request(self, message: tuple[Any, ...], wall_seconds: float) -> Any:
        conn = self._conn if self._conn is not None else self._connection()
        name = message[1]
        conn.send(message)
        deadline = time.monotonic() + wall_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not conn.poll(remaining):
                self._kill()
                self.respawns += 1
                raise ExtensionTimeout(f"{name} ran longer than {wall_seconds:g} s and was stopped")
            try:
                reply = conn.recv()
            except (EOFError, OSError, ValueError):
                self._kill()
                raise ExtensionFailed(f"{name} crashed the extension worker (it has been restarted)") from None
            if reply[0] == "cap":
                _, ext, op, args, kwargs = reply
                try:
                    conn.send(("ok", self.capabilities(ext, op, args, kwargs)))
                except PermissionError as exc:
                    conn.send(("denied", str(exc)))
                except Exception as exc:
                    conn.send(("error", f"{type(exc).__name__}: {exc}"))
                continue
            status, *rest = reply
            if status == "ok":
                return rest[0]
            if status == "invalid":
                raise ExtensionInvalid(rest[0])
            error, text = rest
            raise ExtensionFailed(f"{name} failed: {error}: {text}")

    def load(self, name: str, digest: str, source: str) -> None:
        """Run the module body in the worker (definitions only, by validation)."""
        with self._lock:
            self._connection()
            self._request(("load", name, digest, source), self.limits.wall_seconds)
            self._loaded[name] = (digest, source)

    def unload(self, name: str) -> None:
        with self._lock:
            self._loaded.pop(name, None)

    def call(self, name: str, digest: str, user_input: str, context: Mapping[str, Any], kwargs: dict[str, Any]) -> str:
        with self._lock:
            self._connection()
            request = ("call", name, digest, user_input, dict(context), kwargs)
            return str(self._request(request, self.limits.wall_seconds))

    def close(self) -> None:
        with self._lock:
            self._kill()


if __name__ == "__main__":
    _worker(Channel(Connection(int(sys.argv[1]))))
