"""The worker's process and OS layers: what raw Python in the worker still cannot do.

`confine()` runs once in a fresh worker, after the allowed modules are imported and before
any extension code, in this order (each step needs the privileges the next one gives up):

1. close every inherited file descriptor but the channel;
2. network and IPC namespaces of its own (as root, or through a user namespace): no interface
   but a loopback that is down, so no address on the machine is reachable, and no System V
   shared memory, queue or semaphore another process can see;
3. resource limits: address space, no file growth, few open files, no processes, no core;
4. as root, become `nobody`: a drop that fails stops the worker;
5. Landlock: read-only access to the Python standard library and the time-zone data, nothing
   else on the file system (not the data folder, not /etc/passwd); no TCP bind or connect;
   no signals or abstract sockets outside the worker;
6. seccomp: `socket`, `execve`, `fork`, `clone`, `ptrace`, `io_uring` and their like fail with
   EPERM, whatever the layers above let through; so do the calls Landlock does not cover that
   reach other processes (`prlimit` of another pid, `setpriority`, affinity), change files'
   metadata (`chmod`, `chown`, `utimes`, xattrs), watch the file system (inotify, fanotify) or
   use System V IPC.

Any layer the kernel lacks is reported in the worker's facts (and by `sena doctor`); the
others still hold.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import os
import sys
import sysconfig
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWNET = 0x08000000, 0x10000000, 0x40000000
NOBODY = 65534
TIMEZONE_DATA = ("/usr/share/zoneinfo", "/etc/localtime")

DENIED_SYSCALLS = (
    # network and IPC endpoints
    "socket", "socketpair",
    # new programs and processes (threads included: the worker needs none)
    "execve", "execveat", "fork", "vfork", "clone", "clone3",
    # other processes' memory and the kernel's own surfaces
    "ptrace", "process_vm_readv", "process_vm_writev", "kill", "pidfd_open", "pidfd_getfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open", "userfaultfd",
    "keyctl", "add_key", "request_key", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
    "open_by_handle_at", "name_to_handle_at", "kexec_load", "init_module", "finit_module", "delete_module",
    "personality", "acct", "swapon", "swapoff", "reboot", "sethostname", "setdomainname", "syslog",
    # other processes' scheduling (prlimit64 of another pid is refused by argument, below)
    "setpriority", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "sched_setattr", "ioprio_set",
    "kcmp", "migrate_pages", "move_pages", "process_madvise",
    # files' metadata and links, which Landlock does not cover
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "utime", "utimes",
    "utimensat", "futimesat", "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat",
    # watching the file system, and System V / POSIX IPC
    "inotify_init", "inotify_init1", "inotify_add_watch", "fanotify_init", "fanotify_mark",
    "shmget", "shmat", "shmctl", "msgget", "msgsnd", "msgrcv", "msgctl", "semget", "semop", "semtimedop", "semctl",
    "mq_open", "mq_unlink",
)  # fmt: skip


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 2.0
    wall_seconds: float = 5.0
    memory_mb: int = 512
    open_files: int = 32
    max_output_chars: int = 4000


class ConfinementFailed(RuntimeError):
    """A layer that must hold could not be put in place; the worker must not serve."""


def close_inherited_fds(keep: int) -> int:
    """Close every descriptor above stderr but `keep`; return how many were open."""
    closed = 0
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
                closed += 1
            except OSError:
                pass  # the descriptor listdir itself used
    return closed


def own_network_namespace() -> str:
    """Leave the host's network and IPC: root unshares directly, anyone else through a user namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    flags = CLONE_NEWNET | CLONE_NEWIPC if os.getuid() == 0 else CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC
    if libc.unshare(flags) == 0:
        return "own network namespace (no interface up) and IPC namespace"
    return f"host network (unshare: {os.strerror(ctypes.get_errno())})"


def apply_limits(limits: Limits) -> dict[str, Any]:
    import resource

    mem = limits.memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # no file grows: writes fail
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    return {"memory_mb": limits.memory_mb, "open_files": limits.open_files, "nproc": 0, "fsize": 0}


def drop_privileges() -> str:
    """As root, become nobody (no groups); raise ConfinementFailed if that does not take."""
    if os.getuid() != 0:
        return str(os.getuid())
    try:
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
    except OSError as exc:
        raise ConfinementFailed(f"could not drop root privileges: {exc}") from exc
    if os.getuid() == 0 or os.geteuid() == 0:
        raise ConfinementFailed("still root after dropping privileges")
    return "nobody"


def readable_paths() -> list[str]:
    """The interpreter's own standard library (not a virtual environment's site-packages)."""
    base = {"base": sys.base_prefix, "platbase": sys.base_exec_prefix, "installed_base": sys.base_prefix}
    paths = {sysconfig.get_path(key, vars=base) for key in ("stdlib", "platstdlib")}
    return sorted(paths) + [p for p in TIMEZONE_DATA if os.path.exists(p)]


def apply_landlock(paths: list[str]) -> str:
    import extensions.sandbox.landlock as landlock

    try:
        done = landlock.restrict(paths)
    except OSError as exc:
        if exc.errno in (errno.ENOSYS, errno.EOPNOTSUPP):
            return f"unavailable: {exc.strerror}"
        raise ConfinementFailed(f"Landlock failed: {exc}") from exc
    missing = f"; not handled: {', '.join(done.not_handled)}" if done.not_handled else ""
    return f"ABI {done.abi}: {', '.join(done.handled)}{missing}"


def apply_seccomp() -> str:
    try:
        import pyseccomp as seccomp
    except OSError as exc:  # libseccomp.so.2 is missing
        return f"unavailable: {exc}"
    syscall_filter = seccomp.SyscallFilter(seccomp.ALLOW)
    denied = 0
    for name in DENIED_SYSCALLS:
        try:
            syscall_filter.add_rule(seccomp.ERRNO(errno.EPERM), name)
            denied += 1
        except (OSError, ValueError):
            pass  # not a system call on this architecture
    # the worker sets its own limits (pid 0) before each call; another process's, never
    syscall_filter.add_rule(seccomp.ERRNO(errno.EPERM), "prlimit64", seccomp.Arg(0, seccomp.NE, 0))
    syscall_filter.load()
    return f"{denied} system calls denied"


def confine(channel_fd: int, limits: Limits) -> dict[str, Any]:
    """Put every layer in place; return what holds, for the host. Raises ConfinementFailed."""
    facts: dict[str, Any] = {"inherited_fds_closed": close_inherited_fds(channel_fd)}
    readable = readable_paths()  # while root can still read its own installation
    facts["network"] = own_network_namespace()
    facts.update(apply_limits(limits))
    facts["user"] = drop_privileges()
    facts["landlock"] = apply_landlock(readable)
    facts["seccomp"] = apply_seccomp()
    facts["environment"] = sorted(os.environ)
    return facts
