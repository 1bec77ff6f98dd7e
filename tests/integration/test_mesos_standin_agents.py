"""The Mesos-API stand-in with several agents, and its master found through ZooKeeper: the unmodified pymesos
scheduler and executor drivers against it, every message validated against the real Mesos v1 protos
(mesos_helpers.local_mesos), the master's znode too."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid

import pytest
from kazoo.client import KazooClient

from tests.helpers import BIN, alive, wait_for
from tests.integration.mesos_helpers import get_json, local_mesos, read_events, request
from tests.mesos_framework import TestFramework, echo_command, task_info
from tests.mesos_protos import modules

HANG = b"{}"
FINISH = b'{"finish": true}'
THREE = [{}, {"attributes": {"rack": "b"}, "resources": {"cpus": 4}},
         {"hostname": "bighost", "resources": "cpus:8;mem:16384", "attributes": "level:3"}]


@pytest.fixture
def three(tmp_path):
    with local_mesos(str(tmp_path / "mesos"), agents=THREE) as m:
        yield m


def offers_by_agent(fw, count):
    """The latest offer of each agent, once `count` agents have offered."""
    def seen():
        latest = {o["agent_id"]["value"]: o for o in fw.offers}
        return latest if len(latest) >= count else None
    return fw.wait_for(seen, what=f"offers from {count} agents")


def test_three_agents_offer_their_own_resources_attributes_and_host_names(three, tmp_path):
    agents = three.agents
    assert [a.name for a in agents] == ["agent1", "agent2", "agent3"]
    assert len({a.id for a in agents}) == 3 and len({a.port for a in agents}) == 3
    assert [a.work_dir for a in agents] == [os.path.join(three.work_dir, f"agent{i}") for i in (1, 2, 3)]
    fw = three.framework()
    offers = offers_by_agent(fw, 3)

    def described(agent):
        offer = offers[agent.id]
        resources = {r["name"]: r.get("scalar", {}).get("value") or r["ranges"]["range"] for r in offer["resources"]}
        attributes = {a["name"]: (a.get("text") or a.get("scalar"))["value"] for a in offer["attributes"]}
        return offer["hostname"], offer["url"]["address"]["port"], resources, attributes

    ports = [{"begin": 31000, "end": 31009}]
    assert described(agents[0]) == ("agent1", agents[0].port, {"cpus": 2.0, "mem": 4096, "disk": 10240,
                                                                "ports": ports}, {"rack": "a", "zone": "b"})
    assert described(agents[1]) == ("agent2", agents[1].port, {"cpus": 4.0, "mem": 4096, "disk": 10240,
                                                                "ports": ports}, {"rack": "b", "zone": "b"})
    assert described(agents[2]) == ("bighost", agents[2].port, {"cpus": 8.0, "mem": 16384, "disk": 10240,
                                                                 "ports": ports},
                                    {"rack": "a", "zone": "b", "level": 3.0})
    # One allocation cycle's offers reach a framework in one OFFERS event, one offer per agent.
    batches = [m["offers"]["offers"] for _, _, m in three.message_log.entries("scheduler", "event")
               if m["type"] == "OFFERS"]
    assert max(len(b) for b in batches) == 3
    assert all(len({o["agent_id"]["value"] for o in b}) == len(b) for b in batches)

    slaves = {s["id"]: s for s in get_json(three.master_address, "/state")["slaves"]}
    assert set(slaves) == {a.id for a in agents}
    assert slaves[agents[1].id]["hostname"] == "agent2"
    assert slaves[agents[1].id]["attributes"] == {"rack": "b", "zone": "b"}
    assert slaves[agents[2].id]["resources"]["cpus"] == 8.0 and slaves[agents[2].id]["port"] == agents[2].port
    for agent in agents:  # each agent serves its own /state
        state = get_json(agent.address, "/state")
        assert (state["id"], state["hostname"], state["flags"]["work_dir"]) == (agent.id, agent.hostname,
                                                                                agent.work_dir)
    assert three.agent("agent2") is agents[1] is three.agent(1) is three.agent(agents[1].id)
    with pytest.raises(LookupError):
        three.agent(7)


def test_task_on_agent_two_runs_under_its_work_dir_host_name_and_endpoint(three):
    agent2 = three.agent(1)
    fw = three.framework()
    fw.launch([task_info("t2", echo_command(), FINISH)], agent_id=agent2.id)
    finished = fw.wait_for_state("t2", "TASK_FINISHED")
    assert finished["agent_id"]["value"] == agent2.id
    assert fw.launched_on["t2"]["hostname"] == "agent2"
    sandbox = wait_for(lambda: three.executor_directory("t2-executor"), what="sandbox")
    assert three.executor_directory("t2-executor", agent=0) is None
    assert sandbox.startswith(os.path.join(three.work_dir, "agent2", "slaves", agent2.id, "frameworks") + os.sep)
    env = json.load(open(os.path.join(sandbox, "env.json")))["env"]
    assert env["MESOS_AGENT_ENDPOINT"] == agent2.address and env["MESOS_AGENT_ID"] == agent2.id
    events = wait_for(lambda: (lambda e: "exit" in e and e)(read_events(sandbox)), what="executor exit")
    assert f"registered t2-executor {fw.framework_id} {agent2.id}" in events

    # The master serves every agent's sandboxes; an agent only its own work dir.
    for address in (three.master_address, agent2.address):
        listing = get_json(address, f"/files/browse?path={sandbox}")
        assert "env.json" in {os.path.basename(e["path"]) for e in listing}
    assert request(three.agent(0).address, "GET", f"/files/browse?path={sandbox}")[0] == 404
    wait_for(lambda: [e["id"] for f in three.agent_state("agent2")["frameworks"] for e in f["completed_executors"]]
             == ["t2-executor"], what="agent2's completed executor")
    assert three.agent_state()["frameworks"] == [] and three.agent_state(2)["frameworks"] == []


def test_losing_one_agent_leaves_the_others_alone(three):
    fw = three.framework()
    agent1, agent2 = three.agent(0), three.agent(1)
    fw.launch([task_info("a1", echo_command(), HANG)], agent_id=agent1.id)
    fw.wait_for_state("a1", "TASK_RUNNING")
    fw.launch([task_info("a2", echo_command(), HANG)], agent_id=agent2.id)
    fw.wait_for_state("a2", "TASK_RUNNING")
    pid1, pid2 = three.executor_pid("a1-executor"), three.executor_pid("a2-executor")
    old_id = agent2.id
    assert three.faults.lose_agent(agent="agent2") == old_id
    lost = fw.wait_for_state("a2", "TASK_LOST")
    assert lost["agent_id"]["value"] == old_id and lost["reason"] == "REASON_AGENT_REMOVED"
    wait_for(lambda: not alive(pid2), what="agent2's executor killed")
    assert alive(pid1) and fw.states("a1") == ["TASK_RUNNING"]
    assert agent2.id != old_id and three.agent(0).id == agent1.id
    slaves = {s["id"] for s in three.state()["slaves"]}
    assert slaves == {a.id for a in three.agents} and old_id not in slaves
    # The rejoined agent takes tasks again, under the same work dir.
    fw.launch([task_info("again", echo_command(), FINISH)], agent_id=agent2.id)
    fw.wait_for_state("again", "TASK_FINISHED")
    assert three.executor_directory("again-executor").startswith(agent2.work_dir + os.sep)
    fw.kill("a1")
    fw.wait_for_state("a1", "TASK_KILLED")


def test_restarting_one_agent_resubscribes_its_executors_only(three):
    fw = three.framework(checkpoint=True)
    agent1, agent3 = three.agent(0), three.agent(2)
    fw.launch([task_info("r1", echo_command(), HANG)], agent_id=agent1.id)
    fw.wait_for_state("r1", "TASK_RUNNING")
    fw.launch([task_info("r3", echo_command(), HANG)], agent_id=agent3.id)
    fw.wait_for_state("r3", "TASK_RUNNING")
    sandbox1, sandbox3 = three.executor_directory("r1-executor"), three.executor_directory("r3-executor")
    address = agent3.address
    three.faults.restart_agent(agent=2)
    assert agent3.address == address
    wait_for(lambda: "reregistered" in read_events(sandbox3), timeout=15, what="agent3's executor re-subscription")
    assert "reregistered" not in read_events(sandbox1)
    # drop_next_update and close_executor_stream act on the agent they name.
    assert three.faults.close_executor_stream("r1-executor", agent="agent3") == 0
    for task in ("r1", "r3"):
        fw.kill(task)
        fw.wait_for_state(task, "TASK_KILLED")
    three.faults.drop_next_update(agent="agent2")
    fw.launch([task_info("d2", echo_command(), FINISH)], agent_id=three.agent(1).id)
    fw.wait_for_state("d2", "TASK_FINISHED")
    assert fw.states("d2") == ["TASK_FINISHED"]  # agent2 dropped the RUNNING update


def test_hundred_agents_in_one_process(tmp_path):
    with local_mesos(str(tmp_path / "mesos"), agents=100, resources={"cpus": 8, "mem": 16384},
                     heartbeat_interval=0) as mesos:
        assert len({a.port for a in mesos.agents}) == 100
        fw = mesos.framework(hold_offers=True)
        offers_by_agent(fw, 100)
        assert len(mesos.state()["slaves"]) == 100


def test_cli_three_agents_ready_line_and_state(tmp_path):
    work = tmp_path / "w"
    proc = subprocess.Popen([os.path.join(BIN, "aurora-mesos-local"), "--work_dir", str(work), "--master_port", "0",
                             "--agent_port", "0", "--agents", "3", "--attributes", "rack:a",
                             "--agent_attributes", "2=rack:b;host:x", "--agent-resources", "3=cpus:8;mem:8192",
                             "--agent_hostname", "3=big"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        fields = dict(part.split("=", 1) for part in line.split())
        assert list(fields) == ["master", "agent", "agent_id", "work_dir", "agent2", "agent2_id", "agent3",
                                "agent3_id"]
        slaves = {s["id"]: s for s in get_json(fields["master"], "/state")["slaves"]}
        assert set(slaves) == {fields["agent_id"], fields["agent2_id"], fields["agent3_id"]}
        assert slaves[fields["agent2_id"]]["attributes"] == {"rack": "b", "host": "x"}
        assert slaves[fields["agent3_id"]]["hostname"] == "big"
        assert slaves[fields["agent3_id"]]["resources"]["cpus"] == 8.0
        assert slaves[fields["agent_id"]]["resources"] == {"cpus": 2.0, "mem": 4096.0, "disk": 10240.0,
                                                           "ports": "[31000-31999]"}
        for key, n in (("agent", 1), ("agent2", 2), ("agent3", 3)):
            state = get_json(fields[key], "/state")
            assert state["flags"]["work_dir"] == str(work / f"agent{n}")
        assert fields["work_dir"] == str(work)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_cli_bad_agent_specs_one_line_exit_2(tmp_path):
    for flags, says in ((["--agents", "0"], "1-1000, got 0"), (["--agents", "x"], "got 'x'"),
                        (["--agents", "2", "--agent_resources", "3=cpus:1"], "agent 3 does not exist"),
                        (["--agent_resources", "cpus:1"], "is not N=VALUE"),
                        (["--agents", "2", "--agent_attributes", "2=rack"], "attribute 'rack' is not name:value"),
                        (["--agents", "2", "--agent_resources", "1=cpus:x"], "not a number"),
                        (["--agents", "2", "--agent_hostname", "1=a", "--agent_hostname", "1=b"], "given twice"),
                        (["--agents", "2", "--agent_hostname", "2="], "host name"),
                        (["--agents", "3", "--agent_port", "65534"], "beyond 65535"),
                        (["--zk", "zk://127.0.0.1:2181"], "needs hosts and a path"),
                        (["--zk", "http://x/mesos"], "is not a zk://"),
                        (["--zk", "zk://host/mesos"], "is not HOST:PORT")):
        result = subprocess.run([os.path.join(BIN, "aurora-mesos-local"), "--work_dir", str(tmp_path),
                                 "--master_port", "0", "--agent_port", "0", *flags],
                                capture_output=True, text=True, timeout=30)
        assert result.returncode == 2, (flags, result.stderr)
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("aurora-mesos-local:"), result.stderr
        assert says in result.stderr, (flags, result.stderr)


def master_nodes(zookeeper, path):
    zk = KazooClient(hosts=zookeeper.endpoints)
    zk.start()
    try:
        if not zk.exists(path):
            return {}
        return {name: json.loads(zk.get(f"{path}/{name}")[0]) for name in zk.get_children(path)}
    finally:
        zk.stop()
        zk.close()


def test_pymesos_finds_the_master_through_zookeeper(tmp_path, zookeeper):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    url = f"zk://{zookeeper.endpoints}{path}"
    with local_mesos(str(tmp_path / "mesos"), agents=2, zk=url) as mesos:
        assert mesos.zk_url == url
        (name, info), = master_nodes(zookeeper, path).items()
        assert name.startswith("json.info_") and name[len("json.info_"):].isdigit()
        host, port = mesos.master_address.rsplit(":", 1)
        assert info["address"] == {"ip": host, "port": int(port), "hostname": info["hostname"]}
        assert info["id"] == mesos.state()["id"] and info["pid"] == f"master@{mesos.master_address}"
        assert info["ip"] == 0x0100007F  # 127.0.0.1 as Mesos packs it (network order read as a uint32)
        master_info = modules()[0].MasterInfo()
        from google.protobuf import json_format
        json_format.ParseDict(info, master_info, ignore_unknown_fields=False)
        assert not master_info.FindInitializationErrors()

        fw = TestFramework(url, name="zk-framework").start()
        try:
            offers_by_agent(fw, 2)
            fw.launch([task_info("z", echo_command(), FINISH)], agent_id=mesos.agent(1).id)
            fw.wait_for_state("z", "TASK_FINISHED")
        finally:
            fw.stop()
    assert master_nodes(zookeeper, path) == {}  # removed on stop


def test_cli_announces_in_zookeeper_until_sigterm(tmp_path, zookeeper):
    path = f"/mesos-{uuid.uuid4().hex[:8]}"
    url = f"zk://{zookeeper.endpoints}{path}"
    proc = subprocess.Popen([os.path.join(BIN, "aurora-mesos-local"), "--work_dir", str(tmp_path / "w"),
                             "--master_port", "0", "--agent_port", "0", "--zk", url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fields = dict(part.split("=", 1) for part in proc.stdout.readline().split())
        assert fields["zk"] == url
        (info,) = master_nodes(zookeeper, path).values()  # announced before the ready line
        assert f"{info['address']['ip']}:{info['address']['port']}" == fields["master"]
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert master_nodes(zookeeper, path) == {}


def thermos_task_info(task_id: str, cmdline: str) -> dict:
    """A TaskInfo running `cmdline` as one process under the real thermos_executor."""
    from tests.task_data import encoded
    from thermos_executor.config import schema

    task = schema.Task(name="hello", processes=[schema.Process(name="p", cmdline=cmdline)],
                       resources=schema.Resources(cpu=0.1, ram=schema.MB, disk=schema.MB))
    job = schema.Service(cluster="local", role="www-data", environment="test", name="hello", task=task)
    command = f"{os.path.join(BIN, 'thermos_executor')} --nosetuid --stop_timeout_in_secs 30"
    return task_info(task_id, command, encoded(job, task_id=task_id, host="127.0.0.1"), {"cpus": 0.1, "mem": 32})


def test_observer_finds_every_agents_tasks_with_one_mesos_root_per_agent(tmp_path):
    from tests.observer_helpers import Observer

    with local_mesos(str(tmp_path / "mesos"), agents=2) as mesos:
        fw = mesos.framework()
        for n, agent in enumerate(mesos.agents, 1):
            fw.launch([thermos_task_info(f"obs-{n}", "echo on agent")], agent_id=agent.id)
            fw.wait_for_state(f"obs-{n}", "TASK_FINISHED", timeout=60)
        observer = Observer(*[flag for agent in mesos.agents for flag in ("--mesos-root", agent.work_dir)])
        try:
            for n in (1, 2):
                assert observer.wait_task(f"obs-{n}")["task_id"] == f"obs-{n}"
        finally:
            observer.stop()
