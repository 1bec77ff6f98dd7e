"""The task's transitions (kill, lose, cleaning, finalization deadlines), decided without processes or clocks."""
import signal

from thermos_executor.config.spec import ProcessSpec
from thermos_executor.runner import transitions as t
from thermos_executor.runner.planner import TaskPlans
from thermos_executor.runner.state import RunnerState, TaskState

WAIT = 30.0            # finalization_wait


def plans(*names, final=(), max_failures=1):
    specs = [ProcessSpec(name=n, cmdline="true", min_duration=0) for n in names]
    specs += [ProcessSpec(name=n, cmdline="true", min_duration=0, final=True) for n in final]
    return TaskPlans(specs, max_failures=max_failures)


def state(*statuses):
    """A runner state from (state, timestamp[, target, deadline]) task statuses."""
    s = RunnerState()
    for status in statuses:
        record = {"state": status[0], "timestamp": status[1]}
        if len(status) > 2:
            record.update(target=status[2], deadline=status[3])
        s.apply({"task_status": record})
    return s


NOTHING_LIVE = t.Live()


def step(s, p, now, live=NOTHING_LIVE, killing_since=None):
    return t.step(s, p, live, now, WAIT, killing_since)


def test_active_launches_the_regular_plan_until_it_is_complete_then_cleans():
    p = plans("a")
    assert step(state(("ACTIVE", 0)), p, 1).actions == [t.Launch("regular")]
    p.regular.started("a")
    p.regular.succeeded("a", 2)
    decision = step(state(("ACTIVE", 0)), p, 3)
    assert decision.actions == [t.RecordStatus(TaskState.CLEANING), t.SignalLive(signal.SIGTERM, ("regular",))]
    assert decision.again


def test_an_unhealthy_task_cleans_before_its_plan_is_complete():
    p = plans("a", "b")
    p.regular.started("a")
    p.regular.failed_run("a", 1)            # max_failures=1 for the task: it can no longer succeed
    assert step(state(("ACTIVE", 0)), p, 2).actions[0] == t.RecordStatus(TaskState.CLEANING)


def test_cleaning_waits_for_live_runs_until_the_finalization_deadline_then_kills():
    s, p, live = state(("ACTIVE", 0), ("CLEANING", 10)), plans("a"), t.Live(regular=("a",))
    assert step(s, p, 39.9, live).actions == []
    assert t.wake_at(s, p, 20, WAIT, None) == 40            # the deadline counts from leaving ACTIVE
    killing = step(s, p, 40, live)
    assert killing.actions == [t.StartKilling(), t.SignalLive(signal.SIGKILL, t.BOTH)] and killing.again
    assert step(s, p, 40).actions == [t.RecordStatus(TaskState.FINALIZING)]


def test_the_deadline_survives_a_restart_because_it_is_recorded():
    # A runner restarted in FINALIZING long after cleaning began kills at once instead of waiting again.
    s, p = state(("ACTIVE", 0), ("CLEANING", 10), ("FINALIZING", 11), ("FINALIZING", 100)), plans("a", final=("f",))
    assert step(s, p, 100).actions[0] == t.StartKilling()


def test_finalizing_runs_the_final_plan_and_ends_when_it_is_done():
    s, p = state(("ACTIVE", 0), ("CLEANING", 1), ("FINALIZING", 2)), plans("a", final=("f",))
    assert step(s, p, 3).actions == [t.Launch("finalizing")]
    p.finalizing.started("f")
    p.finalizing.succeeded("f", 4)
    assert step(s, p, 5).actions[0] == t.StartKilling()


def test_killing_waits_for_exits_to_be_recorded_then_records_lost_for_the_silent():
    s, p = state(("ACTIVE", 0), ("CLEANING", 1), ("FINALIZING", 2)), plans("a", final=("f",))
    live = t.Live(regular=("a",), finalizing=("f",))
    assert step(s, p, 3, live, killing_since=2).actions == []
    assert t.wake_at(s, p, 3, WAIT, 2) == 2 + t.KILL_RECORD_WAIT
    assert step(s, p, 2 + t.KILL_RECORD_WAIT, live, killing_since=2).actions == [
        t.RecordLost("a"), t.RecordLost("f"), t.Finish(TaskState.SUCCESS)]
    assert step(s, p, 3, killing_since=2).actions == [t.Finish(TaskState.SUCCESS)]   # all recorded: done


def test_failed_regular_plan_ends_failed_whatever_the_finalizers_did():
    s, p = state(("ACTIVE", 0), ("CLEANING", 1), ("FINALIZING", 2)), plans("a", final=("f",))
    p.regular.started("a")
    p.regular.failed_run("a", 1)
    assert step(s, p, 3, killing_since=3).actions == [t.Finish(TaskState.FAILED)]


def test_kill_of_an_active_task_cleans_with_the_grace_as_deadline():
    decision = t.on_stop(state(("ACTIVE", 0)), t.Stop(TaskState.KILLED, grace=7), now=100, finalization_wait=WAIT)
    assert decision.actions == [t.RecordStatus(TaskState.CLEANING, TaskState.KILLED, 107),
                                t.SignalLive(signal.SIGTERM, ("regular",))]


def test_kill_while_finalizing_keeps_the_state_and_sets_the_deadline():
    s = state(("ACTIVE", 0), ("CLEANING", 1), ("FINALIZING", 2))
    assert t.on_stop(s, t.Stop(TaskState.KILLED, 5), now=10, finalization_wait=WAIT).actions == [
        t.RecordStatus(TaskState.FINALIZING, TaskState.KILLED, 15)]
    assert t.deadline(state(("ACTIVE", 0), ("CLEANING", 1), ("CLEANING", 10, "KILLED", 15)), 10, WAIT) == 15


def test_a_later_kill_never_extends_the_deadline_and_a_lose_is_never_softened():
    killed = state(("ACTIVE", 0), ("CLEANING", 10, "KILLED", 20))
    assert t.on_stop(killed, t.Stop(TaskState.KILLED, 60), now=12, finalization_wait=WAIT).actions[0].deadline == 20
    assert t.on_stop(killed, t.Stop(TaskState.KILLED, 1), now=12, finalization_wait=WAIT).actions[0].deadline == 13
    lost = state(("ACTIVE", 0), ("CLEANING", 10, "LOST", 10))
    assert t.on_stop(lost, t.Stop(TaskState.KILLED, 60), now=12, finalization_wait=WAIT).actions[0] == t.RecordStatus(
        TaskState.CLEANING, TaskState.LOST, 10)


def test_a_lose_has_no_grace_and_its_target_is_the_end():
    decision = t.on_stop(state(("ACTIVE", 0)), t.Stop(TaskState.LOST, grace=60), now=50, finalization_wait=WAIT)
    assert decision.actions[0] == t.RecordStatus(TaskState.CLEANING, TaskState.LOST, 50)
    s = state(("ACTIVE", 0), ("CLEANING", 50, "LOST", 50))
    assert step(s, plans("a"), 50, t.Live(regular=("a",))).actions[0] == t.StartKilling()
    assert step(s, plans("a"), 51, killing_since=50).actions == [t.Finish(TaskState.LOST)]


def test_terminal_tasks_decide_nothing_and_wait_for_nothing():
    s = state(("ACTIVE", 0), ("SUCCESS", 5))
    assert step(s, plans("a"), 6).actions == [] and t.wake_at(s, plans("a"), 6, WAIT, None) is None


def test_a_run_that_starts_while_cleaning_gets_its_own_sigterm():
    # Launched just before a kill: the cleaning's SIGTERM found no process of it, so it would run to the deadline.
    p = plans("a", final=("f",))
    cleaning = state(("ACTIVE", 0), ("CLEANING", 1, "KILLED", 61))
    assert t.on_running(cleaning, p, "a", None) == [t.SignalRun(signal.SIGTERM, "a")]
    assert t.on_running(cleaning, p, "f", None) == []                       # final processes are not cleaned
    assert t.on_running(state(("ACTIVE", 0)), p, "a", None) == []
    assert t.on_running(state(("ACTIVE", 0), ("CLEANING", 1), ("FINALIZING", 2)), p, "f", None) == []


def test_a_run_that_starts_while_killing_gets_sigkill_whatever_its_plan():
    # A lose (or a kill past its deadline) SIGKILLed everything live before this run had a process.
    p, finalizing = plans("a", final=("f",)), state(("ACTIVE", 0), ("CLEANING", 1), ("FINALIZING", 2))
    assert t.on_running(finalizing, p, "f", killing_since=3) == [t.SignalRun(signal.SIGKILL, "f")]
    assert t.on_running(state(("ACTIVE", 0), ("CLEANING", 1, "LOST", 1)), p, "a", 1) == [
        t.SignalRun(signal.SIGKILL, "a")]


def test_a_kill_never_extends_the_finalization_deadline():
    cleaning = state(("ACTIVE", 0), ("CLEANING", 10))                 # finalization deadline: 10 + 30
    assert t.on_stop(cleaning, t.Stop(TaskState.KILLED, 60), now=20, finalization_wait=WAIT).actions == [
        t.RecordStatus(TaskState.CLEANING, TaskState.KILLED, 40)]
    assert t.on_stop(cleaning, t.Stop(TaskState.KILLED, 5), now=20, finalization_wait=WAIT).actions[0].deadline == 25


def test_requests_pending_together_merge_a_lose_wins_and_the_shorter_grace_holds():
    lose, kill = t.Stop(TaskState.LOST, 60), t.Stop(TaskState.KILLED, 5)
    assert lose.merge(kill) == kill.merge(lose) == t.Stop(TaskState.LOST, 5)
    assert kill.merge(t.Stop(TaskState.KILLED, 9)) == kill
