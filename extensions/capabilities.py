"""What an extension may do outside its sandbox, decided and done by the host.

Sandboxed code has no files, sockets or processes of its own. It imports `sena` and calls
`sena.read_file(...)`, `sena.http_get(...)` and so on; each call travels to the host, which
checks the extension's permissions and performs it within fixed bounds:

- `system`: CPU, memory and disk figures;
- `workspace`: list, read, write and delete inside the configured workspace folder only
  (extensions/workspace.py: every path checked as text, then by the kernel). A delete only
  asks: the user confirms it (extensions/confirmations.py);
- `http`: GET requests to the configured web-search backend only, compared as parsed URLs
  (scheme, host, port, path prefix; no user info), uncompressed, at most 256 KB in 10 s;
- `apps`: start an application from the configured allow-list, without a shell.

An extension declares permissions in `METADATA["permissions"]`; core extensions get what they
declare, user and generated ones only what `config/extensions.yaml` grants them.
"""

from __future__ import annotations

import json
import logging
import posixpath
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from config.settings import ExtensionsSettings
from extensions.confirmations import Confirmations
from extensions.workspace import Workspace

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
MAX_HTTP_BYTES = 256 * 1024
HTTP_DEADLINE_S = 10.0


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
        self.files = Workspace(workspace)
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
        disk = psutil.disk_usage(str(self.files.root()))
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

    # workspace (extensions/workspace.py) --------------------------------------------------

    def resolve(self, relative: str) -> Path:
        return self.files.resolve(relative)

    def list_dir(self, extension: str, relative: str = ".") -> list[dict[str, Any]]:
        return self.files.list_dir(relative)

    def read_file(self, extension: str, relative: str) -> str:
        return self.files.read(relative)

    def write_file(self, extension: str, relative: str, text: str) -> int:
        written = self.files.write(relative, text)
        log.info("extension %s wrote %s", extension, relative)
        return written

    def delete_file(self, extension: str, relative: str, confirm: Any = None) -> dict[str, Any]:
        """Ask the user to allow the delete; `confirm` from the extension counts for nothing."""
        target = self.files.check_deletable(relative)
        pending = self.confirmations.request(extension, "delete_file", target, lambda: self._delete(extension, target))
        return {"pending": pending.id, "path": target, "confirm": f"/confirm {pending.id}"}

    def _delete(self, extension: str, relative: str) -> str:
        """Delete once the user said yes: the grant and the path are checked again now."""
        self.check(extension, "delete_file")
        self.files.delete(relative)
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
        deadline = time.monotonic() + HTTP_DEADLINE_S
        identity = {"Accept-Encoding": "identity"}  # no compression: the size read is the size kept
        with httpx.stream(
            "GET", httpx.URL(url), params=params, headers=identity, timeout=HTTP_DEADLINE_S, follow_redirects=False
        ) as response:
            response.raise_for_status()
            if response.headers.get("content-encoding", "identity").lower() not in ("identity", ""):
                raise ValueError("the backend sent a compressed answer; only plain answers are read")
            body = bytearray()
            for chunk in response.iter_raw():
                body += chunk
                if len(body) > MAX_HTTP_BYTES:
                    raise ValueError(f"the response is larger than {MAX_HTTP_BYTES // 1024} KB")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the backend took longer than {HTTP_DEADLINE_S:g} s")
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
