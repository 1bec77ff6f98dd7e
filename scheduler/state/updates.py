"""Job updates, pure: Aurora's update status machine, per-instance evaluation, strategies and the one-way updater.

Nothing here reads storage or a clock: the leader's controller (scheduler.app.updater) feeds it tasks and
the time, and applies what it returns. Names and rules are Aurora 0.22's (JobUpdateStateMachine,
InstanceUpdater, OneWayJobUpdater, QueueStrategy / BatchStrategy / VariableBatchStrategy, UpdateFactory):

* `check_transition(from, to)` allows exactly Aurora's transitions, else UpdateStateError "Cannot transition
  update from X to Y". The `*_OF` maps say where pause, resume, block (no pulse) and unblock (pulse) lead.
* `InstanceUpdate.evaluate(task, now_ms)` decides one instance from its task (the active one, or the one a
  state change was about; None when there is none): kill a task of another config, add the desired task once
  the old one is gone, count a desired task that ended as a failure (more than `tolerated` failures: FAILED),
  SUCCEEDED once the desired task has been RUNNING for `min_running_ms` (watch_secs, from its RUNNING event).
* `OneWayUpdater.evaluate(changed, current, now_ms)` evaluates the instances a change was about, then, while
  the update is still working, starts the strategy's next group (its instances evaluated with `current(i)`),
  and rolls up: more than `max_failed` instances FAILED -> FAILED; none idle or working -> SUCCEEDED.
  With autopause, a group that completes is not followed by the next one: the result says `batch_done` and
  the controller pauses the update (a resumed update builds a new updater, which starts the next group).
  Rolling back never autopauses.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

from thermos_executor.aurora_api.gen.constants import ACTIVE_JOB_UPDATE_STATES
from thermos_executor.aurora_api.gen.ttypes import JobUpdateAction, JobUpdateStatus, ScheduleStatus

from .status import ACTIVE as ACTIVE_TASK, TERMINAL as TERMINAL_TASK

U = JobUpdateStatus
RF, RB = U.ROLLING_FORWARD, U.ROLLING_BACK
RFP, RBP = U.ROLL_FORWARD_PAUSED, U.ROLL_BACK_PAUSED
RFAP, RBAP = U.ROLL_FORWARD_AWAITING_PULSE, U.ROLL_BACK_AWAITING_PULSE

ACTIVE = frozenset(ACTIVE_JOB_UPDATE_STATES)
"""Updates that hold their job (rolling, paused, awaiting a pulse)."""
TERMINAL = frozenset(U._VALUES_TO_NAMES) - ACTIVE
"""JobUpdateStore.TERMINAL_STATES: every status but the active ones."""

_ALLOWED = {
    RF: {RB, RFP, RFAP, U.ROLLED_FORWARD, U.ABORTED, U.FAILED, U.ERROR},
    RB: {RBP, RBAP, U.ROLLED_BACK, U.ABORTED, U.ERROR, U.FAILED},
    RFP: {RB, RF, RFAP, U.ABORTED, U.ERROR},
    RBP: {RB, RBAP, U.ABORTED, U.ERROR},
    RFAP: {RB, RF, RFP, U.ABORTED, U.ERROR},
    RBAP: {RB, RBP, U.ABORTED, U.ERROR},
}

PAUSED_OF = {RF: RFP, RB: RBP, RFAP: RFP, RBAP: RBP, RFP: RFP, RBP: RBP}
"""pauseJobUpdate: where each active status goes (a paused one stays)."""
RESUMED_OF = {RFP: RF, RBP: RB, RF: RF, RB: RB, RFAP: RFAP, RBAP: RBAP}
"""resumeJobUpdate (a coordinated update without a recent pulse then goes to ROLL_*_AWAITING_PULSE)."""
BLOCKED_OF = {RF: RFAP, RB: RBAP, RFAP: RFAP, RBAP: RBAP}
"""A coordinated update without a recent pulse."""
UNBLOCKED_OF = {RFAP: RF, RBAP: RB, RF: RF, RB: RB, RFP: RFP, RBP: RBP}
"""pulseJobUpdate."""
ROLLBACK_OF = {RF: RB, RFP: RB, RFAP: RB}
"""rollbackJobUpdate."""


class UpdateStateError(Exception):
    """A refused update change (Aurora's UpdateStateException): answered INVALID_REQUEST with its text."""


def active_update(store, job):
    """The stored JobUpdateDetails of `job`'s (a JobKey) active update, or None."""
    for details in store.job_updates.values():
        summary = details.update.summary
        if summary.key.job == job and summary.state is not None and summary.state.status in ACTIVE:
            return details
    return None


def name(status: int | None) -> str:
    return U._VALUES_TO_NAMES.get(status, str(status)) if status is not None else "null"


def check_transition(current: int, target: int) -> None:
    if target not in _ALLOWED.get(current, ()):
        raise UpdateStateError(f"Cannot transition update from {name(current)} to {name(target)}")


def rolling(status: int) -> bool | None:
    """True rolling forward, False rolling back, None when the update is not moving (paused, blocked, ended)."""
    return {RF: True, RB: False}.get(status)


# -- one instance (InstanceUpdater) ---------------------------------------------------------------------------
class Action(Enum):
    """What an evaluation asks of the controller (Aurora's StateEvaluator.Result, by its action)."""
    NONE = "evaluate on state change"
    ADD = "replace task and evaluate on state change"
    KILL = "kill task and evaluate on state change"
    WATCH = "evaluate after min running ms"


class Progress(Enum):
    """An instance's part of an update (SideEffect.InstanceUpdateStatus)."""
    IDLE = "IDLE"
    WORKING = "WORKING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass
class Effect:
    """The outcome of evaluating one instance: an action, and the progress states entered meanwhile."""
    action: Action
    entered: tuple[Progress, ...] = ()

    @property
    def noop_success(self) -> bool:
        """Found already in the desired state at once (Aurora does not record such an instance's events)."""
        return self.entered == (Progress.WORKING, Progress.SUCCEEDED)


def _ever_killing(task) -> bool:
    return any(e.status == ScheduleStatus.KILLING for e in task.taskEvents or ())


def _permanently_killed(task) -> bool:
    return task.status != ScheduleStatus.KILLING and _ever_killing(task)


def _killable(status: int) -> bool:
    return status in ACTIVE_TASK and status != ScheduleStatus.KILLING


@dataclass
class InstanceUpdate:
    """One instance's evaluator (see the module docstring); `desired` None means the instance is removed."""
    desired: object | None
    tolerated: int
    min_running_ms: int
    failures: int = 0
    progress: Progress = Progress.IDLE

    def evaluate(self, task, now_ms: int) -> Effect:
        entered = []
        if self.progress == Progress.IDLE:
            self.progress = Progress.WORKING
            entered.append(Progress.WORKING)
        action, outcome = self._decide(task, now_ms)
        if outcome is not None:
            self.progress = outcome
            entered.append(outcome)
        return Effect(action, tuple(entered))

    def _decide(self, task, now_ms: int) -> tuple[Action, Progress | None]:
        present = task is not None and not _permanently_killed(task)
        if self.desired is not None and present:
            return self._changing(task, now_ms)
        if self.desired is not None:
            return Action.ADD, None                      # a new instance, or its old task is gone
        if present:                                      # the update removes this instance
            return (Action.KILL if _killable(task.status) else Action.NONE), None
        return Action.NONE, Progress.SUCCEEDED           # nothing wanted, nothing there

    def _changing(self, task, now_ms: int) -> tuple[Action, Progress | None]:
        status = task.status
        if task.assignedTask.task == self.desired:
            if status == ScheduleStatus.RUNNING:
                if now_ms - task.taskEvents[-1].timestamp >= self.min_running_ms:
                    return Action.NONE, Progress.SUCCEEDED
                return Action.WATCH, None
            if status in TERMINAL_TASK:
                self.failures += 1
                return Action.NONE, (Progress.FAILED if self.failures > self.tolerated else None)
            return Action.NONE, None                     # on its way (PENDING ... STARTING, restarting)
        if _killable(status):
            return Action.KILL, None
        if status in TERMINAL_TASK and _permanently_killed(task):
            return Action.ADD, None
        return Action.NONE, None


def instance_action(progress: Progress, forward: bool) -> int:
    """The JobInstanceUpdateEvent action recorded when an instance enters `progress`."""
    if forward:
        return {Progress.WORKING: JobUpdateAction.INSTANCE_UPDATING,
                Progress.SUCCEEDED: JobUpdateAction.INSTANCE_UPDATED,
                Progress.FAILED: JobUpdateAction.INSTANCE_UPDATE_FAILED}[progress]
    return {Progress.WORKING: JobUpdateAction.INSTANCE_ROLLING_BACK,
            Progress.SUCCEEDED: JobUpdateAction.INSTANCE_ROLLED_BACK,
            Progress.FAILED: JobUpdateAction.INSTANCE_ROLLBACK_FAILED}[progress]


# -- strategies ----------------------------------------------------------------------------------------------
@dataclass
class Strategy:
    """Which idle instances start next. `sizes`: one size (queue, batch) or Aurora's variable batch list,
    whose last size repeats; `batch`: a group waits for the previous one to finish."""
    sizes: tuple[int, ...]
    batch: bool
    forward: bool
    autopause: bool = False
    variable: bool = False
    _total: int | None = field(default=None, repr=False)

    def next_group(self, idle: set[int], working: set[int]) -> list[int]:
        if self._total is None:
            self._total = len(idle)        # the first call sees every instance the update changes
        candidates = sorted(idle, reverse=not self.forward)
        if self.batch and working:
            return []
        size = self._variable_size(len(idle)) if self.variable else self.sizes[0]
        return candidates[:max(0, size - len(working))]

    def _variable_size(self, remaining: int) -> int:
        """VariableBatchStrategy.determineCurGroupSize."""
        if self.forward:
            done, total = self._total - remaining, 0
            for size in self.sizes:
                total += size
                if total > done:
                    return size
            return self.sizes[-1]
        current = remaining   # rolling back: undo the groups rolled forward, newest (last) first
        for size in self.sizes:
            if current <= size:
                return current
            current -= size
        return current % self.sizes[-1] or self.sizes[-1]


def strategy_of(settings, forward: bool) -> Strategy:
    """The settings' strategy (updateStrategy, else the deprecated updateGroupSize/waitForBatchCompletion)."""
    chosen = settings.updateStrategy
    if chosen is not None and chosen.queueStrategy is not None:
        return Strategy((chosen.queueStrategy.groupSize,), batch=False, forward=forward)
    # Autopause is for checking a new version batch by batch: a rollback restores the known one without stopping.
    if chosen is not None and chosen.batchStrategy is not None:
        s = chosen.batchStrategy
        return Strategy((s.groupSize,), batch=True, forward=forward,
                        autopause=forward and bool(s.autopauseAfterBatch))
    if chosen is not None and chosen.varBatchStrategy is not None:
        s = chosen.varBatchStrategy
        return Strategy(tuple(s.groupSizes), batch=True, forward=forward,
                        autopause=forward and bool(s.autopauseAfterBatch), variable=True)
    return Strategy((settings.updateGroupSize,), batch=bool(settings.waitForBatchCompletion), forward=forward)


def group_sizes(settings) -> list[int]:
    """Every group size the settings name (each must be positive)."""
    chosen = settings.updateStrategy
    if chosen is not None and chosen.queueStrategy is not None:
        return [chosen.queueStrategy.groupSize]
    if chosen is not None and chosen.batchStrategy is not None:
        return [chosen.batchStrategy.groupSize]
    if chosen is not None and chosen.varBatchStrategy is not None:
        return list(chosen.varBatchStrategy.groupSizes or ())
    return [settings.updateGroupSize]


# -- the job (OneWayJobUpdater) ------------------------------------------------------------------------------
class JobProgress(Enum):
    WORKING = "WORKING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@dataclass
class Evaluation:
    status: JobProgress
    effects: dict[int, Effect]
    batch_done: bool = False    # autopause: a group completed and the next one was not started


class OneWayUpdater:
    """Updates a job's instances one way (forward, or back); see the module docstring."""

    def __init__(self, strategy: Strategy, max_failed: int, instances: Mapping[int, InstanceUpdate]):
        self.strategy = strategy
        self.max_failed = max_failed
        self.instances = dict(instances)

    def __contains__(self, instance_id: int) -> bool:
        return instance_id in self.instances

    def _with(self, progress: Progress) -> set[int]:
        return {i for i, u in self.instances.items() if u.progress == progress}

    def evaluate(self, changed: Iterable[tuple[int, object]], current: Callable[[int], object],
                 now_ms: int) -> Evaluation:
        effects: dict[int, Effect] = {}
        was_working = bool(self._with(Progress.WORKING))
        for instance_id, task in changed:
            update = self.instances.get(instance_id)
            if update is not None and update.progress == Progress.WORKING:
                effects[instance_id] = update.evaluate(task, now_ms)
        status = self.status()
        batch_done = False
        if status == JobProgress.WORKING:
            if self.strategy.autopause and was_working and not self._with(Progress.WORKING):
                batch_done = True
            else:
                self._start_next(current, now_ms, effects)
            status = self.status()
        return Evaluation(status, effects, batch_done and status == JobProgress.WORKING)

    def _start_next(self, current: Callable[[int], object], now_ms: int, effects: dict[int, Effect]) -> None:
        while True:
            idle, working = self._with(Progress.IDLE), self._with(Progress.WORKING)
            if not idle:
                return
            group = self.strategy.next_group(idle, working)
            acted = False
            for instance_id in group:
                effect = self.instances[instance_id].evaluate(current(instance_id), now_ms)
                effects[instance_id] = effect
                acted |= effect.action != Action.NONE
            # Nothing in flight and nothing to do for this group (already as desired): try the next one.
            if not group or self._with(Progress.WORKING) or acted:
                return

    def status(self) -> JobProgress:
        if len(self._with(Progress.FAILED)) > self.max_failed:
            return JobProgress.FAILED
        if not self._with(Progress.IDLE) and not self._with(Progress.WORKING):
            return JobProgress.SUCCEEDED
        return JobProgress.WORKING


def expand(ranges: Iterable) -> set[int]:
    """The instance ids of closed Ranges."""
    return {i for r in ranges or () for i in range(r.first, r.last + 1)}


def config_of(instance_id: int, groups: Iterable) -> object | None:
    """The TaskConfig an InstanceTaskConfig set gives `instance_id`, or None."""
    for group in groups or ():
        if any(r.first <= instance_id <= r.last for r in group.instances or ()):
            return group.task
    return None


def new_updater(instructions, forward: bool) -> OneWayUpdater:
    """UpdateFactory.newUpdate: forward, instances get the desired config (None where not desired); back,
    the config they started with (None for instances the update added: removed)."""
    settings = instructions.settings
    desired_ids = expand(instructions.desiredState.instances) if instructions.desiredState else set()
    if settings.updateOnlyTheseInstances:
        scope = expand(settings.updateOnlyTheseInstances)
    else:
        scope = {i for g in instructions.initialState or () for i in expand(g.instances)} | desired_ids
    instances = {}
    for i in scope:
        if forward:
            desired = instructions.desiredState.task if i in desired_ids else None
        else:
            desired = config_of(i, instructions.initialState)
        instances[i] = InstanceUpdate(desired, settings.maxPerInstanceFailures or 0,
                                      settings.minWaitInInstanceRunningMs or 0)
    return OneWayUpdater(strategy_of(settings, forward), settings.maxFailedInstances or 0, instances)
