"""aurora-cluster-local's plan (pure): the fixed port layout, the free-port check, the clusters.json it writes."""
import socket

import pytest

from scheduler.local_cluster import plan


def test_port_base_lays_out_every_part():
    ports = plan.fixed_ports(20000, schedulers=3, agents=2)
    assert (ports.zookeeper, ports.master, ports.observer) == (20000, 20001, 20002)
    assert ports.scheduler_http == (20010, 20011, 20012) and ports.scheduler_log == (20020, 20021, 20022)
    assert ports.agents == (20030, 20031)
    assert [what for what, _ in ports.named()][:4] == ["ZooKeeper", "the Mesos master", "the observer",
                                                         "scheduler 1's HTTP"]


def test_a_port_base_too_high_is_one_line():
    with pytest.raises(plan.PlanError, match="agent 3's port at 65537, beyond 65535"):
        plan.fixed_ports(65505, schedulers=3, agents=3)


def test_free_ports_are_distinct_and_leave_the_agents_to_the_stand_in():
    ports = plan.free_ports(3)
    every = [p for _, p in ports.named()]
    assert len(every) == len(set(every)) == 9 and ports.agents == ()


def test_a_taken_port_is_named():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        taken = s.getsockname()[1]
        ports = plan.Ports(zookeeper=plan.free_ports(1).zookeeper, master=taken, observer=0, scheduler_http=(),
                           scheduler_log=(), agents=())
        with pytest.raises(plan.PlanError, match=rf"^port {taken} \(the Mesos master\) is taken on 127.0.0.1: "):
            plan.check_free(ports)


def test_clusters_json_keeps_the_system_clusters_and_replaces_local():
    inherited = [{"name": "devcluster", "zk": "zk1"}, {"name": "local", "zk": "old"}, "junk"]
    document = plan.clusters_document(2181, inherited)
    assert document == [{"name": "devcluster", "zk": "zk1"},
                        {"name": "local", "zk": "127.0.0.1", "zk_port": 2181, "scheduler_zk_path": "/aurora/scheduler",
                         "auth_mechanism": "UNAUTHENTICATED"}]


def test_the_default_state_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert plan.default_state_dir() == str(tmp_path / "aurora-local")
