"""Fixtures' building blocks for the stand-in's integration tests: a LocalMesos whose every message is checked
against the Mesos protos when the test ends, frameworks that are stopped before it, and small HTTP helpers."""
from __future__ import annotations

import contextlib
import http.client
import json
import os

from scheduler.mesos_standin.local import LocalMesos
from tests.mesos_framework import TestFramework
from tests.mesos_protos import validate_log

RESOURCES = {"cpus": 2.0, "mem": 4096, "disk": 10240, "ports": [(31000, 31009)]}


@contextlib.contextmanager
def local_mesos(work_dir: str, **options):
    """A started LocalMesos recording messages; on exit frameworks stop, it stops, and every message is
    validated against the real Mesos v1 protos."""
    options.setdefault("resources", RESOURCES)
    options.setdefault("attributes", {"rack": "a", "zone": "b"})
    options.setdefault("heartbeat_interval", 0.5)
    mesos = LocalMesos(work_dir, record_messages=True, **options).start()
    frameworks: list[TestFramework] = []

    def framework(**kw) -> TestFramework:
        fw = TestFramework(mesos.master_address, **kw).start()
        frameworks.append(fw)
        return fw

    mesos.framework = framework
    try:
        yield mesos
    finally:
        for fw in frameworks:
            if not fw.driver.aborted:
                fw.stop(failover=True)
        mesos.stop()
    entries = mesos.message_log.entries()
    assert entries, "the stand-in recorded no messages"
    validate_log(entries)


def request(address: str, method: str, path: str, body=None, headers: dict | None = None) -> tuple[int, bytes]:
    host, port = address.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            headers = {"Content-Type": "application/json", **(headers or {})}
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def get_json(address: str, path: str):
    status, body = request(address, "GET", path)
    assert status == 200, (status, body)
    return json.loads(body)


def read_events(sandbox: str) -> list[str]:
    """The echo executor's events.log lines."""
    try:
        with open(os.path.join(sandbox, "events.log")) as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []
