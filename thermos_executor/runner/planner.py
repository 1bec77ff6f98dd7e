"""The planner: given what has run, which processes of a plan may run now. Pure: no clocks, no I/O.

A task has two plans: the regular plan (processes with final=False) runs while the task is ACTIVE; the
finalizing plan (final=True) runs after the regular one has ended and been cleaned up. In each plan a process
is exactly one of: candidate, running, finished, failed.

  * Dependency gate: a candidate may start only when every process ordered before it has *finished*.
  * Clock gate: a process that has run before may start again only `min_duration` seconds after its last
    run ended (the recorded stop time, so a runner restart does not reset the back-off).
  * A success finishes a process, except a daemon, which becomes a candidate again.
  * A failure counts toward `max_failures` (0 = unlimited); when exhausted an ephemeral process counts as
    finished, any other as failed.
  * A lost or killed run does not count as a failure: the process is simply a candidate again.
  * Complete: every process finished or failed, ephemeral ones counting as done whatever their state.
"""
from __future__ import annotations

import itertools

from thermos_executor.config.spec import ProcessSpec


class Plan:
    def __init__(self, processes: list[ProcessSpec], constraints=()):
        self.processes = {p.name: p for p in processes}
        self.order = [p.name for p in processes]          # config order decides who starts first
        self.deps: dict[str, set[str]] = {name: set() for name in self.order}
        for order in constraints:
            if order and set(order) <= self.processes.keys():
                for before, after in itertools.pairwise(order):
                    self.deps[after].add(before)
        self.running: set[str] = set()
        self.finished: set[str] = set()
        self.failed: set[str] = set()
        self.failures: dict[str, int] = dict.fromkeys(self.order, 0)
        self.last_stop: dict[str, float] = {}

    # ---- events -----------------------------------------------------------------------------------
    def started(self, name: str) -> None:
        self.running.add(name)

    def succeeded(self, name: str, when: float) -> None:
        self._ended(name, when)
        if not self.processes[name].daemon:
            self.finished.add(name)

    def failed_run(self, name: str, when: float) -> None:
        self._ended(name, when)
        process = self.processes[name]
        self.failures[name] += 1
        if process.max_failures == 0 or self.failures[name] < process.max_failures:
            return
        (self.finished if process.ephemeral else self.failed).add(name)

    def lost(self, name: str, when: float) -> None:
        self._ended(name, when)

    def _ended(self, name: str, when: float) -> None:
        self.running.discard(name)
        self.last_stop[name] = when

    # ---- queries ----------------------------------------------------------------------------------
    def _candidates(self) -> list[str]:
        done = self.running | self.finished | self.failed
        return [n for n in self.order if n not in done and self.deps[n] <= self.finished]

    def _wait(self, name: str, now: float) -> float:
        if name not in self.last_stop:
            return 0.0
        return max(0.0, self.last_stop[name] + self.processes[name].min_duration - now)

    def runnable(self, now: float) -> list[str]:
        return [n for n in self._candidates() if self._wait(n, now) == 0.0]

    def next_start(self, now: float) -> float | None:
        """Seconds until the first candidate held back by min_duration may start; None if none is held."""
        waits = [w for w in (self._wait(n, now) for n in self._candidates()) if w > 0]
        return min(waits) if waits else None

    @property
    def complete(self) -> bool:
        ephemeral = {n for n, p in self.processes.items() if p.ephemeral}
        return self.finished | self.failed | ephemeral >= self.processes.keys()

    @property
    def deadlocked(self) -> bool:
        return not self.running and not self._candidates() and not self.complete


class TaskPlans:
    """Both plans of a task and the task-level failure accounting (max_failures, max_concurrency)."""

    def __init__(self, processes, constraints=(), max_failures: int = 1, max_concurrency: int = 0):
        self.regular = Plan([p for p in processes if not p.final], constraints)
        self.finalizing = Plan([p for p in processes if p.final], constraints)
        self.max_failures = max_failures
        self.max_concurrency = max_concurrency

    def plan_of(self, name: str) -> Plan:
        return self.finalizing if name in self.finalizing.processes else self.regular

    @property
    def healthy(self) -> bool:
        """Evaluated on the regular plan only, so finalizers never change a task's outcome."""
        if self.regular.deadlocked:
            return False
        return self.max_failures == 0 or len(self.regular.failed) < self.max_failures

    def launchable(self, plan: Plan, now: float) -> list[str]:
        runnable = plan.runnable(now)
        if self.max_concurrency > 0:
            running = len(self.regular.running) + len(self.finalizing.running)
            runnable = runnable[:max(0, self.max_concurrency - running)]
        return runnable
