"""Shared machinery for the adversarial sandbox corpus (test_sandbox_corpus.py, test_sandbox_os.py).

A `World` holds what an escape would touch: secrets in the host's environment, a secret file in
a data folder, a folder where no file may appear, a loopback TCP listener that must accept no
connection, and the SysV IPC objects that existed before. Its folders live in /tmp and are
readable (the marker folder writable) by `nobody`, so only the sandbox, not file permissions,
stands between a worker and them. `World.check()` is the uniform effect check every probe ends
with: it asserts that nothing leaked and nothing happened, whatever the probe's own outcome.
"""

from __future__ import annotations

import contextlib
import ctypes
import secrets
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

from extensions.sandbox import Limits, Sandbox

ALLOWED = frozenset(
    {"json", "math", "datetime", "re", "collections", "itertools", "functools", "random", "statistics", "textwrap",
     "decimal", "fractions", "unicodedata", "difflib", "calendar"}
)  # fmt: skip
LIMITS = Limits(cpu_seconds=1, wall_seconds=3, memory_mb=256)
NOBODY = 65534
ESCAPED = "ESCAPED"
"""What a probe returns when it got hold of something it must not have."""
ESCAPE_SIGNS = (
    ESCAPED, "<frame at 0x", "<code object ", "<traceback object at", "<module 'os' from", "<module 'sys' (built-in)>",
    "<module 'builtins' (built-in)>", "<module 'posix'", "<built-in function system>", "<function _getattr_",
    "'__builtins__': {", "'__builtins__': <module",
)  # fmt: skip
"""Reprs that appear only when a probe reached interpreter machinery or a real module."""
IPC_TABLES = ("shm", "msg", "sem")
IPC_RMID = 0


class Listener:
    """A loopback TCP listener counting the connections it accepts (an escape would connect)."""

    def __init__(self, family: socket.AddressFamily = socket.AF_INET, host: str = "127.0.0.1") -> None:
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.host = host
        self.port: int = self.sock.getsockname()[1]
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def ipc_objects() -> set[tuple[str, int, int]]:
    """(table, id, owner uid) of every SysV shared memory segment, message queue and semaphore set."""
    found = set()
    for table in IPC_TABLES:
        path = Path("/proc/sysvipc") / table
        if not path.exists():
            continue
        header, *rows = path.read_text().splitlines()
        columns = header.split()
        for row in rows:
            values = row.split()
            found.add((table, int(values[1]), int(values[columns.index("uid")])))
    return found


def remove_ipc(objects: set[tuple[str, int, int]]) -> None:
    """Remove SysV objects a probe left behind (the host is root; it may)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for table, ident, _ in objects:
        if table == "shm":
            libc.shmctl(ident, IPC_RMID, None)
        elif table == "msg":
            libc.msgctl(ident, IPC_RMID, None)
        else:
            libc.semctl(ident, 0, IPC_RMID)


@dataclass
class World:
    root: Path
    data: Path
    secret_file: Path
    secret_text: str
    markers: Path
    workspace: Path
    token: str
    pg_password: str
    listener: Listener
    ipc_before: set[tuple[str, int, int]] = field(default_factory=set)

    @property
    def secrets(self) -> list[str]:
        return [self.token, self.pg_password, self.secret_text]

    def leaks(self, text: str) -> list[str]:
        found = [s for s in self.secrets if s in text]
        return found + [sign for sign in ESCAPE_SIGNS if sign in text]

    def new_ipc(self) -> set[tuple[str, int, int]]:
        return {o for o in ipc_objects() - self.ipc_before if o[2] == NOBODY}

    def check(self, *texts: str, sandbox: Sandbox | None = None) -> None:
        """The uniform effect check: no secret or escape sign in any text, and nothing happened."""
        for text in texts:
            assert not self.leaks(text), f"leaked {self.leaks(text)} in: {text[:800]}"
        assert self.listener.accepted == 0, f"the loopback listener accepted {self.listener.accepted} connection(s)"
        created = sorted(p.name for p in self.markers.iterdir())
        assert not created, f"files appeared in the marker folder: {created}"
        assert self.secret_file.read_text() == self.secret_text, "the secret file was changed"
        leftover = self.new_ipc()
        remove_ipc(leftover)
        assert not leftover, f"a worker left SysV IPC objects behind (owned by nobody): {sorted(leftover)}"
        if sandbox is not None:
            for pid in worker_pids(sandbox):
                assert_confined_process(pid)


def worker_pids(sandbox: Sandbox) -> list[int]:
    pids = []
    for names in sandbox.groups().values():
        if names:
            with contextlib.suppress(KeyError):
                pid = sandbox.worker(names[0]).pid
                if pid is not None:
                    pids.append(pid)
    return pids


def assert_confined_process(pid: int) -> None:
    """A live worker has no children, one thread, and runs as nobody."""
    try:
        process = psutil.Process(pid)
        children = process.children(recursive=True)
        threads = process.num_threads()
        uids = process.uids()
    except psutil.NoSuchProcess:
        return
    assert not children, f"worker {pid} has child processes: {children}"
    assert threads == 1, f"worker {pid} runs {threads} threads"
    assert uids.real != 0 and uids.effective != 0, f"worker {pid} runs as root"


@contextlib.contextmanager
def open_world() -> Iterator[World]:
    """Secrets in the environment and on disk, a listener; torn down afterwards."""
    token = "tok-" + secrets.token_hex(16)
    password = "pw-" + secrets.token_hex(16)
    root = Path(tempfile.mkdtemp(prefix="sena-corpus-"))
    root.chmod(0o755)
    data = root / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    secret_text = "SECRET-FILE-" + secrets.token_hex(16)
    secret_file = data / "secret.txt"
    secret_file.write_text(secret_text)
    secret_file.chmod(0o644)
    markers = root / "markers"
    markers.mkdir()
    markers.chmod(0o777)  # writable by nobody: only the sandbox can stop a write
    workspace = root / "workspace"
    workspace.mkdir()
    workspace.chmod(0o755)
    listener = Listener()
    world = World(root, data, secret_file, secret_text, markers, workspace, token, password, listener, ipc_objects())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SENA_API__AUTH_TOKEN", token)
        patch.setenv("SENA_DATABASE__POSTGRES_URL", f"postgresql://sena:{password}@db.invalid:5432/sena")
        try:
            yield world
        finally:
            listener.close()
            remove_ipc(world.new_ipc())
            shutil.rmtree(root, ignore_errors=True)


class Findings:
    """Run every effect check, collect what each one found, and fail once with all of them."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, fn: Any, *args: Any) -> None:
        try:
            fn(*args)
        except AssertionError as exc:
            self.found.append(str(exc).splitlines()[0] if str(exc) else repr(exc))

    def assert_none(self) -> None:
        assert not self.found, "effects found:\n- " + "\n- ".join(self.found)


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def first_line(text: str, limit: int = 300) -> str:
    return text.splitlines()[0][:limit] if text else ""


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value)
