"""The headless Chromium every browser test drives (Debian's chromium + chromedriver, through selenium).

A test module skips itself when they are missing (`require_browser()` at its top), so a machine without them
runs the rest of the suite.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


def require_browser():
    """selenium's webdriver module; skips the calling module when selenium or Chromium is missing."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="make setup installs python3-selenium")
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        pytest.skip("make setup installs Debian's chromium and chromium-driver", allow_module_level=True)
    return webdriver


@pytest.fixture
def browser():
    webdriver = require_browser()
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="e2e-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
