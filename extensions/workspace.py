"""The workspace folder: the only files an extension with the `workspace` permission can touch.

Every path is checked twice. First as text: resolved against the workspace, it must stay
inside. Then by the kernel: each file or folder is opened with `openat2(RESOLVE_BENEATH)` from
the workspace (or the folder above it), so a symlink swapped in after the first check still
cannot lead out. Deleting removes the entry named, a symlink itself rather than what it points
to. Reads never block on a named pipe, and the folder as a whole has a size quota.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from pathlib import Path
from typing import Any

OPENAT2 = 437  # the same number on every architecture
RESOLVE_BENEATH = 0x08
RESOLVE_NO_MAGICLINKS = 0x02
MAX_FILE_BYTES = 256 * 1024
MAX_WORKSPACE_BYTES = 64 * 1024 * 1024


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, relative: str, flags: int, mode: int = 0o644) -> int:
    """Open `relative` beneath the folder `dirfd`; PermissionError if the path would leave it."""
    libc = ctypes.CDLL(None, use_errno=True)
    how = OpenHow(flags | os.O_CLOEXEC, mode if flags & os.O_CREAT else 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
    fd = libc.syscall(OPENAT2, dirfd, relative.encode(), ctypes.byref(how), ctypes.sizeof(how))
    if fd < 0:
        code = ctypes.get_errno()
        if code == errno.EXDEV:
            raise PermissionError(f"{relative!r} leads outside the workspace")
        raise OSError(code, os.strerror(code), relative)
    return int(fd)


def open_beneath(root: Path, relative: str, flags: int, mode: int = 0o644) -> int:
    dirfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return openat2(dirfd, relative, flags, mode)
    finally:
        os.close(dirfd)


class Workspace:
    def __init__(self, folder: Path, quota_bytes: int = MAX_WORKSPACE_BYTES) -> None:
        self.folder = folder
        self.quota_bytes = quota_bytes

    def root(self) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder.resolve()

    def resolve(self, relative: str) -> Path:
        """Map a workspace-relative path to a real path inside the workspace, or refuse."""
        root = self.root()
        target = (root / str(relative)).resolve()
        if target != root and not target.is_relative_to(root):
            raise PermissionError(f"{relative!r} is outside the workspace ({root})")
        return target

    def entry(self, relative: str) -> tuple[str, str]:
        """The folder (relative, resolved, inside) and the name of the entry `relative` names,
        without following the entry itself if it is a symlink."""
        root = self.root()
        candidate = root / str(relative)
        if candidate.name in ("", ".", ".."):
            raise PermissionError(f"{relative!r} does not name a file")
        parent = candidate.parent.resolve()
        if parent != root and not parent.is_relative_to(root):
            raise PermissionError(f"{relative!r} is outside the workspace ({root})")
        return str(parent.relative_to(root)) or ".", candidate.name

    def _open(self, relative: str, flags: int) -> int:
        path = self.resolve(relative)
        return open_beneath(self.root(), str(path.relative_to(self.root())) or ".", flags)

    def list_dir(self, relative: str = ".") -> list[dict[str, Any]]:
        try:
            fd = self._open(relative, os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFoundError(f"no folder {relative!r} in the workspace") from None
        try:
            entries = sorted(os.scandir(fd), key=lambda e: e.name)
            return [
                {"name": e.name, "dir": e.is_dir(follow_symlinks=False),
                 "bytes": e.stat(follow_symlinks=False).st_size if e.is_file(follow_symlinks=False) else None}
                for e in entries
            ]  # fmt: skip
        finally:
            os.close(fd)

    def read(self, relative: str) -> str:
        try:  # O_NONBLOCK: a named pipe answers at once instead of holding the host
            fd = self._open(relative, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except (FileNotFoundError, IsADirectoryError):
            raise FileNotFoundError(f"no file {relative!r} in the workspace") from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise FileNotFoundError(f"{relative!r} is not a regular file")
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{relative!r} is larger than {MAX_FILE_BYTES // 1024} KB")
        return data.decode("utf-8", errors="replace")

    def used_bytes(self) -> int:
        total = 0
        for folder, _, files in os.walk(self.root()):
            for name in files:
                total += os.lstat(os.path.join(folder, name)).st_size
        return total

    def write(self, relative: str, text: str) -> int:
        data = str(text).encode()
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"refusing to write more than {MAX_FILE_BYTES // 1024} KB")
        if self.used_bytes() + len(data) > self.quota_bytes:
            raise ValueError(f"the workspace holds {self.quota_bytes // 2**20} MB at most; delete something first")
        path = self.resolve(relative)
        folder = self.make_folders(str(path.parent.relative_to(self.root())))
        try:
            fd = openat2(folder, path.name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW)
        finally:
            os.close(folder)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        return len(text)

    def make_folders(self, relative: str) -> int:
        """Create the folders of `relative` one at a time beneath the workspace; return the last one's fd."""
        fd = os.open(self.root(), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        for part in Path(relative).parts:
            if part in ("", "."):
                continue
            try:
                try:
                    following = openat2(fd, part, os.O_PATH | os.O_DIRECTORY)
                except FileNotFoundError:
                    os.mkdir(part, dir_fd=fd)
                    following = openat2(fd, part, os.O_PATH | os.O_DIRECTORY)
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)
            fd = following
        return fd

    def check_deletable(self, relative: str) -> str:
        """Refuse what is not a file (or a link) in the workspace; return its normalised path."""
        folder, name = self.entry(relative)
        try:
            mode = os.lstat(self.root() / folder / name).st_mode
        except FileNotFoundError:
            raise FileNotFoundError(f"no file {relative!r} in the workspace") from None
        if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
            raise FileNotFoundError(f"{relative!r} is not a file")
        return str(Path(folder) / name) if folder != "." else name

    def delete(self, relative: str) -> None:
        """Remove the entry `relative` names (a symlink itself, never its target)."""
        folder, name = self.entry(relative)
        fd = open_beneath(self.root(), folder, os.O_PATH | os.O_DIRECTORY)
        try:
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                raise FileNotFoundError(f"{relative!r} is not a file")
            os.unlink(name, dir_fd=fd)
        finally:
            os.close(fd)
