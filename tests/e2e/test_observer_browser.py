"""The observer in real headless Chromium (Debian's chromium + chromedriver, driven by selenium).

The index lists a running task; clicks reach its stdout; a line the process prints after the page was
opened shows up in the page; the log viewer stops once the run ended; charts span the samples on hand;
breadcrumbs, error pages and the favicon.
"""
from __future__ import annotations

import os
import re
import time


from tests.helpers import wait_for, write
from tests.observer_helpers import Observer, started, stop_task

from tests.e2e.conftest import require_browser

require_browser()
from selenium.webdriver.common.by import By  # noqa: E402


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


def _follow_requests(browser) -> int:
    return browser.execute_script(
        "return performance.getEntriesByType('resource').filter(function (e) {"
        " return e.name.indexOf('/files/follow') >= 0; }).length;")


def test_log_viewer_stops_following_when_the_run_ends(thermos, tmp_path, browser):
    config = write(tmp_path / "ending.thermos", """
p = Process(name='talker', cmdline='echo first; while [ ! -e go ]; do sleep 0.05; done; echo "last line"')
export(Task(name='ending', processes=[p]))
""")
    task = started(thermos, config, "ending_task", "talker")
    observer = Observer("--root", thermos.root, "--disable_task_resource_collection")
    try:
        observer.wait_task("ending_task", "active")
        browser.get(observer.url + "/logs/ending_task/talker/0/stdout")
        text = lambda: browser.find_element(By.ID, "viewer-text").text  # noqa: E731
        status = lambda: browser.find_element(By.ID, "viewer-status").text  # noqa: E731
        wait_for(lambda: "first" in text() and status() == "FOLLOWING", timeout=15, what="following the log")
        write(os.path.join(thermos.sandbox("ending_task"), "go"), "")
        wait_for(lambda: status() == "ENDED (SUCCESS)", timeout=20, what="the viewer to say the run ended")
        assert text().splitlines() == ["first", "last line"]
        polls = _follow_requests(browser)
        # No more polling: the count stays put over several poll intervals (1 s each).
        deadline = time.monotonic() + 3.5
        while time.monotonic() < deadline:
            assert _follow_requests(browser) == polls
            time.sleep(0.25)
        assert status() == "ENDED (SUCCESS)"
        # A log opened after the end says so as well, and shows the whole output.
        browser.get(observer.url + "/logs/ending_task/talker/0/stdout")
        wait_for(lambda: status() == "ENDED (SUCCESS)", timeout=15, what="ENDED on a finished run's log")
        assert text().splitlines() == ["first", "last line"]
    finally:
        observer.stop()
        stop_task(thermos, "ending_task", task)


def test_charts_scale_to_the_samples_on_hand(thermos, tmp_path, browser):
    config = write(tmp_path / "busy.thermos", """
p = Process(name='busy', cmdline='sleep 600')
export(Task(name='busy', processes=[p]))
""")
    task = started(thermos, config, "chart_task", "busy")
    observer = Observer("--root", thermos.root, "--task_process_collection_interval_secs", "1",
                        "--task_disk_collection_interval_secs", "1")
    try:
        wait_for(lambda: len([p for p in observer.json("/j/resources/chart_task")["points"] if p[3] is not None])
                 >= 3, timeout=30, what="three samples with disk")
        browser.get(observer.url + "/task/chart_task")
        charts = browser.find_elements(By.CSS_SELECTOR, "figure.chart svg")
        assert len(charts) == 3
        for svg in charts:
            plot, line = svg.find_element(By.CSS_SELECTOR, "rect.chart-bg"), svg.find_element(By.TAG_NAME, "polyline")
            plot_width = browser.execute_script("return arguments[0].getBBox().width;", plot)
            line_width = browser.execute_script("return arguments[0].getBBox().width;", line)
            assert line_width > 0.9 * plot_width, (line_width, plot_width)       # not a sliver of an hour
            times = [t.text for t in svg.find_elements(By.CSS_SELECTOR, "text.x-label")]
            assert len(times) >= 2 and all(re.fullmatch(r"\d\d:\d\d:\d\d", t) for t in times), times
            assert len(svg.find_elements(By.CSS_SELECTOR, "text.y-label")) == 2
            assert len(svg.find_elements(By.CSS_SELECTOR, "line.chart-axis")) == 2
        assert "not measured" not in browser.find_element(By.CSS_SELECTOR, "table.resources").text
    finally:
        observer.stop()
        stop_task(thermos, "chart_task", task)


def test_breadcrumbs_error_page_and_favicon(thermos, tmp_path, browser):
    config = write(tmp_path / "tree.thermos", """
p = Process(name='tree', cmdline='mkdir -p a/b/c && echo leaf > a/b/c/leaf.txt')
export(Task(name='tree', processes=[p]))
""")
    assert thermos.run(config, "tree_task").returncode == 0
    observer = Observer("--root", thermos.root, "--disable_task_resource_collection", "--log_level", "DEBUG")
    try:
        observer.wait_task("tree_task", "finished")
        browser.get(observer.url + "/file/tree_task/a/b/c/leaf.txt")
        wait_for(lambda: "leaf" in browser.find_element(By.ID, "viewer-text").text, what="the file")
        crumbs = browser.find_elements(By.CSS_SELECTOR, "#path a.crumb")
        assert [c.text for c in crumbs] == ["/", "a", "b", "c"]
        crumbs[2].click()                                                       # b
        wait_for(lambda: browser.current_url.endswith("/browse/tree_task/a/b"), what="the listing of a/b")
        assert browser.find_element(By.ID, "path").text == "/a/b"
        browser.find_elements(By.CSS_SELECTOR, "#path a.crumb")[1].click()      # a
        wait_for(lambda: browser.current_url.endswith("/browse/tree_task/a"), what="the listing of a")
        browser.get(observer.url + "/browse/tree_task/a/nope")
        assert browser.find_element(By.TAG_NAME, "header").text.startswith("thermos(")
        assert "no such file" in browser.find_element(By.ID, "error-message").text
        browser.find_element(By.ID, "back-link").click()
        wait_for(lambda: browser.find_elements(By.ID, "task-id"), what="the task page from the 404's link")
        # Every page load fetched the icon; none got a 404 (successes are logged at DEBUG, 4xx at INFO).
        wait_for(lambda: "200 GET /static/favicon.ico" in observer.stderr(), what="the favicon fetched")
        logged = [line for line in observer.stderr().splitlines() if " 404 GET " in line]
        assert logged == [next(line for line in logged if "/browse/tree_task/a/nope" in line)], logged
    finally:
        observer.stop()
