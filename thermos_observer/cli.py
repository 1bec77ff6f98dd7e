"""`thermos_observer`: serve the observer of this node (Aurora's flags; `_` and `-` spellings both work)."""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys

from tornado.httpserver import HTTPServer

from thermos_executor.argtypes import port, positive_seconds
from thermos_executor.daemon.http import ListenError, bind_sockets
from thermos_executor.flags import ArgumentParser, add_flag
from thermos_executor.runner.paths import default_root
from thermos_observer.app import AppState, Options, make_app
from thermos_observer.auth import AuthFileError, BasicAuth, password_line

DEFAULT_MESOS_ROOT = "/var/lib/mesos"


def parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog="thermos_observer", description="Read-only web UI and JSON API of the "
                          "Thermos tasks on this node. Without --root or --mesos-root it looks at the "
                          f"thermos default root and {DEFAULT_MESOS_ROOT}.")
    add_flag(p, "--root", dest="roots", action="append", default=[], metavar="DIR",
             help="a thermos checkpoint root (repeatable)")
    add_flag(p, "--mesos-root", dest="mesos_roots", action="append", default=[], metavar="DIR",
             help="a Mesos agent work dir (its --work_dir); repeatable")
    p.add_argument("--ip", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    p.add_argument("--port", type=port, default=1338, help="port to listen on (default 1338; 0 picks one)")
    add_flag(p, "--polling_interval_secs", dest="polling_interval", type=positive_seconds, default=1.0,
             help="seconds between scans for new and finished tasks (default 1)")
    add_flag(p, "--task_process_collection_interval_secs", dest="process_interval", type=positive_seconds,
             default=20.0, help="seconds between process resource samples (default 20)")
    add_flag(p, "--task_disk_collection_interval_secs", dest="disk_interval", type=positive_seconds,
             default=60.0, help="seconds between sandbox disk usage samples (default 60)")
    add_flag(p, "--disable_task_resource_collection", dest="disable_collection", action="store_true",
             help="do not sample processes or disks (resource figures show 0)")
    add_flag(p, "--http_basic_auth_file", dest="auth_file", metavar="FILE",
             help="htpasswd-style user:hash file (bcrypt or SHA-256 crypt); without it anyone who can "
                  "reach the port reads every sandbox")
    add_flag(p, "--hash_password", dest="hash_password", metavar="USER",
             help="print a USER:hash line for --http_basic_auth_file (bcrypt) and exit; the password is "
                  "asked twice on a terminal, else read as one line from stdin")
    add_flag(p, "--log_level", dest="log_level", default="INFO",
             choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def options_from(args) -> Options:
    roots, mesos_roots = args.roots, args.mesos_roots
    if not roots and not mesos_roots:
        roots, mesos_roots = [default_root()], [DEFAULT_MESOS_ROOT]
    auth = BasicAuth.load(args.auth_file) if args.auth_file else None
    return Options(roots=[os.path.abspath(r) for r in roots], mesos_roots=[os.path.abspath(r) for r in mesos_roots],
                   polling_interval=args.polling_interval, process_interval=args.process_interval,
                   disk_interval=args.disk_interval, collect_resources=not args.disable_collection, auth=auth)


async def serve(options: Options, ip: str, port: int) -> int:
    state = AppState(options)
    try:
        sockets = bind_sockets(ip, port)
    except ListenError as e:
        print(f"thermos_observer: {e}", file=sys.stderr)
        return 1
    server = HTTPServer(make_app(state))
    server.add_sockets(sockets)
    bound = sockets[0].getsockname()[1]
    state.start()
    host = socket.gethostname() if ip in ("0.0.0.0", "::") else ip
    logging.getLogger("thermos_observer").info("serving http://%s:%d/ (roots %s, mesos roots %s)", host, bound,
                                               options.roots, options.mesos_roots)
    print(f"thermos_observer: serving http://{host}:{bound}/", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    state.stop()
    server.stop()
    return 0


def hash_password_command(user: str) -> int:
    """`--hash_password USER`: one `USER:hash` line on stdout (append it to the auth file)."""
    import getpass
    try:
        if sys.stdin.isatty():
            password = getpass.getpass(f"password for {user}: ")
            if getpass.getpass("again: ") != password:
                raise AuthFileError("the passwords differ")
        else:
            password = sys.stdin.readline().rstrip("\r\n")
        print(password_line(user, password))
    except AuthFileError as e:
        print(f"thermos_observer: {e}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("thermos_observer: no password given", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if args.hash_password is not None:
        return hash_password_command(args.hash_password)
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        options = options_from(args)
    except AuthFileError as e:
        print(f"thermos_observer: {e}", file=sys.stderr)
        return 2
    return asyncio.run(serve(options, args.ip, args.port))


if __name__ == "__main__":
    sys.exit(main())
