"""Shared fixtures.

`thermos`: runs `thermos` commands against a private checkpoint root. `zookeeper`: one real standalone
ZooKeeper on loopback for the whole session (tests keep apart by using their own znode paths);
`zookeeper_server`: a private one, for tests that stop or kill it.
"""
from __future__ import annotations

import pytest

from tests.helpers import Thermos
from tests.zookeeper import ZooKeeperServer


@pytest.fixture
def thermos(tmp_path):
    return Thermos(str(tmp_path / "root"), str(tmp_path / "sandboxes"))


@pytest.fixture(scope="session")
def zookeeper(tmp_path_factory):
    server = ZooKeeperServer(tmp_path_factory.mktemp("zookeeper"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def zookeeper_server(tmp_path):
    server = ZooKeeperServer(tmp_path / "zookeeper")
    server.start()
    yield server
    server.stop()
