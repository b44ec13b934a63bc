"""The /debug page in headless Chromium (Debian's chromium + chromedriver): a chat's node events appear."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving import TOKEN, running_server, serve_env

pytestmark = pytest.mark.slow
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() and shutil.which(DRIVER)):
        pytest.fail("Debian's chromium and chromium-driver are needed: `make browser` installs them")
    os.environ["SE_AVOID_STATS"] = "true"  # selenium must not phone home
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    yield driver
    driver.quit()


def test_debug_page_shows_a_chats_pipeline_live(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    with running_server(serve_env(tmp_path)) as url:
        browser.get(f"{url}/debug?token={TOKEN}")
        wait = WebDriverWait(browser, 60)
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "live"))
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "#extensions tr")))
        assert "system_info" in browser.find_element(By.ID, "extensions").text

        browser.find_element(By.ID, "message").send_keys("how much disk space is left?", Keys.ENTER)
        wait.until(ec.text_to_be_present_in_element((By.ID, "stage-generate"), "ms"))
        wait.until(lambda d: d.find_element(By.ID, "answer").text not in ("", "thinking..."))
        stages = browser.find_element(By.ID, "stages").text
        assert "intent=system_info" in stages
        assert "extensions: system_info=ok" in stages
        assert "skipped" in browser.find_element(By.ID, "stage-retrieve").text  # no memory for this intent
