"""The studio ("Behind the Sena") in headless Chromium against a real `sena serve`.

Most tests share one server on the tiny embedded model (SmolLM2-135M: real, fast) with a token
set, signed in once through the page's own form; one runs the default embedded model with auth
off: chat, open the turn, replay it from the recordings (identical), fork it with another
intent, see the branch, switch a role's model in Settings and see the next turn use it. Each
view is saved as a screenshot (tests/screenshots/studio-<view>.png, 1400x1000).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.browser import chromium, console_errors, network, screenshot
from tests.serving import running_server, serve_env

pytestmark = pytest.mark.slow
VIEWS = ("processing", "threads", "memory", "extensions", "telemetry", "logs", "settings")
FIRST_LOAD_LIMIT = 300_000
TOKEN = "studio-secret-9f3a"


def studio_env(root: Path) -> dict[str, str]:
    """A server of its own (with its own copy of config/, which the settings view writes to)."""
    env = serve_env(root)
    env.update(SENA_TELEMETRY__HOST_SAMPLE_S="0.5", SENA_API__AUTH_TOKEN=TOKEN)
    return env


def wait(driver: Any, condition: Any, seconds: float = 60) -> Any:
    """Wait for `condition`; a view re-rendering under it (a stale or missing element) is waited out."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, seconds, ignored_exceptions=ignored).until(condition)


def click(element: Any) -> None:
    """Click as a user would after scrolling it to the middle (the sticky header covers the top)."""
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def save_setting(driver: Any, key: str, value: str) -> None:
    """Type a value into a setting's row of the settings view and press its Save button."""
    from selenium.webdriver.common.by import By

    row = driver.find_element(By.XPATH, f'//tr[@data-key="{key}"]')
    field = row.find_element(By.CSS_SELECTOR, "input.value")
    field.clear()
    field.send_keys(value)
    click(row.find_element(By.CSS_SELECTOR, "button[data-act=save]"))


def text_of(driver: Any, css: str) -> str:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    try:
        return " ".join(e.text for e in driver.find_elements(By.CSS_SELECTOR, css))
    except StaleElementReferenceException:  # re-rendered while read
        return ""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("studio")
    with running_server(studio_env(root)) as url:
        yield url, root


@pytest.fixture(scope="module")
def page(server: tuple[str, Path]) -> Iterator[Any]:
    """A browser signed in through the studio's form."""
    from selenium.webdriver.common.by import By

    url, _ = server
    with chromium() as driver:
        driver.get(f"{url}/studio/memory")
        assert driver.current_url.endswith("/studio/login")  # no session: the page asks for the token
        driver.find_element(By.NAME, "token").send_keys("wrong")
        click(driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        assert "not this Sena's token" in driver.find_element(By.CSS_SELECTOR, ".error").text
        driver.find_element(By.NAME, "token").send_keys(TOKEN)
        click(driver.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        wait(driver, lambda d: d.current_url.endswith("/studio/processing"))
        yield driver


def test_the_token_lives_in_an_httponly_cookie_never_in_a_url(page: Any, server: tuple[str, Path]) -> None:
    url, _ = server
    cookie = page.get_cookie("sena_studio")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert cookie["value"] != TOKEN  # derived from the token, not the token itself
    assert "sena_studio" not in page.execute_script("return document.cookie")  # scripts cannot read it
    assert all(TOKEN not in r["url"] for r in network(page))
    assert httpx.get(f"{url}/api/v1/threads").status_code == 401  # without the cookie: still closed
    assert httpx.get(f"{url}/api/v1/threads", params={"token": TOKEN}).status_code == 401  # no token in URLs


def test_processing_shows_a_turn_live_and_every_view_renders(page: Any, server: tuple[str, Path]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, _ = server
    page.get(f"{url}/studio/processing")
    network(page)
    console_errors(page)  # the wrong token's 401 at sign-in
    page.refresh()
    first_load = network(page)
    assert sum(r["bytes"] for r in first_load) <= FIRST_LOAD_LIMIT, first_load
    wait(page, lambda d: d.find_element(By.ID, "status").text == "live")
    page.find_element(By.ID, "message").send_keys("how much disk space is left?", Keys.ENTER)
    wait(page, lambda d: "done" in text_of(d, ".turn-card .turn-state"), 120)
    card = text_of(page, ".turn-card")
    assert "intent=system_info" in card and "extensions: system_info=ok" in card
    assert "skipped" in text_of(page, '.turn-card li[data-stage="retrieve"]')  # no memory for this intent
    screenshot(page, "processing")

    checks = {
        "threads": lambda d: "studio" in text_of(d, "#thread-list"),
        "memory": lambda d: text_of(d, "#stats") != "",
        "extensions": lambda d: "system_info" in text_of(d, "#extension-list"),
        "telemetry": lambda d: d.find_elements(By.CSS_SELECTOR, "#charts .uplot canvas"),  # a chart with data
        "logs": lambda d: "Sena API ready" in text_of(d, "#log-list"),
        "settings": lambda d: "memory.search_threshold" in text_of(d, "#configuration"),
    }
    for view, ready in checks.items():
        page.get(f"{url}/studio/{view}")
        wait(page, ready)
        screenshot(page, view)
        assert console_errors(page) == [], view
    origin = url.replace("127.0.0.1", "localhost")
    outside = [r["url"] for r in network(page) if not r["url"].startswith((url, origin, "data:", "blob:"))]
    assert outside == []  # nothing but this server


def test_a_memory_is_added_edited_with_history_and_deleted_in_the_page(page: Any, server: tuple[str, Path]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, _ = server
    page.get(f"{url}/studio/memory")
    page.find_element(By.ID, "new-text").send_keys("The user's cat is called Miso", Keys.ENTER)
    wait(page, lambda d: "Miso" in text_of(d, "#memory-list"))
    row = page.find_element(By.XPATH, "//tr[td[contains(., 'Miso')]]")
    click(row.find_element(By.CSS_SELECTOR, "button[data-act=edit]"))
    editor = page.find_element(By.CSS_SELECTOR, "form.edit input")
    editor.clear()
    editor.send_keys("The user's cat is called Mochi", Keys.ENTER)
    wait(page, lambda d: "Mochi" in text_of(d, "#memory-list") and "Miso" not in text_of(d, "#memory-list"))
    headers = {"Authorization": f"Bearer {TOKEN}"}
    [stored] = [m for m in httpx.get(f"{url}/api/v1/memory", headers=headers).json() if "Mochi" in m["text"]]
    click(page.find_element(By.XPATH, "//tr[td[contains(., 'Mochi')]]//button[@data-act='history']"))
    wait(page, lambda d: "Miso" in text_of(d, "tr.history") and "Mochi" in text_of(d, "tr.history"))
    screenshot(page, "memory-history")
    click(page.find_element(By.XPATH, "//tr[td[contains(., 'Mochi')]]//button[@data-act='delete']"))
    page.switch_to.alert.accept()
    wait(page, lambda d: "Mochi" not in text_of(d, "#memory-list"))
    assert httpx.get(f"{url}/api/v1/memory/{stored['id']}/history", headers=headers).status_code == 200
    assert all("Mochi" not in m["text"] for m in httpx.get(f"{url}/api/v1/memory", headers=headers).json())


def test_markup_in_what_sena_stores_is_shown_as_text_never_run(page: Any, server: tuple[str, Path]) -> None:
    """A memory (or thread, message, log line) is data: the views escape it, and the pages'
    Content-Security-Policy would refuse an inline script even if one slipped through."""
    from selenium.webdriver.common.by import By

    url, _ = server
    payload = "<img src=x onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    httpx.post(f"{url}/api/v1/memory/add", json={"text": payload}, headers=headers).raise_for_status()
    httpx.post(f"{url}/api/v1/chat", json={"message": payload, "thread_id": "markup"}, headers=headers, timeout=300)
    for view, where in (("memory", "#memory-list"), ("threads/markup", "#turns"), ("logs", "#log-list")):
        page.get(f"{url}/studio/{view}")
        wait(page, lambda d, where=where: "onerror" in text_of(d, where))
        assert page.title != "pwned" and not page.find_elements(By.CSS_SELECTOR, f"{where} img, {where} script")


def test_an_extension_is_disabled_in_the_page_and_its_source_shown(page: Any, server: tuple[str, Path]) -> None:
    from selenium.webdriver.common.by import By

    url, _ = server
    page.get(f"{url}/studio/extensions")
    wait(page, lambda d: "system_info" in text_of(d, "#extension-list"))
    row = '//tr[@data-name="system_info"]'
    click(page.find_element(By.XPATH, f"{row}//button[@data-act='toggle']"))
    wait(page, lambda d: "disabled" in d.find_element(By.XPATH, row).text)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    listed = {e["name"]: e for e in httpx.get(f"{url}/api/v1/extensions", headers=headers).json()}
    assert listed["system_info"]["disabled"] and listed["system_info"]["status"] != "active"
    click(page.find_element(By.XPATH, f"{row}//a[@data-act='show']"))
    wait(page, lambda d: "def execute(user_input" in text_of(d, "#source"))
    click(page.find_element(By.XPATH, f"{row}//button[@data-act='toggle']"))
    wait(page, lambda d: "active" in d.find_element(By.XPATH, row).text)
    screenshot(page, "extensions-source")


def test_a_live_setting_applies_at_once_is_saved_with_its_comments_and_reverts(
    page: Any, server: tuple[str, Path]
) -> None:
    from selenium.webdriver.common.by import By

    url, root = server
    settings_file = root / "config" / "settings.yaml"
    page.get(f"{url}/studio/settings")
    wait(page, lambda d: "memory.search_threshold" in text_of(d, "#configuration"))
    save_setting(page, "memory.search_threshold", "2")  # out of range: refused with the validation's message
    wait(page, lambda d: "less than or equal to 1" in text_of(d, "#message"))
    assert yaml.safe_load(settings_file.read_text())["memory"]["search_threshold"] == 0.2

    save_setting(page, "memory.search_threshold", "0.35")
    wait(page, lambda d: "applied now" in text_of(d, "#message"))
    text = settings_file.read_text()
    assert yaml.safe_load(text)["memory"]["search_threshold"] == 0.35
    assert "# minimum similarity" in text  # the file keeps its comments
    headers = {"Authorization": f"Bearer {TOKEN}"}
    running = {e["key"]: e for e in httpx.get(f"{url}/api/v1/settings", headers=headers).json()["entries"]}
    assert running["memory.search_threshold"]["value"] == 0.35 and running["memory.search_threshold"]["live"]
    screenshot(page, "settings-edited")

    click(page.find_element(By.CSS_SELECTOR, "button[data-revert]"))
    wait(page, lambda d: "back to 0.2" in text_of(d, "#message"))
    assert yaml.safe_load(settings_file.read_text())["memory"]["search_threshold"] == 0.2
    assert "api.auth_token" in text_of(page, "#configuration") and TOKEN not in page.page_source  # a secret


def test_on_the_embedded_model_a_turn_replays_identically_forks_and_a_switched_model_answers_next(
    tmp_path: Path,
) -> None:
    """The real flow with the default model and auth off: chat, open the turn, replay it recorded,
    fork it with another intent, see the branch; switch the fast role's model in Settings."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    env = studio_env(tmp_path)
    for role in ("FAST", "CRITICAL", "CODE", "ROUTER"):
        env.pop(f"SENA_LLM__ROLES__{role}__EMBEDDED_MODEL")  # the default model, qwen2.5-coder-1.5b
        env[f"SENA_LLM__ROLES__{role}__MAX_TOKENS"] = "16"
    env.pop("SENA_API__AUTH_TOKEN")
    env["SENA_LLM__SWITCH_COOLDOWN_S"] = "0"
    with running_server(env) as url, chromium() as driver:
        driver.get(f"{url}/debug")  # the old address opens the processing view; no sign-in without a token
        wait(driver, lambda d: d.find_element(By.ID, "status").text == "live")
        driver.find_element(By.ID, "thread").clear()
        driver.find_element(By.ID, "thread").send_keys("real")
        driver.find_element(By.ID, "message").send_keys("Say hello to Noor in three words.", Keys.ENTER)
        wait(driver, lambda d: "done" in text_of(d, ".turn-card .turn-state"), 300)
        answer = text_of(driver, ".turn-card .answer")
        assert answer

        driver.get(f"{url}/studio/threads/real/turns/1")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "details.step"))
        generate = driver.find_element(By.ID, "step-generate")
        click(generate.find_element(By.TAG_NAME, "summary"))
        assert "Say hello to Noor" in generate.text  # the exact prompt the model was sent, from the recordings
        screenshot(driver, "turn")
        click(driver.find_element(By.XPATH, "//div[@class='row']/button[text()='Replay the whole turn (recorded)']"))
        wait(driver, lambda d: "identical" in text_of(d, "#replays .result h3"), 120)

        decide = driver.find_element(By.ID, "step-decide_memory")
        click(decide.find_element(By.TAG_NAME, "summary"))
        click(decide.find_element(By.XPATH, ".//details/summary[contains(., 'Fork')]"))
        intent = decide.find_element(By.CSS_SELECTOR, "form.fork textarea[name=intent]")
        intent.clear()
        intent.send_keys('"system_info"')
        click(decide.find_element(By.CSS_SELECTOR, "form.fork button[type=submit]"))
        wait(driver, lambda d: "Forked" in text_of(d, "#replays"), 300)
        assert "run_extensions" in text_of(driver, "#replays")  # the new intent ran its extension
        screenshot(driver, "turn-replayed-and-forked")
        driver.get(f"{url}/studio/threads/real")
        wait(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#branches tbody tr")) == 2)

        driver.get(f"{url}/studio/settings")
        wait(driver, lambda d: "llm.roles.fast.embedded_model" in text_of(d, "#configuration"))
        save_setting(driver, "llm.roles.fast.embedded_model", "smollm2-135m")
        wait(driver, lambda d: "applied now" in text_of(d, "#message"))
        reply = httpx.post(
            f"{url}/api/v1/chat", json={"message": "hi there, how are you?", "thread_id": "next"}, timeout=300
        )
        assert reply.json()["model_used"] == "embedded:smollm2-135m"
        assert console_errors(driver) == []
