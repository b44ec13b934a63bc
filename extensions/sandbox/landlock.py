"""Landlock through its three system calls: confine this process's file access, TCP and scopes.

Written here rather than taken from PyPI because the `landlock` package (1.0.0.dev5) handles
file access only; Sena also needs TCP bind/connect (ABI 4) and the abstract-socket and signal
scopes (ABI 6). Each access class is handled only when the running kernel's ABI knows it, so
the same code confines as much as an older kernel allows and says what it could not.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

CREATE_RULESET, ADD_RULE, RESTRICT_SELF = 444, 445, 446  # the same number on every architecture
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1
PR_SET_NO_NEW_PRIVS = 38

READ_FILE, READ_DIR = 1 << 2, 1 << 3
READ_ONLY = READ_FILE | READ_DIR
FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
"""Every file-system right a ruleset may handle, by the ABI that introduced the last of them."""
NET_TCP = 0b11  # bind and connect (ABI 4)
SCOPES = 0b11  # abstract UNIX sockets and signals outside the domain (ABI 6)


class RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]  # fmt: skip


class PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@dataclass
class Confinement:
    """What `restrict` put in force, for the worker's report."""

    abi: int
    handled: list[str] = field(default_factory=list)
    not_handled: list[str] = field(default_factory=list)


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")
    return result


def abi_version() -> int:
    """The kernel's Landlock ABI, or 0 when Landlock is missing or disabled at boot."""
    libc = _libc()
    result = libc.syscall(CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(CREATE_RULESET_VERSION))
    if result < 0 and ctypes.get_errno() in (errno.ENOSYS, errno.EOPNOTSUPP):
        return 0
    return int(_check(result, "landlock_create_ruleset(version)"))


def restrict(read_only: Iterable[str]) -> Confinement:
    """Confine this process (and any child) for good: read-only beneath `read_only`, nothing else
    on the file system, no TCP bind or connect, no abstract sockets or signals outside.

    Raises OSError when the kernel has no Landlock; callers decide whether that is fatal.
    """
    abi = abi_version()
    if abi == 0:
        raise OSError(errno.ENOSYS, "Landlock is not available in this kernel (or disabled at boot)")
    done = Confinement(abi)
    attr = RulesetAttr(handled_access_fs=FS_BY_ABI[max(v for v in FS_BY_ABI if v <= abi)])
    done.handled.append("files")
    if abi >= 4:
        attr.handled_access_net = NET_TCP
        done.handled.append("tcp")
    else:
        done.not_handled.append("tcp (needs ABI 4)")
    if abi >= 6:
        attr.scoped = SCOPES
        done.handled.append("abstract unix sockets and signals")
    else:
        done.not_handled.append("scopes (needs ABI 6)")
    size = ctypes.sizeof(RulesetAttr) if abi >= 6 else 16 if abi >= 4 else 8
    libc = _libc()
    ruleset = _check(libc.syscall(CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0), "create_ruleset")
    try:
        for path in read_only:
            if not os.path.exists(path):
                continue
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                access = READ_ONLY if os.path.isdir(path) else READ_FILE
                rule = PathBeneathAttr(allowed_access=access, parent_fd=fd)
                _check(libc.syscall(ADD_RULE, ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0), f"add_rule {path}")
            finally:
                os.close(fd)
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
        _check(libc.syscall(RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)
    return done
