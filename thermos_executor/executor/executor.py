"""The Thermos executor: runs one Mesos task through a thermos_runner, watches it, reports it, stops it.

    launchTask -> TASK_STARTING -> sandbox -> thermos_runner -> health checks (+ announcer)
               -> TASK_RUNNING once healthy (at once without a health check)
               -> TASK_FINISHED | TASK_FAILED | TASK_KILLED | TASK_LOST, exactly once, with a message

A kill (killTask, or shutdown from the agent) stops the task gracefully, bounded by `--stop_timeout_in_secs`:
health checks and the announcement stop first, then POST /quitquitquit and /abortabortabort when the task has
an HTTP lifecycle, then the runner's own graceful kill (SIGTERM, final processes, SIGKILL). A kill that
arrives while the sandbox is being made ends the task before any runner starts.

One supervisor thread makes every decision; pymesos callbacks, the runner's exit, health verdicts and the
announcer only record what happened and wake it.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import pwd
import threading
import time
import uuid
from dataclasses import dataclass

from pymesos import Executor

from thermos_executor import config
from thermos_executor.errors import ConfigError
from thermos_executor.executor import health, lifecycle
from thermos_executor.zk.serverset import Announcer, member_data
from thermos_executor.executor.runner_process import RunnerProcess, runner_command
from thermos_executor.executor.sandbox import SandboxError, create_sandbox
from thermos_executor.executor.task_data import AssignedTask, TaskDataError
from thermos_executor.mesos_state import MesosState

log = logging.getLogger("thermos.executor")

START_TIMEOUT = 120.0          # for the runner to show the task in its checkpoint
PERSISTENCE_WAIT = 5.0         # after the terminal update, for the agent to acknowledge it
MAX_RUNNER_RESTARTS = 3        # runners that die with the task unfinished are restarted to re-attach


@dataclass
class ExecutorOptions:
    announcer_ensemble: str | None = None
    announcer_serverset_path: str = "/aurora"
    announcer_allow_custom_serverset_path: bool = False
    announcer_hostname: str | None = None
    announcer_zookeeper_auth_config: str | None = None
    execute_as_user: str | None = None
    nosetuid: bool = False
    nosetuid_health_checks: bool = False
    runner_logger_destination: str | None = None
    runner_logger_mode: str | None = None
    runner_rotate_log_size_mb: int | None = None
    runner_rotate_log_backups: int | None = None
    preserve_env: bool = False
    stop_timeout_in_secs: float = 120.0
    work_dir: str = "."                 # the executor's sandbox: checkpoints/ and task.json go here


class ThermosExecutor(Executor):
    def __init__(self, options: ExecutorOptions, mesos_directory: str):
        self.opts = options
        self.mesos_directory = mesos_directory
        self.checkpoint_root = os.path.join(os.path.abspath(options.work_dir), "checkpoints")
        self.driver = None
        self.task_info: dict | None = None
        self.task_id: str | None = None
        self.launched = threading.Event()
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._kill_reason: str | None = None
        self._announcer_failure: str | None = None
        self._terminal_sent = False
        self._acks: dict[str, threading.Event] = {}
        self.assigned: AssignedTask | None = None
        self.runner: RunnerProcess | None = None
        self.health: health.HealthChecker | None = None
        self.announcer: Announcer | None = None

    # ---- pymesos callbacks (return quickly; the supervisor thread does the work) ------------------------
    def registered(self, driver, executor_info, framework_info, agent_info):
        self.driver = driver
        log.info("registered with agent %s", (agent_info or {}).get("hostname"))

    def launchTask(self, driver, task):  # noqa: N802 - pymesos' name
        self.driver = driver
        task_id = task["task_id"]["value"]
        with self._lock:
            if self.task_id is not None:
                running = self.task_id
            else:
                running, self.task_id, self.task_info = None, task_id, task
        if running is not None:
            self._send(MesosState.TASK_LOST, f"Task already running on this executor: {running}", task_id=task_id)
            return
        self.launched.set()
        threading.Thread(target=self._run, name="supervisor", daemon=True).start()

    def killTask(self, driver, task_id):  # noqa: N802 - pymesos' name
        if task_id.get("value") != self.task_id:
            log.warning("asked to kill %s, which is not our task (%s)", task_id.get("value"), self.task_id)
            return
        self._request_kill("Instructed to kill task.")

    def shutdown(self, driver):
        """The agent wants us gone: stop the task now, within this call (pymesos disconnects when it returns)."""
        if self.task_id is None:
            return
        self._request_kill("Told to shut down executor.")
        self.done.wait(self.opts.stop_timeout_in_secs + 5)

    def acknowledged(self, task_id: str, update_uuid: str) -> None:
        event = self._acks.get(update_uuid)
        if event is not None:
            event.set()

    # ---- events -----------------------------------------------------------------------------------------
    def _request_kill(self, reason: str) -> None:
        with self._wake:
            if self._kill_reason is None:
                self._kill_reason = reason
            self._wake.notify_all()

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    def _announcer_failed(self, reason: str) -> None:
        with self._wake:
            self._announcer_failure = reason
            self._wake.notify_all()

    # ---- the task's life (supervisor thread) -----------------------------------------------------------
    def _run(self) -> None:
        try:
            self._send(MesosState.TASK_STARTING)
            outcome = self._launch_and_supervise()
        except Exception as e:  # noqa: BLE001 - a bug of ours still owes Mesos a terminal update
            log.exception("internal error")
            outcome = (MesosState.TASK_FAILED, f"Internal error: {e}")
            if self.runner is not None and not self.runner.exited.is_set():   # nothing may outlive the update
                self.runner.lose()
                self.runner.exited.wait(10)
        self._finish(*outcome)

    def _launch_and_supervise(self) -> tuple[str, str]:
        try:
            assigned = self.assigned = AssignedTask.from_task_info(self.task_info)
        except TaskDataError as e:
            return MesosState.TASK_FAILED, f"Could not deserialize task: {e}"
        except ConfigError as e:
            return MesosState.TASK_FAILED, f"Invalid task: {e}"
        unsupported = self._unsupported(assigned)
        if unsupported:
            return MesosState.TASK_FAILED, unsupported
        user = self._task_user(assigned)
        try:
            sandbox = create_sandbox(self.mesos_directory, self._sandbox_owner(user))
        except SandboxError as e:
            return MesosState.TASK_FAILED, f"Failed to initialize sandbox: {e}"
        ports = assigned.ports
        try:
            task = assigned.thermos_task(ports, user)
            check = self._health_check(assigned, sandbox, ports, user)
        except ConfigError as e:
            return MesosState.TASK_FAILED, f"Invalid task: {e}"
        with self._lock:
            if self._kill_reason is not None:          # killed while we were setting up: never start the runner
                return MesosState.TASK_KILLED, "Task killed during initialization."
        self.runner = self._start_runner(assigned, task, sandbox, ports, user)
        if not self.runner.wait_started(START_TIMEOUT):
            self.runner.lose()
            return MesosState.TASK_LOST, "Timed out waiting for task to start!"
        self._start_checkers(assigned, sandbox, ports, check)
        return self._supervise()

    def _unsupported(self, assigned: AssignedTask) -> str | None:
        """Why this executor will not run the task, or None."""
        if assigned.uses_container_image:
            return "Container images are not supported by this executor."
        announce = assigned.announce
        if announce and announce.get("zk_path") and not self.opts.announcer_allow_custom_serverset_path:
            return ("The job sets announce.zk_path, but this executor runs without "
                    "--announcer-allow-custom-serverset-path.")
        return None

    def _task_user(self, assigned: AssignedTask) -> str:
        if self.opts.execute_as_user:
            return self.opts.execute_as_user
        if os.geteuid() == 0 and not self.opts.nosetuid:
            return assigned.role
        return pwd.getpwuid(os.getuid()).pw_name

    def _sandbox_owner(self, user: str) -> str | None:
        return user if os.geteuid() == 0 and (self.opts.execute_as_user or not self.opts.nosetuid) else None

    def _start_runner(self, assigned, task, sandbox: str, ports: dict, user: str) -> RunnerProcess:
        work_dir = os.path.abspath(self.opts.work_dir)
        task_json = os.path.join(work_dir, "task.json")
        with open(task_json, "w") as f:
            json.dump(config.task_to_json(task), f)
        argv = runner_command() + ["--thermos_json", task_json, "--sandbox", sandbox,
                                   "--checkpoint_root", self.checkpoint_root, "--task_id", assigned.task_id,
                                   "--kill_grace_secs", str(max(1.0, self.opts.stop_timeout_in_secs / 2))]
        if assigned.agent_host:
            argv += ["--hostname", assigned.agent_host]
        if os.geteuid() == 0 and user != pwd.getpwuid(os.getuid()).pw_name:
            argv += ["--setuid", user]
        for flag, value in (("--process_logger_destination", self.opts.runner_logger_destination),
                            ("--process_logger_mode", self.opts.runner_logger_mode),
                            ("--rotate_log_size_mb", self.opts.runner_rotate_log_size_mb),
                            ("--rotate_log_backups", self.opts.runner_rotate_log_backups)):
            if value is not None:
                argv += [flag, str(value)]
        if self.opts.preserve_env:
            argv.append("--preserve_env")
        argv += [arg for name, port in sorted(ports.items()) for arg in ("--port", f"{name}:{port}")]
        runner = RunnerProcess(argv, self.mesos_directory, self.checkpoint_root, assigned.task_id, self._notify)
        runner.start()
        return runner

    def _health_check(self, assigned: AssignedTask, sandbox: str, ports: dict, user: str):
        """The task's health check as a callable, or None when it has none."""
        hc = assigned.health_check
        if hc.shell_command is not None:            # interpolated already, when the task data was decoded
            as_user = None if self.opts.nosetuid_health_checks or os.geteuid() != 0 else user
            return lambda: health.shell_check(hc.shell_command, hc.timeout_secs, sandbox, as_user)
        if "health" in ports:
            return lambda: health.http_check(ports["health"], hc.endpoint, hc.expected_response,
                                             hc.expected_response_code, hc.timeout_secs)
        return None

    def _start_checkers(self, assigned: AssignedTask, sandbox: str, ports: dict, check) -> None:
        hc = assigned.health_check
        if check is not None:
            policy = health.HealthPolicy(hc.interval_secs, hc.initial_interval_secs, hc.max_consecutive_failures,
                                         hc.min_consecutive_successes)
            self.health = health.HealthChecker(check, policy, hc.interval_secs, sandbox, self._notify)
            self.health.start()
        if self.opts.announcer_ensemble and assigned.announce is not None:
            announce = assigned.announce
            path = announce.get("zk_path") or "/".join([self.opts.announcer_serverset_path.rstrip("/"),
                                                       assigned.role, assigned.environment, assigned.name])
            host = self.opts.announcer_hostname or assigned.agent_host or os.uname().nodename
            data = member_data(host, ports, announce["primary_port"], assigned.instance_id)
            wait = hc.initial_interval_secs + hc.max_consecutive_failures * hc.interval_secs
            self.announcer = Announcer(self.opts.announcer_ensemble, path, data,
                                       self.opts.announcer_zookeeper_auth_config, wait, self._announcer_failed)
            self.announcer.start()

    def _verdict(self) -> tuple[str, str | None]:
        if self.health is None:
            return MesosState.TASK_RUNNING, "No health-check defined, task is assumed healthy."
        return self.health.verdict

    def _supervise(self) -> tuple[str, str]:
        running_sent, restarts = False, 0
        while True:
            with self._wake:
                runner_ended = self.runner.exited.is_set()
                kill, announcer_failure = self._kill_reason, self._announcer_failure
                verdict, reason = self._verdict()
                quiet = kill is None and announcer_failure is None and verdict != MesosState.TASK_FAILED
                if not runner_ended and quiet and (verdict != MesosState.TASK_RUNNING or running_sent):
                    self._wake.wait()
                    continue
            if runner_ended:
                if self.runner.restartable and restarts < MAX_RUNNER_RESTARTS:
                    restarts += 1
                    log.warning("thermos_runner died (exit %s) with the task unfinished; restarting it to "
                                "re-attach (%d/%d)", self.runner.returncode, restarts, MAX_RUNNER_RESTARTS)
                    self.runner.start()
                    self.runner.wait_started(START_TIMEOUT)   # its handlers are in: a kill now is not fatal
                    continue
                self._stop_checkers()
                if self.runner.restartable:              # gave up restarting: clean up what is left
                    return self._stop(MesosState.TASK_LOST, "Thermos runner kept dying while the task was active.")
                return self.runner.outcome()
            if kill is not None:
                return self._stop(MesosState.TASK_KILLED, kill)
            if announcer_failure is not None:
                return self._stop(MesosState.TASK_FAILED, announcer_failure)
            if verdict == MesosState.TASK_FAILED:
                return self._stop(MesosState.TASK_FAILED, reason)
            self._send(MesosState.TASK_RUNNING, reason)
            running_sent = True

    def _stop_checkers(self) -> None:
        if self.health is not None:
            self.health.stop()
        if self.announcer is not None:
            self.announcer.stop()

    def _stop(self, state: str, reason: str) -> tuple[str, str]:
        """Graceful teardown bounded by --stop_timeout_in_secs; the runner's own end wins if it came first."""
        deadline = time.monotonic() + self.opts.stop_timeout_in_secs
        left = lambda: max(0.0, deadline - time.monotonic())  # noqa: E731
        log.info("stopping the task: %s", reason)
        if self.runner.exited.is_set() and not self.runner.restartable:
            return self.runner.outcome()                  # it had ended on its own before we stopped it
        self._stop_checkers()
        spec, ports = self.assigned.lifecycle, self.assigned.ports
        if spec is not None and spec.port in ports:
            lifecycle.graceful_stop(ports[spec.port], spec.steps(), self.runner.exited, left)
        for _ in range(MAX_RUNNER_RESTARTS + 1):
            self.runner.kill()
            if self.runner.exited.wait(left()) and not self.runner.restartable:
                return state, reason
            if not self.runner.exited.is_set() or left() <= 0:
                break
            self.runner.start()                           # it died mid-kill: a new one re-attaches and goes on
            self.runner.wait_started(left())
        log.warning("the runner did not stop within %.0fs: losing the task", self.opts.stop_timeout_in_secs)
        self.runner.lose()
        self.runner.exited.wait(10)
        return MesosState.TASK_LOST, f"Task did not stop within {self.opts.stop_timeout_in_secs:.0f}s ({reason})"

    # ---- updates ----------------------------------------------------------------------------------------
    def _send(self, state: str, message: str | None = None, task_id: str | None = None) -> str:
        update_uuid = base64.b64encode(uuid.uuid4().bytes).decode()
        status = {"task_id": {"value": task_id or self.task_id}, "state": state, "source": "SOURCE_EXECUTOR",
                  "uuid": update_uuid, "timestamp": time.time()}
        if self.task_info and self.task_info.get("agent_id"):
            status["agent_id"] = self.task_info["agent_id"]
        if message:
            status["message"] = message
        log.info("%s %s%s", status["task_id"]["value"], state, f": {message}" if message else "")
        self._acks[update_uuid] = threading.Event()
        for attempt in (1, 2):        # a restarted agent closed our kept-alive connection: the first call fails
            try:
                self.driver.sendStatusUpdate(status)
                break
            except Exception as e:  # noqa: BLE001 - the agent may be gone; nothing else we can do
                log.warning("could not send %s (attempt %d): %s", state, attempt, e)
        return update_uuid

    def _finish(self, state: str, message: str) -> None:
        with self._lock:
            if self._terminal_sent:
                return
            self._terminal_sent = True
        update = self._send(state, message)
        self._acks[update].wait(PERSISTENCE_WAIT)
        self.done.set()
        if self.driver is not None:
            self.driver.stop()
