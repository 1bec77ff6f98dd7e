"""The planner's rules (Aurora's), without processes or clocks."""
from thermos_executor.config.spec import ProcessSpec
from thermos_executor.runner.planner import Plan, TaskPlans


def P(name, **kw):
    kw.setdefault("min_duration", 0)
    return ProcessSpec(name=name, cmdline="true", **kw)


def test_order_gates_on_finished_predecessors_and_config_order_breaks_ties():
    plan = Plan([P("c"), P("a"), P("b")], [("a", "b")])
    assert plan.runnable(0) == ["c", "a"]
    plan.started("a")
    plan.failed_run("a", 1)              # max_failures=1: a failed for good, b can never run
    assert plan.runnable(1) == ["c"]
    plan.started("c")
    plan.succeeded("c", 2)
    assert plan.deadlocked and not plan.complete


def test_min_duration_backoff_from_stop_time():
    plan = Plan([P("a", max_failures=3, min_duration=5)])
    plan.started("a")
    plan.failed_run("a", 100.0)
    assert plan.runnable(103.0) == [] and plan.next_start(103.0) == 2.0
    assert plan.runnable(105.0) == ["a"]


def test_max_failures_zero_is_unlimited_and_lost_never_counts():
    plan = Plan([P("a", max_failures=0)])
    for t in range(50):
        plan.started("a")
        plan.failed_run("a", t)
    assert plan.runnable(100) == ["a"]
    plan2 = Plan([P("b", max_failures=1)])
    for t in range(5):
        plan2.started("b")
        plan2.lost("b", t)
    assert plan2.runnable(10) == ["b"] and not plan2.failed


def test_daemon_reruns_after_success_and_ephemeral_counts_as_done():
    plan = Plan([P("d", daemon=True), P("e", ephemeral=True, daemon=True), P("w")])
    plan.started("d")
    plan.succeeded("d", 1)
    assert "d" in plan.runnable(1)
    plan.started("w")
    plan.succeeded("w", 1)
    plan.started("d")
    assert not plan.complete            # a non-ephemeral daemon only leaves by failing
    plan.failed_run("d", 2)
    assert plan.complete                # e is ephemeral: done whatever its state


def test_exhausted_ephemeral_is_finished_not_failed():
    plan = Plan([P("e", ephemeral=True)])
    plan.started("e")
    plan.failed_run("e", 1)
    assert plan.finished == {"e"} and not plan.failed


def test_task_health_and_concurrency():
    plans = TaskPlans([P("a"), P("b"), P("c"), P("f", final=True)], max_failures=2, max_concurrency=2)
    assert plans.launchable(plans.regular, 0) == ["a", "b"]
    plans.regular.started("a")
    assert plans.launchable(plans.regular, 0) == ["b"]
    plans.regular.failed_run("a", 1)
    assert plans.healthy                 # 1 failed process < max_failures 2
    plans.regular.started("b")
    plans.regular.failed_run("b", 1)
    assert not plans.healthy
    assert list(plans.finalizing.processes) == ["f"] and plans.plan_of("f") is plans.finalizing


def test_constraints_spanning_plans_do_not_leak():
    plan = Plan([P("a"), P("b")], [("x", "y")])
    assert plan.deps == {"a": set(), "b": set()}
