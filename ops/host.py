"""The host's load while the server runs: CPU, memory and disk use, sampled into telemetry.

The studio's telemetry view charts them beside Sena's own timings, so a slow turn can be put
next to what else the machine was doing."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from storage.telemetry import Metric, Telemetry

log = logging.getLogger(__name__)


def host_metrics(data_dir: Path) -> list[Metric]:
    """CPU use since the last call, memory use and the data folder's disk use, in percent."""
    import psutil

    return [
        Metric("host_cpu_pct", psutil.cpu_percent(interval=None)),
        Metric("host_mem_pct", psutil.virtual_memory().percent),
        Metric("host_disk_pct", psutil.disk_usage(str(data_dir)).percent),
    ]


async def sample_host(telemetry: Telemetry, data_dir: Path, every_s: float) -> None:
    """Record `host_metrics` every `every_s` seconds until cancelled."""
    await asyncio.to_thread(host_metrics, data_dir)  # primes the CPU counter
    while True:
        await asyncio.sleep(every_s)
        try:
            telemetry.record(await asyncio.to_thread(host_metrics, data_dir))
        except Exception:  # a failed sample never stops the server
            log.warning("could not sample the host's load", exc_info=True)
