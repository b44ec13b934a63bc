"""The API's front door against a client that lies: each refusal is tested by its effect.

Made-up tokens and spoofed `X-Forwarded-For` headers must not buy fresh rate-limit buckets, a
foreign `Host` (DNS rebinding) or a foreign page's `Origin` must not reach any route, and a
chunked body is held to the size limit. In-process through the ASGI app, then against a real
`sena serve` where uvicorn's own header handling is part of what is tested.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import Guard
from config.settings import Settings
from tests.fakes import ScriptedModels
from tests.serving import running_server, serve_env
from tests.test_api import api_settings as api_test_settings

pytestmark = pytest.mark.slow  # opens the app (mem0 off) and, at the end, a real server
LOCAL = "http://127.0.0.1"


def api_settings(root: Path, **api: Any) -> Settings:
    settings = api_test_settings(root, **api)
    settings.memory.long_term = False
    return settings


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(tmp_path, rate_limit_per_minute=5), ScriptedModels()), base_url=LOCAL) as c:
        yield c


def guard_of(client: TestClient) -> Guard:
    stack = client.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(stack, Guard):
        stack = stack.app
    return stack


def test_made_up_tokens_share_the_peers_bucket_and_the_limiter_stays_small(limited: TestClient) -> None:
    codes = [
        limited.get("/api/v1/threads", headers={"Authorization": f"Bearer {secrets.token_hex(8)}"}).status_code
        for _ in range(140)
    ]
    assert codes[:5] == [200] * 5 and codes.count(429) >= 130  # a fresh bucket per token would give none
    # (a slow machine may see a request or two come back as the window slides)
    assert len(guard_of(limited).limiter.storage.storage) <= 4  # one identity: a couple of window counters


def test_a_foreign_host_name_reaches_nothing(limited: TestClient) -> None:
    """DNS rebinding: a page at evil.example.com whose name now points at 127.0.0.1."""
    rebound = {"Host": "evil.example.com"}
    answer = limited.post("/api/v1/chat", json={"message": "hello", "thread_id": "rebound"}, headers=rebound)
    assert answer.status_code == 400 and "host name 'evil.example.com'" in answer.json()["error"]["message"]
    assert "api.allowed_hosts" in answer.json()["error"]["hint"]
    assert limited.get("/api/v1/threads", headers=rebound).status_code == 400
    assert limited.get("/api/v1/threads").json() == []  # the turn never ran
    for name in ("127.0.0.1:8000", "localhost:8000", "[::1]:8000", "LOCALHOST"):
        assert limited.get("/health", headers={"Host": name}).status_code == 200, name


def test_a_foreign_page_cannot_change_anything(limited: TestClient) -> None:
    foreign = {"Origin": "http://evil.test"}
    refused = limited.post("/api/v1/chat", json={"message": "hello", "thread_id": "csrf"}, headers=foreign)
    assert refused.status_code == 403 and "another web site" in refused.json()["error"]["message"]
    sneaky = limited.put("/api/v1/extensions/system_info/toggle", json={"enabled": False}, headers=foreign)
    assert sneaky.status_code == 403
    no_origin_but_cross_site = limited.post(
        "/api/v1/chat", json={"message": "hello", "thread_id": "csrf"}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert no_origin_but_cross_site.status_code == 403
    assert limited.get("/api/v1/threads").json() == []
    assert "system_info" in limited.get("/health").json()["extensions"]
    # the page's own origin, and clients without one, may
    own = limited.post("/api/v1/chat", json={"message": "hi", "thread_id": "own"}, headers={"Origin": LOCAL})
    assert own.status_code == 200, own.text
    assert limited.post("/api/v1/chat", json={"message": "hi", "thread_id": "cli"}).status_code == 200


def test_a_chunked_body_is_held_to_the_limit(tmp_path: Path) -> None:
    app = create_app(api_settings(tmp_path, max_body_bytes=2048), ScriptedModels())
    with TestClient(app, base_url=LOCAL) as client:

        def chunks() -> Iterator[bytes]:
            yield b'{"message": "'
            for _ in range(64):
                yield b"x" * 1024
            yield b'", "thread_id": "big"}'

        answer = client.post("/api/v1/chat", content=chunks(), headers={"content-type": "application/json"})
        assert answer.status_code == 413 and "larger than 2048 bytes" in answer.json()["error"]["message"]
        assert client.get("/api/v1/threads").json() == []
        pieces = iter([b'{"message": "hi", ', b'"thread_id": "ok"}'])
        small = client.post("/api/v1/chat", content=pieces, headers={"content-type": "application/json"})
        assert small.status_code == 200, small.text


def test_a_real_server_ignores_spoofed_forwarding_and_foreign_hosts(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    del env["SENA_API__AUTH_TOKEN"]  # the default: no token, so only the peer can key the limit
    env.update(SENA_API__RATE_LIMIT_PER_MINUTE="5", SENA_MEMORY__LONG_TERM="false", SENA_API__MAX_BODY_BYTES="4096")
    with running_server(env) as url:

        def chunks() -> Iterator[bytes]:
            for _ in range(32):
                yield b"y" * 1024

        big = httpx.post(f"{url}/api/v1/memory/add", content=chunks(), headers={"content-type": "application/json"})
        assert big.status_code == 413 and "larger than 4096 bytes" in big.json()["error"]["message"]
        spoofed = [
            httpx.get(f"{url}/api/v1/threads", headers={"X-Forwarded-For": f"10.0.{i}.1"}).status_code
            for i in range(20)
        ]
        assert spoofed.count(429) >= 14, spoofed  # one bucket (the 413 above took a request); spoofing: none
        rebound = httpx.get(f"{url}/health", headers={"Host": "attacker.test"})
        assert rebound.status_code == 400 and rebound.json()["error"]["message"].startswith("This Sena does not")


def test_behind_a_trusted_proxy_forwarded_clients_get_their_own_buckets(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    del env["SENA_API__AUTH_TOKEN"]
    env.update(
        SENA_API__RATE_LIMIT_PER_MINUTE="2", SENA_MEMORY__LONG_TERM="false", SENA_API__TRUSTED_PROXIES='["127.0.0.1"]'
    )
    with running_server(env) as url:
        codes = [
            httpx.get(f"{url}/api/v1/threads", headers={"X-Forwarded-For": f"192.0.2.{i}"}).status_code
            for i in range(6)
        ]
        assert codes == [200] * 6  # six clients behind the proxy, one request each
