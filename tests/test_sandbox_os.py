"""The process and OS layers alone: unrestricted Python (the `raw` test hook) in a confined worker.

Each probe assumes the Python layer is already broken and tries, with plain Python and ctypes,
to reach the network, the file system, other processes, the kernel's extra surfaces, the
host's environment, and the host itself through the channel protocol. After each probe the
uniform effect check runs (tests/sandbox_probes.py `World.check`, plus what the kernel says
about the worker: no capabilities, seccomp on, no tracer, no unexpected descriptors), and the
probe's own check looks at the thing it attacked (the other worker, the loopback listeners,
the folder it watched...). Each probe runs in a worker of its own; probe ids read
`class:probe`.
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from textwrap import dedent
from typing import Any

import psutil
import pytest

from extensions.sandbox import ExtensionFailed, Sandbox
from tests.sandbox_probes import (
    ALLOWED,
    LIMITS,
    Findings,
    World,
    assert_confined_process,
    describe,
    open_world,
)

PRELUDE = """
import builtins, ctypes, errno, os, signal, socket
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
KEEP = builtins.__dict__.setdefault("SENA_PROBE_KEEP", [])  # whatever a probe got stays open
LINES = []

def attempt(label, fn):
    try:
        value = fn()
        KEEP.append(value)
        LINES.append(f"{label}: ALLOWED {value!r}"[:400])
    except BaseException as exc:
        LINES.append(f"{label}: refused {type(exc).__name__}: {exc}"[:400])

def sc(nr, *args):
    value = libc.syscall(nr, *args)
    if value < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return value
"""
POSTLUDE = '\nresult = "\\n".join(LINES)\n'
SUSPECT_FDS = ("anon_inode", "memfd:", "/dev/shm", "[io_uring", "inotify", "bpf", "userfaultfd", "perf_event")


class UnixListener:
    """A host unix socket (by path, writable by anyone, and abstract) counting its connections."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.abstract = "\0sena-corpus-" + secrets.token_hex(6)
        self.socks = []
        for address in (str(path), self.abstract):
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.bind(address)
            sock.listen(8)
            sock.setblocking(False)
            self.socks.append(sock)
        path.chmod(0o777)

    @property
    def accepted(self) -> int:
        count = 0
        for sock in self.socks:
            with contextlib.suppress(BlockingIOError):
                while True:
                    conn, _ = sock.accept()
                    conn.close()
                    count += 1
        return count

    def close(self) -> None:
        for sock in self.socks:
            sock.close()


@dataclass
class Ctx:
    world: World
    box: Sandbox
    unix: UnixListener
    calls: list[tuple[str, str]]
    name: str = ""
    pid: int | None = None
    victim: str = ""
    victim_pid: int = 0
    victim_before: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {
            "secret": str(self.world.secret_file),
            "data": str(self.world.data),
            "markers": str(self.world.markers),
            "mark": str(self.world.markers / "made-by-the-worker"),
            "root": str(self.world.root),
            "port": self.world.listener.port,
            "host_pid": os.getpid(),
            "victim_pid": self.victim_pid,
            "victim_cwd": self.victim_before.get("cwd", ""),
            "unix_path": str(self.unix.path),
            "abstract": self.unix.abstract[1:],
        }


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with open_world() as w:
        yield w


@pytest.fixture(scope="module")
def ctx(world: World) -> Iterator[Ctx]:
    calls: list[tuple[str, str]] = []

    def answer(extension: str, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        calls.append((extension, op))
        if op == "setting":
            return None
        raise PermissionError(f"{extension} may not {op}")

    box = Sandbox(ALLOWED, LIMITS, answer, test_hooks=True)
    unix = UnixListener(world.root / "host.sock")
    yield Ctx(world, box, unix, calls)
    box.close()
    unix.close()


@pytest.fixture(scope="module")
def facts(ctx: Ctx) -> dict[str, Any]:
    ctx.box.raw("facts", "result = 1")
    found = dict(ctx.box.worker("facts").facts)
    ctx.box.unload("facts")
    return found


def require(facts: dict[str, Any], needs: tuple[str, ...]) -> None:
    """Skip, naming the missing kernel feature, when this machine cannot provide a layer."""
    landlock = str(facts.get("landlock", ""))
    missing = {
        "x86_64": platform.machine() != "x86_64" and "an x86_64 machine (raw system call numbers)",
        "landlock": not landlock.startswith("ABI") and f"Landlock ({landlock})",
        "landlock-tcp": "tcp" not in landlock and f"Landlock TCP rules, ABI 4 ({landlock})",
        "landlock-scopes": "signals" not in landlock and f"Landlock signal/abstract-socket scopes, ABI 6 ({landlock})",
        "seccomp": "denied" not in str(facts.get("seccomp", "")) and f"seccomp ({facts.get('seccomp')})",
        "netns": not str(facts.get("network", "")).startswith("own")
        and f"a network namespace ({facts.get('network')})",
        "nobody": facts.get("user") != "nobody" and "running the host as root (the drop to nobody)",
    }
    for need in needs:
        if missing[need]:
            pytest.skip(f"this kernel/machine lacks {missing[need]}")


# ---------------------------------------------------------------------------------------------
# what the kernel says about a worker


def proc_status(pid: int) -> dict[str, str]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def proc_limits(pid: int) -> str:
    return Path(f"/proc/{pid}/limits").read_text()


def fd_targets(pid: int) -> list[str]:
    targets = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            targets.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return targets


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kernel_view(pid: int) -> dict[str, Any]:
    status = proc_status(pid)
    return {
        "cwd": os.readlink(f"/proc/{pid}/cwd"),
        "limits": proc_limits(pid),
        "nice": psutil.Process(pid).nice(),
        "affinity": sorted(os.sched_getaffinity(pid)),
        "state": status["State"],
        "tracer": status["TracerPid"],
    }


def assert_worker_still_confined(world: World, pid: int | None) -> None:
    if pid is None or not alive(pid):
        return
    assert_confined_process(pid)
    status = proc_status(pid)
    assert int(status["CapEff"], 16) == 0, f"the worker holds capabilities: {status['CapEff']}"
    assert status["Seccomp"] == "2" and status["NoNewPrivs"] == "1", "seccomp or no_new_privs is off"
    assert status["TracerPid"] == "0", f"the worker is traced by {status['TracerPid']}"
    targets = fd_targets(pid)
    sockets = [t for t in targets if t.startswith("socket:")]
    assert len(sockets) <= 1, f"the worker holds {len(sockets)} sockets: {targets}"
    suspects = [t for t in targets if t.startswith(SUSPECT_FDS) or t.startswith(str(world.root))]
    assert not suspects, f"the worker holds descriptors it should not: {suspects}"


# ---------------------------------------------------------------------------------------------
# probes


@dataclass(frozen=True)
class RawProbe:
    klass: str
    id: str
    code: str
    verify: Callable[[Ctx, str], None] | None = None
    needs: tuple[str, ...] = ()
    victim: bool = False  # start another worker first (the target)
    then: tuple[str, ...] = ()  # further raw calls in the same worker, after `between`
    between: Callable[[Ctx], None] | None = None


def raw(klass: str, id: str, code: str, **options: Any) -> RawProbe:
    return RawProbe(klass, id, dedent(code), **options)


def no_text(*needles: str) -> Callable[[Ctx, str], None]:
    def verify(c: Ctx, out: str) -> None:
        for needle in needles:
            value = Template(needle).safe_substitute(c.values())
            assert value not in out, f"{value!r} appeared in: {out[:600]}"

    return verify


def nothing_at(*paths: str) -> Callable[[Ctx, str], None]:
    def verify(c: Ctx, out: str) -> None:
        for path in paths:
            target = Path(Template(path).safe_substitute(c.values()))
            assert not os.path.lexists(target), f"{target} was created"

    return verify


def no_signal(received: list[int]) -> None:
    assert not received, "the host received a signal from the worker"


def unix_untouched(c: Ctx, out: str) -> None:
    assert c.unix.accepted == 0, "the host's unix socket accepted a connection from the worker"


def victim_unchanged(c: Ctx, out: str) -> None:
    assert alive(c.victim_pid), "the other worker was killed"
    now = kernel_view(c.victim_pid)
    for key, before in c.victim_before.items():
        if key == "state":
            continue
        assert now[key] == before, f"the other worker's {key} changed: {before!r} -> {now[key]!r}"
    assert c.box.raw(c.victim, "result = 'victim still serves'") == "victim still serves"


def victim_files_unchanged(c: Ctx, out: str) -> None:
    scratch = Path(c.victim_before["cwd"])
    assert c.notes["scratch_stat"] == (scratch.stat().st_mode, scratch.stat().st_mtime), (
        "the other worker's scratch folder was changed (mode or times)"
    )
    victim_unchanged(c, out)


def no_new_names(c: Ctx, out: str) -> None:
    assert c.notes["planted"] not in out, "the worker learned the name of a file created in the data folder"


def plant_a_file(c: Ctx) -> None:
    name = "bank-statement-" + secrets.token_hex(4) + ".pdf"
    (c.world.data / name).write_text("private")
    c.notes["planted"] = name


def scratch_untouched(c: Ctx, out: str) -> None:
    cwd = out.splitlines()[0].removeprefix("cwd: ALLOWED ").strip("'")
    assert not (Path(cwd) / "planted.txt").exists(), "a file appeared in the worker's scratch folder"


def env_is_empty(c: Ctx, out: str) -> None:
    first = out.splitlines()[0]
    assert "SENA_" not in out and "PATH" not in first and "HOME" not in first, f"the worker sees: {first}"


def limit_of(pid: int, name: str) -> list[str]:
    line = next(line for line in proc_limits(pid).splitlines() if line.startswith(name))
    return line[len(name) :].split()[:2]


def limits_unchanged(c: Ctx, out: str) -> None:
    if c.pid is None or not alive(c.pid):
        return
    assert limit_of(c.pid, "Max address space") == [str(LIMITS.memory_mb * 2**20)] * 2, "the worker raised its limits"
    assert limit_of(c.pid, "Max processes") == ["0", "0"] and limit_of(c.pid, "Max file size") == ["0", "0"]


NETWORK = [
    raw(
        "network",
        "socket-inet-connect",
        """
        def go():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(1)
            s.connect(("127.0.0.1", $port))
            return s
        attempt("connect", go)
        """,
        needs=("seccomp",),
    ),
    raw(
        "network",
        "socket-inet6",
        """
        attempt("inet6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
        """,
        needs=("seccomp",),
    ),
    raw(
        "network",
        "socket-unix-path-and-abstract",
        """
        def go(address):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(address)
            return s
        attempt("unix path", lambda: go("$unix_path"))
        attempt("unix abstract", lambda: go("\\0$abstract"))
        """,
        verify=unix_untouched,
        needs=("seccomp",),
    ),
    raw(
        "network",
        "socket-netlink",
        """
        attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0))
        """,
        needs=("seccomp",),
    ),
    raw(
        "network",
        "socket-packet",
        """
        attempt("packet", lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0x0300))
        """,
        needs=("seccomp",),
    ),
    raw(
        "network",
        "socket-raw-icmp",
        """
        attempt("raw", lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP))
        """,
        needs=("seccomp",),
    ),
    raw("network", "socketpair", "attempt('socketpair', socket.socketpair)", needs=("seccomp",)),
    raw(
        "network",
        "bind-a-port",
        """
        def go():
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            return s.getsockname()
        attempt("bind", go)
        """,
        needs=("seccomp",),
    ),
    raw(
        "network",
        "socket-by-raw-syscall",
        """
        import struct
        def go():
            fd = sc(41, 2, 1, 0)
            address = struct.pack("<HH4s8x", 2, socket.htons($port), bytes([127, 0, 0, 1]))
            sc(42, fd, ctypes.c_char_p(address), len(address))
            return fd
        attempt("syscall socket+connect", go)
        """,
        needs=("seccomp", "x86_64"),
    ),
    raw(
        "network",
        "socket-by-x32-syscall",
        """
        attempt("x32 socket", lambda: sc(0x40000000 | 41, 2, 1, 0))
        """,
        needs=("seccomp", "x86_64"),
    ),
    raw(
        "network",
        "socketcall-by-int-0x80",
        """
        import struct
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
        def go():
            page = libc.mmap(None, 4096, 7, 0x02 | 0x20 | 0x40, -1, 0)  # rwx, private, anonymous, 32-bit
            if page in (None, ctypes.c_void_p(-1).value):
                raise OSError(ctypes.get_errno(), "mmap")
            arguments = page + 2048
            ctypes.memmove(arguments, struct.pack("<III", 2, 1, 0), 12)  # socket(AF_INET, SOCK_STREAM, 0)
            code = (b"\\x53\\xb8\\x66\\x00\\x00\\x00\\xbb\\x01\\x00\\x00\\x00\\xb9" + struct.pack("<I", arguments)
                    + b"\\xcd\\x80\\x5b\\xc3")  # push rbx; socketcall(SYS_SOCKET, args) via int 0x80; pop rbx; ret
            ctypes.memmove(page, code, len(code))
            return ctypes.CFUNCTYPE(ctypes.c_int)(page)()
        attempt("int 0x80 socketcall", go)
        """,
        needs=("seccomp", "x86_64"),
    ),
    raw(
        "network",
        "io-uring",
        """
        params = ctypes.create_string_buffer(120)
        attempt("io_uring_setup", lambda: sc(425, 8, params))
        """,
        needs=("seccomp", "x86_64"),
    ),
]

FILES = [
    raw(
        "files",
        "read-etc-passwd",
        "attempt('passwd', lambda: open('/etc/passwd').read())",
        verify=no_text("root:x:0:0"),
        needs=("landlock",),
    ),
    raw("files", "read-the-secret-file", "attempt('secret', lambda: open('$secret').read())", needs=("landlock",)),
    raw(
        "files",
        "read-by-openat-and-o-path",
        """
        def go():
            fd = os.open("$data", os.O_PATH)  # O_PATH needs no access right; reading beneath it does
            try:
                return os.read(os.open("secret.txt", os.O_RDONLY, dir_fd=fd), 200)
            finally:
                os.close(fd)
        attempt("openat", go)
        """,
        needs=("landlock",),
    ),
    raw(
        "files",
        "list-the-data-folder",
        "attempt('listdir', lambda: os.listdir('$data'))",
        verify=no_text("secret.txt"),
        needs=("landlock",),
    ),
    raw(
        "files",
        "read-host-proc-environ",
        "attempt('host environ', lambda: open('/proc/$host_pid/environ').read())",
        needs=("landlock",),
    ),
    raw(
        "files",
        "read-own-proc-environ-and-cmdline",
        """
        attempt("self environ", lambda: open("/proc/self/environ").read())
        attempt("host cmdline", lambda: open("/proc/$host_pid/cmdline").read())
        """,
        needs=("landlock",),
    ),
    raw(
        "files",
        "write-marker-and-tmp",
        """
        attempt("marker", lambda: open("$mark", "w").write("x"))
        attempt("tmp", lambda: open("/tmp/sena-corpus-planted-by-worker", "w").write("x"))
        attempt("dev shm", lambda: open("/dev/shm/sena-corpus-planted", "w").write("x"))
        """,
        verify=nothing_at("/tmp/sena-corpus-planted-by-worker", "/dev/shm/sena-corpus-planted"),
        needs=("landlock",),
    ),
    raw(
        "files",
        "write-scratch-cwd",
        """
        attempt("cwd", os.getcwd)
        attempt("planted", lambda: open("planted.txt", "w").write("x"))
        """,
        verify=scratch_untouched,
        needs=("landlock",),
    ),
    raw(
        "files",
        "make-links-dirs-fifos",
        """
        attempt("symlink", lambda: os.symlink("$secret", "$markers/link"))
        attempt("hardlink", lambda: os.link("$secret", "$markers/hard"))
        attempt("mkdir", lambda: os.mkdir("$markers/dir"))
        attempt("mkfifo", lambda: os.mkfifo("$markers/fifo"))
        attempt("mknod", lambda: os.mknod("$markers/node"))
        attempt("rename", lambda: os.rename("$secret", "$markers/moved"))
        """,
        needs=("landlock",),
    ),
    raw(
        "files",
        "truncate-unlink-the-secret",
        """
        attempt("truncate", lambda: os.truncate("$secret", 0))
        attempt("unlink", lambda: os.unlink("$secret"))
        attempt("rmdir", lambda: os.rmdir("$markers"))
        """,
        needs=("landlock",),
    ),
    raw(  # Landlock does not hide metadata: size, inode and times of a path are visible, never its content
        "files",
        "stat-outside-shows-metadata-not-content",
        """
        attempt('stat', lambda: tuple(os.stat('$secret')))
        fd = os.open('$secret', os.O_PATH)
        attempt('read via O_PATH', lambda: os.read(fd, 100))
        attempt('reopen via /proc/self/fd', lambda: open('/proc/self/fd/%d' % fd).read())
        os.close(fd)
        """,
        needs=("landlock",),
    ),
    raw(
        "files",
        "inotify-watch-the-data-folder",
        """
        fd = libc.inotify_init1(os.O_NONBLOCK)
        attempt("inotify watch", lambda: sc(254, fd, b"$data", 0xFFF))
        builtins.SENA_INOTIFY = fd
        """,
        then=(
            """
        attempt("events", lambda: os.read(builtins.SENA_INOTIFY, 4096))
        """,
        ),
        between=plant_a_file,
        verify=no_new_names,
        needs=("landlock",),
    ),
    raw(
        "files",
        "chmod-and-touch-another-workers-scratch",
        """
        attempt("chmod", lambda: os.chmod("$victim_cwd", 0o777))
        attempt("utime", lambda: os.utime("$victim_cwd", (0, 0)))
        """,
        victim=True,
        verify=victim_files_unchanged,
        needs=("landlock",),
    ),
]

PROCESSES = [
    raw("processes", "os-system", "attempt('system', lambda: os.system('touch $mark'))", needs=("seccomp",)),
    raw(
        "processes",
        "subprocess-run",
        """
        import subprocess
        attempt("run", lambda: subprocess.run(["/usr/bin/touch", "$mark"]))
        """,
        needs=("seccomp",),
    ),
    raw(
        "processes",
        "os-fork",
        """
        def go():
            pid = os.fork()
            if pid == 0:
                open("$mark", "w").close()
                os._exit(0)
            return pid
        attempt("fork", go)
        """,
        needs=("seccomp",),
    ),
    raw(
        "processes",
        "os-execv",
        "attempt('execv', lambda: os.execv('/usr/bin/touch', ['touch', '$mark']))",
        needs=("seccomp",),
    ),
    raw(
        "processes",
        "posix-spawn",
        "attempt('spawn', lambda: os.posix_spawn('/usr/bin/touch', ['t', '$mark'], {}))",
        needs=("seccomp",),
    ),
    raw(
        "processes",
        "clone3-and-vfork-numbers",
        """
        attempt("clone3", lambda: sc(435, None, 0))
        """,
        needs=("seccomp", "x86_64"),
    ),
    raw(
        "processes",
        "thread",
        """
        import threading
        attempt("thread", lambda: threading.Thread(target=lambda: open("$mark", "w")).start())
        """,
        needs=("seccomp",),
    ),
    raw(
        "processes",
        "become-root-or-new-namespaces",
        """
        attempt("setuid", lambda: os.setuid(0))
        attempt("unshare user", lambda: sc(272, 0x10000000))
        attempt("unshare mount", lambda: sc(272, 0x00020000))
        attempt("setns", lambda: sc(308, 0, 0))
        attempt("chroot", lambda: sc(161, b"/tmp"))
        attempt("mount", lambda: sc(165, b"none", b"/tmp", b"tmpfs", 0, None))
        """,
        needs=("seccomp", "x86_64"),
    ),
    raw(
        "processes",
        "raise-own-limits",
        """
        import resource
        attempt("address space", lambda: resource.setrlimit(resource.RLIMIT_AS, (-1, -1)))
        attempt("processes", lambda: resource.setrlimit(resource.RLIMIT_NPROC, (100, 100)))
        attempt("file size", lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (-1, -1)))
        """,
        verify=limits_unchanged,
        needs=("nobody",),
    ),
    raw(
        "processes",
        "signal-the-host",
        """
        attempt("kill", lambda: os.kill($host_pid, signal.SIGUSR1))
        attempt("tgkill", lambda: sc(234, $host_pid, $host_pid, signal.SIGUSR1))
        attempt("tkill", lambda: sc(200, $host_pid, signal.SIGUSR1))
        attempt("rt_sigqueueinfo", lambda: sc(129, $host_pid, signal.SIGUSR1, ctypes.create_string_buffer(128)))
        """,
        needs=("seccomp", "landlock-scopes", "x86_64"),
    ),
    raw(
        "processes",
        "kill-another-worker",
        """
        attempt("kill", lambda: os.kill($victim_pid, signal.SIGKILL))
        attempt("tgkill", lambda: sc(234, $victim_pid, $victim_pid, signal.SIGKILL))
        attempt("tkill", lambda: sc(200, $victim_pid, signal.SIGKILL))
        attempt("rt_sigqueueinfo", lambda: sc(129, $victim_pid, signal.SIGKILL, ctypes.create_string_buffer(128)))
        attempt("pidfd_open", lambda: sc(434, $victim_pid, 0))
        """,
        victim=True,
        verify=victim_unchanged,
        needs=("seccomp", "landlock-scopes", "x86_64"),
    ),
    raw(
        "processes",
        "ptrace-another-worker-and-the-host",
        """
        attempt("attach victim", lambda: sc(101, 16, $victim_pid, None, None))
        attempt("seize victim", lambda: sc(101, 0x4206, $victim_pid, None, None))
        attempt("attach host", lambda: sc(101, 16, $host_pid, None, None))
        """,
        victim=True,
        verify=victim_unchanged,
        needs=("seccomp", "x86_64"),
    ),
    raw(
        "processes",
        "read-another-workers-memory",
        """
        buf = ctypes.create_string_buffer(64)
        class IoVec(ctypes.Structure):
            _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
        local, remote = IoVec(ctypes.addressof(buf), 64), IoVec(0x400000, 64)
        attempt("process_vm_readv", lambda: sc(310, $victim_pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0))
        attempt("proc mem", lambda: open("/proc/$victim_pid/mem", "rb").read(1))
        attempt("proc environ", lambda: open("/proc/$victim_pid/environ", "rb").read())
        attempt("pidfd_getfd", lambda: sc(438, 0, 0, 0))
        """,
        victim=True,
        verify=victim_unchanged,
        needs=("seccomp", "landlock", "x86_64"),
    ),
    raw(
        "processes",
        "prlimit-another-worker",
        """
        import resource
        attempt("prlimit", lambda: resource.prlimit($victim_pid, resource.RLIMIT_NOFILE, (3, 3)))
        attempt("prlimit cpu", lambda: resource.prlimit($victim_pid, resource.RLIMIT_CPU, (0, 0)))
        """,
        victim=True,
        verify=victim_unchanged,
        needs=("nobody",),
    ),
    raw(
        "processes",
        "renice-another-worker",
        """
        attempt("setpriority", lambda: os.setpriority(os.PRIO_PROCESS, $victim_pid, 19))
        attempt("affinity", lambda: os.sched_setaffinity($victim_pid, {0}))
        """,
        victim=True,
        verify=victim_unchanged,
        needs=("nobody",),
    ),
]

KERNEL = [
    raw(
        "kernel",
        "sysv-shared-memory-beyond-the-limit",
        """
        libc.shmat.restype = ctypes.c_void_p
        libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
        libc.shmdt.argtypes = [ctypes.c_void_p]
        def go():
            made = []
            for _ in range(4):  # 4 x 64 MB resident, beyond the 256 MB address-space limit, kept after exit
                ident = sc(29, 0, 64 * 2**20, 0o1600)
                address = libc.shmat(ident, None, 0)
                ctypes.memset(address, 1, 64 * 2**20)
                libc.shmdt(address)
                made.append(ident)
            return made
        attempt("shmget", go)
        """,
        needs=("x86_64",),
    ),
    raw("kernel", "sysv-message-queue", "attempt('msgget', lambda: sc(68, 0x5e4a, 0o1666))", needs=("x86_64",)),
    raw("kernel", "sysv-semaphores", "attempt('semget', lambda: sc(64, 0x5e4b, 4, 0o1666))", needs=("x86_64",)),
    raw(
        "kernel",
        "posix-message-queue",
        "attempt('mq_open', lambda: sc(240, b'sena-corpus', 0o100 | 2, 0o666, None))",
        verify=nothing_at("/dev/mqueue/sena-corpus"),
        needs=("landlock", "x86_64"),
    ),
    raw(
        "kernel",
        "memfd-beyond-the-limit",
        """
        def go():
            fd = os.memfd_create("grow")
            try:
                os.ftruncate(fd, 2**30)
                os.pwrite(fd, b"x" * 4096, 2**29)
            except OSError:
                os.close(fd)
                raise
            return fd
        attempt("memfd", go)
        """,
    ),
    raw(
        "kernel",
        "bpf-perf-userfaultfd-keys",
        """
        attempt("bpf", lambda: sc(321, 0, ctypes.create_string_buffer(128), 128))
        attempt("perf_event_open", lambda: sc(298, ctypes.create_string_buffer(128), 0, -1, -1, 0))
        attempt("userfaultfd", lambda: sc(323, 0))
        attempt("add_key", lambda: sc(248, b"user", b"sena", b"x", 1, -2))
        attempt("keyctl", lambda: sc(250, 0, -2, 0))
        """,
        needs=("seccomp", "x86_64"),
    ),
    raw(
        "kernel",
        "file-handles",
        """
        attempt("name_to_handle_at", lambda: sc(303, -100, b"$secret", ctypes.create_string_buffer(128),
                                                 ctypes.create_string_buffer(8), 0))
        attempt("open_by_handle_at", lambda: sc(304, -100, ctypes.create_string_buffer(128), 0))
        """,
        needs=("seccomp", "x86_64"),
    ),
    raw(
        "kernel",
        "tty-injection",
        """
        attempt("dev tty", lambda: open("/dev/tty", "w"))
        attempt("ioctl stdin", lambda: __import__("fcntl").ioctl(0, 0x5412, b"x"))
        """,
        needs=("landlock",),
    ),
]

ENVIRONMENT = [
    raw(
        "environment",
        "os-environ",
        """
        attempt("environ", lambda: dict(os.environ))
        attempt("getenv", lambda: [os.getenv(k) for k in ("SENA_API__AUTH_TOKEN", "SENA_DATABASE__POSTGRES_URL")])
        """,
        verify=env_is_empty,
    ),
    raw(
        "environment",
        "argv-and-inherited-descriptors",
        """
        import sys
        attempt("argv", lambda: sys.argv)
        attempt("fds", lambda: sorted(os.listdir("/proc/self/fd")))
        """,
    ),
]

PROTOCOL_REPLIES = {  # what a compromised worker sends as its reply (a Python bytes expression)
    "reply-missing-value": "b'[\"ok\"]'",
    "reply-not-a-list": "b'5'",
    "reply-an-object": 'b\'{"0": "ok"}\'',
    "reply-error-too-short": 'b\'["error", "x"]\'',
    "reply-empty-list": "b'[]'",
    "reply-nested-too-deeply": "b'[' * 100000",
    "reply-invalid-utf8": "b'\\xff'",
    "reply-malformed-capability": "b'[\"cap\"]'",
}


def protocol_probe(id: str, payload: str) -> RawProbe:
    code = f"""
        import gc
        channel = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
        attempt("sent", lambda: channel.conn.send_bytes({payload}))
        """
    return raw("protocol", id, code, verify=worker_replaced_or_serving)


def worker_replaced_or_serving(c: Ctx, out: str) -> None:
    """After a bad reply the host still ends each request cleanly, and serves again."""
    answers = []
    for _ in range(2):
        try:
            answers.append(c.box.raw(c.name, "result = 'next request'"))
        except ExtensionFailed as exc:
            answers.append(f"refused: {exc}")
        except Exception as exc:
            pytest.fail(f"not a clean failure on the next request: the host raised {describe(exc)}")
    assert answers[-1] == "next request", f"the channel is out of step: {answers}"


PROTOCOL = [protocol_probe(i, p) for i, p in PROTOCOL_REPLIES.items()]

PROBES = NETWORK + FILES + PROCESSES + KERNEL + ENVIRONMENT + PROTOCOL


@pytest.mark.parametrize("p", PROBES, ids=[f"{p.klass}:{p.id}" for p in PROBES])
def test_raw_probe(ctx: Ctx, facts: dict[str, Any], p: RawProbe) -> None:
    require(facts, p.needs)
    ctx.name = "os_" + p.id.replace("-", "_")
    ctx.pid = None
    ctx.notes.clear()
    ctx.calls.clear()
    if p.victim:
        ctx.victim = "victim_" + p.id.replace("-", "_")
        ctx.box.raw(ctx.victim, "result = 1")
        ctx.victim_pid = ctx.box.worker(ctx.victim).pid or 0
        ctx.victim_before = kernel_view(ctx.victim_pid)
        scratch = Path(ctx.victim_before["cwd"]).stat()
        ctx.notes["scratch_stat"] = (scratch.st_mode, scratch.st_mtime)
    got_usr1: list[int] = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: got_usr1.append(signum))
    outs = []
    try:
        for i, code in enumerate((p.code, *map(dedent, p.then))):
            if i and p.between is not None:
                p.between(ctx)
            try:
                out = ctx.box.raw(ctx.name, Template(PRELUDE + code + POSTLUDE).safe_substitute(ctx.values()))
            except ExtensionFailed as exc:
                out = f"refused: {exc}"
            except Exception as exc:  # anything else escaped the host's handling of the worker
                pytest.fail(f"not a clean failure: the host raised {describe(exc)}")
            print(f"[{p.klass}:{p.id}] {out[:600]!r}")  # shown with -s or on failure
            outs.append(out)
            with contextlib.suppress(KeyError):
                ctx.pid = ctx.box.worker(ctx.name).pid
        time.sleep(0.05)
        findings = Findings()
        if p.verify is not None:
            findings.check(p.verify, ctx, "\n".join(outs))
        findings.check(no_signal, got_usr1)
        findings.check(lambda: ctx.world.check(*outs, sandbox=ctx.box))
        findings.check(assert_worker_still_confined, ctx.world, ctx.pid)
        findings.check(unix_untouched, ctx, "")
        findings.assert_none()
    finally:
        signal.signal(signal.SIGUSR1, previous)
        for name in (ctx.name, ctx.victim):
            with contextlib.suppress(Exception):
                ctx.box.unload(name)
        ctx.victim, ctx.victim_pid, ctx.victim_before = "", 0, {}


def test_the_worker_facts_name_every_layer(ctx: Ctx, facts: dict[str, Any]) -> None:
    """environment: what the worker reports about itself, checked against the kernel."""
    require(facts, ("landlock", "seccomp", "netns", "nobody"))
    assert set(facts["environment"]) <= {"LANG", "TZ"}, facts["environment"]
    assert facts["user"] == "nobody" and facts["nproc"] == 0 and facts["fsize"] == 0
    assert "files" in facts["landlock"] and "tcp" in facts["landlock"]
    ctx.box.raw("facts_again", "result = 1")
    pid = ctx.box.worker("facts_again").pid
    assert pid is not None
    status = proc_status(pid)
    try:
        assert status["Uid"].split()[:2] == ["65534", "65534"]
        assert os.readlink(f"/proc/{pid}/ns/net") != os.readlink("/proc/self/ns/net"), "the host's network namespace"
        ctx.world.check(repr(facts), sandbox=ctx.box)
    finally:
        ctx.box.unload("facts_again")


def test_a_shared_worker_cannot_make_the_host_answer_as_another_extension(ctx: Ctx, facts: dict[str, Any]) -> None:
    """protocol: a raw worker queues a reply and a capability request for the next extension's turn."""
    victim = "def execute(user_input, context, **kwargs):\n    return 'victim output'\n"
    ctx.box.load("shared_victim", "v1", victim, group="shared")
    ctx.calls.clear()
    code = dedent(
        """
        import gc
        channel = next(o for o in gc.get_objects() if type(o).__name__ == "Channel")
        channel.send(["ok", "an early answer"])
        channel.send(["cap", "setting", ["api_key"], {}])
        result = "output planted by the attacker"
        """
    )
    outs = []
    try:
        try:
            outs.append(ctx.box.raw("shared_attacker", code, group="shared"))
            outs.append(ctx.box.call("shared_victim", "v1", "", {}, {}))
        except ExtensionFailed as exc:
            outs.append(f"refused: {exc}")
        print("[protocol:shared-worker-desync]", outs, ctx.calls)
        ctx.world.check(*outs, sandbox=ctx.box)
        answered = {name for name, _ in ctx.calls}
        assert answered <= {"shared_attacker"}, f"a capability request was answered as {answered}"
        assert "output planted by the attacker" not in outs[1:], "the victim's result came from the attacker"
    finally:
        for name in ("shared_attacker", "shared_victim"):
            with contextlib.suppress(Exception):
                ctx.box.unload(name)
