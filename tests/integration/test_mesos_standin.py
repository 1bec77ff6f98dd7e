"""The Mesos-API stand-in with the unmodified pymesos drivers: a pymesos scheduler (tests/mesos_framework.py) and
a pymesos executor (tests/fixtures/echo_executor.py) started for real by the agent. Every message exchanged in
each test is validated against the real Mesos v1 protos when the test ends (mesos_helpers.local_mesos)."""
from __future__ import annotations

import base64
import json
import os
import signal
import time

import pytest

from tests.helpers import alive, wait_for
from tests.integration.mesos_helpers import get_json, local_mesos, read_events, request
from tests.mesos_framework import echo_command, task_info

HANG = b"{}"
FINISH = b'{"finish": true}'


@pytest.fixture
def mesos(tmp_path):
    with local_mesos(str(tmp_path / "mesos")) as m:
        yield m


def sandbox_of(mesos, executor_id):
    return wait_for(lambda: mesos.executor_directory(executor_id), what=f"sandbox of {executor_id}")


def test_offer_launch_updates_acks_and_sandbox(mesos):
    fw = mesos.framework()
    offer = fw.wait_for(lambda: fw.offers, what="an offer")[0]
    assert offer["hostname"] == os.uname().nodename
    assert offer["agent_id"]["value"] == mesos.agent_id
    resources = {r["name"]: r for r in offer["resources"]}
    assert resources["cpus"]["scalar"]["value"] == 2.0 and resources["mem"]["scalar"]["value"] == 4096
    assert resources["ports"]["ranges"]["range"] == [{"begin": 31000, "end": 31009}]
    assert {a["name"]: a["text"]["value"] for a in offer["attributes"]} == {"rack": "a", "zone": "b"}

    fw.launch([task_info("t1", echo_command(), FINISH, resources={"cpus": 0.5, "mem": 64, "ports": 2})])
    finished = fw.wait_for_state("t1", "TASK_FINISHED")
    assert fw.states("t1") == ["TASK_RUNNING", "TASK_FINISHED"]
    assert finished["agent_id"]["value"] == mesos.agent_id and finished["source"] == "SOURCE_EXECUTOR"
    assert finished["uuid"] and finished["executor_id"]["value"] == "t1-executor"
    launched = fw.launched_on["t1"]
    assert launched["agent_id"]["value"] == mesos.agent_id

    # The executor ran in a Mesos-shaped sandbox, in its own session, with Mesos' environment.
    sandbox = sandbox_of(mesos, "t1-executor")
    runs = os.path.dirname(sandbox)
    assert sandbox == os.path.join(mesos.work_dir, "slaves", mesos.agent_id, "frameworks", fw.framework_id,
                                   "executors", "t1-executor", "runs", os.path.basename(sandbox))
    assert os.path.realpath(os.path.join(runs, "latest")) == os.path.realpath(sandbox)
    assert os.path.isfile(os.path.join(sandbox, "stdout")) and os.path.isfile(os.path.join(sandbox, "stderr"))
    info = json.load(open(os.path.join(sandbox, "env.json")))
    env = info["env"]
    assert os.path.realpath(info["cwd"]) == os.path.realpath(sandbox)
    assert info["sid"] == info["pgid"] != os.getsid(0)  # its own session (the /bin/sh started for it leads it)
    assert env["MESOS_AGENT_ENDPOINT"] == mesos.agent_address
    assert env["MESOS_FRAMEWORK_ID"] == fw.framework_id and env["MESOS_EXECUTOR_ID"] == "t1-executor"
    assert env["MESOS_DIRECTORY"] == env["MESOS_SANDBOX"] == sandbox
    assert env["MESOS_AGENT_ID"] == env["MESOS_SLAVE_ID"] == mesos.agent_id
    assert env["MESOS_CHECKPOINT"] == "0" and env["MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"] == "5secs"

    # Task data arrived intact, both acknowledgements reached the executor, and it exited by itself.
    events = wait_for(lambda: (lambda e: "exit" in e and e)(read_events(sandbox)), what="executor exit")
    assert f"registered t1-executor {fw.framework_id} {mesos.agent_id}" in events
    assert 'launch t1 {"finish": true}' in events
    assert "acknowledged t1 TASK_RUNNING" in events and "acknowledged t1 TASK_FINISHED" in events
    failure = fw.wait_for(lambda: fw.failures, what="executor FAILURE")[0]
    assert failure == {"agent_id": mesos.agent_id, "executor_id": "t1-executor", "status": 0}

    state = get_json(mesos.master_address, "/state")
    framework = next(f for f in state["frameworks"] if f["id"] == fw.framework_id)
    assert [(t["id"], t["state"]) for t in framework["completed_tasks"]] == [("t1", "TASK_FINISHED")]
    assert framework["tasks"] == [] and framework["active"]
    (slave,) = state["slaves"]
    assert slave["id"] == mesos.agent_id and slave["attributes"] == {"rack": "a", "zone": "b"}
    assert slave["resources"]["ports"] == "[31000-31009]" and slave["used_resources"] == {}
    agent_state = get_json(mesos.agent_address, "/state")
    (executor,) = agent_state["frameworks"][0]["completed_executors"]
    assert executor["directory"] == sandbox and executor["tasks"] == [{"id": "t1", "state": "TASK_FINISHED"}]

    kinds = {(api, kind) for api, kind, _ in mesos.message_log.entries()}
    assert kinds == {("scheduler", "call"), ("scheduler", "event"), ("executor", "call"), ("executor", "event")}


def test_kill_reconcile_and_heartbeats(mesos):
    fw = mesos.framework()
    fw.launch([task_info("t2", echo_command(), HANG)])
    fw.wait_for_state("t2", "TASK_RUNNING")
    running = len(fw.updates)

    fw.reconcile(["t2", "nope"])
    fw.wait_for(lambda: len(fw.updates) >= running + 2, what="explicit reconciliation")
    by_task = {u["task_id"]["value"]: u for u in fw.updates[running:]}
    assert by_task["t2"]["state"] == "TASK_RUNNING" and by_task["t2"]["reason"] == "REASON_RECONCILIATION"
    assert "uuid" not in by_task["t2"] and by_task["t2"]["source"] == "SOURCE_MASTER"
    assert by_task["nope"]["state"] == "TASK_LOST" and by_task["nope"]["reason"] == "REASON_RECONCILIATION"

    fw.reconcile()
    fw.wait_for(lambda: len(fw.updates) >= running + 3, what="implicit reconciliation")
    assert [(u["task_id"]["value"], u["state"]) for u in fw.updates[running + 2:]] == [("t2", "TASK_RUNNING")]

    fw.kill("t2")
    killed = fw.wait_for_state("t2", "TASK_KILLED")
    assert killed["source"] == "SOURCE_EXECUTOR"
    fw.kill("ghost")
    ghost = fw.wait_for_state("ghost", "TASK_LOST")
    assert ghost["reason"] == "REASON_RECONCILIATION"
    fw.wait_for(lambda: fw.heartbeats >= 1, what="a HEARTBEAT")


def test_invalid_launches_get_error_or_lost(mesos):
    fw = mesos.framework(hold_offers=True)
    offer = fw.wait_for(lambda: fw.held_offers, what="an offer")[0]
    agent = offer["agent_id"]
    big = task_info("big", echo_command(), resources={"cpus": 3.0, "mem": 32})
    dup1 = task_info("dup", echo_command(), HANG, executor_id="shared")
    dup2 = task_info("dup", echo_command(), HANG, executor_id="shared")
    command = task_info("cmd", "true")
    del command["executor"]
    command["command"] = {"value": "true"}
    bad_port = task_info("port", echo_command(), resources={"cpus": 0.1, "ports": [(40000, 40000)]})
    for task in (big, dup1, dup2, command, bad_port):
        task["agent_id"] = agent
    fw.driver.launchTasks(offer["id"], [big, dup1, dup2, command, bad_port])
    for task_id in ("big", "cmd", "port"):
        error = fw.wait_for_state(task_id, "TASK_ERROR")
        assert error["reason"] == "REASON_TASK_INVALID" and error["source"] == "SOURCE_MASTER"
    assert "more than available" in fw.wait_for_state("big", "TASK_ERROR")["message"]
    assert "duplicate" in fw.wait_for_state("dup", "TASK_ERROR")["message"]
    fw.wait_for_state("dup", "TASK_RUNNING")

    late = task_info("late", echo_command(), HANG)
    late["agent_id"] = agent
    fw.driver.launchTasks(offer["id"], [late])  # the offer was used already
    lost = fw.wait_for_state("late", "TASK_LOST")
    assert lost["reason"] == "REASON_INVALID_OFFERS" and "no longer valid" in lost["message"]


def test_decline_filters_revive_suppress_and_rescind(mesos):
    fw = mesos.framework(hold_offers=True)
    first = fw.wait_for(lambda: fw.held_offers, what="an offer")[0]

    fw.decline_held(refuse_seconds=3600)
    state = mesos.state()["frameworks"][0]
    assert state["offers"] == [] and state["filters"] == 1
    offers_before = len(fw.offers)
    fw.driver.reviveOffers()  # clears the filter: offered again at once
    second = fw.wait_for(lambda: fw.held_offers, what="an offer after REVIVE")[0]
    assert second["id"] != first["id"] and len(fw.offers) == offers_before + 1

    declined_at = time.monotonic()
    fw.decline_held(refuse_seconds=0.3)
    fw.wait_for(lambda: fw.held_offers, what="an offer after the filter expired")
    assert time.monotonic() - declined_at >= 0.3

    rescinded = fw.held_offers[0]["id"]["value"]
    assert mesos.faults.rescind_offers() == 1
    fw.wait_for(lambda: rescinded in fw.rescinded, what="RESCIND")
    fw.wait_for(lambda: fw.held_offers and fw.held_offers[0]["id"]["value"] != rescinded, what="a new offer")

    fw.driver.suppressOffers()
    fw.wait_for(lambda: mesos.state()["frameworks"][0]["suppressed"], what="SUPPRESS applied")
    fw.decline_held(refuse_seconds=0)
    assert mesos.state()["frameworks"][0]["offers"] == []
    fw.driver.reviveOffers()
    fw.wait_for(lambda: fw.held_offers, what="an offer after REVIVE")
    assert not mesos.state()["frameworks"][0]["suppressed"]


def test_teardown_shuts_down_executors(mesos):
    fw = mesos.framework()
    fw.launch([task_info("t3", echo_command(), HANG)])
    fw.wait_for_state("t3", "TASK_RUNNING")
    pid = mesos.executor_pid("t3-executor")
    sandbox = sandbox_of(mesos, "t3-executor")
    framework_id = fw.framework_id
    fw.stop()  # pymesos sends TEARDOWN
    wait_for(lambda: not alive(pid), what="executor exit after TEARDOWN")
    assert "shutdown" in read_events(sandbox)
    state = mesos.state()
    assert state["frameworks"] == []
    (completed,) = state["completed_frameworks"]
    assert completed["id"] == framework_id
    assert [(t["id"], t["state"]) for t in completed["completed_tasks"]] == [("t3", "TASK_KILLED")]


def test_executor_exit_and_kill_fail_tasks(mesos):
    fw = mesos.framework()
    fw.launch([task_info("exits", echo_command(), b'{"exit": 3}'), task_info("killed", echo_command(), HANG)])
    failed = fw.wait_for_state("exits", "TASK_FAILED")
    assert failed["reason"] == "REASON_EXECUTOR_TERMINATED" and failed["source"] == "SOURCE_AGENT"
    assert failed["message"] == "Executor terminated: exited with status 3"
    fw.wait_for_state("killed", "TASK_RUNNING")
    os.kill(mesos.executor_pid("killed-executor"), signal.SIGKILL)
    assert fw.wait_for_state("killed", "TASK_FAILED")["message"] == "Executor terminated: killed by signal 9"
    failures = fw.wait_for(lambda: len(fw.failures) == 2 and fw.failures, what="two FAILUREs")
    assert {f["executor_id"]: f["status"] for f in failures} == {"exits-executor": 3 << 8, "killed-executor": 9}


def test_framework_messages_both_ways(mesos):
    fw = mesos.framework()
    fw.launch([task_info("m", echo_command(), b'{"message": "hello"}')])
    fw.wait_for_state("m", "TASK_RUNNING")
    first = fw.wait_for(lambda: fw.messages, what="executor message")[0]
    assert base64.b64decode(first["data"]) == b"hello" and first["executor_id"]["value"] == "m-executor"
    fw.driver.sendFrameworkMessage({"value": "m-executor"}, {"value": mesos.agent_id},
                                   base64.b64encode(b"ping").decode())
    echoed = fw.wait_for(lambda: len(fw.messages) > 1 and fw.messages[1], what="echoed message")
    assert base64.b64decode(echoed["data"]) == b"echo:ping"
    fw.kill("m")
    fw.wait_for_state("m", "TASK_KILLED")


def test_registration_timeout_and_kill_during_launch(tmp_path):
    with local_mesos(str(tmp_path / "mesos"), executor_registration_timeout=1.0) as mesos:
        fw = mesos.framework()
        fw.launch([task_info("mute", "exec sleep 60"), task_info("queued", "exec sleep 60")])
        queued_pid = wait_for(lambda: mesos.executor_pid("queued-executor"), what="executor started")
        mute_pid = mesos.executor_pid("mute-executor")
        fw.kill("queued")
        killed = fw.wait_for_state("queued", "TASK_KILLED")
        assert killed["reason"] == "REASON_TASK_KILLED_DURING_LAUNCH" and killed["source"] == "SOURCE_AGENT"
        wait_for(lambda: not alive(queued_pid), what="the executor of the killed task killed")
        failed = fw.wait_for_state("mute", "TASK_FAILED")
        assert failed["reason"] == "REASON_EXECUTOR_REGISTRATION_TIMEOUT"
        assert failed["message"] == "Executor did not register within 1secs"
        wait_for(lambda: not alive(mute_pid), what="silent executor killed")


def test_fault_close_scheduler_stream(mesos):
    fw = mesos.framework()
    fw.launch([task_info("s", echo_command(), HANG)])
    fw.wait_for_state("s", "TASK_RUNNING")
    framework_id = fw.framework_id
    assert mesos.faults.close_scheduler_stream() == 1
    fw.wait_for(lambda: fw.registrations == 2, what="re-subscription")
    assert fw.framework_id == framework_id and fw.disconnections >= 1
    subscribes = [m for api, kind, m in mesos.message_log.entries("scheduler", "call") if m["type"] == "SUBSCRIBE"]
    assert subscribes[-1]["framework_id"] == {"value": framework_id}
    fw.kill("s")
    fw.wait_for_state("s", "TASK_KILLED")


def test_fault_close_executor_stream(mesos):
    fw = mesos.framework(checkpoint=True)
    fw.launch([task_info("ck", echo_command(), HANG),
               task_info("nock", echo_command(), HANG, environment={"MESOS_CHECKPOINT": ""})])
    fw.wait_for_state("ck", "TASK_RUNNING")
    fw.wait_for_state("nock", "TASK_RUNNING")
    sandbox = sandbox_of(mesos, "ck-executor")
    assert mesos.faults.close_executor_stream("ck-executor") == 1
    wait_for(lambda: "reregistered" in read_events(sandbox), what="executor re-subscription")
    fw.kill("ck")
    fw.wait_for_state("ck", "TASK_KILLED")
    # Without MESOS_CHECKPOINT a pymesos executor shuts itself down when its stream ends.
    assert mesos.faults.close_executor_stream("nock-executor") == 1
    failed = fw.wait_for_state("nock", "TASK_FAILED")
    assert failed["message"].startswith("Executor terminated")


def test_fault_drop_next_update(mesos):
    fw = mesos.framework()
    mesos.faults.drop_next_update()
    fw.launch([task_info("d", echo_command(), HANG)])
    sandbox = sandbox_of(mesos, "d-executor")
    wait_for(lambda: "sent d TASK_RUNNING" in read_events(sandbox), what="executor sent TASK_RUNNING")
    fw.kill("d")
    fw.wait_for_state("d", "TASK_KILLED")
    assert fw.states("d") == ["TASK_KILLED"]  # the RUNNING update was dropped: never forwarded
    assert "acknowledged d TASK_RUNNING" not in read_events(sandbox)
    executor_updates = [m["update"]["status"]["state"] for _, _, m in mesos.message_log.entries("executor", "call")
                        if m["type"] == "UPDATE"]
    assert executor_updates == ["TASK_RUNNING", "TASK_KILLED"]


def test_fault_lose_agent(mesos):
    fw = mesos.framework()
    fw.launch([task_info("l", echo_command(), HANG)])
    fw.wait_for_state("l", "TASK_RUNNING")
    pid = mesos.executor_pid("l-executor")
    old_agent = mesos.agent_id
    assert mesos.faults.lose_agent() == old_agent
    lost = fw.wait_for_state("l", "TASK_LOST")
    assert lost["reason"] == "REASON_AGENT_REMOVED" and lost["source"] == "SOURCE_MASTER"
    fw.wait_for(lambda: {"agent_id": old_agent} in fw.failures, what="agent FAILURE")
    wait_for(lambda: not alive(pid), what="executor killed")
    assert mesos.agent_id != old_agent
    fw.wait_for(lambda: any(o["agent_id"]["value"] == mesos.agent_id for o in fw.offers), what="offer, new agent")
    fw.launch([task_info("again", echo_command(), FINISH)])
    fw.wait_for_state("again", "TASK_FINISHED")
    assert [s["id"] for s in mesos.state()["slaves"]] == [mesos.agent_id]


def test_fault_restart_agent(mesos):
    fw = mesos.framework(checkpoint=True)
    fw.launch([task_info("r", echo_command(), HANG),
               task_info("gone", echo_command(), HANG, environment={"MESOS_CHECKPOINT": ""})])
    fw.wait_for_state("r", "TASK_RUNNING")
    fw.wait_for_state("gone", "TASK_RUNNING")
    sandbox = sandbox_of(mesos, "r-executor")
    address = mesos.agent_address
    mesos.faults.restart_agent()
    assert mesos.agent_address == address
    assert fw.wait_for_state("gone", "TASK_FAILED")["message"].startswith("Executor terminated")
    wait_for(lambda: "reregistered" in read_events(sandbox), timeout=15, what="executor re-subscription")
    fw.kill("r")
    fw.wait_for_state("r", "TASK_KILLED")


def test_files_browse_and_read(mesos, tmp_path):
    fw = mesos.framework()
    fw.launch([task_info("f", echo_command(), FINISH)])
    fw.wait_for_state("f", "TASK_FINISHED")
    sandbox = sandbox_of(mesos, "f-executor")
    latest = os.path.join(os.path.dirname(sandbox), "latest")
    with open(os.path.join(sandbox, "big"), "wb") as f:
        f.write(b"x" * (2 * 1024 * 1024 + 5))
    outside = tmp_path / "secret"
    outside.write_text("secret")
    os.symlink(str(outside), os.path.join(sandbox, "escape"))
    sibling = mesos.work_dir + "2"
    os.makedirs(sibling)
    open(os.path.join(sibling, "x"), "w").close()

    for address in (mesos.agent_address, mesos.master_address):
        listing = get_json(address, f"/files/browse?path={latest}")
        names = {os.path.basename(e["path"]): e for e in listing}
        assert {"stdout", "stderr", "env.json", "events.log", "big"} <= set(names)
        assert names["big"]["size"] == 2 * 1024 * 1024 + 5 and names["big"]["mode"].startswith("-rw")
        assert get_json(address, f"/files/read?path={sandbox}/big&offset=-1") == {"data": "",
                                                                                   "offset": 2 * 1024 * 1024 + 5}
        read = get_json(address, f"/files/read?path={latest}/env.json&offset=2&length=5")
        assert read["offset"] == 2 and read["data"] == open(os.path.join(sandbox, "env.json")).read()[2:7]
        capped = get_json(address, f"/files/read?path={sandbox}/big&offset=0&length=5000000")
        assert len(capped["data"]) == 1024 * 1024
        for path in (f"{sandbox}/../../../../../../../../etc/passwd", "/etc/passwd", f"{sandbox}/escape",
                     f"{sandbox}/nothing", f"{sibling}/x", f"{sandbox}/big%00", f"{sandbox}/big%0a"):
            for endpoint in ("browse", "read"):
                status, body = request(address, "GET", f"/files/{endpoint}?path={path}")
                assert status == 404, (endpoint, path, status, body)
                assert body.count(b"\n") == 1
        assert request(address, "GET", "/files/read")[0] == 400
        assert request(address, "GET", f"/files/read?path={sandbox}")[0] == 400
        assert request(address, "GET", f"/files/read?path={sandbox}/big&offset=-2")[0] == 400
        assert request(address, "GET", f"/files/read?path={sandbox}/big&offset=x")[0] == 400
        huge = get_json(address, f"/files/read?path={sandbox}/big&offset=100000000000000000000")
        assert huge == {"data": "", "offset": 2 * 1024 * 1024 + 5}          # clamped to the size, not a 500


def test_bad_calls_answer_400_with_one_line(mesos):
    fw = mesos.framework()
    framework_id = fw.framework_id
    stream_id = fw.driver.stream_id
    mesos.message_log.enabled = False  # the malformed calls below are meant not to match the protos
    scheduler_cases = [
        ("not json", {}),
        ([1, 2], {}),
        ({"framework_id": {"value": framework_id}}, {}),
        ({"type": "SUBSCRIBE"}, {}),
        ({"type": "SUBSCRIBE", "subscribe": {"framework_info": {"name": "x"}}}, {}),
        ({"type": "DECLINE", "framework_id": {"value": "nope"}, "decline": {"offer_ids": []}}, {}),
        ({"type": "REVIVE", "framework_id": {"value": framework_id}}, {}),
        ({"type": "REVIVE", "framework_id": {"value": framework_id}}, {"Mesos-Stream-Id": "wrong"}),
        ({"type": "ACCEPT", "framework_id": {"value": framework_id}}, {"Mesos-Stream-Id": stream_id}),
        ({"type": "ACCEPT", "framework_id": {"value": framework_id}, "accept": {"offer_ids": [{"value": 1}]}},
         {"Mesos-Stream-Id": stream_id}),
        ({"type": "KILL", "framework_id": {"value": framework_id}, "kill": {}}, {"Mesos-Stream-Id": stream_id}),
        ({"type": "ACKNOWLEDGE", "framework_id": {"value": framework_id}, "acknowledge": {}},
         {"Mesos-Stream-Id": stream_id}),
        ({"type": "BOGUS", "framework_id": {"value": framework_id}}, {"Mesos-Stream-Id": stream_id}),
        ({"type": "RECONCILE", "framework_id": {"value": framework_id}, "reconcile": {"tasks": [{}]}},
         {"Mesos-Stream-Id": stream_id}),
        ({"type": "DECLINE", "framework_id": {"value": framework_id}, "decline": {"offer_ids": 7}},
         {"Mesos-Stream-Id": stream_id}),
        ({"type": "SUBSCRIBE", "subscribe": {"framework_info": ["x"]}}, {}),
        ({"type": "ACCEPT", "framework_id": {"value": framework_id}, "accept": {
            "offer_ids": [{"value": "o"}], "operations": [{"type": "LAUNCH", "launch": {"task_infos": [{
                "name": "n", "task_id": {"value": "t"}, "agent_id": {"value": "a"}, "data": "*not base64*"}]}}]}},
         {"Mesos-Stream-Id": stream_id}),
    ]
    for body, headers in scheduler_cases:
        status, text = request(mesos.master_address, "POST", "/api/v1/scheduler",
                               body if not isinstance(body, str) else body.encode(),
                               {"Content-Type": "application/json", **headers})
        assert status == 400, (body, status, text)
        assert text.endswith(b"\n") and text.count(b"\n") == 1 and len(text) > 1, text
    status, text = request(mesos.master_address, "POST", "/api/v1/scheduler", b"<call/>",
                           {"Content-Type": "application/xml"})
    assert status == 415 and text.count(b"\n") == 1

    executor_cases = [
        {"type": "SUBSCRIBE", "framework_id": {"value": framework_id}, "executor_id": {"value": "nope"}},
        {"type": "UPDATE", "framework_id": {"value": framework_id}},
        {"type": "MESSAGE"},
    ]
    for body in executor_cases:
        status, text = request(mesos.agent_address, "POST", "/api/v1/executor", body)
        assert status == 400 and text.count(b"\n") == 1, (body, status, text)
    mesos.message_log.enabled = True
    fw.launch([task_info("b", echo_command(), HANG)])
    fw.wait_for_state("b", "TASK_RUNNING")
    mesos.message_log.enabled = False
    ids = {"framework_id": {"value": framework_id}, "executor_id": {"value": "b-executor"}}
    for status_body in ({"task_id": {"value": "b"}, "state": "TASK_STAGING", "uuid": "AAAA"},
                        {"task_id": {"value": "b"}, "state": "TASK_RUNNING"},
                        {"task_id": {"value": "other"}, "state": "TASK_RUNNING", "uuid": "AAAA"},
                        {"task_id": {"value": "b"}, "state": "RUNNING", "uuid": "AAAA"}):
        status, text = request(mesos.agent_address, "POST", "/api/v1/executor",
                               {"type": "UPDATE", **ids, "update": {"status": status_body}})
        assert status == 400 and text.count(b"\n") == 1, (status_body, status, text)
    assert request(mesos.master_address, "GET", "/api/v1/scheduler")[0] == 405
    version = get_json(mesos.master_address, "/version")
    assert version["version"] == "1.11.0"
    mesos.message_log.enabled = True
    fw.kill("b")
    fw.wait_for_state("b", "TASK_KILLED")
