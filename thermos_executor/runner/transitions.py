"""The task's transitions: what the runner must do now, decided from what it knows. Pure: no clock, no I/O.

The planner (planner.py) answers "which processes may run now"; this module answers everything else about the
task's life, and the runner (task_runner.py) only applies the actions returned and records them:

  ACTIVE      the regular plan runs. When it is complete, or the task can no longer succeed: record CLEANING
              and SIGTERM what still runs.
  CLEANING    when nothing regular is alive: record FINALIZING. At the deadline: kill everything.
  FINALIZING  the final processes run. When they are done (or can never run), or at the deadline: kill
              everything.
  killing     every live run got SIGKILL; the task ends once every exit is recorded, or after KILL_RECORD_WAIT
              (runs whose coordinator never recorded an end are recorded LOST for it). Then the terminal state.

The deadline is `finalization_wait` after the task first left ACTIVE, or the one a kill or lose recorded
(`RunnerState.forced`), whichever a kill set last. A kill (`stop`, KILLED) takes the graceful path within its
grace; a lose (LOST) has a deadline of now, so it skips straight to killing. A later request never extends an
earlier deadline, and a lose is never turned back into a kill.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass

from thermos_executor.runner.planner import TaskPlans
from thermos_executor.runner.state import RunnerState, TaskState

# How long killed runs get to have their exits recorded by their coordinators before the runner records them.
KILL_RECORD_WAIT = 5.0


# ---- actions: what the runner applies ---------------------------------------------------------------
@dataclass(frozen=True)
class RecordStatus:
    """Record a task status (and log it)."""
    state: TaskState
    target: TaskState | None = None       # a kill or lose: the terminal state it imposes
    deadline: float | None = None


@dataclass(frozen=True)
class SignalLive:
    """Signal the user processes of every live run of the named plans ("regular", "finalizing")."""
    sig: int
    plans: tuple[str, ...]


@dataclass(frozen=True)
class SignalRun:
    """Signal the user processes of one process's live run."""
    sig: int
    process: str


@dataclass(frozen=True)
class Launch:
    """Start what the named plan allows now."""
    plan: str


@dataclass(frozen=True)
class StartKilling:
    """Note the start of the kill wait (the runner keeps it; a restarted runner starts it again)."""


@dataclass(frozen=True)
class RecordLost:
    """A run whose coordinator did not record its end in time: SIGKILL what is left of it, record it LOST."""
    process: str


@dataclass(frozen=True)
class Finish:
    """Record the terminal state and move the task to finished."""
    state: TaskState


@dataclass(frozen=True)
class Stop:
    """A kill (KILLED, graceful within `grace` seconds) or a lose (LOST, at once) asked of the runner."""
    target: TaskState
    grace: float

    def merge(self, other: Stop) -> Stop:
        """Two requests pending at once: a lose wins over a kill, and the shorter grace holds."""
        target = TaskState.LOST if TaskState.LOST in (self.target, other.target) else TaskState.KILLED
        return Stop(target, min(self.grace, other.grace))


@dataclass
class Decision:
    actions: list
    again: bool = False                  # the task changed state: decide again before sleeping


@dataclass(frozen=True)
class Live:
    """Names of the processes with a live run (or one being started), per plan."""
    regular: tuple[str, ...] = ()
    finalizing: tuple[str, ...] = ()


BOTH = ("regular", "finalizing")


def on_stop(state: RunnerState, stop: Stop, now: float, finalization_wait: float) -> Decision:
    """A kill or lose was asked: record its target and deadline, never later than the deadline already running
    (a kill's, or the finalization deadline once the task has left ACTIVE), and never a lose turned into a kill."""
    limit = now if stop.target == TaskState.LOST else now + stop.grace
    if state.task_state != TaskState.ACTIVE:
        limit = min(limit, deadline(state, now, finalization_wait))
    current_target, _ = state.forced()
    target = TaskState.LOST if current_target == TaskState.LOST else stop.target
    if state.task_state == TaskState.ACTIVE:
        return Decision([RecordStatus(TaskState.CLEANING, target, limit),
                         SignalLive(signal.SIGTERM, ("regular",))], again=True)
    return Decision([RecordStatus(TaskState(state.task_state), target, limit)], again=True)


def on_running(state: RunnerState, plans: TaskPlans, process: str, killing_since: float | None) -> list:
    """A run has just started, launched before a signal that found no process of it yet. While killing,
    it gets SIGKILL (any plan); a regular run starting while the task is CLEANING gets the cleaning's SIGTERM
    (else it would run until the deadline)."""
    if killing_since is not None:
        return [SignalRun(signal.SIGKILL, process)]
    if state.task_state == TaskState.CLEANING and process in plans.regular.processes:
        return [SignalRun(signal.SIGTERM, process)]
    return []


def step(state: RunnerState, plans: TaskPlans, live: Live, now: float, finalization_wait: float,
         killing_since: float | None) -> Decision:
    """The decisions due at `now`."""
    if killing_since is not None:
        return _finish_killing(state, plans, live, now, killing_since)
    task = state.task_state
    if task == TaskState.ACTIVE:
        if plans.regular.complete or not plans.healthy:
            return Decision([RecordStatus(TaskState.CLEANING), SignalLive(signal.SIGTERM, ("regular",))],
                            again=True)
        return Decision([Launch("regular")])
    if task == TaskState.CLEANING:
        if not live.regular:
            return Decision([RecordStatus(TaskState.FINALIZING)], again=True)
        if now >= deadline(state, now, finalization_wait):
            return _kill_everything()
    elif task == TaskState.FINALIZING:
        final = plans.finalizing
        if final.complete or final.deadlocked or now >= deadline(state, now, finalization_wait):
            return _kill_everything()
        return Decision([Launch("finalizing")])
    return Decision([])


def wake_at(state: RunnerState, plans: TaskPlans, now: float, finalization_wait: float,
            killing_since: float | None) -> float | None:
    """When to decide again if no event comes first (None: only an event can change anything)."""
    task = state.task_state
    if killing_since is not None:
        return killing_since + KILL_RECORD_WAIT
    if task == TaskState.ACTIVE:
        # Runnable now but not launched means max_concurrency or a coordinator still exiting holds it back;
        # a run's end or the lock retry wakes us, so only back-offs need a timer.
        wait = plans.regular.next_start(now)
        return None if wait is None else now + wait
    if task in (TaskState.CLEANING, TaskState.FINALIZING):
        times = [deadline(state, now, finalization_wait)]
        if task == TaskState.FINALIZING and (wait := plans.finalizing.next_start(now)) is not None:
            times.append(now + wait)
        return min(times)
    return None


def deadline(state: RunnerState, now: float, finalization_wait: float) -> float:
    """When cleaning and finalizing must be over: a kill's recorded deadline, else finalization_wait after
    the task first left ACTIVE (recorded, so a restarted runner does not reset it)."""
    _, forced = state.forced()
    if forced is not None:
        return forced
    return (state.cleaning_started() or now) + finalization_wait


def terminal_state(state: RunnerState, plans: TaskPlans) -> TaskState:
    target, _ = state.forced()
    if target is not None:
        return TaskState(target)
    return TaskState.SUCCESS if plans.healthy else TaskState.FAILED


def _kill_everything() -> Decision:
    return Decision([StartKilling(), SignalLive(signal.SIGKILL, BOTH)], again=True)


def _finish_killing(state: RunnerState, plans: TaskPlans, live: Live, now: float,
                    killing_since: float) -> Decision:
    still = live.regular + live.finalizing
    if still and now < killing_since + KILL_RECORD_WAIT:
        return Decision([])
    return Decision([*(RecordLost(name) for name in still), Finish(terminal_state(state, plans))])
