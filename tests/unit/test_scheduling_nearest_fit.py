"""NearestFit: the lowest-scoring veto set per task group, Aurora's 10-minute expiry, pending reason text."""
from scheduler.scheduling.groups import TaskGroupKey
from scheduler.scheduling.nearest_fit import NearestFit
from scheduler.scheduling.resources import ResourceType
from scheduler.scheduling.veto import Veto
from tests.scheduling_helpers import config

CPU = Veto.insufficient(ResourceType.CPUS, 1)          # 62
RAM = Veto.insufficient(ResourceType.RAM_MB, 1024)     # 41
RACK = Veto.constraint_mismatch("rack")                # 10,000
DEDICATED = Veto.dedicated()
KEY = TaskGroupKey(config())


def test_the_lowest_total_score_wins():
    fits = NearestFit()
    assert fits.pending_reason(KEY, 0.0) == "" and fits.nearest_fit(KEY, 0.0) == ()
    fits.vetoed(KEY, [DEDICATED], 0.0)
    assert fits.pending_reason(KEY, 1.0) == "Host is dedicated"
    fits.vetoed(KEY, [RACK], 1.0)
    assert fits.pending_reason(KEY, 1.0) == "Constraint not satisfied: rack"
    fits.vetoed(KEY, [CPU, RAM], 2.0)       # 103: several weak vetoes still beat one stronger
    assert fits.pending_reason(KEY, 2.0) == "Insufficient: CPU,Insufficient: RAM"
    fits.vetoed(KEY, [RACK], 3.0)
    fits.vetoed(KEY, [CPU, RAM], 3.0)        # equal: kept as is
    assert fits.nearest_fit(KEY, 3.0) == (CPU, RAM)
    fits.vetoed(KEY, [RAM], 4.0)
    assert fits.pending_reason(KEY, 4.0) == "Insufficient: RAM"
    fits.vetoed(KEY, [], 5.0)                # no veto: nothing to record
    assert fits.pending_reason(KEY, 5.0) == "Insufficient: RAM"


def test_an_entry_lives_ten_minutes_from_its_first_veto():
    fits = NearestFit()
    fits.vetoed(KEY, [RACK], 100.0)
    fits.vetoed(KEY, [CPU], 500.0)           # an update in place does not restart the clock (Guava)
    assert fits.pending_reason(KEY, 699.0) == "Insufficient: CPU"
    assert fits.pending_reason(KEY, 700.0) == ""
    fits.vetoed(KEY, [RACK], 701.0)          # afresh: the old lower score is gone
    assert fits.pending_reason(KEY, 701.0) == "Constraint not satisfied: rack"
    fits.vetoed(KEY, [DEDICATED], 1301.0)
    assert fits.pending_reason(KEY, 1301.0) == "Host is dedicated"


def test_groups_are_forgotten_when_placed_or_deleted_and_expire():
    fits = NearestFit(expiration_s=60)
    other = TaskGroupKey(config(cpus=2))
    fits.vetoed(KEY, [RACK], 0.0)
    fits.vetoed(other, [CPU], 30.0)
    fits.task_left_pending(KEY)
    assert fits.pending_reason(KEY, 31.0) == "" and len(fits) == 1
    fits.vetoed(KEY, [RACK], 31.0)
    fits.tasks_deleted([KEY, KEY])
    assert len(fits) == 1
    fits.vetoed(KEY, [RACK], 40.0)
    fits.expire(95.0)
    assert len(fits) == 1 and fits.pending_reason(KEY, 95.0) == "Constraint not satisfied: rack"
    fits.expire(100.0)
    assert len(fits) == 0


def test_group_keys_are_equal_for_equal_configs():
    assert TaskGroupKey(config()) == KEY and hash(TaskGroupKey(config())) == hash(KEY)
    assert TaskGroupKey(config(cpus=2)) != KEY and KEY != config()
    assert str(KEY) == "www-data/prod/web" and repr(KEY) == "TaskGroupKey(www-data/prod/web)"
    fits = NearestFit()
    fits.vetoed(TaskGroupKey(config()), [RACK], 0.0)
    assert fits.pending_reason(KEY, 0.0) == "Constraint not satisfied: rack"
