"""`sena bench extensions`: sandbox call overhead, load time, and hot-reload latency.

- call overhead: a trivial extension called through the host (validate, sandbox round trip,
  registry update) on a warm worker, p50/p95; the bare round trip to a user extension's own
  worker, and to the shared core worker;
- isolation cost: starting one more worker (a user or generated extension's own), and the
  memory each worker holds (RSS);
- load time: discover, validate and load every configured extension into fresh workers;
- hot reload: from writing a new version of a file to that version answering, through the
  real watchdog observer (includes the debounce interval, reported separately).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.turn import pct
from config.settings import Settings
from extensions.host import SandboxHost
from extensions.registry import ExtensionRegistry
from extensions.watcher import ExtensionWatcher

ECHO = (
    "VERSION = '{version}'\n"
    "METADATA = {{'name': 'bench_echo', 'description': 'echo', 'author': 'bench'}}\n"
    "def execute(user_input, context, **kwargs):\n    return '{version}:' + user_input\n"
)


def summary(samples: list[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(samples), 3), "p95": round(pct(samples, 0.95), 3)}


def run(settings: Settings, calls: int = 300, reloads: int = 10) -> dict[str, Any]:
    report: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sena-bench-ext-") as tmp:
        user = Path(tmp) / "user"
        user.mkdir()
        (user / "bench_echo.py").write_text(ECHO.format(version="1"))
        bench_settings = settings.model_copy(deep=True)
        bench_settings.app.data_dir = Path(tmp) / "data"
        bench_settings.extensions.user_dir = user
        bench_settings.extensions.generated_dir = Path(tmp) / "generated"

        started = time.perf_counter()
        host = SandboxHost(bench_settings, ExtensionRegistry.from_path(bench_settings.database_path))
        loaded = host.load_all()
        report["load_all_ms"] = round((time.perf_counter() - started) * 1000, 1)
        report["extensions_loaded"] = len(loaded.loaded)

        spec = host.spec("bench_echo")
        assert spec is not None
        for _ in range(20):  # warm up
            host.sandbox.call("bench_echo", spec.digest, "x", {}, {})
        bare, through_host = [], []
        for i in range(calls):
            t = time.perf_counter()
            host.sandbox.call("bench_echo", spec.digest, f"call {i}", {"user_id": "bench"}, {})
            bare.append((time.perf_counter() - t) * 1000)
        for i in range(calls):
            t = time.perf_counter()
            asyncio.run(host.run("bench_echo", f"call {i}", {"user_id": "bench"}))
            through_host.append((time.perf_counter() - t) * 1000)
        report["sandbox_round_trip_ms"] = summary(bare)
        report["host_call_ms"] = summary(through_host)
        report.update(isolation(host, calls))

        debounce = bench_settings.extensions.reload_debounce_s
        watcher = ExtensionWatcher([user], host.reload_file, debounce)
        watcher.start()
        latencies = []
        for version in range(2, 2 + reloads):
            t = time.perf_counter()
            (user / "bench_echo.py").write_text(ECHO.format(version=version))
            while not (current := host.spec("bench_echo")) or current.version != str(version):
                if time.perf_counter() - t > 10:
                    raise TimeoutError("reload did not happen within 10 s")
                time.sleep(0.005)
            latencies.append((time.perf_counter() - t) * 1000)
        watcher.stop()
        report["hot_reload_ms"] = {**summary(latencies), "debounce_ms": debounce * 1000}
        host.close()
    return report


def isolation(host: SandboxHost, calls: int) -> dict[str, Any]:
    """What one worker per user extension costs: a start, its memory, and the core worker's round trip."""
    import psutil

    source = ECHO.format(version="core")
    host.sandbox.load("bench_core_echo", "core", source, group="core")
    core = []
    for i in range(calls):
        t = time.perf_counter()
        host.sandbox.call("bench_core_echo", "core", f"call {i}", {}, {})
        core.append((time.perf_counter() - t) * 1000)
    starts = []
    for i in range(5):
        t = time.perf_counter()
        host.sandbox.load(f"bench_own_{i}", "own", source)
        starts.append((time.perf_counter() - t) * 1000)
    pid = host.sandbox.worker("bench_own_0").pid
    rss = psutil.Process(pid).memory_info().rss / 2**20 if pid else 0.0
    for i in range(5):
        host.sandbox.unload(f"bench_own_{i}")
    return {
        "core_round_trip_ms": summary(core),
        "worker_start_ms": summary(starts),
        "worker_rss_mb": round(rss, 1),
        "workers": len(host.sandbox.groups()),
    }
