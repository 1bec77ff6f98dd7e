"""The master's announcement in ZooKeeper, as a Mesos master makes it, so `zk://` master addresses find it.

A Mesos master joins the group at the `zk://` URL's path with an ephemeral sequential znode
`<path>/json.info_<seq>` holding its MasterInfo as JSON (`id`, `ip` as a uint32 in network order, `port`, `pid`,
`hostname`, `version`, `address {ip, hostname, port}`); the lowest sequence number is the leader. pymesos'
`MasterDetector` (pymesos/detector.py) watches the children of the path (the URL's path is kazoo's chroot),
takes the lowest name other than `log_replicas`, and its scheduler driver connects to `address.ip:address.port`.

The node is kept by `thermos_executor.zk.serverset.Announcer` (one kazoo client and one keeper thread for the
master, whatever the number of agents): created again after a session expiry, deleted on `stop()`.
"""
from __future__ import annotations

from thermos_executor.zk.serverset import Announcer

PREFIX = "json.info_"


class ZkUrlError(ValueError):
    """A `zk://` URL the stand-in cannot use; the message says why in one line."""


def parse_zk_url(url: str) -> tuple[str, str]:
    """`zk://h1:2181,h2:2181/mesos` -> ('h1:2181,h2:2181', '/mesos')."""
    if not isinstance(url, str) or not url.startswith("zk://"):
        raise ZkUrlError(f"{url!r} is not a zk://HOST:PORT[,HOST:PORT...]/PATH URL")
    hosts, slash, path = url[len("zk://"):].partition("/")
    path = "/" + path.strip("/")
    if "@" in hosts:
        raise ZkUrlError(f"{url!r}: credentials in zk:// URLs are not supported (pymesos ignores them too)")
    if not hosts or not slash or path == "/":
        raise ZkUrlError(f"{url!r} needs hosts and a path, e.g. zk://127.0.0.1:2181/mesos")
    for host in hosts.split(","):
        name, colon, port = host.rpartition(":")
        if not colon or not name or not port.isdigit() or not 0 < int(port) <= 65535:
            raise ZkUrlError(f"{url!r}: {host!r} is not HOST:PORT")
    return hosts, path


class MasterAnnouncement:
    """The master's `json.info_` znode at a `zk://` URL while started. `start()` returns at once; `wait(timeout)`
    says whether the node exists; `stop()` deletes it and closes the session (it blocks: call it off the loop)."""

    def __init__(self, url: str, master_info: dict, connect_timeout: float = 15.0, on_failure=None):
        self.url = url
        self.ensemble, self.path = parse_zk_url(url)
        self._announcer = Announcer(self.ensemble, self.path, master_info, connect_timeout=connect_timeout,
                                    on_failure=on_failure, prefix=PREFIX)

    def start(self) -> None:
        self._announcer.start()

    def wait(self, timeout: float) -> bool:
        return self._announcer.announced.wait(timeout)

    @property
    def node(self) -> str | None:
        """The znode's path (None before it is created)."""
        return self._announcer.member

    def stop(self) -> None:
        self._announcer.stop()
