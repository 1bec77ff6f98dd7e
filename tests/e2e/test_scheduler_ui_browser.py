"""The scheduler's web UI in real headless Chromium (Debian's chromium + chromedriver, driven by selenium),
against a real cluster: ZooKeeper, one `aurora-scheduler`, the Mesos-API stand-in, Thermos executors.

Roles -> role -> job -> a running task's events and its observer link; a task that cannot be placed shows
its pending reason on the job page and on /pendingtasks; the page's content refreshes by itself (no reload)
when a task changes state; an unknown job is a 404 page; a job left running two configs by a scoped update
shows the config diff, the update's page its progress and diff; /cron the next run in -cron_timezone.
"""
from __future__ import annotations

import os
import re
import textwrap

import pytest

from tests.helpers import wait_for
from tests.integration.schedmesos import MesosCluster, job_config, key
from thermos_executor.aurora_api.gen.ttypes import JobUpdateQuery, JobUpdateRequest, JobUpdateStatus, ResponseCode
from thermos_executor.aurora_api.gen.ttypes import ScheduleStatus as S
from thermos_executor.config import loader
from thermos_executor.config.thrift import convert, update_settings

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
    with MesosCluster(tmp_path, zookeeper.endpoints, agents=1, size=1,
                      extra_args=("-cron_timezone=Europe/Berlin",)) as c:
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


def test_config_diff_update_progress_and_cron_next_run(cluster, browser):
    """A 2-instance job; an update to a new command line for instance 1 only (updateOnlyTheseInstances), so the
    job is left running two configs. Its page shows the diff, the update's page instance 1 updated and the
    diff; /cron a cron job's next run in Europe/Berlin."""
    def web(version):
        return f"""
            task = Task(processes=[Process(name='main', cmdline='echo {version}; sleep 600')],
                        resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
            jobs = [Service(cluster='test', role='www', environment='prod', name='web', task=task, instances=2,
                            update_config=UpdateConfig(watch_secs=1))]
        """
    cluster.create(web("v1"))
    cluster.wait_tasks("www/prod/web", lambda ts: len([t for t in ts if t.status == S.RUNNING]) == 2,
                       what="2 RUNNING tasks")
    path = os.path.join(cluster.dir, "v2.aurora")
    with open(path, "w") as f:
        f.write(textwrap.dedent(web("v2")))
    job = loader.choose_job(loader.load(path))
    config = convert(job, user=os.environ.get("USER", "root"))         # as cluster.create
    client = cluster.client()
    reply = client.startJobUpdate(JobUpdateRequest(taskConfig=config.taskConfig, instanceCount=2,
                                                   settings=update_settings(job, instances=[1])), "to v2")
    assert reply.responseCode == ResponseCode.OK, reply
    update_key = reply.result.startJobUpdateResult.key

    def rolled_forward():
        (d,) = client.getJobUpdateDetails(None, JobUpdateQuery(key=update_key)).result \
            .getJobUpdateDetailsResult.detailsList
        return d.update.summary.state.status == JobUpdateStatus.ROLLED_FORWARD
    wait_for(rolled_forward, 90, interval=0.2, what="the update ROLLED_FORWARD")
    nightly = job_config("""
        task = Task(processes=[Process(name='main', cmdline='echo tick')],
                    resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
        jobs = [Job(cluster='test', role='www', environment='prod', name='nightly', task=task,
                    cron_schedule='0 3 * * *')]
    """, cluster.dir, "nightly.aurora")
    assert client.scheduleCronJob(nightly).responseCode == ResponseCode.OK

    base = f"http://127.0.0.1:{cluster.sched.http_ports[cluster.sched.wait_leader()]}"
    browser.get(base + "/scheduler/www/prod/web")
    rows = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#config-diff-1 tbody tr"), what="the diff")
    heads = [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#config-diff-1 thead th")]
    assert heads == ["field", "instances 0", "instances 1"]
    cells = {r.find_element(By.CSS_SELECTOR, "td.field").text: (r.find_element(By.CSS_SELECTOR, "td.before").text,
                                                                r.find_element(By.CSS_SELECTOR, "td.after").text)
             for r in rows}
    assert cells == {"process main": ("echo v1; sleep 600", "echo v2; sleep 600")}

    browser.find_element(By.CSS_SELECTOR, "a.update-link").click()
    boxes = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#instances .box"), what="the update's boxes")
    assert [(b.text, b.get_attribute("class")) for b in boxes] == [("1", "box updated")]
    assert browser.find_element(By.ID, "update-status").text.startswith("ROLLED_FORWARD: 1 of 1 instances done")
    assert "updated 1" in browser.find_element(By.ID, "update-counts").text
    diff = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "#update-diff-0 tbody td")]
    assert diff == ["process main", "echo v1; sleep 600", "echo v2; sleep 600"]

    browser.find_element(By.LINK_TEXT, "Cron").click()
    next_run = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#cron td.next-run"), what="the cron table")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d 03:00:00 CES?T", next_run[0].text), next_run[0].text
    assert browser.find_element(By.ID, "cron-zone").text == "Europe/Berlin"
    assert browser.find_element(By.CSS_SELECTOR, "#cron td.last-run").text.startswith("none since saved ")
