"""What an extension may do outside its sandbox, decided and done by the host.

Sandboxed code has no files, sockets or processes of its own. It imports `sena` and calls
`sena.read_file(...)`, `sena.http_get(...)` and so on; each call travels to the host, which
checks the extension's permissions and performs it within fixed bounds:

- `system`: CPU, memory and disk figures;
- `workspace`: list, read, write and delete inside the configured workspace folder only
  (paths are resolved, so `..` and symlinks that leave it are refused; delete needs `confirm=True`);
- `http`: GET requests to the configured web-search backend only;
- `apps`: start an application from the configured allow-list, without a shell.

An extension declares permissions in `METADATA["permissions"]`; core extensions get what they
declare, user and generated ones only what `config/extensions.yaml` grants them.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.settings import ExtensionsSettings

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


class Capabilities:
    """The host side of the `sena` module; `granted(name)` says what an extension may do."""

    def __init__(self, settings: ExtensionsSettings, workspace: Path, granted: Callable[[str], frozenset[str]]) -> None:
        self.settings = settings
        self.granted = granted
        self.workspace = workspace

    def __call__(self, extension: str, op: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if op not in PERMISSION_OF:
            raise PermissionError(f"sena.{op} does not exist")
        needed = PERMISSION_OF[op]
        if needed is not None and needed not in self.granted(extension):
            raise PermissionError(
                f"{extension} lacks the {needed!r} permission: declare it in METADATA['permissions'] "
                f"and grant it under extensions.grants.{extension} in config/extensions.yaml"
            )
        handler: Callable[..., Any] = getattr(self, op)
        return handler(extension, *args, **kwargs)

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

    def list_dir(self, extension: str, relative: str = ".") -> list[dict[str, Any]]:
        folder = self.resolve(relative)
        if not folder.is_dir():
            raise FileNotFoundError(f"no folder {relative!r} in the workspace")
        return [
            {"name": p.name, "dir": p.is_dir(), "bytes": p.stat().st_size if p.is_file() else None}
            for p in sorted(folder.iterdir())
        ]

    def read_file(self, extension: str, relative: str) -> str:
        path = self.resolve(relative)
        if not path.is_file():
            raise FileNotFoundError(f"no file {relative!r} in the workspace")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"{relative!r} is larger than {MAX_FILE_BYTES // 1024} KB")
        return path.read_text(encoding="utf-8", errors="replace")

    def write_file(self, extension: str, relative: str, text: str) -> int:
        if len(text.encode()) > MAX_FILE_BYTES:
            raise ValueError(f"refusing to write more than {MAX_FILE_BYTES // 1024} KB")
        path = self.resolve(relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        log.info("extension %s wrote %s", extension, path)
        return len(text)

    def delete_file(self, extension: str, relative: str, confirm: bool = False) -> bool:
        path = self.resolve(relative)
        if not confirm:
            raise PermissionError(f"deleting {relative!r} needs confirm=True")
        if not path.is_file():
            raise FileNotFoundError(f"no file {relative!r} in the workspace")
        path.unlink()
        log.info("extension %s deleted %s", extension, path)
        return True

    # http -----------------------------------------------------------------------------------

    def http_get(self, extension: str, url: str, params: dict[str, Any] | None = None) -> Any:
        import httpx

        base = str(self.settings.settings.get("web_search", {}).get("url") or "")
        if not base:
            raise PermissionError("no web search backend is configured (extensions.settings.web_search.url)")
        if not url.startswith(base.rstrip("/")):
            raise PermissionError(f"only the configured search backend {base} may be reached")
        response = httpx.get(url, params=params, timeout=10.0, follow_redirects=False)
        response.raise_for_status()
        if len(response.content) > MAX_HTTP_BYTES:
            raise ValueError("the response is too large")
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.json()
        return response.text

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
