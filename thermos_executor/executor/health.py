"""Health checks: Aurora's rules for when a task becomes RUNNING or fails, and the HTTP and shell checks.

`HealthPolicy` is the rule set, pure (fed with results, no clock): a grace period of
`ceil(initial_interval_secs / interval_secs)` attempts whose failures are forgiven; the task is healthy
(RUNNING) after `min_consecutive_successes` successes in a row; it fails after more than
`max_consecutive_failures` failures in a row, at once if the successes it still needs can no longer fit in
the attempts left, or when the attempts run out before it became healthy. Once failed it stays failed.

`HealthChecker` runs a check in a thread, the first at once and then every `interval_secs`, and calls back
when the verdict changes. A file `.healthchecksnooze` in the sandbox makes every check pass (for debugging).
"""
from __future__ import annotations

import http.client
import math
import os
import pwd
import subprocess
import threading
from collections.abc import Callable

from thermos_executor.mesos_state import MesosState

SNOOZE_FILE = ".healthchecksnooze"


class HealthPolicy:
    def __init__(self, interval: float, grace: float, max_failures: int, min_successes: int):
        self.forgiving = math.ceil(grace / interval)
        self.max_failures = max_failures
        self.min_successes = min_successes
        self.max_attempts = self.forgiving + max_failures + min_successes
        self.attempts = self.successes = self.failures = 0
        self.running = False
        self.failure: str | None = None

    def due(self) -> bool:
        """Whether to run a check now; False (and failed) when the attempts ran out before the task was healthy."""
        if self.failure is not None:
            return False
        if not self.running and self.attempts > self.max_attempts:
            self.failure = "Not enough successful health checks in time."
            return False
        return True

    def record(self, ok: bool, reason: str = "") -> None:
        if self.attempts <= self.max_attempts:
            self.attempts += 1
        if ok:
            self.successes += 1
            self.failures = 0
            if not self.running and self.successes >= self.min_successes:
                self.running = True
            return
        self.successes = 0
        if self.attempts <= self.forgiving:
            return
        remaining = self.max_attempts - self.attempts
        if not self.running and remaining > 1 and self.min_successes > remaining:
            self.failure = reason
            return
        self.failures += 1
        if self.failures > self.max_failures:
            self.failure = reason

    @property
    def verdict(self) -> tuple[str, str | None]:
        if self.failure is not None:
            return MesosState.TASK_FAILED, f"Failed health check! {self.failure}"
        if self.running:
            return MesosState.TASK_RUNNING, "Task is healthy."
        return MesosState.TASK_STARTING, None


def _short(text: str) -> str:
    return text if len(text) <= 9 else text[:7] + "..."


def http_check(port: int, endpoint: str, expected_response: str, expected_code: int,
               timeout: float) -> tuple[bool, str]:
    url = f"http://localhost:{port}{endpoint}"
    try:
        conn = http.client.HTTPConnection("localhost", port, timeout=timeout)
        try:
            conn.request("GET", endpoint)
            response = conn.getresponse()
            body = response.read().decode(errors="replace").strip().lower() if response.status < 400 else ""
            code = response.status
        finally:
            conn.close()
    except (OSError, http.client.HTTPException) as e:
        return False, f"Failed to signal {url}: {e}"
    if expected_response and body != expected_response.lower():
        return False, (f'Response differs from expected response (expected "{_short(expected_response.lower())}", '
                       f'got "{_short(body)}")')
    if expected_code and code != expected_code:
        return False, f"Response code differs from expected response (expected {expected_code}, got {code})"
    return True, ""


def shell_check(command: str, timeout: float, cwd: str, user: str | None) -> tuple[bool, str]:
    def demote():
        pw = pwd.getpwnam(user)
        os.initgroups(user, pw.pw_gid)
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)

    try:
        result = subprocess.run(["/bin/bash", "-c", command], cwd=cwd, capture_output=True, timeout=timeout,
                                preexec_fn=demote if user else None, start_new_session=True)
    except subprocess.TimeoutExpired:
        return False, "Health check timed out."
    except OSError as e:
        return False, f"OSError: {e.strerror}"
    if result.returncode != 0:
        output = (result.stdout + result.stderr).decode(errors="replace").strip()
        return False, f"Command '{command}' returned non-zero exit status {result.returncode} with output '{output}'"
    return True, ""


class HealthChecker:
    def __init__(self, check: Callable[[], tuple[bool, str]], policy: HealthPolicy, interval: float,
                 sandbox: str, on_change: Callable[[], None]):
        self.check = check
        self.policy = policy
        self.interval = interval
        self.sandbox = sandbox
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="health-checker", daemon=True)

    @property
    def verdict(self) -> tuple[str, str | None]:
        return self.policy.verdict

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            before = self.policy.verdict
            if self.policy.due():
                if os.path.exists(os.path.join(self.sandbox, SNOOZE_FILE)):
                    ok, reason = True, ""
                else:
                    try:
                        ok, reason = self.check()
                    except Exception as e:  # noqa: BLE001 - a broken check is a failed check, not a dead thread
                        ok, reason = False, f"Internal health check error: {e}"
                self.policy.record(ok, reason)
            if self.policy.verdict != before:
                self.on_change()
            if self.policy.failure is not None:
                return
            self._stop.wait(self.interval)
