"""``aurora-log``: operate a replica of the scheduler's replicated log.

  aurora-log initialize --path=P        mark a new, EMPTY replica VOTING (Aurora's `mesos-log initialize`)
  aurora-log status [--path=P | --address=HOST:PORT] [-zk_endpoints=.. -native_log_zk_group_path=..]
  aurora-log read   [--path=P | --address=HOST:PORT] [--from=N] [--to=N]
                    one line per committed entry: position, kind, ballot, payload (a JSON string, 0x-hex if
                    not UTF-8; a TRUNCATE's payload is the position it truncates before)
  aurora-log append --address=HOST:PORT [--data=TEXT]
                    append TEXT, or else one entry per line of stdin (in one round); prints the positions
  aurora-log serve  -native_log_file_path=P -native_log_zk_group_path=G -zk_endpoints=Z
                    -native_log_port=N -native_log_quorum_size=Q [-native_log_write_timeout=3secs]
                    [-zk_session_timeout=15secs] [-ip=127.0.0.1] [-elect=true]

Every error is one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sqlite3
import sys

from thermos_executor.daemon import aurora_flags as F
from thermos_executor.version import version_line

from .protocol import EMPTY, KIND_NAMES, TRUNCATE, LogError, read_range
from .replica import Replica, db_file, truncate_target

USAGE = __doc__.strip()

PATH_FLAGS = [F.Flag("path"), F.Flag("native_log_file_path")]


def _path(values: dict) -> str:
    path = values.get("path") or values.get("native_log_file_path")
    if not path:
        raise F.FlagError("--path (or -native_log_file_path) is required")
    return path


def cmd_initialize(argv: list[str]) -> int:
    values = F.parse(argv, PATH_FLAGS)
    path = _path(values)
    replica = Replica(path)                      # a bad place or database is already one LogError line
    try:
        replica.initialize()
    finally:
        replica.close()
    print(f"initialized replica {replica.replica_id} at {path}: VOTING")
    return 0


def _open_ro(path: str) -> sqlite3.Connection | None:
    if os.path.exists(path) and not os.path.isdir(path):
        raise LogError(f"{path} exists and is not a directory")
    if not os.path.isdir(path):
        raise LogError(f"no replica at {path}: directory does not exist")
    if not os.path.exists(db_file(path)):
        return None
    try:
        return sqlite3.connect(f"file:{db_file(path)}?mode=ro", uri=True)
    except sqlite3.Error as e:
        raise LogError(f"cannot open {db_file(path)}: {e}") from None


def _offline_status(path: str) -> dict:
    conn = _open_ro(path)
    if conn is None:
        return {"path": path, "status": EMPTY, "note": "no replica file yet"}
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        lo, hi, n = conn.execute("SELECT MIN(position), MAX(position), COUNT(*) FROM log").fetchone()
    except sqlite3.Error as e:
        raise LogError(f"{db_file(path)} is not a replica: {e}") from None
    finally:
        conn.close()
    return {"path": path, "id": meta.get("id"), "status": meta.get("status", EMPTY),
            "promised": int(meta.get("promised", 0)), "learned": int(meta.get("learned", 0)),
            "begin": int(meta.get("begin", 1)), "end": hi or 0, "stored_entries": n, "first_stored": lo}


def cmd_status(argv: list[str]) -> int:
    values = F.parse(argv, PATH_FLAGS + [F.Flag("address"), F.Flag("zk_endpoints"),
                                            F.Flag("native_log_zk_group_path")])
    if values["address"]:
        from .client import LogClient
        status = LogClient(values["address"]).status()
    else:
        status = _offline_status(_path(values))
    if values["zk_endpoints"] and values["native_log_zk_group_path"]:
        from thermos_executor.zk.group import read_group
        logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # its retries are noise here: we say one line
        try:
            members, writer = read_group(values["zk_endpoints"], values["native_log_zk_group_path"])
        except Exception as e:  # noqa: BLE001 - kazoo raises several kinds; report one line
            where = values["zk_endpoints"]
            raise LogError(f"cannot read ZooKeeper group at {where}: {e or type(e).__name__}") from None
        status["members"], status["writer"] = members, writer
    print(json.dumps(status, indent=2, sort_keys=True))
    return 0


def cmd_read(argv: list[str]) -> int:
    values = F.parse(argv, PATH_FLAGS + [F.Flag("address"), F.Flag("from", "int"), F.Flag("to", "int")])
    lo, hi = values["from"], values["to"]
    if values["address"]:
        from .client import LogClient
        entries = [(e.position, e.ballot, e.kind, e.payload) for e in LogClient(values["address"]).read(lo, hi)]
    else:
        entries = _read_path(_path(values), lo, hi)
    out = sys.stdout
    for position, ballot, kind, payload in entries:
        out.write(f"{position}\t{KIND_NAMES.get(kind, kind)}\t{ballot}\t{_payload_text(kind, payload)}\n")
    return 0


def _read_path(path: str, lo: int | None, hi: int | None) -> list[tuple]:
    """Committed entries of the replica at `path` as far as its file says (the learned mark on disk)."""
    conn = _open_ro(path)
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall()) if conn else {}
        lo, hi = read_range(lo, hi, int(meta.get("begin", 1)), int(meta.get("learned", 0)))
        if conn is None or hi < lo:
            return []
        return conn.execute("SELECT position, ballot, kind, payload FROM log WHERE position >= ? AND position <= ? "
                            "ORDER BY position", (lo, hi)).fetchall()
    except (sqlite3.Error, ValueError) as e:
        raise LogError(f"{db_file(path)} is not a readable replica: {e}") from None
    finally:
        if conn is not None:
            conn.close()


def _payload_text(kind: int, payload: bytes) -> str:
    if kind == TRUNCATE:
        return str(truncate_target(payload))
    try:
        return json.dumps(bytes(payload).decode())
    except UnicodeDecodeError:
        return "0x" + bytes(payload).hex()


def cmd_append(argv: list[str]) -> int:
    values = F.parse(argv, [F.Flag("address"), F.Flag("data")])
    F.require(values, "address")
    if values["data"] is not None:
        payloads = [values["data"].encode()]
    else:
        payloads = [line.rstrip("\n").encode() for line in sys.stdin]
        if not payloads:
            raise F.FlagError("nothing to append: give --data=TEXT or lines on stdin")
    from .client import LogClient
    for position in LogClient(values["address"]).append(payloads):
        print(position)
    return 0


SERVE_FLAGS = [
    F.Flag("native_log_file_path"), F.Flag("native_log_zk_group_path"), F.Flag("zk_endpoints"),
    F.Flag("native_log_port", "int", int(os.environ.get("LIBPROCESS_PORT", "8083"))),
    F.Flag("native_log_quorum_size", "int", 1),
    F.Flag("native_log_write_timeout", "duration", 3.0),
    F.Flag("zk_session_timeout", "duration", 15.0),
    F.Flag("ip", default=os.environ.get("LIBPROCESS_IP", "127.0.0.1")),
    F.Flag("elect", "bool", True),
]


def cmd_serve(argv: list[str]) -> int:
    values = F.parse(argv, SERVE_FLAGS)
    F.require(values, "native_log_file_path", "native_log_zk_group_path", "zk_endpoints")
    if values["native_log_quorum_size"] < 1:
        raise F.FlagError("-native_log_quorum_size must be at least 1")
    if not 0 <= values["native_log_port"] < 65536:
        raise F.FlagError("-native_log_port must be a port number")
    path = values["native_log_file_path"]
    if os.path.exists(path) and not os.path.isdir(path):
        raise LogError(f"-native_log_file_path {path} exists and is not a directory")
    return asyncio.run(_serve(values))


async def _serve(values: dict) -> int:
    from tornado.httpserver import HTTPServer

    from thermos_executor.daemon.http import ListenError, bind_sockets

    from .node import LogNode
    from .server import make_app

    ip, port = values["ip"], values["native_log_port"]
    server = HTTPServer(None, max_body_size=1 << 30)
    try:
        sockets = bind_sockets(ip, port)
    except ListenError as e:
        raise LogError(str(e)) from None
    port = sockets[0].getsockname()[1]
    node = LogNode(values["native_log_file_path"], f"{ip}:{port}", values["zk_endpoints"],
                   values["native_log_zk_group_path"], values["native_log_quorum_size"],
                   write_timeout=values["native_log_write_timeout"],
                   session_timeout=values["zk_session_timeout"], elect=values["elect"])
    server.request_callback = make_app(node)
    server.add_sockets(sockets)
    try:
        await node.start()
    except Exception as e:  # noqa: BLE001 - kazoo timeouts and friends: one line, not a traceback
        raise LogError(f"cannot reach ZooKeeper at {values['zk_endpoints']}: {e or type(e).__name__}") from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger(__name__).info("serving replica on %s:%d", ip, port)
    await stop.wait()
    server.stop()
    await node.stop()
    return 0


COMMANDS = {"initialize": cmd_initialize, "status": cmd_status, "read": cmd_read, "append": cmd_append,
            "serve": cmd_serve, "run": cmd_serve}


def command_usage(name: str) -> str:
    """The usage lines of one command (its first line and the indented ones under it)."""
    lines, take = [], False
    for line in USAGE.splitlines():
        if line.startswith("  aurora-log "):
            take = line.split()[1] == ("serve" if name == "run" else name)
        elif not line.startswith("    "):
            take = False
        if take:
            lines.append(line)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if argv[:1] == ["--version"]:
        print(version_line("aurora-log"))
        return 0
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(USAGE)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        print(f"aurora-log: unknown command {argv[0]!r} (commands: initialize, status, read, append, serve)",
              file=sys.stderr)
        return 2
    if any(a in ("-h", "-help", "--help") for a in argv[1:]):
        print(command_usage(argv[0]))
        return 0
    try:
        return command(argv[1:])
    except F.FlagError as e:
        print(f"aurora-log {argv[0]}: {e}", file=sys.stderr)
        return 2
    except LogError as e:
        print(f"aurora-log {argv[0]}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
