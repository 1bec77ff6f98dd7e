"""Preemption victims (Aurora's PreemptionVictimFilterImpl): who may preempt whom (tier, then priority within a
role, never another role), largest victims first, no more than needed, the agent's unused offer counted, and
the filter's other vetoes (constraints, dedicated hosts, maintenance) that no victim can lift. And BiCache."""
from thermos_executor.aurora_api.gen.ttypes import AssignedTask, MaintenanceMode, ScheduledTask

from scheduler.scheduling.bicache import BiCache
from scheduler.scheduling.filter import ResourceRequest
from scheduler.scheduling.preemption import Host, Victim, find_victims, largest_first, may_preempt
from scheduler.scheduling.resources import ResourceBag, executor_overhead
from tests.scheduling_helpers import config, value

NO_OVERHEAD = ResourceBag()
HOST = Host(attributes={"rack": frozenset({"a"})})


def victim(task_id: str, cpus: float = 1.0, ram: float = 128, *, role: str = "www-data", priority: int = 0,
           preemptible: bool = True, disk: float = 64) -> Victim:
    return Victim(task_id, "agent-1", "host1", role, priority, preemptible, ResourceBag(cpus, ram, disk))


def request(cpus: float = 1.0, ram: int = 128, *, role: str = "www-data", priority: int = 0, constraints=(),
            overhead: ResourceBag = NO_OVERHEAD) -> ResourceRequest:
    c = config(cpus=cpus, ram_mb=ram, constraints=constraints, job=(role, "prod", "web"))
    c.priority = priority
    return ResourceRequest.of(c, overhead=overhead)


def ids(found):
    return None if found is None else [v.task_id for v in found]


def search(req, victims, *, preemptible=False, host=HOST):
    return ids(find_victims(req, preemptible=preemptible, victims=victims, host=host, now=0.0))


# -- who may preempt whom ----------------------------------------------------------------------------------

def test_a_production_task_preempts_a_preemptible_one_of_any_role_and_priority():
    assert may_preempt(False, "www-data", 0, victim("v", role="other", priority=100))
    assert search(request(), [victim("v", role="other", priority=100)]) == ["v"]


def test_a_production_task_never_preempts_another_roles_production_task():
    assert not may_preempt(False, "www-data", 10, victim("v", role="other", priority=0, preemptible=False))
    assert search(request(priority=10), [victim("v", role="other", preemptible=False)]) is None


def test_within_a_tier_and_a_role_only_a_higher_priority_preempts():
    for preemptible in (False, True):
        lower = victim("v", priority=1, preemptible=preemptible)
        assert may_preempt(preemptible, "www-data", 2, lower)
        assert not may_preempt(preemptible, "www-data", 1, lower)      # equal
        assert not may_preempt(preemptible, "www-data", 0, lower)      # lower
    assert search(request(priority=2), [victim("v", priority=1, preemptible=False)]) == ["v"]
    assert search(request(priority=1), [victim("v", priority=1, preemptible=False)]) is None


def test_another_role_is_never_preempted_within_a_tier_whatever_the_priority():
    assert not may_preempt(True, "www-data", 100, victim("v", role="other", priority=0))
    assert search(request(priority=100), [victim("v", role="other")], preemptible=True) is None


def test_a_preemptible_task_never_preempts_a_production_one():
    assert not may_preempt(True, "www-data", 100, victim("v", priority=0, preemptible=False))
    assert search(request(priority=100), [victim("v", preemptible=False)], preemptible=True) is None


# -- which victims -----------------------------------------------------------------------------------------

def test_victims_are_tried_largest_first_so_one_large_one_is_enough():
    victims = [victim("small", 0.5), victim("large", 2.0), victim("medium", 1.0)]
    assert [v.task_id for v in largest_first(victims)] == ["large", "medium", "small"]
    assert search(request(cpus=1.5), victims) == ["large"]


def test_largest_compares_cpus_then_ram_then_the_rest_and_ties_go_by_task_id():
    victims = [victim("b", 1.0, 64), victim("a", 1.0, 64), victim("c", 1.0, 256), victim("d", 0.5, 4096)]
    assert [v.task_id for v in largest_first(victims)] == ["c", "a", "b", "d"]


def test_victims_are_added_only_until_the_task_fits():
    victims = [victim(f"v{i}", 1.0) for i in range(4)]
    assert search(request(cpus=2.0), victims) == ["v0", "v1"]
    assert search(request(cpus=4.0), victims) == ["v0", "v1", "v2", "v3"]


def test_the_agents_unused_offer_counts_towards_the_room():
    host = Host(attributes={}, slack=ResourceBag(1.0, 128, 64))
    assert search(request(cpus=1.5, ram=128), [victim("a", 0.5), victim("b", 0.5)], host=host) == ["a"]
    assert search(request(cpus=1.0, ram=128), [victim("a", 0.5)], host=host) == ["a"]   # at least one victim


def test_not_enough_even_with_every_allowed_victim_is_none():
    assert search(request(cpus=3.0), [victim("a"), victim("b")]) is None
    # the other role's task would make room, but it is not a victim
    assert search(request(cpus=2.0), [victim("a"), victim("b", role="other", preemptible=False)]) is None


def test_no_victims_is_none():
    assert search(request(), []) is None
    assert search(request(), [], host=Host(attributes={}, slack=ResourceBag(8, 8192, 8192))) is None


def test_executor_overhead_is_counted_on_both_sides():
    overhead = executor_overhead(0.25, 128)
    task = ScheduledTask(assignedTask=AssignedTask(taskId="v", slaveId="agent-1", slaveHost="host1",
                                                   task=config(cpus=1.0, ram_mb=128, job=("r", "e", "n"))))
    freed = Victim.of(task, preemptible=True, overhead=overhead)
    assert (freed.resources.cpus, freed.resources.ram_mb, freed.role) == (1.25, 256, "r")
    # 1 cpu + 0.25 overhead needs exactly what the victim frees; 1.1 cpus does not fit
    assert search(request(cpus=1.0, overhead=overhead), [freed]) == ["v"]
    assert search(request(cpus=1.1, overhead=overhead), [freed]) is None


def test_a_revocable_victim_frees_no_cpu():
    task = ScheduledTask(assignedTask=AssignedTask(taskId="v", slaveId="a", slaveHost="h", task=config(cpus=2.0)))
    freed = Victim.of(task, preemptible=True, revocable=True)
    assert freed.resources.cpus == 0 and freed.resources.ram_mb == 128
    assert search(request(cpus=1.0), [freed]) is None


# -- vetoes no victim can lift -----------------------------------------------------------------------------

def test_a_constraint_the_host_fails_means_no_victims():
    victims = [victim("v", 4.0)]
    assert search(request(constraints=[value("rack", "a")]), victims) == ["v"]
    assert search(request(constraints=[value("rack", "b")]), victims) is None


def test_a_dedicated_host_takes_only_dedicated_tasks():
    dedicated = Host(attributes={"dedicated": frozenset({"www-data/web"})})
    assert search(request(), [victim("v")], host=dedicated) is None
    assert search(request(constraints=[value("dedicated", "www-data/web")]), [victim("v")], host=dedicated) == ["v"]


def test_a_host_in_maintenance_takes_nothing():
    for mode in (MaintenanceMode.DRAINING, MaintenanceMode.DRAINED):
        assert search(request(), [victim("v")], host=Host(attributes={}, mode=mode)) is None
    assert search(request(), [victim("v")], host=Host(attributes={}, mode=MaintenanceMode.SCHEDULED)) == ["v"]
    # Mesos says the agent goes away within -unavailability_threshold
    soon = Host(attributes={}, unavailability_start_s=60.0)
    assert find_victims(request(), preemptible=False, victims=[victim("v")], host=soon, now=0.0) is None


# -- BiCache -----------------------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_bicache_finds_by_value_and_expires_after_the_hold_time():
    clock = Clock()
    cache = BiCache(10.0, clock)
    cache.put("agent-1", "g1")
    clock.now = 4.0
    cache.put("agent-2", "g1")
    cache.put("agent-3", "g2")
    assert cache.keys_of("g1") == ["agent-1", "agent-2"] and cache.get("agent-3") == "g2" and len(cache) == 3
    clock.now = 10.0
    assert cache.keys_of("g1") == ["agent-2"] and cache.get("agent-1") is None
    clock.now = 14.0
    assert cache.as_map() == {} and len(cache) == 0


def test_bicache_remove_needs_the_value_and_a_re_put_restarts_the_time():
    clock = Clock()
    cache = BiCache(10.0, clock)
    cache.put("agent-1", "g1")
    cache.remove("agent-1", "g2")
    assert cache.get("agent-1") == "g1"
    clock.now = 8.0
    cache.put("agent-1", "g1")
    clock.now = 12.0
    assert cache.get("agent-1") == "g1"
    cache.remove("agent-1", "g1")
    assert cache.keys_of("g1") == []
