"""`thermos`: run a task on this machine and look after the tasks that run here (Aurora's commands and flags).

Exit codes: 0 success; 1 the task ended FAILED, KILLED or LOST (run), or nothing matched (status, tail);
2 usage and configuration errors. Errors are one line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import signal
import sys
import time

from thermos_executor import config
from thermos_executor.cli import common
from thermos_executor.cli.common import UsageError
from thermos_executor.argtypes import seconds
from thermos_executor.flags import ArgumentParser, add_flag
from thermos_executor.errors import ThermosError
from thermos_executor.runner import ckpt, inspector, process_tree, stop_request
from thermos_executor.logs.follow import Follower
from thermos_executor.runner.inotify import IN_CREATE, IN_MODIFY, IN_MOVED_TO, Inotify
from thermos_executor.runner.paths import default_root, process_log_dir
from thermos_executor.runner.state import ProcessState, RunnerState, TaskState
from thermos_executor.runner.task_runner import KILL_OVERRUN, AlreadyRunning

PROG = "thermos"


# ---- run, simplerun, inspect ------------------------------------------------------------------------
def cmd_run(args) -> int:
    """Run a task from a .aurora/.thermos (or --json) config in the foreground, until it ends."""
    path = args.config or args.config_file
    if not path:
        raise UsageError("run needs a config file")
    loaded = config.load_config(path, bindings=common.parse_bindings(args.bind), json=args.json)
    task = config.choose_task(loaded, task=args.task, job=args.job)
    return _run_task(_build_runner(task, args), args)


def cmd_simplerun(args) -> int:
    """Run one command line as a one-process task: thermos simplerun [--name N] -- CMD..."""
    words = args.command[1:] if args.command[:1] == ["--"] else args.command
    command = " ".join(words)
    if not command.strip():
        raise UsageError("simplerun needs a command after --")
    task = config.schema.Task(name=args.name, processes=[config.schema.Process(name=args.name, cmdline=command)],
                              resources=config.schema.Resources(cpu=1.0, ram=256 * 1024 ** 2, disk=0))
    runner = _build_runner(task, args)
    print(f"Running command: {command!r}")
    return _run_task(runner, args)


def _build_runner(task, args):
    """The runner of `task` as the flags say, everything checked that can be checked before it writes."""
    return common.build_runner(task, root=_root(args), task_id=args.task_id, sandbox=args.sandbox,
                               ports=common.parse_ports(args.port), user=args.user,
                               bindings=common.parse_bindings(args.bind), logs=common.log_defaults(args))


def _run_task(runner, args) -> int:
    if runner.task_state in TaskState.TERMINAL:
        print(f"task {runner.opts.task_id} already ended {runner.task_state}")
        return 0 if runner.task_state == TaskState.SUCCESS else 1
    pid = ckpt.lock_holder(runner.paths.runner_checkpoint)
    if pid is not None:         # checked here too, so that --daemon says so before it detaches
        raise AlreadyRunning(f"task {runner.opts.task_id} is already being run by pid {pid}")
    if getattr(args, "daemon", False):
        print("Daemonizing and starting runner.")
        _daemonize(os.path.join(runner.opts.sandbox, ".logs", ".runner.log"))
    else:
        common.setup_logging()
        print(f"task {runner.opts.task_id}: sandbox {runner.opts.sandbox}, root {runner.opts.root}",
              file=sys.stderr)
    state = runner.run()
    if not getattr(args, "daemon", False):
        print(f"task {runner.opts.task_id} {state}", file=sys.stderr)
    return 0 if state == TaskState.SUCCESS else 1


def _daemonize(log_path: str) -> None:
    import daemon  # python-daemon: double fork, setsid, stdio to /dev/null, done right

    context = daemon.DaemonContext(working_directory="/", umask=0o022, detach_process=True)
    context.open()
    # The log file opens at the first record, once the runner has made the sandbox: made here, the sandbox
    # would count as the user's and `gc` would leave it behind.
    common.setup_logging(path=log_path, delay=True)


def cmd_inspect(args) -> int:
    """Show a task as thermos would run it (template references not yet bound left as {{...}})."""
    loaded = config.load_config(args.config, bindings=common.parse_bindings(args.bind), json=args.json)
    task = config.choose_task(loaded, task=args.task, job=args.job)
    ports = config.validate(task)
    data = config.task_to_json(task)
    if args.print_json:
        print(json.dumps({"task": data, "required_ports": ports}, indent=2, sort_keys=True))
        return 0
    print(f"task {data.get('name')}")
    print(f"  required ports: {', '.join(ports) if ports else '(none)'}")
    for key in ("max_failures", "max_concurrency", "finalization_wait", "user"):
        if key in data:
            print(f"  {key}: {data[key]}")
    for order in data.get("constraints", []):
        print(f"  order: {' -> '.join(order.get('order', []))}")
    for proc in data.get("processes", []):
        flags = [f for f in ("daemon", "ephemeral", "final") if proc.get(f)]
        print(f"  process {proc.get('name')}{' (' + ', '.join(flags) + ')' if flags else ''}")
        print(f"    cmdline: {proc.get('cmdline')}")
        print(f"    max_failures: {proc.get('max_failures')}  min_duration: {proc.get('min_duration')}")
    return 0


# ---- status, read --------------------------------------------------------------------------------------
def cmd_status(args) -> int:
    """List tasks under the roots, newest first: state, and with -v processes, ports and sandbox."""
    views = inspector.find_tasks(_roots(args), _patterns(args), only=args.only)
    if args.print_json:
        print(json.dumps({"tasks": [v.to_json() for v in views]}, indent=2, sort_keys=True))
        return 0
    if not views:
        print("No tasks found.")
        return 1
    for status in ("active", "finished"):
        group = [v for v in views if v.status == status]
        if not group:
            continue
        print(f"{status.capitalize()} tasks:")
        for view in group:
            pid = view.runner_pid()
            runner = f"runner pid {pid}" if pid else "runner not running" if status == "active" else None
            _print_task(view.state, args.verbosity, task_id=view.task_id, root=view.root, runner=runner,
                        never_run=view.never_run())
    return 0


def _print_task(state: RunnerState, verbosity: int, task_id: str | None = None, root: str | None = None,
                runner: str | None = None, never_run=()) -> None:
    header = state.header or {}
    task_id = task_id or header.get("task_id", "?")
    started = _time(header.get("launch_time"))
    runner = f"  {runner}" if runner else ""
    print(f"  {task_id:<40} {state.task_state or '?':<10} user {header.get('user', '?')}"
          f"  started {started}{runner}")
    if verbosity >= 2:
        ports = ", ".join(f"{k} -> {v}" for k, v in sorted(header.get("ports", {}).items())) or "none"
        print(f"      ports: {ports}")
        print(f"      sandbox: {header.get('sandbox')}")
        if root:
            print(f"      root: {root}")
    if verbosity >= 1:
        for name, runs in state.processes.items():
            last = runs[-1]
            rc = "" if last.return_code is None else f"  rc {last.return_code}"
            print(f"      {name:<24} {last.state:<8} runs {len(runs)}  pid {last.pid or '-'}{rc}"
                  f"  started {_time(last.start_time)}  ended {_time(last.stop_time)}")
            if verbosity >= 3:
                for run in runs[:-1]:
                    print(f"        run {run.run}: {run.state} pid {run.pid or '-'} rc {run.return_code}"
                          f" {_time(run.start_time)} .. {_time(run.stop_time)}")
        for name in never_run:
            print(f"      {name:<24} {ProcessState.WAITING:<8} never run")


def _time(ts) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts)) if ts else "-"


def cmd_read(args) -> int:
    """Replay one checkpoint file and print the state it holds (--simple: every raw record)."""
    if not os.path.isfile(args.checkpoint):
        raise UsageError(f"no checkpoint file at {args.checkpoint}")
    records = ckpt.read_all(args.checkpoint)
    if args.simple:
        for record in records:
            print("CKPT:", json.dumps(record, sort_keys=True))
        return 0
    state = RunnerState.replay(records)
    if args.print_json:
        print(json.dumps(state.to_json(), indent=2, sort_keys=True))
        return 0
    for status in state.statuses:
        print(f"  {_time(status['timestamp'])} [pid: {status.get('runner_pid')}] => {status['state']}")
    _print_task(state, 3)
    return 0


# ---- kill ------------------------------------------------------------------------------------------
def cmd_kill(args) -> int:
    """Kill active tasks gracefully: SIGTERM, final processes, KILLED. A live runner is asked to do it."""
    views = inspector.find_tasks(_roots(args), _patterns(args), only="active")
    if not views:
        print("No active tasks matched.")
        return 1
    code = 0
    for view in views:
        print(f"Killing {view.task_id}...", end="", flush=True)
        state = _kill(view, args.grace)
        print(f"done ({state}).")
        if state not in TaskState.TERMINAL:
            code = 1
    return code


def _kill(view, grace: float) -> str:
    """Ask the live runner to kill within `grace`; take over if there is none, or if it does not end the kill
    in time (it is stuck: it is SIGKILLed, which its processes survive, and the recorded deadline holds)."""
    pid = view.runner_pid()
    pidfd = None
    if pid is not None:
        try:
            pidfd = os.pidfd_open(pid)
            stop_request.write(view.paths, grace)
            signal.pidfd_send_signal(pidfd, signal.SIGUSR1)
        except ProcessLookupError:                # it has just exited: take over below
            pass
        except OSError as e:
            raise ThermosError(f"cannot ask the runner of {view.task_id} (pid {pid}) to kill it: {e}") from None
    if pidfd is not None:
        try:
            if not select.select([pidfd], [], [], grace + KILL_OVERRUN)[0]:
                print(f"runner pid {pid} did not end the kill within {grace + KILL_OVERRUN:.0f} s; "
                      "killing it and taking over...", end="", flush=True)
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                select.select([pidfd], [], [], 10)
        finally:
            os.close(pidfd)
        state = inspector.read_state(view.paths).task_state
        if state in TaskState.TERMINAL:
            return state
    runner = common.existing_runner(view)
    runner.request_stop(TaskState.KILLED, grace)
    return runner.run()


# ---- tail ------------------------------------------------------------------------------------------
def cmd_tail(args) -> int:
    """Print the end of a process's current log (-f: and follow it while the run goes on)."""
    views = [v for v in inspector.find_tasks(_roots(args)) if v.task_id == args.task_id]
    if not views:
        print(f"thermos: no task {args.task_id} under {', '.join(_roots(args))}", file=sys.stderr)
        return 1
    view = views[0]
    names = list(view.state.processes) if args.process is None else [args.process]
    if args.process is None and len(names) > 1:
        raise UsageError(f"task {view.task_id} has several processes ({', '.join(names)}): name one")
    if not names or names[0] not in view.state.processes:
        print(f"thermos: task {view.task_id} has no process {args.process or ''} that has run", file=sys.stderr)
        return 1
    name = names[0]
    run = view.state.processes[name][-1]
    path = os.path.join(process_log_dir(view.state.header["log_dir"], name, run.run),
                        "stderr" if args.stderr else "stdout")
    follower = Follower(path)
    try:
        _write(follower.tail(args.lines))
        if args.follow:
            _follow(view, name, run.run, follower)
    finally:
        follower.close()
    return 0


def _write(data: bytes) -> None:
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def _follow(view, name: str, run: int, follower: Follower) -> None:
    """Copy what the run writes, across rotations, until it ends; inotify wakes us, nothing polls."""
    watch = Inotify()
    watch.watch(os.path.dirname(follower.path), IN_MODIFY | IN_CREATE | IN_MOVED_TO)
    watch.watch(view.paths.checkpoint_dir)
    gaps = 0
    try:
        while True:
            _write(follower.read())
            if follower.gaps > gaps:
                print("thermos: the log rotated faster than it was read; some output may be missing here",
                      file=sys.stderr)
                gaps = follower.gaps
            runs = inspector.read_state(view.paths).processes.get(name, [])
            ended = len(runs) > run + 1 or (runs and runs[-1].terminal)
            # The run has ended when its main process exits; its coordinator may still be draining the pipes.
            if ended and process_tree.coordinator(runs[run]) is None:
                _write(follower.read())
                return
            select.select([watch.fd], [], [], 5.0)
            watch.read_names()
    except KeyboardInterrupt:
        return
    finally:
        watch.close()


# ---- gc --------------------------------------------------------------------------------------------
SIZE_UNITS = {"": 1, "B": 1, "K": 1024, "M": 1024 ** 2, "G": 1024 ** 3, "T": 1024 ** 4}
AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)B?", text.strip(), re.IGNORECASE)
    if not m:
        raise UsageError(f"bad size {text!r}: expected e.g. 500M, 10G")
    return int(float(m.group(1)) * SIZE_UNITS[m.group(2).upper()])


def _parse_age(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw]?)", text.strip())
    if not m:
        raise UsageError(f"bad age {text!r}: expected e.g. 90m, 12h, 7d")
    return float(m.group(1)) * AGE_UNITS[m.group(2) or "d"]


def cmd_gc(args) -> int:
    """Delete finished tasks (checkpoints, task file, sandbox we created), oldest first, to meet the limits."""
    max_age = _parse_age(args.max_age) if args.max_age else None
    max_space = _parse_size(args.max_space) if args.max_space else None
    if args.max_tasks is not None and args.max_tasks < 0:
        raise UsageError("--max_tasks must be 0 or more")
    phantoms = _collect_never_started(_roots(args), args.dry_run)
    views = inspector.find_tasks(_roots(args), only="finished")          # newest first
    now, kept, space, doomed = time.time(), 0, 0, []
    for view in views:
        age = now - _mtime(view.paths.runner_checkpoint)
        size = _disk_usage(view)
        too_old = max_age is not None and age > max_age
        too_many = args.max_tasks is not None and kept >= args.max_tasks
        too_big = max_space is not None and space + size > max_space
        if too_old or too_many or too_big:
            doomed.append((view, size))
        else:
            kept, space = kept + 1, space + size
    for view, size in reversed(doomed):                                    # oldest first
        print(f"{'would delete' if args.dry_run else 'deleting'} {view.task_id} ({size // 1024} KiB)")
        if not args.dry_run:
            _delete(view)
    if not doomed and not phantoms:
        print("nothing to collect")
    return 0


def _collect_never_started(roots, dry_run: bool) -> int:
    """Delete the leftovers of runs that failed before their task started (an active task file, a checkpoint
    without a header, no runner): nothing of them ever ran, and nothing else would ever remove them."""
    count = 0
    for view in inspector.find_tasks(roots, only="active"):
        if view.never_started() and (dry_run or _delete_never_started(view)):
            print(f"{'would delete' if dry_run else 'deleted'} {view.task_id} (never started)")
            count += 1
    return count


def _delete_never_started(view) -> bool:
    """Delete it holding its stream's lock, so that no runner takes the task up meanwhile; False if one has."""
    try:
        writer = ckpt.Writer(view.paths.runner_checkpoint, lock=True)
    except ckpt.LockHeld:
        return False
    except FileNotFoundError:               # its checkpoint directory was never made
        writer = None
    try:
        if writer is not None and writer.records:
            return False
        shutil.rmtree(view.paths.checkpoint_dir, ignore_errors=True)
        _unlink(view.paths.task_file("active"))
        return True
    finally:
        if writer is not None:
            writer.close()


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def _task_dirs(view) -> list[str]:
    header = view.state.header or {}
    dirs = [view.paths.checkpoint_dir]
    if header.get("sandbox_created") and header.get("sandbox"):
        dirs.append(header["sandbox"])
    elif header.get("log_dir"):
        dirs.append(header["log_dir"])
    return dirs


def _disk_usage(view) -> int:
    total = 0
    for top in _task_dirs(view):
        for base, _dirs, files in os.walk(top):
            for name in files:
                try:
                    total += os.lstat(os.path.join(base, name)).st_blocks * 512
                except OSError:
                    pass
    return total


def _delete(view) -> None:
    for path in _task_dirs(view):
        shutil.rmtree(path, ignore_errors=True)
    _unlink(view.paths.task_file("finished"))


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


# ---- plumbing --------------------------------------------------------------------------------------
def _root(args) -> str:
    """The one root `run` and `simplerun` write to."""
    roots = _roots(args)
    if len(roots) > 1:
        raise UsageError(f"a task runs under one root; several --root given: {', '.join(roots)}")
    return roots[0]


def _patterns(args) -> list[str]:
    """The task id patterns of a command, checked here so that a bad one is a usage error, not a traceback."""
    for pattern in args.regex:
        try:
            re.compile(pattern)
        except re.error as e:
            raise UsageError(f"bad task id pattern {pattern!r}: {e}") from None
    return args.regex


def _roots(args) -> list[str]:
    """The roots a command looks at: the --root ones if any (each --root adds one), else the default root."""
    return list(dict.fromkeys(os.path.abspath(r) for r in args.root or [default_root()]))


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a number of lines (0 or more), got {text!r}")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(prog=PROG, description="Run and inspect Thermos tasks on this machine.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands = {}

    def command(name, func):
        p = sub.add_parser(name, help=func.__doc__.splitlines()[0], description=func.__doc__)
        p.set_defaults(func=func)
        add_flag(p, "--root", action="append", metavar="DIR",
                 help=f"checkpoint root (default {default_root()}); repeat it to act on several roots")
        commands[name] = p
        return p

    def runnable(p):
        add_flag(p, "--task_id", metavar="ID", help="task id (default <name>-<time>); reuse one to resume")
        add_flag(p, "--sandbox", metavar="DIR", help="sandbox (default: a new directory per task)")
        add_flag(p, "--user", metavar="USER", help="run the processes as USER (needs root)")
        p.add_argument("-P", "--port", action="append", metavar="NAME:PORT", help="bind a port (repeatable)")
        p.add_argument("-E", "--environment", dest="bind", action="append", metavar="NAME=VALUE",
                       help="bind a template variable, e.g. -E mesos.instance=3 (repeatable)")
        p.add_argument("--daemon", action="store_true", help="detach and run in the background")
        common.add_logger_flags(p)

    def selecting(p):
        p.add_argument("--task", metavar="NAME", help="the task to use when the config defines several")
        p.add_argument("--job", metavar="NAME", help="the job whose task to use, in a .aurora file")
        p.add_argument("--json", action="store_true", help="the config file is a JSON task")

    p = command("run", cmd_run)
    p.add_argument("config_file", nargs="?", metavar="CONFIG")
    p.add_argument("--config", metavar="CONFIG", help="config file (or give it as the argument)")
    runnable(p)
    selecting(p)

    p = command("simplerun", cmd_simplerun)
    p.add_argument("--name", default="simple", help="task and process name (default simple)")
    runnable(p)
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- CMD...")

    p = command("inspect", cmd_inspect)
    p.add_argument("config", metavar="CONFIG")
    selecting(p)
    p.add_argument("-E", "--environment", dest="bind", action="append", metavar="NAME=VALUE")
    p.add_argument("--print-json", "--print_json", dest="print_json", action="store_true",
                   help="print JSON")

    p = command("status", cmd_status)
    p.add_argument("--only", choices=("active", "finished"))
    p.add_argument("-v", "--verbose", dest="verbosity", action="count", default=0,
                   help="more detail: -v processes, -vv ports and sandbox, -vvv every run")
    p.add_argument("--json", dest="print_json", action="store_true", help="print JSON (the scripting contract)")
    p.add_argument("regex", nargs="*", help="task id patterns (matched at the start)")

    p = command("kill", cmd_kill)
    p.add_argument("--grace", type=seconds, default=60.0, metavar="SECS",
                   help="seconds for SIGTERM'd processes and final processes before SIGKILL (default 60)")
    p.add_argument("regex", nargs="+", help="task id patterns (matched at the start)")

    p = command("tail", cmd_tail)
    p.add_argument("--stderr", action="store_true", help="stderr instead of stdout")
    p.add_argument("-f", "--follow", action="store_true", help="follow while the run goes on")
    p.add_argument("-n", "--lines", type=_count, default=10, metavar="N", help="lines to print (default 10)")
    p.add_argument("task_id", metavar="TASK_ID")
    p.add_argument("process", nargs="?", metavar="PROCESS")

    p = command("read", cmd_read)
    p.add_argument("--simple", action="store_true", help="print every raw record")
    p.add_argument("--json", dest="print_json", action="store_true", help="print the replayed state as JSON")
    p.add_argument("checkpoint", metavar="CHECKPOINT_FILE")

    p = command("gc", cmd_gc)
    add_flag(p, "--max_age", metavar="AGE", help="delete finished tasks older than AGE (e.g. 7d, 12h)")
    add_flag(p, "--max_tasks", type=int, metavar="N", help="keep at most N finished tasks")
    add_flag(p, "--max_space", metavar="SIZE", help="keep finished tasks within SIZE on disk (e.g. 10G)")
    add_flag(p, "--dry_run", action="store_true", help="say what would be deleted, delete nothing")

    p = sub.add_parser("help", help="help on a command")
    p.add_argument("topic", nargs="?", metavar="COMMAND")
    p.set_defaults(func=lambda args: _help(parser, commands, args.topic))
    return parser


def _help(parser, commands, topic) -> int:
    if topic is None:
        parser.print_help()
        return 0
    if topic not in commands:
        raise UsageError(f"unknown command {topic!r}; commands: {', '.join(commands)}")
    commands[topic].print_help()
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        return common.fail(PROG, "a command is needed: thermos help lists them", 2)
    try:
        return args.func(args)
    except ThermosError as e:
        return common.fail(PROG, str(e), 2)
    except ckpt.LockHeld as e:
        return common.fail(PROG, f"checkpoint {e} is locked by another process", 2)
    except BrokenPipeError:            # `thermos status | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as e:
        return common.fail(PROG, f"{e.strerror or e}: {e.filename}" if e.filename else str(e), 1)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
