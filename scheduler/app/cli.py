"""``aurora-scheduler``: the scheduler daemon's command line (flags in scheduler/app/flags.py).

Every error before serving -- a bad or missing flag, a log path that is a file, an unwritable -backup_dir,
a port in use, ZooKeeper unreachable, a replica held by another process -- is one line on stderr and exit 1.
While serving, the daemon exits 0 on SIGTERM/SIGINT and 1 on a fatal error (see daemon.py).
"""

from __future__ import annotations

import asyncio
import logging
import sys

from thermos_executor.version import version_line

from . import flags
from .daemon import SchedulerDaemon, StartupError

USAGE = """usage: aurora-scheduler -cluster_name=NAME -zk_endpoints=HOST:PORT[,..] -serverset_path=/aurora/scheduler
                        -mesos_master_address=ADDR -native_log_file_path=DIR -native_log_zk_group_path=PATH
                        -backup_dir=DIR [-http_port=8081 -native_log_port=8083 -native_log_quorum_size=N ...]
(every flag: docs/scheduler.md)"""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--version"]:
        print(version_line("aurora-scheduler"))
        return 0
    if any(a in ("-h", "-help", "--help") for a in argv):
        print(USAGE)
        return 0
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kazoo").setLevel(logging.WARNING)
    try:
        config = flags.parse(argv)
        flags.check_paths(config)
        return asyncio.run(_run(config))
    except (flags.FlagError, StartupError) as e:
        print(f"aurora-scheduler: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _run(config: flags.Config) -> int:
    return await SchedulerDaemon(config).run()


if __name__ == "__main__":
    sys.exit(main())
