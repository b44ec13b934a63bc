"""Headless Chromium for the studio's tests (Debian's chromium + chromedriver), with its network
log, so a test can see every request a page made."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).with_name("screenshots")
WINDOW = (1400, 1000)


@contextmanager
def chromium() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and shutil.which(DRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are needed: `make browser` installs them")
    os.environ["SE_AVOID_STATS"] = "true"  # selenium must not phone home
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 f"--window-size={WINDOW[0]},{WINDOW[1]}"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def network(driver: Any) -> list[dict[str, Any]]:
    """The requests made since the last call: url and bytes received (encoded), in order."""
    sent: dict[str, dict[str, Any]] = {}
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            sent[params["requestId"]] = {"url": params["request"]["url"], "bytes": 0}
        elif message["method"] == "Network.loadingFinished" and params["requestId"] in sent:
            sent[params["requestId"]]["bytes"] = params.get("encodedDataLength", 0)
    return list(sent.values())


def console_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def screenshot(driver: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    path = SCREENSHOTS / f"studio-{name}.png"
    driver.save_screenshot(str(path))
    return path
