"""The scheduler's web UI in real headless Chromium (Debian's chromium + chromedriver, driven by selenium),
against a real cluster: ZooKeeper, one `aurora-scheduler`, the Mesos-API stand-in, Thermos executors.

Roles -> role -> job -> a running task's events and its observer link; a task that cannot be placed shows
its pending reason on the job page and on /pendingtasks; the page's content refreshes by itself (no reload)
when a task changes state; an unknown job is a 404 page.
"""
from __future__ import annotations

import pytest

from tests.helpers import wait_for
from tests.integration.schedmesos import MesosCluster, key
from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus as S

from tests.e2e.conftest import require_browser

require_browser()
from selenium.webdriver.common.by import By  # noqa: E402


def job(name: str, cmdline: str, *, cpu: float = 0.1, instances: int = 1) -> str:
    return f"""
        task = Task(processes=[Process(name='main', cmdline={cmdline!r})],
                    resources=Resources(cpu={cpu}, ram=8*MB, disk=8*MB))
        jobs = [Service(cluster='test', role='www', environment='prod', name='{name}', task=task,
                        instances={instances})]
    """


@pytest.fixture
def cluster(tmp_path, zookeeper):
    with MesosCluster(tmp_path, zookeeper.endpoints, agents=1, size=1) as c:
        yield c


def test_roles_to_job_to_task_observer_link_and_pending_reasons(cluster, browser):
    cluster.create(job("hello", "sleep 600"))
    cluster.create(job("huge", "sleep 600", cpu=100), name="huge.aurora")
    (running,) = cluster.wait_tasks("www/prod/hello", lambda ts: ts and ts[0].status == S.RUNNING,
                                    what="hello RUNNING")
    base = f"http://127.0.0.1:{cluster.sched.http_ports[cluster.sched.wait_leader()]}"

    browser.get(base + "/scheduler")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#roles a.role-link"), what="the roles table")
    browser.find_element(By.LINK_TEXT, "www").click()
    links = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#jobs a.job-link"), what="the jobs table")
    assert sorted(a.text for a in links) == ["hello", "huge"]
    browser.find_element(By.LINK_TEXT, "hello").click()
    wait_for(lambda: browser.find_elements(By.ID, "job-key"), what="the job page")
    assert browser.find_element(By.ID, "job-key").text == "www/prod/hello"
    row = browser.find_element(By.CSS_SELECTOR, "#active-tasks tr.task")
    assert "RUNNING" in row.text
    task_id = running.assignedTask.taskId
    row.find_element(By.TAG_NAME, "summary").click()                      # expand the events
    assert browser.find_element(By.CSS_SELECTOR, f'[id="events-{task_id}"] .task-id').text == task_id
    events = [e.text for e in row.find_elements(By.CSS_SELECTOR, "ol.events li")]
    assert any("RUNNING" in e for e in events) and any("PENDING" in e for e in events)
    link = row.find_element(By.CSS_SELECTOR, "a.observer-link")
    host = running.assignedTask.slaveHost
    assert (link.text, link.get_attribute("href")) == (host, f"http://{host}:1338/task/{task_id}")

    # The job that cannot fit says why, on its page and on /pendingtasks.
    browser.get(base + "/scheduler/www/prod/huge")
    reason = wait_for(lambda: [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#active-tasks .pending-reason")
                               if e.text != "not yet tried"], timeout=60, what="a pending reason")
    assert reason == ["Insufficient: CPU"]
    browser.get(base + "/pendingtasks")
    assert browser.find_element(By.CSS_SELECTOR, "#pending td.pending-reason").text == "Insufficient: CPU"

    browser.get(base + "/scheduler/www/prod/nothing")
    assert browser.find_element(By.ID, "error-message").text == "no job www/prod/nothing"


def test_the_job_page_refreshes_its_content_without_a_reload(cluster, browser):
    cluster.create(job("later", "sleep 600"))
    cluster.wait_tasks("www/prod/later", lambda ts: ts and ts[0].status == S.RUNNING, what="a RUNNING task")
    base = f"http://127.0.0.1:{cluster.sched.http_ports[cluster.sched.wait_leader()]}"
    browser.get(base + "/scheduler/www/prod/later")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#active-tasks tr.task"), what="the task row")
    assert browser.find_elements(By.CSS_SELECTOR, "#finished-tasks tr.task") == []
    browser.execute_script("window.stillTheSamePage = true;")
    assert cluster.client().killTasks(key("www/prod/later"), None, "bye").responseCode == 1
    cluster.wait_tasks("www/prod/later", lambda ts: ts[0].status == S.KILLED, what="the task KILLED")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#finished-tasks tr.task"), timeout=30,
             what="the killed task among the finished ones, without a reload")
    assert browser.execute_script("return window.stillTheSamePage === true;")
    assert "KILLED" in browser.find_element(By.CSS_SELECTOR, "#finished-tasks tr.task").text
