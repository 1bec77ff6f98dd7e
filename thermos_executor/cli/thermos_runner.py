"""`thermos_runner`: run one task from its JSON, as the executor does (Aurora's flags and exit codes).

Exit codes: 0 the task reached a terminal state (read which from the checkpoint); 2 bad flags;
101 internal error; 102 invalid task; 103 another runner holds the task, or another unexpected error;
104 unknown user. SIGUSR1/SIGTERM/SIGINT: kill the task gracefully; SIGUSR2: lose it.
"""
from __future__ import annotations

import argparse
import sys

from thermos_executor import config
from thermos_executor.cli import common
from thermos_executor.argtypes import seconds
from thermos_executor.flags import ArgumentParser, add_flag
from thermos_executor.errors import ConfigError, ThermosError
from thermos_executor.runner.task_runner import AlreadyRunning

PROG = "thermos_runner"
INTERNAL_ERROR, INVALID_TASK, UNKNOWN_ERROR, UNKNOWN_USER = 101, 102, 103, 104


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Run one Thermos task from its JSON.")
    add_flag(p, "--thermos_json", required=True, metavar="PATH", help="the task, as JSON")
    add_flag(p, "--sandbox", required=True, metavar="DIR")
    add_flag(p, "--checkpoint_root", required=True, metavar="DIR")
    add_flag(p, "--task_id", metavar="ID")
    add_flag(p, "--setuid", metavar="USER", help="run the processes as USER (needs root)")
    add_flag(p, "--port", action="append", metavar="NAME:PORT")
    add_flag(p, "--hostname", metavar="NAME")
    add_flag(p, "--preserve_env", action="store_true", help="give processes the runner's environment")
    add_flag(p, "--kill_grace_secs", type=seconds, default=None, metavar="SECS",
             help="grace period of a kill before SIGKILL (default 60)")
    common.add_logger_flags(p)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    common.setup_logging()
    try:
        ports = common.parse_ports(args.port)
        loaded = config.load_config(args.thermos_json, json=True)
        task = config.choose_task(loaded)
        runner = common.build_runner(task, root=args.checkpoint_root, task_id=args.task_id, sandbox=args.sandbox,
                                     ports=ports, user=args.setuid, hostname=args.hostname,
                                     preserve_env=args.preserve_env, kill_grace=args.kill_grace_secs,
                                     logs=common.log_defaults(args))
    except common.UnknownUser as e:
        return common.fail(PROG, str(e), UNKNOWN_USER)
    except common.UsageError as e:
        return common.fail(PROG, str(e), 2)
    except ConfigError as e:
        return common.fail(PROG, str(e), INVALID_TASK)
    except ThermosError as e:
        return common.fail(PROG, str(e), 2)
    try:
        runner.run()
    except AlreadyRunning as e:
        return common.fail(PROG, str(e), UNKNOWN_ERROR)
    except ThermosError as e:
        return common.fail(PROG, str(e), INTERNAL_ERROR)
    return 0


if __name__ == "__main__":
    sys.exit(main())
