"""The observer in real headless Chromium (Debian's chromium + chromedriver, driven by selenium).

The index lists a running task; clicks reach its stdout; a line the process prints after the page was
opened shows up in the page.
"""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from tests.helpers import wait_for, write
from tests.observer_helpers import Observer, started, stop_task

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
webdriver = pytest.importorskip("selenium.webdriver", reason="make setup installs python3-selenium")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("make setup installs Debian's chromium and chromium-driver", allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture
def browser():
    profile = tempfile.mkdtemp(prefix="observer-chromium-")
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


def test_index_click_to_stdout_and_live_tail(thermos, tmp_path, browser):
    config = write(tmp_path / "late.thermos", """
p = Process(name='talker', cmdline='echo "early <b>line</b>"; while [ ! -e go ]; do sleep 0.05; done; '
                                   'echo "late line after the page opened"; sleep 600')
export(Task(name='talker', processes=[p]))
""")
    task = started(thermos, config, "browser_task", "talker")
    observer = Observer("--root", thermos.root, "--disable_task_resource_collection")
    try:
        observer.wait_task("browser_task", "active")
        browser.get(observer.url + "/")
        link = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#active a.task-link"), what="task link")
        assert [a.text for a in link] == ["browser_task"]
        link[0].click()
        wait_for(lambda: browser.find_elements(By.ID, "task-id"), what="the task page")
        assert browser.find_element(By.ID, "task-id").text == "browser_task"
        browser.find_element(By.LINK_TEXT, "stdout").click()
        text = lambda: browser.find_element(By.ID, "viewer-text").text  # noqa: E731
        wait_for(lambda: "early <b>line</b>" in text(), timeout=15, what="stdout in the viewer")
        assert browser.find_elements(By.CSS_SELECTOR, "#viewer-text b") == []     # shown as text, not markup
        assert "late line" not in text()
        write(os.path.join(thermos.sandbox("browser_task"), "go"), "")
        wait_for(lambda: "late line after the page opened" in text(), timeout=15, what="the late line")
        assert browser.find_element(By.ID, "viewer-status").text == "FOLLOWING"
    finally:
        observer.stop()
        stop_task(thermos, "browser_task", task)
