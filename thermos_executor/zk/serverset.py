"""A ServerSet member in ZooKeeper, as Aurora announced tasks (the executor) and schedulers, so clients find them.

The member is an ephemeral sequential znode `<serverset path>/member_NNNNNNNNNN` holding
`{"serviceEndpoint": {"host", "port"}, "additionalEndpoints": {name: {"host", "port"}}, "status": "ALIVE",
"shard": instance}`. A keeper thread makes sure it exists: after a session expiry (the znode vanished with
the session) or a deletion, it is created again as soon as the client is connected. `stop()` removes it.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading

from thermos_executor.errors import ThermosError

log = logging.getLogger("thermos.announcer")
PERMISSIONS = ("read", "write", "create", "delete", "admin")
# The keeper re-checks at least this often, whatever ZooKeeper told it (a missed watch cannot strand a task).
RECHECK_SECS = 30.0


def member_data(host: str, ports: dict, primary_port: str, shard: int) -> dict:
    return {"serviceEndpoint": {"host": host, "port": ports.get(primary_port, 0)},
            "additionalEndpoints": {name: {"host": host, "port": port} for name, port in sorted(ports.items())},
            "status": "ALIVE", "shard": shard}


def load_auth_config(path: str):
    """`{"auth": [{scheme, credential}], "acl": [{scheme, credential, permissions: {read, ...}}]}` ->
    (auth_data, acl list) for kazoo. Anything malformed is a one-line error."""
    from kazoo.security import ACL, Id, Permissions

    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        raise ThermosError(f"bad ZooKeeper auth config {path}: {e}") from None
    if not isinstance(data, dict) or set(data) - {"auth", "acl"}:
        raise ThermosError(f"bad ZooKeeper auth config {path}: expected only 'auth' and 'acl' keys")
    auth, acls = data.get("auth", []), data.get("acl", [])
    if not isinstance(auth, list) or not isinstance(acls, list):
        raise ThermosError(f"bad ZooKeeper auth config {path}: 'auth' and 'acl' must be lists")
    auth_data = []
    for entry in auth:
        if not isinstance(entry, dict) or set(entry) != {"scheme", "credential"}:
            raise ThermosError(f"bad ZooKeeper auth config {path}: each auth entry needs scheme and credential")
        auth_data.append((entry["scheme"], entry["credential"]))
    acl_list = []
    for entry in acls:
        if not isinstance(entry, dict) or set(entry) - {"scheme", "credential", "permissions"} \
                or "scheme" not in entry or "credential" not in entry:
            raise ThermosError(f"bad ZooKeeper auth config {path}: each acl needs scheme, credential, permissions")
        perms = entry.get("permissions", {})
        if set(perms) - set(PERMISSIONS) or not all(isinstance(v, bool) for v in perms.values()):
            raise ThermosError(f"bad ZooKeeper auth config {path}: permissions are booleans among "
                               f"{', '.join(PERMISSIONS)}")
        credential = entry["credential"]
        if entry["scheme"] == "digest":
            user, sep, password = credential.partition(":")
            if not sep or not user:
                raise ThermosError(f"bad ZooKeeper auth config {path}: a digest credential is user:password")
            digest = base64.b64encode(hashlib.sha1(credential.encode()).digest()).decode()
            credential = f"{user}:{digest}"
        mask = 0
        for name in PERMISSIONS:
            if perms.get(name):
                mask |= getattr(Permissions, name.upper())
        acl_list.append(ACL(mask, Id(entry["scheme"], credential)))
    return auth_data, acl_list


class Announcer:
    """Keeps one ephemeral sequential znode `<path>/<prefix>NNNNNNNNNN` holding `data` (JSON) while started.

    `prefix` is `member_` for a ServerSet; the Mesos-API stand-in's master uses `json.info_`, the name Mesos
    masters announce themselves under. `announced` is set once the node exists (cleared when it is lost).
    """

    def __init__(self, ensemble: str, path: str, data: dict, auth_config: str | None = None,
                 connect_timeout: float = 15.0, on_failure=None, prefix: str = "member_"):
        self.ensemble = ensemble
        self.prefix = prefix
        self.announced = threading.Event()
        self.path = path.rstrip("/")
        self.data = json.dumps(data).encode()
        self.auth_config = auth_config
        self.connect_timeout = connect_timeout
        self.on_failure = on_failure or (lambda reason: None)
        self.member: str | None = None
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="announcer", daemon=True)
        self.client = None

    def start(self) -> None:
        from kazoo.client import KazooClient
        from kazoo.retry import KazooRetry

        auth_data, acl = load_auth_config(self.auth_config) if self.auth_config else ([], None)
        self.client = KazooClient(hosts=self.ensemble, auth_data=auth_data or None, default_acl=acl or None,
                                  connection_retry=KazooRetry(max_tries=-1, max_delay=30))
        self.client.add_listener(lambda state: self._wake.set())
        self.client.start_async()
        self._thread.start()

    def _keep(self) -> None:
        if not self._wait_connected():
            self.on_failure("Creating Announcer Serverset timed out.")
            return
        while not self._stopped.is_set():
            self._wake.clear()
            try:
                self._ensure_member()
            except Exception as e:  # noqa: BLE001 - ZooKeeper trouble: try again on the next wake-up
                log.warning("announcer: could not join %s: %s", self.path, e)
            self._wake.wait(RECHECK_SECS)

    def _wait_connected(self) -> bool:
        from kazoo.protocol.states import KazooState

        ready = threading.Event()

        def listener(state):
            if state == KazooState.CONNECTED:
                ready.set()

        self.client.add_listener(listener)
        connected = self.client.connected or ready.wait(self.connect_timeout)
        self.client.remove_listener(listener)
        return bool(connected) or self.client.connected

    def _ensure_member(self) -> None:
        if self._stopped.is_set() or not self.client.connected:
            return
        if self.member is not None and self.client.exists(self.member, watch=self._on_member_event):
            return
        self.announced.clear()
        self.member = self.client.create(self.path + "/" + self.prefix, self.data, ephemeral=True, sequence=True,
                                         makepath=True)
        self.client.exists(self.member, watch=self._on_member_event)
        self.announced.set()
        log.info("announced at %s", self.member)

    def _on_member_event(self, event) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Remove the member (best effort) and close the session."""
        self._stopped.set()
        self._wake.set()
        self.announced.clear()
        if self.client is None:
            return
        try:
            if self.member is not None and self.client.connected:
                self.client.delete(self.member)
        except Exception as e:  # noqa: BLE001 - the session's end removes an ephemeral node anyway
            log.warning("announcer: could not remove %s: %s", self.member, e)
        self.client.stop()
        self.client.close()
