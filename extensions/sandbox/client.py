"""The host's side: worker processes, one per trust group, and the requests they serve.

A `Worker` is one sandboxed process (extensions/sandbox/worker.py) serving one request at a
time over a socket pair. It starts with an empty environment (no `SENA_*`, no secrets) in a
scratch folder of its own, with no descriptor but its channel. A call that runs past its
wall-clock timeout gets the worker killed and a fresh one started, into which the group's
extensions are loaded again.

`Sandbox` keeps the workers apart by trust: the core extensions share one worker; each user
or generated extension gets its own, so an escape from one cannot use another's grants.
Capability requests are answered for the extension the host dispatched, never for a name the
worker reports.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from extensions.sandbox.channel import Channel
from extensions.sandbox.confine import NOBODY, Limits
from extensions.sandbox.errors import ExtensionFailed, ExtensionInvalid, ExtensionTimeout

log = logging.getLogger(__name__)

CapabilityHandler = Callable[[str, str, tuple[Any, ...], dict[str, Any]], Any]
"""(extension name, operation, args, kwargs) -> result; raises PermissionError when refused."""

ROOT = Path(__file__).resolve().parents[2]
BOOT = "import sys; sys.path.insert(0, sys.argv[1]); from extensions.sandbox.worker import main; main(int(sys.argv[2]))"
PASSED_ENV = ("TZ",)
"""The only host variables a worker sees (besides LANG): none of them a secret."""


def worker_env() -> dict[str, str]:
    env = {"LANG": "C.UTF-8"}
    env.update({k: os.environ[k] for k in PASSED_ENV if k in os.environ})
    return env


MAX_ERROR_CHARS = 2000
MAX_RESULT_BYTES = 1024 * 1024
"""A capability's answer stays well inside the channel's 4 MB (an error that quotes its input
could otherwise grow past it and kill the worker)."""

SHAPES = {"ok": 3, "invalid": 3, "error": 4, "cap": 5}


def shape_of(reply: Any, rid: str) -> str | None:
    """The reply's kind if it is well formed and answers request `rid`, else None."""
    if not isinstance(reply, list) or len(reply) < 2 or reply[1] != rid or SHAPES.get(reply[0]) != len(reply):
        return None
    status = str(reply[0])
    if status == "invalid" and not isinstance(reply[2], str):
        return None
    if status == "error" and not (isinstance(reply[2], str) and isinstance(reply[3], str)):
        return None
    if status == "cap" and not (
        isinstance(reply[2], str) and isinstance(reply[3], list) and isinstance(reply[4], dict)
    ):
        return None
    return status


class Worker:
    """One sandboxed process and the extensions loaded into it; safe to share between threads."""

    def __init__(
        self, group: str, allowed: frozenset[str], limits: Limits, capabilities: CapabilityHandler, raw: bool = False
    ) -> None:
        self.group = group
        self.allowed = allowed
        self.limits = limits
        self.capabilities = capabilities
        self.raw_allowed = raw
        self.facts: dict[str, Any] = {}
        self.respawns = 0
        self._last_rid = ""
        """The id of the last request sent: a message carrying it later is one left behind."""
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Channel | None = None
        self._scratch: str | None = None
        self._loaded: dict[str, tuple[str, str]] = {}  # name -> (digest, source), replayed on respawn

    @property
    def names(self) -> list[str]:
        return list(self._loaded)

    def _start(self) -> Channel:
        scratch = tempfile.mkdtemp(prefix=f"sena-ext-{self.group}-")
        if os.getuid() == 0:
            os.chown(scratch, NOBODY, NOBODY)
        ours, theirs = socket.socketpair()
        process = subprocess.Popen(
            [sys.executable, "-I", "-c", BOOT, str(ROOT), str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=worker_env(),
            cwd=scratch,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        theirs.close()
        conn = Channel(Connection(ours.detach()))
        self._process, self._conn, self._scratch = process, conn, scratch
        conn.send({"limits": asdict(self.limits), "allowed": sorted(self.allowed), "raw": self.raw_allowed})
        if not conn.poll(30):
            self._kill()
            raise ExtensionFailed("the extension worker did not start within 30 s")
        try:
            status, detail = conn.recv()
        except (EOFError, OSError):
            self._kill()
            raise ExtensionFailed("the extension worker exited while starting") from None
        if status != "ready":
            self._kill()
            raise ExtensionFailed(f"the extension worker refused to start: {detail}")
        self.facts = detail
        for name, (digest, source) in self._loaded.items():
            self._request("load", name, digest, source)
        return conn

    def _connection(self) -> Channel:
        if self._conn is None or self._process is None or self._process.poll() is not None:
            if self._process is not None:
                self.respawns += 1
                log.warning("extension worker %s gone; starting a new one", self.group)
                self._kill()
            return self._start()
        return self._conn

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
            self._process.wait(5)
        if self._conn is not None:
            self._conn.close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
        self._process, self._conn, self._scratch = None, None, None

    def _broken(self, name: str, why: str) -> ExtensionFailed:
        """The worker can no longer be trusted to be in step: stop it (the next request starts another)."""
        self._kill()
        self.respawns += 1
        log.warning("extension worker %s stopped: %s", self.group, why)
        return ExtensionFailed(f"{name} {why} (the extension worker has been restarted)")

    def _request(self, kind: str, name: str, digest: str, *payload: Any, retried: bool = False) -> Any:
        """Send one request; answer the worker's capability calls as `name`; return the result.

        Every message from the worker must carry this request's id and have the shape its kind
        says; anything else (a reply queued for a later request, a malformed one, data left on
        the channel after the answer) means the worker is compromised or broken, and it is killed.
        """
        if self._conn is not None and self._conn.poll(0):
            # The last answer's check for data after it can lose the race with a worker still
            # writing; whatever arrived since is caught here, before it can pass for an answer.
            self._kill()
            self.respawns += 1
            log.warning("extension worker %s left messages after its last answer; started a new one", self.group)
        conn = self._conn if self._conn is not None else self._connection()
        previous, rid = self._last_rid, secrets.token_hex(8)
        self._last_rid = rid
        try:
            conn.send((kind, rid, name, digest, *payload))
        except (OSError, ValueError):
            raise self._broken(name, "could not be reached") from None
        deadline = time.monotonic() + self.limits.wall_seconds
        served = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not conn.poll(remaining):
                self._kill()
                self.respawns += 1
                raise ExtensionTimeout(f"{name} ran longer than {self.limits.wall_seconds:g} s and was stopped")
            try:
                reply = conn.recv()
            except (EOFError, OSError, ValueError):
                raise self._broken(name, "crashed the extension worker") from None
            status = shape_of(reply, rid)
            stale = isinstance(reply, list) and len(reply) > 1 and reply[1] == previous
            if status is None and stale and not (served or retried):
                # Nothing was done for this request yet: this is what the last one left behind (a
                # worker that kept writing after its answer). The worker is replaced and this
                # request, which did nothing wrong, is sent once more to the new one.
                self._broken(name, "left a message after its last answer")
                return self._request(kind, name, digest, *payload, retried=True)
            if status is None:
                raise self._broken(name, "broke the worker's protocol")
            if status == "cap":
                served += 1
                try:
                    conn.send(self._capability(name, reply, rid))
                except (OSError, ValueError):
                    raise self._broken(name, "crashed the extension worker") from None
                continue
            if conn.poll(0):
                raise self._broken(name, "left unexpected messages on the worker's channel")
            if status == "ok":
                return reply[2]
            if status == "invalid":
                raise ExtensionInvalid(reply[2])
            raise ExtensionFailed(f"{name} failed: {reply[2]}: {reply[3]}")

    def _capability(self, name: str, reply: list[Any], rid: str) -> tuple[str, str, Any]:
        """Perform one capability call for `name` (the extension the host dispatched)."""
        _, _, op, args, kwargs = reply
        try:
            result = self.capabilities(name, op, tuple(args), kwargs)
        except PermissionError as exc:
            return "denied", rid, str(exc)[:MAX_ERROR_CHARS]
        except Exception as exc:
            return "error", rid, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_CHARS]
        if len(json.dumps(result, default=str)) > MAX_RESULT_BYTES:
            return "error", rid, f"the result of sena.{op} is larger than {MAX_RESULT_BYTES // 1024} KB"
        return "ok", rid, result

    def start(self) -> None:
        """Start the process now, if it is not running (a load or call would otherwise do it)."""
        with self._lock:
            self._connection()

    def load(self, name: str, digest: str, source: str) -> None:
        """Run the module body in the worker (definitions only, by validation)."""
        with self._lock:
            self._connection()
            self._request("load", name, digest, source)
            self._loaded[name] = (digest, source)

    def unload(self, name: str) -> None:
        with self._lock:
            if self._loaded.pop(name, None) is not None and self._conn is not None:
                self._request("unload", name, "")

    def call(self, name: str, digest: str, user_input: str, context: Mapping[str, Any], kwargs: dict[str, Any]) -> str:
        with self._lock:
            self._connection()
            return str(self._request("call", name, digest, user_input, dict(context), kwargs))

    def raw(self, name: str, code: str) -> str:
        """Test hook: run unrestricted Python in the confined worker, as extension `name`."""
        with self._lock:
            self._connection()
            return str(self._request("raw", name, "", code))

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        with self._lock:
            self._kill()


class Sandbox:
    """Workers by trust group: `load(..., group="core")` shares the core worker; no group, its own."""

    def __init__(
        self,
        allowed_imports: frozenset[str],
        limits: Limits,
        capabilities: CapabilityHandler,
        test_hooks: bool = False,
    ) -> None:
        self.allowed = allowed_imports
        self.limits = limits
        self.capabilities = capabilities
        self.test_hooks = test_hooks
        self._lock = threading.Lock()
        self._workers: dict[str, Worker] = {}
        self._group_of: dict[str, str] = {}

    def worker(self, name: str) -> Worker:
        """The worker extension `name` is loaded in."""
        with self._lock:
            return self._workers[self._group_of[name]]

    def _worker_for(self, name: str, group: str | None) -> Worker:
        key = group or f"ext-{name}"
        with self._lock:
            previous = self._group_of.get(name)
            if previous is not None and previous != key:
                self._workers[previous]._loaded.pop(name, None)
            if key not in self._workers:
                self._workers[key] = Worker(key, self.allowed, self.limits, self.capabilities, self.test_hooks)
            self._group_of[name] = key
            return self._workers[key]

    def load(self, name: str, digest: str, source: str, group: str | None = None) -> None:
        self._worker_for(name, group).load(name, digest, source)

    def start(self, names: dict[str, str | None]) -> None:
        """Start the workers `names` (extension -> group) will load into, side by side."""
        from concurrent.futures import ThreadPoolExecutor

        def start(worker: Worker) -> None:
            with contextlib.suppress(ExtensionFailed):  # the load that follows reports it
                worker.start()

        workers = {id(w): w for w in (self._worker_for(name, group) for name, group in names.items())}
        with ThreadPoolExecutor(max_workers=min(4, len(workers) or 1)) as pool:
            list(pool.map(start, workers.values()))

    def unload(self, name: str) -> None:
        with self._lock:
            key = self._group_of.pop(name, None)
            worker = self._workers.get(key) if key else None
        if worker is None:
            return
        worker.unload(name)
        if not worker.names:  # a worker of its own: nothing left to serve
            with self._lock:
                self._workers.pop(worker.group, None)
            worker.close()

    def call(self, name: str, digest: str, user_input: str, context: Mapping[str, Any], kwargs: dict[str, Any]) -> str:
        try:
            worker = self.worker(name)
        except KeyError:
            raise ExtensionFailed(f"{name} is not loaded in the sandbox") from None
        return worker.call(name, digest, user_input, context, kwargs)

    def raw(self, name: str, code: str, group: str | None = None) -> str:
        if not self.test_hooks:
            raise PermissionError("raw code runs only in a sandbox built with test_hooks=True")
        worker = self._worker_for(name, group)
        return worker.raw(name, code)

    @property
    def respawns(self) -> int:
        return sum(w.respawns for w in list(self._workers.values()))

    @property
    def worker_facts(self) -> dict[str, Any]:
        """What confines the workers (the same for each; the first started one's report)."""
        return next((w.facts for w in list(self._workers.values()) if w.facts), {})

    def groups(self) -> dict[str, list[str]]:
        with self._lock:
            return {key: worker.names for key, worker in self._workers.items()}

    def close(self) -> None:
        with self._lock:
            workers, self._workers = list(self._workers.values()), {}
            self._group_of.clear()
        for worker in workers:
            worker.close()
