"""What the studio's pages stand on, through the API on the real stack with a scripted chat model:
sign-in and pages, thread search, branches and export, memory statistics, extension source and
runs, telemetry series and benchmark history, and settings (sources, live apply, saved with
comments, restart needed, revert, secrets)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from api.app import create_app
from storage.telemetry import Metric, series
from tests.fakes import ScriptedModels
from tests.test_api import LOCAL, api_settings

pytestmark = pytest.mark.slow  # opens mem0 and the extension worker
TOKEN = "s3cret-studio"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("studio-api")
    settings = api_settings(root, auth_token=TOKEN)
    with TestClient(create_app(settings, ScriptedModels()), base_url=LOCAL) as test_client:
        test_client.headers["Authorization"] = f"Bearer {TOKEN}"
        test_client.post("/api/v1/chat", json={"message": "My sister Lena lives in Porto.", "thread_id": "porto"})
        test_client.post("/api/v1/chat", json={"message": "how much disk space is left?", "thread_id": "disk"})
        yield test_client


def test_pages_need_a_session_and_the_sign_in_form_sets_an_httponly_cookie(client: TestClient) -> None:
    anonymous = TestClient(client.app, base_url=LOCAL)
    page = anonymous.get("/studio/memory", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/studio/login"
    assert anonymous.get("/debug", follow_redirects=False).status_code == 303
    assert anonymous.get("/studio/static/common.js").status_code == 200  # assets are not secret
    wrong = anonymous.post("/studio/login", data={"token": "nope"}, follow_redirects=False)
    assert wrong.status_code == 401 and "sena_studio" not in wrong.headers.get("set-cookie", "")
    signed = anonymous.post("/studio/login", data={"token": TOKEN}, follow_redirects=False)
    cookie = signed.headers["set-cookie"]
    assert signed.status_code == 303 and "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    shown = anonymous.get("/studio/memory")
    assert shown.status_code == 200 and 'src="/studio/static/views/memory.js"' in shown.text
    assert "default-src 'none'" in shown.headers["content-security-policy"]
    assert anonymous.get("/api/v1/threads").status_code == 200  # the page's API calls ride on the cookie
    foreign = anonymous.post("/studio/logout", headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403  # a state-changing request from another site, cookie or not


def test_a_page_echoes_nothing_it_was_given_as_html(client: TestClient) -> None:
    for asked in ("/studio/<b onmouseover=alert(1)>x", "/studio/<script>alert(1)</script>"):
        missing = client.get(asked)
        assert missing.status_code == 404 and not missing.headers["content-type"].startswith("text/html")
        assert "alert(1)" not in missing.text
    assert client.get("/studio/threads/a%22b").status_code == 422  # not an id: refused, not rendered


def test_threads_are_searched_by_what_was_said_and_exported(client: TestClient) -> None:
    found = [t["thread_id"] for t in client.get("/api/v1/threads", params={"q": "porto"}).json()]
    assert found == ["porto"]
    assert client.get("/api/v1/threads", params={"q": "nothing said like this"}).json() == []
    markdown = client.get("/api/v1/threads/porto/export", params={"format": "markdown"})
    assert markdown.headers["content-type"].startswith("text/markdown") and "Lena lives in Porto" in markdown.text
    assert client.get("/api/v1/threads/porto/export").json()["thread_id"] == "porto"
    [branch] = client.get("/api/v1/threads/porto/branches").json()
    assert branch["current"] and "Porto" in branch["last_message"]


def test_a_turns_detail_lists_each_calls_prompt_and_output(client: TestClient) -> None:
    [turn] = client.get("/api/v1/threads/disk/turns").json()
    detail = client.get(f"/api/v1/threads/disk/turns/{turn['turn']}").json()
    calls = {s["node"]: s["calls"] for s in detail["steps"]}
    [extension] = calls["run_extensions"]
    assert extension["kind"] == "extension" and extension["name"] == "system_info" and "Disk:" in extension["output"]
    [model] = [c for c in calls["generate"] if c["kind"] == "model"]
    assert "how much disk space is left?" in model["prompt"] and model["output"] == detail["answer"]


def test_memory_statistics_count_kinds_newest_and_most_used(client: TestClient) -> None:
    added = client.post("/api/v1/memory/add", json={"text": "The user's cat is called Miso", "kind": "fact"}).json()
    stats = client.get("/api/v1/memory/stats").json()
    assert stats["total"] >= 1 and stats["by_kind"]["fact"] >= 1
    assert any(m["id"] == added["id"] for m in stats["recent"])
    client.post("/api/v1/chat", json={"message": "what is my cat called?", "thread_id": "cat"})
    assert any(m["id"] == added["id"] for m in client.get("/api/v1/memory/stats").json()["most_used"])


def test_an_extensions_source_runs_and_grants_are_listed(client: TestClient) -> None:
    listed = {e["name"]: e for e in client.get("/api/v1/extensions").json()}
    assert listed["system_info"]["permissions"] == ["system"] and listed["system_info"]["grants"] == []
    assert "def execute" in client.get("/api/v1/extensions/system_info/source").text
    runs = client.get("/api/v1/extensions/system_info/runs").json()
    assert runs and runs[0]["ok"] and runs[0]["thread_id"] == "disk"
    assert client.get("/api/v1/extensions/nope/source").status_code == 404


def test_telemetry_series_bucket_metrics_for_charts() -> None:
    metrics = [
        {"name": "response_ms", "ts": 10.0, "value": 100.0, "role": "fast", "model": "m", "node": None, "ok": None},
        {"name": "response_ms", "ts": 12.0, "value": 300.0, "role": "fast", "model": "m", "node": None, "ok": None},
        {"name": "extension_ms", "ts": 95.0, "value": 5.0, "role": None, "model": None, "node": None, "ok": 0},
        {"name": "host_cpu_pct", "ts": 50.0, "value": 40.0, "role": None, "model": None, "node": None, "ok": None},
        *[{"name": "turn_ms", "ts": 51.0 + i, "value": 9.0, "role": None, "model": None, "node": None, "ok": 1}
          for i in range(4)],
    ]  # fmt: skip
    data = series(metrics, [{"kind": "llm", "ts": 55.0}], since=0.0, until=100.0, buckets=10)
    assert data["t"][:2] == [0.0, 10.0]
    assert data["series"]["response_ms|fast|m"][1] == 200.0  # the bucket's median
    assert data["series"]["extension_success"][9] == 0.0
    assert data["series"]["errors|llm"] == [0.0] * 5 + [0.25] + [0.0] * 4  # one error in four turns
    assert data["series"]["host_cpu_pct"][5] == 40.0 and data["series"]["host_cpu_pct"][0] is None


def test_the_charts_and_benchmark_history_come_from_real_telemetry(client: TestClient) -> None:
    sena = client.app.state.sena  # type: ignore[attr-defined]
    sena.services.telemetry.record([Metric("host_mem_pct", 55.0)])
    data = client.get("/api/v1/telemetry/series", params={"days": 1, "buckets": 12}).json()
    assert len(data["t"]) == 12 and any(v == 55.0 for v in data["series"]["host_mem_pct"])
    assert any(k.startswith("node_ms|") for k in data["series"])
    store = sena.services.telemetry.store
    store.save_benchmark("a", 1.0, "turn", [("p50_ms", 100.0, "lower")])
    store.save_benchmark("b", 2.0, "turn", [("p50_ms", 200.0, "lower")])
    [turn] = [s for s in client.get("/api/v1/telemetry/benchmarks").json() if s["suite"] == "turn"]
    assert [r["session_id"] for r in turn["runs"]] == ["b", "a"] and turn["regressions"] == 1


def test_settings_show_sources_apply_live_save_with_comments_and_revert(client: TestClient) -> None:
    path = Path(os.environ["SENA_CONFIG_DIR"]) / "settings.yaml"
    view = client.get("/api/v1/settings").json()
    waiting = set(view["restart_needed"])  # this test's app was built with overrides the files lack
    entries = {e["key"]: e for e in view["entries"]}
    assert entries["memory.search_threshold"]["source"] == "file:settings.yaml"
    assert entries["memory.search_threshold"]["live"] and not entries["api.port"]["live"]
    assert entries["api.auth_token"]["value"] == "***" and TOKEN not in str(view)

    bad = client.put("/api/v1/settings", json={"key": "memory.search_threshold", "value": 5})
    assert bad.status_code == 422 and "less than or equal to 1" in bad.json()["error"]["message"]
    assert client.put("/api/v1/settings", json={"key": "api.auth_token", "value": "x"}).status_code == 422
    assert client.put("/api/v1/settings", json={"key": "memory.no_such_key", "value": 1}).status_code == 422

    done = client.put("/api/v1/settings", json={"key": "memory.search_threshold", "value": "0.45"}).json()
    assert done["live"] and done["value"] == 0.45
    assert client.app.state.sena.services.settings.memory.search_threshold == 0.45  # type: ignore[attr-defined]
    text = path.read_text()
    assert yaml.safe_load(text)["memory"]["search_threshold"] == 0.45 and "# minimum similarity" in text

    later = client.put("/api/v1/settings", json={"key": "api.rate_limit_per_minute", "value": 999}).json()
    assert not later["live"]
    assert "api.rate_limit_per_minute" in client.get("/api/v1/settings").json()["restart_needed"]

    client.post("/api/v1/settings/revert", json={"edit": done["edit"]})
    client.post("/api/v1/settings/revert", json={"edit": later["edit"]})
    assert yaml.safe_load(path.read_text())["memory"]["search_threshold"] == 0.2
    assert client.app.state.sena.services.settings.memory.search_threshold == 0.2  # type: ignore[attr-defined]
    assert set(client.get("/api/v1/settings").json()["restart_needed"]) == waiting
