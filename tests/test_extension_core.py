"""The four core extensions through the real loader, sandbox and capabilities."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from config.settings import Settings, load_settings
from extensions.host import SandboxHost
from extensions.registry import ExtensionRegistry
from extensions.sandbox import ExtensionFailed, ExtensionInvalid
from tests.conftest import MODELS_DIR


class SearxStub(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        body = {"results": [{"title": f"About {query['q'][0]}", "url": "http://x.test/1", "content": "A result."}]}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def searx() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), SearxStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/search"
    server.shutdown()


def make_host(tmp_path: Path, **extension_settings: Any) -> SandboxHost:
    settings: Settings = load_settings(
        app={"data_dir": tmp_path / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={
            "user_dir": tmp_path / "user",
            "workspace": tmp_path / "ws",
            "max_consecutive_failures": 10,
            **extension_settings,
        },
    )
    host = SandboxHost(settings, ExtensionRegistry.from_path(settings.database_path))
    host.load_all()
    return host


def run(host: SandboxHost, name: str, text: str = "", **kwargs: Any) -> str:
    return asyncio.run(host.run(name, text, {"user_id": "u"}, **kwargs))


def test_all_four_core_extensions_load(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    assert host.names() == ["app_launcher", "file_manager", "system_info", "web_search"]
    assert "CPU:" in run(host, "system_info") and "Disk:" in run(host, "system_info")
    host.close()


def test_file_manager_stays_inside_the_workspace(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    outside = tmp_path / "secret.txt"
    outside.write_text("do not read")
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "link").symlink_to(outside)
    (tmp_path / "ws" / "dirlink").symlink_to(tmp_path)

    assert run(host, "file_manager", action="write", path="notes/todo.txt", content="milk") == (
        "Wrote 4 characters to notes/todo.txt."
    )
    assert run(host, "file_manager", action="read", path="notes/todo.txt") == "milk"
    assert "todo.txt (4 bytes)" in run(host, "file_manager", action="list", path="notes")
    for sneaky in ["../secret.txt", "/etc/passwd", "link", "dirlink/secret.txt"]:
        with pytest.raises(ExtensionFailed, match="outside the workspace"):
            run(host, "file_manager", action="read", path=sneaky)
    host.close()


def test_a_delete_waits_for_the_user_whatever_the_extension_says(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    run(host, "file_manager", action="write", path="notes/todo.txt", content="milk")
    target = tmp_path / "ws" / "notes" / "todo.txt"
    answer = run(host, "file_manager", action="delete", path="notes/todo.txt", confirm=True)
    [pending] = host.confirmations.pending()
    assert answer == f"Deleting notes/todo.txt needs your confirmation: type /confirm {pending.id} to delete it."
    assert target.exists(), "the extension's own confirm=True deleted the file"
    assert pending.extension == "file_manager" and pending.target == "notes/todo.txt"

    run(host, "file_manager", action="delete", path="notes/todo.txt")
    denied = host.confirmations.pending()[-1]
    host.confirmations.deny(denied.id)
    assert target.exists()
    assert host.confirmations.approve(pending.id) == "Deleted notes/todo.txt."
    assert not target.exists()
    with pytest.raises(KeyError, match="no pending action"):
        host.confirmations.approve(pending.id)  # once only
    host.close()


def test_an_approved_delete_still_cannot_leave_the_workspace(tmp_path: Path) -> None:
    """A symlink swapped in before the user approves is removed itself; what it points to stays."""
    host = make_host(tmp_path)
    outside = tmp_path / "keep.txt"
    outside.write_text("precious")
    run(host, "file_manager", action="write", path="victim.txt", content="x")
    run(host, "file_manager", action="delete", path="victim.txt")
    [pending] = host.confirmations.pending()
    victim = tmp_path / "ws" / "victim.txt"
    victim.unlink()
    victim.symlink_to(outside)
    assert host.confirmations.approve(pending.id) == "Deleted victim.txt."
    assert outside.read_text() == "precious" and not victim.is_symlink()
    host.close()


def test_web_search_says_when_unconfigured_and_queries_the_backend_when_set(tmp_path: Path, searx: str) -> None:
    unconfigured = make_host(tmp_path / "a")
    assert "not configured" in run(unconfigured, "web_search", query="otters")
    unconfigured.close()
    host = make_host(tmp_path / "b", settings={"web_search": {"url": searx}})
    assert run(host, "web_search", query="otters") == "- About otters <http://x.test/1>: A result."
    host.close()


def test_web_search_backend_cannot_be_swapped_for_another_host(tmp_path: Path, searx: str) -> None:
    host = make_host(tmp_path, settings={"web_search": {"url": searx}})
    port = searx.split(":")[2].split("/")[0]
    for url in [
        "http://127.0.0.1:1/steal",
        f"http://127.0.0.1:{port}@evil.test/search",
        f"http://127.0.0.1:{port}/search@evil.test",
        f"http://127.0.0.1:{port}/search.evil",
        f"http://127.0.0.1:{port}/search/../admin",
        f"http://127.0.0.1:{port}/search/%2e%2e/admin",
        f"http://user:pw@127.0.0.1:{port}/search",
        f"https://127.0.0.1:{port}/search",
        f"http://127.0.0.1.evil.test:{port}/search",
        f"http://localhost:{port}/search",
        "file:///etc/passwd",
    ]:
        with pytest.raises(PermissionError, match="only the configured search backend"):
            host.sandbox.capabilities("web_search", "http_get", (url,), {})
    assert host.sandbox.capabilities("web_search", "http_get", (searx + "/sub",), {"params": {"q": "ok"}})
    host.close()


def test_app_launcher_starts_only_allow_listed_apps_without_a_shell(tmp_path: Path) -> None:
    marker = tmp_path / "launched"
    allowed = {"toucher": ["touch", str(marker)]}
    host = make_host(tmp_path, settings={"app_launcher": {"allowed": allowed}})
    with pytest.raises(ExtensionInvalid, match="not on the allow-list"):
        run(host, "app_launcher", app="rm -rf /")
    assert run(host, "app_launcher", app="toucher").startswith("Started toucher (process ")
    for _ in range(50):
        if marker.exists():
            break
        asyncio.run(asyncio.sleep(0.05))
    assert marker.exists()
    host.close()


def test_user_extensions_get_only_granted_permissions(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "peek.py").write_text(
        "import sena\nVERSION = '1'\n"
        "METADATA = {'name': 'peek', 'description': 'd', 'author': 'a', 'permissions': ['workspace']}\n"
        "def execute(user_input, context, **kwargs):\n    return str(sena.list_dir('.'))\n"
    )
    host = make_host(tmp_path)
    with pytest.raises(ExtensionFailed, match="lacks the 'workspace' permission"):
        run(host, "peek")
    host.close()
    granted = make_host(tmp_path, grants={"peek": ["workspace"]})
    assert run(granted, "peek") == "[]"
    granted.close()


def test_the_worked_example_in_the_docs_loads_and_runs(tmp_path: Path) -> None:
    import re

    from config.settings import PROJECT_ROOT

    guide = (PROJECT_ROOT / "docs" / "EXTENSIONS.md").read_text()
    example = re.search(r"```python\n(.*?)```", guide, re.DOTALL)
    assert example is not None
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "temperature.py").write_text(example.group(1))
    host = make_host(tmp_path)
    assert run(host, "temperature", value=21, unit="C") == "21 °C is 69.8 °F"
    with pytest.raises(ExtensionInvalid, match="C or F"):
        run(host, "temperature", value=1, unit="K")
    host.close()
