"""Headless Chromium driven by selenium, with Debian's chromium and its
matching chromedriver (nothing downloaded at run time), for the operator
console's browser tests."""

import asyncio
import os
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.wait import WebDriverWait

from tests.support.ports import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
# Long enough for a loaded two-core machine; every wait ends by then.
WAIT_SECONDS = 15.0
# Where the console tests write their screenshots: .run/screenshots (not
# tracked), or HOTDESK_SCREENSHOTS_DIR (docs/screenshots for the README's).
SCREENSHOTS = Path(__file__).resolve().parents[2] / os.environ.get(
    "HOTDESK_SCREENSHOTS_DIR", ".run/screenshots"
)
Run = Callable[[Coroutine[Any, Any, Any]], Any]


def runner(loop: asyncio.AbstractEventLoop) -> Run:
    """Runs a coroutine on the test's loop (where the services live) from
    the browser's thread, and waits for it."""
    return lambda coro: asyncio.run_coroutine_threadsafe(coro, loop).result(WAIT_SECONDS)


class Browser:
    """One browser window on the console at ``url``."""

    def __init__(self, driver: webdriver.Chrome, url: str) -> None:
        self.driver = driver
        self.url = url

    def wait(self) -> WebDriverWait[webdriver.Chrome]:
        """A wait whose condition may find an element the page re-renders
        (a live update) before it is read: that try counts as not yet."""
        return WebDriverWait(
            self.driver,
            WAIT_SECONDS,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        )

    def open(self, hash_route: str) -> None:
        self.driver.get(f"{self.url}/{hash_route}")

    def go(self, hash_route: str) -> None:
        """Navigate inside the page (no reload: the session stays)."""
        self.driver.execute_script("location.hash = arguments[0]", hash_route)

    def find(self, css: str) -> WebElement:
        found: WebElement = self.wait().until(
            ec.visibility_of_element_located((By.CSS_SELECTOR, css))
        )
        return found

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text_of(self, css: str, text: str) -> WebElement:
        """The element at ``css`` once its text contains ``text``."""
        self.wait().until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))
        return self.find(css)

    def set_value(self, css: str, text: str) -> None:
        """Replaces a field's text at once, as typing would (the page hears
        "input"): for long texts and fields whose typing is locale-bound."""
        self.driver.execute_script(
            "const el = document.querySelector(arguments[0]); el.value = arguments[1];"
            "el.dispatchEvent(new Event('input'));",
            css,
            text,
        )

    def fetch(self, url: str) -> tuple[int, str, str]:
        """GET ``url`` with the page's fetch and cookies: status, type, text."""
        got: list[Any] = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0], { credentials: 'same-origin' })"
            ".then((r) => r.text().then((t) => done([r.status, r.headers.get('content-type'), t])))"
            ".catch((e) => done([0, '', String(e)]));",
            url,
        )
        return int(got[0]), str(got[1]), str(got[2])

    def sign_in(self, name: str, password: str) -> None:
        self.open("#/signin")
        self.find("#name").send_keys(name)
        self.find("#password").send_keys(password)
        self.find("#sign-in button[type=submit]").click()
        self.text_of("#whoami", name)

    def script_errors(self) -> list[str]:
        """What the page's console logged as errors besides the API's
        refusals the test asked for: uncaught exceptions, Content Security
        Policy violations, files that failed to load."""
        logs: list[dict[str, str]] = self.driver.execute("getLog", {"type": "browser"})["value"]
        return [
            entry["message"]
            for entry in logs
            if entry["level"] == "SEVERE" and f"{self.url}/api/" not in entry["message"]
        ]

    def shot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        assert self.driver.save_screenshot(str(path)), f"no screenshot at {path}"


@contextmanager
def browser(url: str, width: int = 1280, height: int = 800) -> Iterator[Browser]:
    options = Options()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, port=free_port()), options=options)
    try:
        yield Browser(driver, url)
    finally:
        driver.quit()
