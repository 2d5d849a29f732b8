"""A real headless Chromium for the HTML report tests, offline, and where its screenshots go.

Chromium and chromedriver are Debian's (``apt-get install chromium chromium-driver``);
nothing is downloaded: the driver's path is given, so selenium-manager is never run.
Without them the tests are skipped, except under CI=true, where that is a failure.
Screenshots go to $BULKLOAD_TEST_ARTIFACTS (default: build/test-artifacts/ in the
repository, git-ignored); each path is printed."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
REPO = Path(__file__).resolve().parents[2]
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
)


def artifacts() -> Path:
    where = Path(os.environ.get("BULKLOAD_TEST_ARTIFACTS") or REPO / "build" / "test-artifacts")
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = f"no {' or '.join(missing)}: apt-get install chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.selenium_manager import SeleniumManager

    profile = tmp_path_factory.mktemp("chromium-profile")  # fresh, every session
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    with pytest.MonkeyPatch.context() as patch:  # it would download a browser: never run it
        patch.setattr(SeleniumManager, "binary_paths", _no_selenium_manager)
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd(
            "Network.emulateNetworkConditions",
            {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0},
        )
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _no_selenium_manager(*args: Any) -> None:
    raise AssertionError("selenium-manager was asked for a driver: pass its path instead")


def set_width(driver: Any, width: int, height: int = 1000) -> None:
    """Resize the window so that the page is ``width`` CSS pixels wide (headless Chromium
    has no window frame: the window is the viewport)."""
    driver.set_window_size(width, height)
    inner = driver.execute_script("return window.innerWidth")
    if inner != width:  # a frame after all: make up for it
        driver.set_window_size(2 * width - inner, height)


def load(driver: Any, path: Path, timeout: float = 60) -> None:
    """Open the page and wait until plotly has drawn every chart."""
    driver.get(path.as_uri())
    expected = driver.execute_script("return document.querySelectorAll('figure').length")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        drawn = driver.execute_script(
            "return document.querySelectorAll('figure .js-plotly-plot .main-svg').length"
        )
        if drawn >= expected:
            return
        time.sleep(0.2)
    raise AssertionError(f"{path.name}: {drawn} of {expected} charts drawn in {timeout:g}s")


def settle(driver: Any, script: str, timeout: float = 10) -> Any:
    """Run ``script`` until two runs 0.3 s apart agree (the charts re-lay themselves out
    after a resize, asynchronously); what it returned last."""
    deadline = time.monotonic() + timeout
    seen = driver.execute_script(script)
    while time.monotonic() < deadline:
        time.sleep(0.3)
        again = driver.execute_script(script)
        if again == seen:
            return again
        seen = again
    return seen


def screenshot(driver: Any, name: str, width: int) -> Path:
    """The whole page at ``width``, as a PNG in the artifacts directory; its path printed."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    set_width(driver, width, height)
    time.sleep(0.5)  # the charts follow the new viewport
    shot = artifacts() / name
    driver.save_screenshot(str(shot))
    print(f"screenshot: {shot}")
    set_width(driver, width)
    return shot
