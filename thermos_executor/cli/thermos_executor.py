"""`thermos_executor`: the Mesos executor that runs one Aurora task through a thermos_runner.

A Mesos agent starts it in the executor's sandbox with the MESOS_* environment (MESOS_AGENT_ENDPOINT,
MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_DIRECTORY ...). Flags are Aurora's, in both spellings.
Exit codes: 0 after the task's terminal update (or when no task came), 2 for bad flags or environment.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading

from thermos_executor.cli import common
from thermos_executor.argtypes import seconds
from thermos_executor.flags import ArgumentParser, add_flag
from thermos_executor.errors import ThermosError
from thermos_executor.logs.policy import DESTINATIONS, MODES, LogDefaults

PROG = "thermos_executor"
log = logging.getLogger("thermos.executor")


def build_parser() -> argparse.ArgumentParser:
    p = ArgumentParser(prog=PROG, description="Run one Aurora task on a Mesos agent.")
    add_flag(p, "--announcer-ensemble", metavar="HOSTS", help="ZooKeeper ensemble to announce tasks in")
    add_flag(p, "--announcer-serverset-path", default="/aurora", metavar="PATH",
             help="root of the ServerSets: PATH/role/environment/job (default /aurora)")
    add_flag(p, "--announcer-allow-custom-serverset-path", action="store_true",
             help="let jobs choose their ServerSet path with Announcer(zk_path=...)")
    add_flag(p, "--announcer-hostname", metavar="HOST", help="host name to announce (default: the agent's)")
    add_flag(p, "--announcer-zookeeper-auth-config", metavar="FILE", help="ZooKeeper auth and ACL JSON")
    add_flag(p, "--mesos-containerizer-path", metavar="PATH", help="accepted for compatibility; images unsupported")
    add_flag(p, "--no-create-user", action="store_true", help="accepted for compatibility; images unsupported")
    add_flag(p, "--sandbox-mount-point", metavar="PATH", help="accepted for compatibility; images unsupported")
    add_flag(p, "--execute-as-user", metavar="USER", help="run the task and own its sandbox as USER")
    add_flag(p, "--nosetuid", action="store_true", help="never switch to the job's role")
    add_flag(p, "--nosetuid-health-checks", action="store_true",
             help="run shell health checks as the executor's user, not the role")
    add_flag(p, "--runner-logger-destination", choices=DESTINATIONS, help="passed on as --process_logger_destination")
    add_flag(p, "--runner-logger-mode", choices=MODES, help="passed on as --process_logger_mode")
    add_flag(p, "--runner-rotate-log-size-mb", type=int, metavar="MB", help="passed on as --rotate_log_size_mb")
    add_flag(p, "--runner-rotate-log-backups", type=int, metavar="N", help="passed on as --rotate_log_backups")
    add_flag(p, "--preserve_env", action="store_true", help="give the task's processes the executor's environment")
    add_flag(p, "--stop_timeout_in_secs", type=seconds, default=120.0, metavar="SECS",
             help="bound on stopping a task gracefully (default 120)")
    add_flag(p, "--executor_timeout_secs", type=seconds, default=10.0, metavar="SECS",
             help="exit when no task is launched within SECS of start (default 10)")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    common.setup_logging()
    missing = [v for v in ("MESOS_AGENT_ENDPOINT", "MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID", "MESOS_DIRECTORY")
               if not os.environ.get(v)]
    if missing:
        return common.fail(PROG, f"not started by a Mesos agent: {', '.join(missing)} not set")
    try:
        LogDefaults(args.runner_logger_destination, args.runner_logger_mode, args.runner_rotate_log_size_mb,
                    args.runner_rotate_log_backups)
        if args.announcer_zookeeper_auth_config:
            from thermos_executor.zk.serverset import load_auth_config
            load_auth_config(args.announcer_zookeeper_auth_config)
    except ThermosError as e:
        return common.fail(PROG, str(e))
    from thermos_executor.executor.driver import ExecutorDriver
    from thermos_executor.executor.executor import ExecutorOptions, ThermosExecutor

    options = ExecutorOptions(**{k: getattr(args, k) for k in ExecutorOptions.__dataclass_fields__
                                 if hasattr(args, k)},
                              work_dir=os.environ.get("MESOS_SANDBOX") or os.getcwd())
    executor = ThermosExecutor(options, os.environ["MESOS_DIRECTORY"])
    driver = ExecutorDriver(executor)
    driver.start()

    def timeout():
        if not executor.launched.wait(args.executor_timeout_secs):
            log.warning("no task launched within %gs: exiting", args.executor_timeout_secs)
            driver.stop()

    threading.Thread(target=timeout, name="executor-timeout", daemon=True).start()
    try:
        driver.join()
    except KeyboardInterrupt:
        driver.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
