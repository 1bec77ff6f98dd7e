"""The task runner: applies the decisions of the planner (which processes may run now) and of transitions.py
(everything else about the task's life: cleaning, finalizing, kill, lose, deadlines), records every change,
and reacts to events. The decisions are pure; this module does the I/O.

A kill (SIGTERM/SIGINT/SIGUSR1 to the runner, or `thermos kill`, whose --grace reaches the runner through
stop_request.py) ends KILLED, final processes included, within its grace; a lose (SIGUSR2) ends LOST at once.

Event-driven: the runner sleeps in one `select` on an inotify watch of the checkpoint directory (a
coordinator wrote a record), a pidfd per coordinator (it exited), a signal wake-up pipe, and the next timer
(a min_duration back-off, a deadline). Nothing polls.

Restarting a runner for the same task id replays the runner stream, reads what coordinators recorded while
it was gone, re-attaches to live coordinators (pid and start time verified, or the stream's lock held), marks
runs whose coordinator vanished LOST, and carries on. Only the current run's coordinator is followed: a stream
holds its earlier runs too, whose coordinators may still be alive (draining logs) or zombies. A run is never
started twice: a process's next run is forked only while holding its stream's lock, which a live coordinator
holds for as long as it lives.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import math
import os
import pwd
import select
import selectors
import signal
import time
from dataclasses import dataclass, field

import psutil

from thermos_executor.config.spec import TaskSpec
from thermos_executor.errors import ThermosError
from thermos_executor.logs import policy as logs_policy
from thermos_executor.runner import ckpt, coordinator, forkserver, process_tree, stop_request, transitions
from thermos_executor.runner.inotify import Inotify
from thermos_executor.runner.paths import TaskPath, process_log_dir
from thermos_executor.runner.planner import Plan, TaskPlans
from thermos_executor.runner.state import ProcessState, RunnerState, TaskState, process_record

log = logging.getLogger("thermos.runner")

# A stream whose lock is held by a coordinator that has not yet recorded anything is retried this often.
LOCK_RETRY = 0.05
# Launches that failed in a row (fork failing, fork server dying) are retried after LOCK_RETRY * 2^n, at most this.
MAX_LAUNCH_BACKOFF = 10.0
DEFAULT_KILL_GRACE = 60.0
# How long the runner lets coordinators finish draining logs once the task has ended.
COORDINATOR_WAIT = coordinator.DRAIN_WAIT * 2 + 1
# How long a runner may take past a kill's deadline (exits recorded, coordinators drained), and a margin:
# waiting longer than grace + this for a runner to end a kill means it is stuck.
KILL_OVERRUN = transitions.KILL_RECORD_WAIT + COORDINATOR_WAIT + 5.0


class AlreadyRunning(ThermosError):
    pass


@dataclass
class _Watch:
    """A process whose current run we are following: its coordinator stream and, once known, its pidfd."""
    tailer: ckpt.Tailer
    pid: int | None = None
    pidfd: int | None = None


@dataclass
class RunnerOptions:
    task_id: str
    root: str
    sandbox: str
    ports: dict = field(default_factory=dict)
    user: str | None = None            # run the processes as this user (the runner must be root to switch)
    hostname: str | None = None
    preserve_env: bool = False
    kill_grace: float = DEFAULT_KILL_GRACE
    log_defaults: logs_policy.LogDefaults = field(default_factory=logs_policy.LogDefaults)


class TaskRunner:
    def __init__(self, spec: TaskSpec, task_json: dict, options: RunnerOptions):
        self.spec = spec
        self.task_json = task_json
        self.opts = options
        self.paths = TaskPath(options.root, options.task_id)
        self._check_task_file("active", "finished")   # before replaying a checkpoint that may be another task's
        self.log_dir = os.path.join(options.sandbox, ".logs")
        self.plans = TaskPlans(spec.processes, spec.constraints, spec.max_failures, spec.max_concurrency)
        self.state = RunnerState()
        records = ckpt.read_all(self.paths.runner_checkpoint)
        self._replayed = len(records)
        for record in records:
            if self.state.apply(record):
                self._plan_event(record)
        self.writer: ckpt.Writer | None = None
        self.watches: dict[str, _Watch] = {}
        # Coordinators we look after and that may still be alive (draining logs, perhaps): pid -> fork time.
        self._coordinators: dict[int, float] = {}
        self._stop: transitions.Stop | None = None   # a kill or lose, set by a signal
        self._killing_since: float | None = None    # when everything live was SIGKILLed on the way to terminal
        self._retry_at: float | None = None
        self._launch_failures = 0                   # in a row, for the back-off
        self._looping = False                       # past _reattach: events are handled one by one
        self._signalled: set[tuple[int, str, int]] = set()   # (signal, process, run) that reached a process

    # ---- public -----------------------------------------------------------------------------------
    @property
    def task_state(self) -> str | None:
        return self.state.task_state

    def run(self) -> str:
        """Run (or resume) the task to its end; return the terminal state."""
        if self.task_state in TaskState.TERMINAL:
            self._finish_task_file()
            return self.task_state
        with contextlib.ExitStack() as cleanup:
            # Signals first: a kill sent as soon as the task file exists (the executor waits for it) must be
            # caught by our handler, not end the runner by the signal's default action.
            wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            cleanup.callback(os.close, wake_r)
            cleanup.callback(os.close, self._wake_w)
            cleanup.callback(self._restore_signals, self._install_signals())
            cleanup.callback(lambda: self.writer is not None and self.writer.close())
            self._take_control()
            self._forker = forkserver.ForkServer()   # before the loop: a copy of the runner as loaded
            cleanup.callback(self._forker.close)
            self._inotify = Inotify()
            cleanup.callback(self._inotify.close)
            self._inotify.watch(self.paths.checkpoint_dir)
            self._selector = selectors.DefaultSelector()
            cleanup.callback(self._selector.close)
            self._selector.register(self._inotify.fd, selectors.EVENT_READ, "inotify")
            self._selector.register(wake_r, selectors.EVENT_READ, "signal")
            cleanup.callback(self._close_watches)
            self._reattach()
            self._looping = True
            while True:
                while self._step():
                    pass
                if self.task_state in TaskState.TERMINAL:
                    break
                self._wait()
        return self.task_state

    def _close_watches(self) -> None:
        for watch in self.watches.values():
            self._close_watch(watch)

    def request_stop(self, terminal: TaskState = TaskState.KILLED, grace: float | None = None) -> None:
        """Ask a running loop to kill (graceful, within `grace`, default the runner's) or lose (immediate)
        the task; safe from a signal handler."""
        # Signals pending together run their handlers one after another: merge, never overwrite (a lose
        # followed by a SIGTERM stays a lose). An infinite grace means "the runner's own" (resolved in _step).
        stop = transitions.Stop(terminal, math.inf if grace is None else grace)
        self._stop = stop if self._stop is None else self._stop.merge(stop)

    # ---- taking control ---------------------------------------------------------------------------
    def _take_control(self) -> None:
        os.makedirs(self.paths.checkpoint_dir, exist_ok=True)
        try:
            self.writer = ckpt.Writer(self.paths.runner_checkpoint, lock=True)
        except ckpt.LockHeld:
            pid = ckpt.lock_holder(self.paths.runner_checkpoint) or "?"
            raise AlreadyRunning(f"task {self.opts.task_id} is already being run by pid {pid}") from None
        # Records appended after our replay (by a runner that has just exited) are picked up here.
        for record in self.writer.records[self._replayed:]:
            if self.state.apply(record):
                self._plan_event(record)
        if self.task_state in TaskState.TERMINAL:
            return
        self._write_task_file()
        sandbox_created = not os.path.exists(self.opts.sandbox)
        self._prepare_sandbox()
        self._write_status(self.task_state or TaskState.ACTIVE)
        if self.state.header is None:
            self._record({"header": self._header(sandbox_created)})

    def _header(self, sandbox_created: bool) -> dict:
        user = self._run_as
        return {"task_id": self.opts.task_id, "launch_time": time.time(), "sandbox": self.opts.sandbox,
                "sandbox_created": sandbox_created, "log_dir": self.log_dir,
                "hostname": self.opts.hostname or os.uname().nodename,
                "user": user, "uid": pwd.getpwnam(user).pw_uid, "ports": dict(self.opts.ports)}

    @functools.cached_property
    def _run_as(self) -> str:
        return self.opts.user or pwd.getpwuid(os.getuid()).pw_name

    @functools.cached_property
    def _switch_user(self) -> str | None:
        """The user to switch to in coordinators, or None when the processes run as we do (looked up once)."""
        return None if pwd.getpwnam(self._run_as).pw_uid == os.getuid() else self._run_as

    def _check_task_file(self, *states: str) -> None:
        """The task already on disk under this id, if any, must be this very task."""
        for state in states:
            path = self.paths.task_file(state)
            if not os.path.exists(path):
                continue
            try:
                with open(path) as f:
                    on_disk = json.load(f)
            except (OSError, ValueError):
                on_disk = None
            if on_disk != self.task_json:
                raise ThermosError(f"task {self.opts.task_id} differs from the one on disk at {path}; "
                                   "use a new --task_id")

    def _write_task_file(self) -> None:
        active = self.paths.task_file("active")
        self._check_task_file("active")
        if os.path.exists(active):
            return
        os.makedirs(os.path.dirname(active), exist_ok=True)
        tmp = os.path.join(os.path.dirname(active), f".{self.opts.task_id}.tmp")
        with open(tmp, "w") as f:
            json.dump(self.task_json, f, sort_keys=True)
            f.flush()
            os.fdatasync(f.fileno())
        os.replace(tmp, active)

    def _prepare_sandbox(self) -> None:
        os.makedirs(self.log_dir, exist_ok=True)
        user = self._switch_user
        if user is not None:
            pw = pwd.getpwnam(user)
            for path in (self.opts.sandbox, self.log_dir):
                os.chown(path, pw.pw_uid, pw.pw_gid)

    def _finish_task_file(self) -> None:
        active, finished = self.paths.task_file("active"), self.paths.task_file("finished")
        if os.path.exists(active):
            os.makedirs(os.path.dirname(finished), exist_ok=True)
            os.replace(active, finished)

    # ---- recording --------------------------------------------------------------------------------
    def _record(self, record: dict, sync: bool = True) -> bool:
        """Append a record and apply it; a process record out of sequence is dropped.

        The runner's own decisions are synced before it acts on them. Copies of coordinator records are not:
        the coordinator synced the original, recovery re-reads it, and the next synced record of the runner
        stream (always written before any action that depends on the copy) flushes the copy with it.
        """
        if "process_status" in record and not self.state.admissible(record["process_status"]):
            return False
        self.writer.write(record, sync=sync)
        self.state.apply(record)
        self._plan_event(record)
        return True

    def _write_status(self, state: str, **extra) -> None:
        status = {"state": state, "timestamp": time.time(), "runner_pid": os.getpid(), "runner_uid": os.getuid()}
        status.update(extra)
        self._record({"task_status": status})
        log.info("task %s %s", self.opts.task_id, state)

    def _plan_event(self, record: dict) -> None:
        status = record.get("process_status")
        if status is None:
            return
        name, state = status["process"], status["state"]
        try:
            plan = self.plans.plan_of(name)
        except KeyError:
            return
        when = status.get("stop_time") or time.time()
        if state == ProcessState.WAITING:
            plan.started(name)
        elif state == ProcessState.SUCCESS:
            plan.succeeded(name, when)
        elif state == ProcessState.FAILED:
            plan.failed_run(name, when)
        elif state in (ProcessState.KILLED, ProcessState.LOST):
            plan.lost(name, when)

    # ---- applying the transitions (transitions.py decides) ----------------------------------------------
    def _step(self) -> bool:
        """Apply every decision due now; True if the task changed state (so decide again)."""
        now = time.time()
        if self._stop is not None:
            stop, self._stop = self._stop, None
            asked = stop_request.take(self.paths)            # `thermos kill --grace`; taken whatever the stop
            grace = min(stop.grace, math.inf if asked is None else asked)
            stop = transitions.Stop(stop.target, self.opts.kill_grace if grace == math.inf else grace)
            decision = transitions.on_stop(self.state, stop, now, self.spec.finalization_wait)
            log.info("task %s: %s requested (deadline in %.0f s)", self.opts.task_id,
                     "kill" if stop.target == TaskState.KILLED else "lose",
                     max(0.0, decision.actions[0].deadline - now))
        else:
            decision = transitions.step(self.state, self.plans, self._live_runs(), now,
                                        self.spec.finalization_wait, self._killing_since)
        for action in decision.actions:
            self._apply(action, now)
        return decision.again

    def _apply(self, action, now: float) -> None:
        match action:
            case transitions.RecordStatus(state, target, deadline):
                extra = {} if target is None else {"target": target, "deadline": deadline}
                self._write_status(state, **extra)
            case transitions.SignalLive(sig, plans):
                self._signal_live(sig, *(getattr(self.plans, name) for name in plans))
            case transitions.SignalRun(sig, name):
                run = self.state.last_run(name)
                if (sig, name, run.run) not in self._signalled:   # a second SIGTERM may mean "stop now"
                    self._signal_run(sig, name, run)
            case transitions.Launch(plan):
                self._launch(getattr(self.plans, plan), now)
            case transitions.StartKilling():
                self._killing_since = now
            case transitions.RecordLost(name):
                run = self.state.last_run(name)
                process_tree.kill_run(run)    # what it started, which a SIGKILL sent before it ran may have missed
                proc = process_tree.coordinator(run)
                if proc is not None:
                    process_tree.signal_all([proc], signal.SIGKILL)
                self._record(process_record(name, ProcessState.LOST, run.seq + 1, stop_time=now))
            case transitions.Finish(state):
                self._killing_since = None
                self._write_status(state)
                self._finish_task_file()
                self._await_coordinators(time.monotonic() + COORDINATOR_WAIT)

    def _live_runs(self) -> transitions.Live:
        return transitions.Live(tuple(self._live(self.plans.regular)), tuple(self._live(self.plans.finalizing)))

    def _await_coordinators(self, deadline: float) -> None:
        """Let coordinators finish draining logs, so that they are complete when the runner exits (bounded)."""
        for pid, fork_time in sorted(self._coordinators.items()):
            try:
                if process_tree.find(pid, fork_time) is None:
                    continue                  # already gone (its pid may be reused)
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                continue
            try:
                select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))
            finally:
                os.close(pidfd)
        self._reap()

    # ---- launching --------------------------------------------------------------------------------
    def _launch(self, plan: Plan, now: float) -> None:
        """Start every process the plan allows now: lock its stream, record WAITING, then have it forked.

        The WAITING records of one round share one fdatasync, taken before any of the coordinators is forked.
        """
        ready = []
        for name in self.plans.launchable(plan, now):
            if name in self.watches:      # a coordinator of an earlier runner still owns this stream
                continue
            try:
                # No directory fsync: after a machine crash nothing of the run survives to need this stream.
                writer = ckpt.Writer(self.paths.coordinator_checkpoint(name), lock=True, durable_name=False)
            except ckpt.LockHeld:         # the previous run's coordinator is still exiting
                self._retry(now + LOCK_RETRY)
                continue
            run = self.state.last_run(name)
            if run is None or run.terminal:
                self._record(process_record(name, ProcessState.WAITING, self.state.next_seq(name)), sync=False)
            ready.append((name, writer))
        if not ready:
            return
        self.writer.sync()
        for name, writer in ready:
            try:
                self._start(name, writer)
            finally:
                writer.close()             # the coordinator holds the stream (and its lock) from here

    def _launch_of(self, name: str) -> coordinator.Launch:
        process, run = self.spec.process(name), self.state.last_run(name)
        return coordinator.Launch(process=name, run=run.run, seq=run.seq, cmdline=process.cmdline,
                                  sandbox=self.opts.sandbox, log_dir=process_log_dir(self.log_dir, name, run.run),
                                  env=self._environment(), user=self._switch_user,
                                  policy=logs_policy.resolve(process.logger, self.opts.log_defaults))

    def _start(self, name: str, writer: ckpt.Writer) -> None:
        """Have the fork server fork the coordinator of `name`'s run, and follow the run from here."""
        launch = self._launch_of(name)
        watch = _Watch(ckpt.Tailer(self.paths.coordinator_checkpoint(name)))
        watch.tailer.offset = os.fstat(writer.fd).st_size
        self.watches[name] = watch
        try:
            watch.pid, fork_time, pidfd = self._forker.start(writer.path, launch, writer.fd)
        except (OSError, forkserver.ForkServerGone) as e:
            # Nothing was started (OSError), or we cannot know (the server died or hung). The stream tells
            # once we let go of its lock: a FORKED record, or a lock nobody holds, and then the WAITING run
            # is started again (_check_attached). Failures in a row back off, up to MAX_LAUNCH_BACKOFF.
            self._launch_failures += 1
            delay = min(LOCK_RETRY * 2 ** self._launch_failures, MAX_LAUNCH_BACKOFF)
            log.warning("process %s run %d: %s; trying again in %.2f s", name, launch.run, e, delay)
            if isinstance(e, forkserver.ForkServerGone):
                self._replace_forker()
            self._retry(time.time() + delay)
            return
        self._launch_failures = 0
        log.info("process %s run %d forked coordinator pid %d", name, launch.run, watch.pid)
        if pidfd is None:                 # the server could not open one: open ours, verified
            pid, watch.pid = watch.pid, None
            if not self._attach(watch, name, pid, fork_time):
                self._retry(time.time())   # already gone: its stream tells how the run went
            return
        self._remember_coordinator(watch.pid, fork_time)
        self._watch_pid(watch, pidfd)

    def _replace_forker(self) -> None:
        try:
            self._forker = forkserver.ForkServer()
        except OSError as e:          # the next launch finds the old one closed and tries again
            log.warning("could not start a new fork server: %s", e)

    def _remember_coordinator(self, pid: int, fork_time: float) -> None:
        """Note a coordinator to wait for at the end; forget the ones that have exited now and then (they are
        the fork server's children, so no reaping of ours tells us), so that the table stays small however
        many runs a long task makes."""
        if len(self._coordinators) > 2 * len(self.watches) + 64:
            self._coordinators = {p: t for p, t in self._coordinators.items() if process_tree.find(p, t)}
        self._coordinators[pid] = fork_time

    def _environment(self) -> dict:
        user = self._run_as
        env = dict(os.environ) if self.opts.preserve_env else {}
        env.update(HOME=self.opts.sandbox, USER=user, LOGNAME=user, PATH=os.environ.get("PATH", os.defpath))
        profile = os.path.join(self.opts.sandbox, ".thermos_profile")
        if os.path.exists(profile):
            env["BASH_ENV"] = profile
        return env

    # ---- following runs ---------------------------------------------------------------------------
    def _watch_pid(self, watch: _Watch, pidfd: int) -> None:
        assert watch.pidfd is None, "a watch follows one coordinator"
        watch.pidfd = pidfd
        self._selector.register(pidfd, selectors.EVENT_READ, ("pid", watch))

    def _attach(self, watch: _Watch, name: str, pid: int | None, fork_time: float | None) -> bool:
        """Follow the coordinator `pid` of `name`'s current run if it is alive and is the process forked at
        `fork_time` (a pid alone may have been reused); False if it is gone."""
        try:
            pidfd = os.pidfd_open(pid) if pid else None
        except ProcessLookupError:
            pidfd = None
        # Verified after opening, so that the pidfd is of the process verified, not of a later one.
        if pidfd is None or process_tree.find(pid, fork_time) is None:
            if pidfd is not None:
                os.close(pidfd)
            return False
        watch.pid = pid
        self._remember_coordinator(pid, fork_time)
        self._watch_pid(watch, pidfd)
        log.info("process %s run %d: following coordinator pid %d", name, self.state.last_run(name).run, pid)
        return True

    def _close_watch(self, watch: _Watch) -> None:
        if watch.pidfd is not None:
            self._selector.unregister(watch.pidfd)
            os.close(watch.pidfd)
            watch.pidfd = None
        watch.tailer.close()

    def _collect(self, name: str) -> None:
        """Copy what the process's coordinator recorded into the runner stream, and act on an end."""
        watch = self.watches.get(name)
        if watch is None:
            return
        for record in watch.tailer.read_new():
            status = record["process_status"]
            # A stream holds every run of its process: an earlier run's records (and its coordinator's pid,
            # perhaps still alive, draining or a zombie) are not admissible and must not be followed.
            if not self._record(record, sync=False):
                continue
            log.info("process %s run %s %s%s", name, self.state.last_run(name).run, status["state"],
                     f" rc={status['return_code']}" if "return_code" in status else "")
            if status["state"] == ProcessState.FORKED and watch.pid is None and \
                    not self._attach(watch, name, status["coordinator_pid"], status["fork_time"]):
                self._retry(time.time())  # gone already: _check_attached settles the run
            if status["state"] == ProcessState.RUNNING and self._looping:   # (_reattach signals all it finds)
                for action in transitions.on_running(self.state, self.plans, name, self._killing_since):
                    self._apply(action, time.time())
        run = self.state.last_run(name)
        if run is None or run.terminal:
            self._close_watch(watch)
            del self.watches[name]

    def _coordinator_exited(self, watch: _Watch) -> None:
        name = next((n for n, w in self.watches.items() if w is watch), None)
        if name is None:
            return
        self._collect(name)
        if name in self.watches:          # it died without recording the end of its run
            self._declare_lost(name)

    def _declare_lost(self, name: str) -> None:
        run = self.state.last_run(name)
        process_tree.kill_run(run)        # what it left behind must not run beside the next run
        self._record(process_record(name, ProcessState.LOST, run.seq + 1, stop_time=time.time()))
        log.warning("process %s run %d LOST: its coordinator died", name, run.run)
        watch = self.watches.pop(name, None)
        if watch is not None:
            self._close_watch(watch)

    def _reattach(self) -> None:
        """After a (re)start: learn what coordinators did while we were away and follow the live ones."""
        for name, runs in self.state.processes.items():
            run = runs[-1]
            if run.terminal:
                continue
            watch = _Watch(ckpt.Tailer(self.paths.coordinator_checkpoint(name)))
            self.watches[name] = watch
            self._collect(name)
            if name not in self.watches:
                continue
            self._check_attached(name)
        if self.task_state == TaskState.CLEANING:  # the runner that entered CLEANING may have died before SIGTERM
            self._signal_live(signal.SIGTERM, self.plans.regular)

    def _check_attached(self, name: str) -> None:
        """A followed run whose coordinator we did not fork: is anyone still looking after it?"""
        run, watch = self.state.last_run(name), self.watches[name]
        if watch.pid is not None or (run.state != ProcessState.WAITING and
                                     self._attach(watch, name, run.coordinator_pid, run.fork_time)):
            return
        try:
            ckpt.Writer(self.paths.coordinator_checkpoint(name), lock=True).close()
        except ckpt.LockHeld:             # forked, but has not recorded yet: its records will wake us
            self._retry(time.time() + LOCK_RETRY)
            return
        self._collect(name)               # nobody holds the stream: whatever was recorded is all there is
        if name not in self.watches:
            return
        if run.state == ProcessState.WAITING:  # never forked: launch it again, reusing this WAITING record
            self._close_watch(self.watches.pop(name))
            self.plans.plan_of(name).running.discard(name)
        else:
            self._declare_lost(name)

    # ---- signalling -------------------------------------------------------------------------------
    def _live(self, plan: Plan) -> list[str]:
        return [n for n in plan.order if n in self.watches or
                (self.state.last_run(n) is not None and self.state.last_run(n).state in ProcessState.LIVE)]

    def _signal_live(self, sig: int, *plans: Plan) -> None:
        """Signal the processes of every live run of `plans`, and the orphans re-parented to us (we are a
        subreaper) whose coordinator is gone. A coordinator itself is never signalled here: it must live to
        record how its run ended, and one whose run has ended may still be draining its logs."""
        for plan in plans:
            for name in self._live(plan):
                self._signal_run(sig, name, self.state.last_run(name))
        coordinators = self._coordinators.keys() | {w.pid for w in self.watches.values()} | {self._forker.pid}
        orphans = [p for p in psutil.Process().children() if p.pid not in coordinators]
        process_tree.signal_all(orphans, sig)

    def _signal_run(self, sig: int, name: str, run) -> None:
        """Signal a run's user processes; note the runs a signal reached, so that one is never sent twice."""
        if process_tree.signal_all(process_tree.user_processes(run), sig):
            self._signalled.add((sig, name, run.run))

    # ---- waiting ----------------------------------------------------------------------------------
    def _retry(self, at: float) -> None:
        """Look again at launches and unattached runs at `at` (or earlier, if already asked)."""
        self._retry_at = min(self._retry_at or math.inf, at)

    def _timeout(self, now: float) -> float | None:
        times = [self._retry_at, transitions.wake_at(self.state, self.plans, now, self.spec.finalization_wait,
                                                     self._killing_since)]
        times = [t - now for t in times if t is not None]
        return max(0.0, min(times)) if times else None

    def _wait(self) -> None:
        events = self._selector.select(self._timeout(time.time()))
        self._reap()
        retry, self._retry_at = self._retry_at, None
        if retry is not None:
            for name, watch in list(self.watches.items()):
                if watch.pid is None:
                    self._check_attached(name)
        for key, _ in events:
            if key.data == "inotify":
                for changed in self._inotify.read_names():
                    if changed.startswith("coordinator."):
                        self._collect(changed[len("coordinator."):])
            elif key.data == "signal":
                try:
                    os.read(key.fd, 512)
                except BlockingIOError:
                    pass
            elif key.data[1].pidfd is not None:
                self._coordinator_exited(key.data[1])

    def _reap(self) -> None:
        for pid in process_tree.reap_exited()[0]:
            self._coordinators.pop(pid, None)

    def _install_signals(self) -> dict:
        signal.set_wakeup_fd(self._wake_w)

        def stop(signum, frame):
            self.request_stop(TaskState.LOST if signum == signal.SIGUSR2 else TaskState.KILLED)

        handlers = {sig: stop for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)}
        handlers[signal.SIGCHLD] = lambda signum, frame: None
        process_tree.set_child_subreaper()
        return {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}

    def _restore_signals(self, old: dict) -> None:
        signal.set_wakeup_fd(-1)
        for sig, handler in old.items():
            signal.signal(sig, handler)
