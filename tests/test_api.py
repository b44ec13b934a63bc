"""The API through httpx (Starlette's TestClient) on the real stack with a scripted chat model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import RateLimiter, check_binding, studio_session
from config.settings import Settings, load_settings
from tests.conftest import MODELS_DIR
from tests.fakes import ScriptedModels

pytestmark = pytest.mark.slow  # opens mem0 and the extension worker
LOCAL = "http://127.0.0.1"  # the Host the API answers to by default (api.allowed_hosts)


def api_settings(root: Path, **api: Any) -> Settings:
    settings = load_settings(
        app={"data_dir": root / "data"},
        llm={"embedded": {"models_dir": MODELS_DIR}},
        extensions={"user_dir": root / "user", "watch": False},
        api=api,
    )
    settings.intent_routing.use_router_model = False
    return settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("api")
    with TestClient(create_app(api_settings(root), ScriptedModels()), base_url=LOCAL) as test_client:
        yield test_client


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events, name = [], "message"
    for line in text.splitlines():
        if line.startswith("event:"):
            name = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            events.append((name, json.loads(line.split(":", 1)[1].strip())))
    return events


def test_health_and_openapi(client: TestClient) -> None:
    health = client.get("/health").json()
    assert health["status"] == "ok" and "system_info" in health["extensions"]
    assert "/api/v1/chat" in client.get("/openapi.json").json()["paths"]


def test_the_openapi_schema_describes_the_blueprints_shapes(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    paths, shapes = schema["paths"], schema["components"]["schemas"]
    assert {"context", "mode"} <= set(shapes["ChatRequest"]["properties"])
    assert {"response", "metadata", "answer"} <= set(shapes["ChatAnswer"]["required"])
    assert set(shapes["ChatMetadata"]["required"]) == {
        "model_used", "processing_time", "extensions_used", "memory_retrieved"
    }  # fmt: skip
    assert "get" in paths["/api/v1/models"] and "put" in paths["/api/v1/models/{role}"]
    assert {"403", "429"} <= set(paths["/api/v1/models/{role}"]["put"]["responses"])
    assert "post" in paths["/api/v1/chat/resume"]
    log_params = {p["name"] for p in paths["/api/v1/debug/logs"]["get"]["parameters"]}
    assert {"level", "limit", "q", "since", "until"} <= log_params


def test_models_are_listed_and_switched_with_a_cooldown(tmp_path: Path) -> None:
    models = ScriptedModels()
    models.model("spare")
    with TestClient(create_app(api_settings(tmp_path), models), base_url=LOCAL) as client:
        listed = client.get("/api/v1/models").json()
        assert listed["roles"]["fast"] == "embedded:main" and "spare" in listed["available"]
        assert client.put("/api/v1/models/fast", json={"model": "spare"}).json() == {
            "role": "fast", "model": "embedded:spare"
        }  # fmt: skip
        again = client.put("/api/v1/models/fast", json={"model": "main"})
        assert again.status_code == 429 and int(again.headers["Retry-After"]) > 0
        assert client.put("/api/v1/models/code", json={"model": "nope"}).status_code == 422
        assert client.put("/api/v1/models/wizard", json={"model": "main"}).status_code == 404
        assert client.get("/api/v1/models").json()["roles"]["fast"] == "embedded:spare"
        client.post("/api/v1/chat", json={"message": "hello there", "thread_id": "m"})
        assert models.model("spare").prompts  # the next turn used it


def test_chat_answers_with_metadata_and_keeps_history(client: TestClient) -> None:
    answer = client.post("/api/v1/chat", json={"message": "hello there", "thread_id": "t1"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["answer"] == "echo: hello there" and body["intent"] == "greeting"
    assert body["model_used"] and body["processing_ms"] > 0 and body["memory_reason"] == "greeting"
    history = client.get("/api/v1/chat/history", params={"thread_id": "t1"}).json()
    assert [(m["role"], m["content"]) for m in history] == [("user", "hello there"), ("assistant", "echo: hello there")]
    assert any(t["thread_id"] == "t1" for t in client.get("/api/v1/threads").json())
    detail = client.get("/api/v1/threads/t1").json()
    assert detail["turns"][0]["user_input"] == "hello there"
    assert client.get("/api/v1/threads/nope").json()["error"]["message"].startswith("No thread 'nope'")


def test_chat_stream_sends_tokens_node_events_and_done(client: TestClient) -> None:
    response = client.post("/api/v1/chat/stream", json={"message": "how much disk space is left?", "thread_id": "t2"})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert "token" in names and names[-1] == "done"
    assert ("node_end", "run_extensions") in [(n, d.get("node")) for n, d in events]
    done = events[-1][1]
    assert done["extensions_used"][0]["name"] == "system_info" and done["extensions_used"][0]["ok"]
    assert "".join(d["text"] for n, d in events if n == "token") == done["answer"]


def test_memory_endpoints(client: TestClient) -> None:
    added = client.post("/api/v1/memory/add", json={"text": "The user's sister Lena lives in Porto"})
    assert added.status_code == 201
    memory_id = added.json()["id"]
    found = client.get("/api/v1/memory/search", params={"q": "where does Lena live?"}).json()
    assert found[0]["id"] == memory_id
    edited = client.post("/api/v1/memory/edit", json={"id": memory_id, "text": "The user's sister Lena lives in Lyon"})
    assert edited.json()["text"].endswith("Lyon")
    assert [h["event"] for h in client.get(f"/api/v1/memory/{memory_id}/history").json()] == ["ADD", "UPDATE"]
    assert client.delete(f"/api/v1/memory/{memory_id}").json() == {"deleted": memory_id}
    missing = client.delete(f"/api/v1/memory/{memory_id}")
    assert missing.status_code == 404 and "GET /api/v1/memory" in missing.json()["error"]["message"]


def test_extension_endpoints(client: TestClient) -> None:
    listed = {e["name"]: e for e in client.get("/api/v1/extensions").json()}
    assert listed["file_manager"]["permissions"] == ["workspace"]
    assert client.put("/api/v1/extensions/web_search/toggle", json={"enabled": False}).json()["enabled"] is False
    assert "web_search" not in client.get("/health").json()["extensions"]
    client.put("/api/v1/extensions/web_search/toggle", json={"enabled": True})
    assert client.put("/api/v1/extensions/nope/toggle", json={"enabled": True}).status_code == 404
    assert "system_info" in client.post("/api/v1/extensions/reload", json={}).json()["loaded"]


def test_debug_state_logs_and_telemetry(client: TestClient) -> None:
    client.post("/api/v1/chat", json={"message": "hello", "thread_id": "t3"})
    state = client.get("/api/v1/debug/state", params={"thread_id": "t3"}).json()
    assert state["values"]["intent"]["intent_type"] == "greeting" and state["next"] == []
    assert isinstance(client.get("/api/v1/debug/logs", params={"level": "DEBUG"}).json(), list)
    assert client.get("/api/v1/debug/logs", params={"q": "x", "since": "2026-01-01T00:00:00"}).status_code == 200
    assert client.get("/api/v1/debug/logs", params={"since": "yesterday"}).status_code == 422
    metrics = client.get("/api/v1/telemetry/metrics").json()
    assert metrics["turns"] >= 1 and metrics["turn_ms"]["p50"] is not None
    assert isinstance(client.get("/api/v1/telemetry/errors").json(), list)
    assert client.get("/debug").text.startswith("<!doctype html>")


def test_bad_requests_get_json_errors_without_traces(client: TestClient) -> None:
    empty = client.post("/api/v1/chat", json={"message": ""})
    assert empty.status_code == 422 and "message" in empty.json()["error"]["message"]
    bad_thread = client.post("/api/v1/chat", json={"message": "hi", "thread_id": "../../etc"})
    assert bad_thread.status_code == 422
    not_json = client.post("/api/v1/chat", content=b"{nope", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and "Traceback" not in not_json.text
    huge = client.post("/api/v1/chat", content=b"x" * 70_000, headers={"content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["message"].startswith("The request body is larger")


def test_auth_and_rate_limit(tmp_path: Path) -> None:
    settings = api_settings(tmp_path, auth_token="s3cret", rate_limit_per_minute=3)
    settings.memory.long_term = False
    with TestClient(create_app(settings, ScriptedModels()), base_url=LOCAL) as client:
        assert client.get("/health").status_code == 200  # always open
        denied = client.get("/api/v1/threads")
        assert denied.status_code == 401 and denied.headers["www-authenticate"] == "Bearer"
        auth = {"Authorization": "Bearer s3cret"}
        assert client.get("/api/v1/threads", headers=auth).status_code == 200
        assert client.get("/api/v1/threads", params={"token": "s3cret"}).status_code == 401  # never in a URL
        client.cookies.set("sena_studio", studio_session("s3cret"))  # the studio's session cookie
        assert client.get("/api/v1/threads").status_code == 200
        client.cookies.set("sena_studio", studio_session("other"))
        assert client.get("/api/v1/threads").status_code == 401
        client.cookies.clear()
        assert client.get("/api/v1/threads", headers={"Authorization": "Bearer wrong"}).status_code == 401
        client.get("/api/v1/threads", headers=auth)
        limited = client.get("/api/v1/threads", headers=auth)
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert client.get("/api/v1/memory", headers={"Authorization": "Bearer x"}).status_code == 401
        assert client.get("/health").status_code == 200


def test_rate_limiter_counts_per_identity_and_binding_rules() -> None:
    limiter = RateLimiter(per_minute=60)
    assert all(limiter.check("a") == 0 for _ in range(60))
    assert 1 <= limiter.check("a") <= 60 and limiter.check("b") == 0
    assert RateLimiter(per_minute=0).check("a") == 0  # off
    check_binding("127.0.0.1", None)
    check_binding("0.0.0.0", "token")
    with pytest.raises(ValueError, match=r"without api\.auth_token"):
        check_binding("0.0.0.0", None)


def test_cors_allows_only_configured_origins(tmp_path: Path) -> None:
    settings = api_settings(tmp_path, cors_origins=["http://localhost:3000"])
    settings.memory.long_term = False
    with TestClient(create_app(settings, ScriptedModels()), base_url=LOCAL) as client:
        allowed = client.get("/health", headers={"Origin": "http://localhost:3000"})
        assert allowed.headers.get("access-control-allow-origin") == "http://localhost:3000"
        other = client.get("/health", headers={"Origin": "http://evil.test"})
        assert "access-control-allow-origin" not in other.headers


def test_unknown_paths_and_methods_answer_in_the_same_json_shape(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Not Found"
    wrong_method = client.delete("/api/v1/chat")
    assert wrong_method.status_code == 405 and "error" in wrong_method.json()


def test_turns_replay_and_fork_over_the_api(client: TestClient) -> None:
    client.post("/api/v1/chat", json={"message": "hello", "thread_id": "dbg"})
    [turn] = client.get("/api/v1/threads/dbg/turns").json()
    assert turn["intent"] == "greeting"
    detail = client.get("/api/v1/threads/dbg/turns/1").json()
    assert [s["node"] for s in detail["steps"]][:2] == ["classify_intent", "decide_memory"]
    assert client.get("/api/v1/threads/dbg/turns/9").status_code == 404
    replayed = client.post("/api/v1/threads/dbg/replay", json={"checkpoint": detail["checkpoints"][1]}).json()
    assert replayed["identical"] and replayed["answer"] == detail["answer"]
    forked = client.post(
        "/api/v1/threads/dbg/fork", json={"checkpoint": detail["checkpoints"][2], "values": {"intent": "system_info"}}
    ).json()
    assert "run_extensions" in forked["ran"] and len(forked["branches"]) == 2
    assert client.post("/api/v1/threads/dbg/fork", json={"checkpoint": "abcd", "values": {}}).status_code == 404


def test_generate_returns_the_code_and_what_was_repaired(tmp_path: Path) -> None:
    models = ScriptedModels(by_role={"code": "coder"})
    plan = {"name": "shout", "description": "the text in capitals", "parameters": []}
    code = (
        "```python\nimport regex\n\ndef shout(text: str) -> str:\n    return regex.sub(r'\\s+', ' ', text).upper()\n```"
    )
    models.model("coder").enqueue(json.dumps(plan), code)
    with TestClient(create_app(api_settings(tmp_path), models), base_url=LOCAL) as client:
        reply = client.post("/api/v1/extensions/generate", json={"description": "shout my text"})
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert (body["status"], body["name"], body["attempts"]) == ("success", "shout", 1), body["errors"]
        assert "def run(text: str) -> str:" in body["code"] and "import re\n" in body["code"]
        assert any("import regex -> import re" in r for r in body["repairs"])
        listed = {e["name"]: e for e in client.get("/api/v1/extensions").json()}
        assert listed["shout"]["origin"] == "generated"


def test_chat_speaks_the_blueprints_shape_and_honours_mode_and_context(tmp_path: Path) -> None:
    models = ScriptedModels(by_role={"critical": "deep"})
    models.model("deep").enqueue("A careful answer.")
    with TestClient(create_app(api_settings(tmp_path), models), base_url=LOCAL) as client:
        body = client.post(
            "/api/v1/chat",
            json={"message": "hello there", "thread_id": "b", "mode": "critical", "context": {"location": "Lyon"}},
        ).json()
        assert body["response"] == body["answer"] == "A careful answer."  # the greeting's role was fast
        assert body["metadata"]["model_used"] == "embedded:deep"
        assert body["metadata"]["extensions_used"] == [] and body["metadata"]["memory_retrieved"] >= 0
        assert 0 < body["metadata"]["processing_time"] < 60
        assert "- location: Lyon" in models.model("deep").prompts[-1][-1].text
        assert client.post("/api/v1/chat", json={"message": "hi", "mode": "slow"}).status_code == 422
        too_many = {f"k{i}": "v" for i in range(21)}
        assert client.post("/api/v1/chat", json={"message": "hi", "context": too_many}).status_code == 422
        memory = client.post("/api/v1/memory/add", json={"text": "The user's name is Zoe"}).json()
        client.post("/api/v1/chat", json={"message": "what is my name?", "thread_id": "b"})
        turns = client.get("/api/v1/threads/b").json()["turns"]
        assert turns[-1]["memories_used"] == [memory["id"]]  # the memories the answer saw, not message ids
