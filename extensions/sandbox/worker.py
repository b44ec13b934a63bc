"""The worker process: load extension modules and call them, one request at a time.

Started by `Worker` (extensions/sandbox/client.py) as a fresh interpreter with an empty
environment in a scratch folder; it imports what extensions may use, confines itself
(extensions/sandbox/confine.py) and only then says `ready`. A worker started with test hooks
also answers `raw` requests, which run unrestricted Python under the same confinement: the
tests use them to prove that the OS layers hold when the Python layer is assumed broken.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import traceback
from collections.abc import Callable, Mapping
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

from extensions.sandbox.channel import Channel
from extensions.sandbox.confine import Limits, confine
from extensions.sandbox.restricted import PRELOAD, ModuleView, freeze, module_view, restricted_globals

REQUESTS = frozenset({"load", "unload", "call", "raw"})


class CpuExceeded(BaseException):  # not an Exception, so `except Exception` cannot swallow it
    pass


def on_xcpu(signum: int, frame: Any) -> None:
    raise CpuExceeded


class Capabilities:
    """The `sena` module as extensions see it: each call is answered by the host."""

    def __init__(self, call: Callable[[str, tuple[Any, ...], dict[str, Any]], Any]) -> None:
        def op(name: str) -> Callable[..., Any]:
            def invoke(*args: Any, **kwargs: Any) -> Any:
                return call(name, args, kwargs)

            return invoke

        for name in ("system_info", "list_dir", "read_file", "write_file", "delete_file", "http_get",
                     "launch_app", "setting"):  # fmt: skip
            object.__setattr__(self, name, op(name))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("sena is read-only")


def capability_caller(conn: Channel, current: dict[str, str]) -> Capabilities:
    def call(op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        # The CPU limit's signal waits until the exchange is whole: raised halfway through a
        # read, it would leave the rest of the host's answer on the channel as a broken message.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGXCPU})
        try:
            conn.send(("cap", current["rid"], op, args, kwargs))  # the host knows which extension it runs
            status, rid, value = conn.recv()
            while rid != current["rid"]:  # an answer to a call that the CPU limit cut short
                status, rid, value = conn.recv()
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGXCPU})
        if status == "ok":
            return value
        raise PermissionError(value) if status == "denied" else RuntimeError(value)

    return Capabilities(call)


def with_cpu(seconds: float, fn: Callable[[], Any]) -> Any:
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


def load(name: str, source: str, views: Mapping[str, ModuleView], capabilities: Capabilities) -> dict[str, Any]:
    """Compile under RestrictedPython and run the module body; return its namespace."""
    from RestrictedPython import compile_restricted_exec

    result = compile_restricted_exec(source, filename=f"<extension {name}>")
    if result.errors or result.code is None:
        raise SyntaxError("; ".join(result.errors))
    namespace = restricted_globals(name, views, capabilities)
    exec(result.code, namespace)
    return namespace


def call(
    namespace: dict[str, Any], user_input: str, context: Mapping[str, Any], kwargs: dict[str, Any]
) -> tuple[str, str]:
    """Run `validate` (if any), then `execute`, on a read-only copy of the context; each call
    starts from fresh module state, whatever an earlier call left (a decimal context, a seed)."""
    fresh_module_state()
    check = namespace.get("validate")
    if check is not None:
        ok, why = check(user_input, **kwargs)
        if not ok:
            return "invalid", str(why)
    return "ok", str(namespace["execute"](user_input, freeze(context), **kwargs))


def fresh_module_state() -> None:
    """Reset the state an extension can leave in a module it shares with the next one (loaded ones only)."""
    if (decimal := sys.modules.get("decimal")) is not None:
        decimal.setcontext(decimal.Context())
    if (random := sys.modules.get("random")) is not None:
        random.seed()


def run_raw(code: str) -> tuple[str, str]:
    """Test hook: run unrestricted Python; its `result` variable is the answer."""
    scope: dict[str, Any] = {}
    exec(code, scope)
    return "ok", str(scope.get("result"))


def prepare(allowed: list[str]) -> dict[str, ModuleView]:
    """Import everything extensions may use while the files are still readable."""
    views = {}
    for name in allowed:
        with contextlib.suppress(ImportError):  # the host's validator reports the refused import
            views[name] = module_view(name)
    for name in PRELOAD:
        __import__(name)
    import pyseccomp  # noqa: F401  (loads libseccomp before the file system closes)
    import RestrictedPython.Eval  # noqa: F401

    return views


def serve(conn: Channel, limits: Limits, views: Mapping[str, ModuleView], raw_allowed: bool) -> None:
    """Answer requests `[kind, request id, name, digest, ...]`; every reply repeats the request id."""
    current = {"rid": ""}
    capabilities = capability_caller(conn, current)
    modules: dict[str, tuple[str, dict[str, Any]]] = {}
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if not (isinstance(request, list) and len(request) >= 4 and request[0] in REQUESTS):
            continue  # a capability answer that arrived after the CPU limit cut its call short
        kind, rid, name, digest = request[:4]
        current["rid"] = rid
        try:
            if kind == "load":
                namespace = with_cpu(limits.cpu_seconds, partial(load, name, request[4], views, capabilities))
                modules[name] = (digest, namespace)
                conn.send(("ok", rid, None))
            elif kind == "unload":
                modules.pop(name, None)
                conn.send(("ok", rid, None))
            elif kind == "call":
                loaded = modules.get(name)
                if loaded is None or loaded[0] != digest:
                    conn.send(("error", rid, "NotLoaded", f"{name} is not loaded in this worker"))
                    continue
                user_input, context, kwargs = request[4:7]
                status, text = with_cpu(limits.cpu_seconds, partial(call, loaded[1], user_input, context, kwargs))
                conn.send((status, rid, text[: limits.max_output_chars]))
            elif kind == "raw" and raw_allowed:
                status, text = with_cpu(limits.cpu_seconds, partial(run_raw, request[4]))
                conn.send((status, rid, text[: limits.max_output_chars]))
            else:
                conn.send(("error", rid, "BadRequest", f"unknown request {kind!r}"))
        except CpuExceeded:
            conn.send(("error", rid, "CpuTimeExceeded", f"used more than {limits.cpu_seconds:g} s of CPU time"))
        except MemoryError:
            conn.send(("error", rid, "MemoryError", f"tried to use more than {limits.memory_mb} MB of memory"))
        except RecursionError:
            conn.send(("error", rid, "RecursionError", "recursed too deeply"))
        except Exception as exc:  # the extension's own error, reported to the host, with its line
            conn.send(("error", rid, type(exc).__name__, str(exc)[:500] + where(exc)))


def where(exc: BaseException) -> str:
    """ " (line N)" for the extension's own line the error came from, so a fix can aim at it."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith("<extension ")]
    return f" (line {frames[-1].lineno})" if frames else ""


def main(fd: int) -> None:
    conn = Channel(Connection(fd))
    init = conn.recv()
    limits = Limits(**init["limits"])
    signal.signal(signal.SIGXCPU, on_xcpu)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    views = prepare(init["allowed"])
    try:
        facts = confine(fd, limits)
    except Exception as exc:  # ConfinementFailed, or a layer that broke in a way nobody foresaw
        conn.send(("refused", f"{type(exc).__name__}: {exc}"))
        sys.exit(3)
    conn.send(("ready", facts))
    serve(conn, limits, views, bool(init.get("raw")))


if __name__ == "__main__":
    main(int(sys.argv[1]))
