"""What an extension may do outside its sandbox, decided and done by the host.

Sandboxed code has no files, sockets or processes of its own. It imports `sena` and calls
`sena.read_file(...)`, `sena.http_get(...)` and so on; each call travels to the host, which
checks the extension's permissions and performs it within fixed bounds:

- `system`: CPU, memory and disk figures;
- `workspace`: list, read, write and delete inside the configured workspace folder only. Paths
  are resolved (`..` and symlinks that leave it are refused), and the file itself is opened
  with `openat2(RESOLVE_BENEATH)`, so a symlink swapped in after the check still cannot lead
  out. A delete only asks: the user confirms it (extensions/confirmations.py);
- `http`: GET requests to the configured web-search backend only, compared as parsed URLs
  (scheme, host, port, path prefix; no user info), reading at most 256 KB of the answer;
- `apps`: start an application from the configured allow-list, without a shell.

An extension declares permissions in `METADATA["permissions"]`; core extensions get what they
declare, user and generated ones only what `config/extensions.yaml` grants them.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import posixpath
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from config.settings import ExtensionsSettings
from extensions.confirmations import Confirmations

log = logging.getLogger(__name__)

PERMISSION_OF = {
    "system_info": "system",
    "list_dir": "workspace",
    "read_file": "workspace",
    "write_file": "workspace",
    "delete_file": "workspace",
    "http_get": "http",
    "launch_app": "apps",
    "setting": None,
}
MAX_FILE_BYTES = 256 * 1024
MAX_HTTP_BYTES = 256 * 1024
OPENAT2 = 437  # the same number on every architecture
RESOLVE_BENEATH = 0x08
RESOLVE_NO_MAGICLINKS = 0x02


class OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def open_beneath(root: Path, relative: str, flags: int, mode: int = 0o644) -> int:
    """Open `relative` under `root` with the kernel refusing any path that leaves it."""
    libc = ctypes.CDLL(None, use_errno=True)
    dirfd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        how = OpenHow(flags | os.O_CLOEXEC, mode if flags & os.O_CREAT else 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
        fd = libc.syscall(OPENAT2, dirfd, relative.encode(), ctypes.byref(how), ctypes.sizeof(how))
        if fd < 0:
            code = ctypes.get_errno()
            if code == errno.EXDEV:
                raise PermissionError(f"{relative!r} leads outside the workspace")
            raise OSError(code, os.strerror(code), relative)
        return int(fd)
    finally:
        os.close(dirfd)


def url_within(url: str, base: str) -> bool:
    """Tell whether `url` is `base` or below it: same scheme, host and port, path under base's, no user info."""
    import httpx

    try:
        target, allowed = httpx.URL(url), httpx.URL(base)
    except (httpx.InvalidURL, TypeError):
        return False
    if target.userinfo or target.scheme != allowed.scheme or target.host != allowed.host:
        return False
    if (target.port or DEFAULT_PORTS.get(target.scheme)) != (allowed.port or DEFAULT_PORTS.get(allowed.scheme)):
        return False
    path = unquote(target.path or "/")
    if any(part in (".", "..") for part in path.split("/")) or "\\" in path:
        return False
    prefix = posixpath.normpath(unquote(allowed.path or "/")).rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or (not prefix and path.startswith("/"))


DEFAULT_PORTS = {"http": 80, "https": 443}


class Capabilities:
    """The host side of the `sena` module; `granted(name)` says what an extension may do."""

    def __init__(
        self,
        settings: ExtensionsSettings,
        workspace: Path,
        granted: Callable[[str], frozenset[str]],
        confirmations: Confirmations | None = None,
    ) -> None:
        self.settings = settings
        self.granted = granted
        self.workspace = workspace
        self.confirmations = confirmations or Confirmations()

    def __call__(self, extension: str, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if op not in PERMISSION_OF:
            raise PermissionError(f"sena.{op} does not exist")
        self.check(extension, op)
        handler: Callable[..., Any] = getattr(self, op)
        return handler(extension, *args, **kwargs)

    def check(self, extension: str, op: str) -> None:
        """Raise PermissionError unless `extension` holds the permission `op` needs."""
        needed = PERMISSION_OF[op]
        if needed is not None and needed not in self.granted(extension):
            raise PermissionError(
                f"{extension} lacks the {needed!r} permission: declare it in METADATA['permissions'] "
                f"and grant it under extensions.grants.{extension} in config/extensions.yaml"
            )

    # system ---------------------------------------------------------------------------------

    def system_info(self, extension: str) -> dict[str, Any]:
        import psutil

        memory = psutil.virtual_memory()
        disk = psutil.disk_usage(str(self._root()))
        return {
            "cpu_count": psutil.cpu_count(),
            "cpu_percent": psutil.cpu_percent(interval=0.1),
            "load_average": [round(x, 2) for x in psutil.getloadavg()],
            "memory_total_mb": memory.total // 2**20,
            "memory_available_mb": memory.available // 2**20,
            "memory_percent": memory.percent,
            "disk_total_gb": round(disk.total / 2**30, 1),
            "disk_free_gb": round(disk.free / 2**30, 1),
            "disk_percent": disk.percent,
        }

    # workspace ------------------------------------------------------------------------------

    def _root(self) -> Path:
        self.workspace.mkdir(parents=True, exist_ok=True)
        return self.workspace.resolve()

    def resolve(self, relative: str) -> Path:
        """Map a workspace-relative path to a real path inside the workspace, or refuse."""
        root = self._root()
        target = (root / str(relative)).resolve()
        if target != root and not target.is_relative_to(root):
            raise PermissionError(f"{relative!r} is outside the workspace ({root})")
        return target

    def _open(self, relative: str, flags: int) -> int:
        """Check `relative`, then open it beneath the workspace (the kernel re-checks symlinks)."""
        path = self.resolve(relative)
        return open_beneath(self._root(), str(path.relative_to(self._root())), flags)

    def list_dir(self, extension: str, relative: str = ".") -> list[dict[str, Any]]:
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

    def read_file(self, extension: str, relative: str) -> str:
        try:
            fd = self._open(relative, os.O_RDONLY | os.O_NOFOLLOW)
        except (FileNotFoundError, IsADirectoryError):
            raise FileNotFoundError(f"no file {relative!r} in the workspace") from None
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise FileNotFoundError(f"{relative!r} is not a regular file")
            data = handle.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"{relative!r} is larger than {MAX_FILE_BYTES // 1024} KB")
        return data.decode("utf-8", errors="replace")

    def write_file(self, extension: str, relative: str, text: str) -> int:
        if len(str(text).encode()) > MAX_FILE_BYTES:
            raise ValueError(f"refusing to write more than {MAX_FILE_BYTES // 1024} KB")
        self.resolve(relative).parent.mkdir(parents=True, exist_ok=True)
        fd = self._open(relative, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(str(text))
        log.info("extension %s wrote %s", extension, relative)
        return len(text)

    def delete_file(self, extension: str, relative: str, confirm: Any = None) -> dict[str, Any]:
        """Ask the user to allow the delete; `confirm` from the extension counts for nothing."""
        path = self.resolve(relative)
        if not path.is_file():
            raise FileNotFoundError(f"no file {relative!r} in the workspace")
        pending = self.confirmations.request(
            extension, "delete_file", str(relative), lambda: self._delete(extension, relative)
        )
        return {"pending": pending.id, "path": str(relative), "confirm": f"/confirm {pending.id}"}

    def _delete(self, extension: str, relative: str) -> str:
        """Delete once the user said yes: the grant and the path are checked again now."""
        self.check(extension, "delete_file")
        path = self.resolve(relative)
        parent = open_beneath(
            self._root(), str(path.parent.relative_to(self._root())) or ".", os.O_PATH | os.O_DIRECTORY
        )
        try:
            os.unlink(path.name, dir_fd=parent)
        finally:
            os.close(parent)
        log.info("extension %s deleted %s (confirmed by the user)", extension, relative)
        return f"Deleted {relative}."

    # http -----------------------------------------------------------------------------------

    def http_get(self, extension: str, url: str, params: dict[str, Any] | None = None) -> Any:
        import httpx

        base = str(self.settings.settings.get("web_search", {}).get("url") or "")
        if not base:
            raise PermissionError("no web search backend is configured (extensions.settings.web_search.url)")
        if not isinstance(url, str) or not url_within(url, base):
            raise PermissionError(f"only the configured search backend {base} may be reached")
        with httpx.stream("GET", httpx.URL(url), params=params, timeout=10.0, follow_redirects=False) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_HTTP_BYTES:
                    raise ValueError(f"the response is larger than {MAX_HTTP_BYTES // 1024} KB")
            kind = response.headers.get("content-type", "")
        if kind.startswith("application/json"):
            return json.loads(bytes(body))
        return body.decode("utf-8", errors="replace")

    # apps -----------------------------------------------------------------------------------

    def launch_app(self, extension: str, name: str) -> dict[str, Any]:
        allowed: dict[str, list[str]] = self.settings.settings.get("app_launcher", {}).get("allowed", {})
        if name not in allowed:
            names = ", ".join(sorted(allowed)) or "none"
            raise PermissionError(f"{name!r} is not on the allow-list (allowed: {names})")
        process = subprocess.Popen(  # a fixed argv from config, never a shell
            list(allowed[name]),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.info("extension %s launched %s (pid %d)", extension, name, process.pid)
        return {"app": name, "pid": process.pid}

    # settings -------------------------------------------------------------------------------

    def setting(self, extension: str, key: str, default: Any = None) -> Any:
        return self.settings.settings.get(extension, {}).get(key, default)
