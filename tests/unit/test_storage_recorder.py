"""TransactionRecorder: consecutive ops of a coalescing kind merge (last write per task id wins); others are
kept in order; the recorded ops have the same effect as the ops given."""
from thermos_executor.aurora_api.gen.ttypes import (AssignedTask, Attribute, HostAttributes, JobKey, MaintenanceMode,
                                      ScheduledTask, ScheduleStatus, TaskConfig)
from scheduler.storage.gen.ttypes import (Op, RemoveQuota, RemoveTasks, SaveFrameworkId, SaveHostAttributes,
                                          SaveTasks)
from scheduler.storage.recorder import TransactionRecorder
from scheduler.storage.store import Store

CONFIG = TaskConfig(job=JobKey(role="r", environment="prod", name="j"))


def _task(task_id: str, status=ScheduleStatus.PENDING) -> ScheduledTask:
    return ScheduledTask(assignedTask=AssignedTask(taskId=task_id, task=CONFIG, instanceId=0), status=status)


def _save(*tasks) -> Op:
    return Op(saveTasks=SaveTasks(tasks=list(tasks)))


def _remove(*ids) -> Op:
    return Op(removeTasks=RemoveTasks(taskIds=set(ids)))


def _record(*ops) -> list[Op]:
    recorder = TransactionRecorder()
    for op in ops:
        recorder.add(op)
    return recorder.ops


def _state(ops) -> tuple:
    store = Store()
    for op in ops:
        store.apply(op)
    return ({t.assignedTask.taskId: t.status for t in store.tasks}, store.framework_id, store.host_attributes)


def test_consecutive_save_tasks_merge_last_write_per_task_id_wins():
    ops = [_save(_task("a"), _task("b")), _save(_task("a", ScheduleStatus.ASSIGNED)), _save(_task("c"))]
    (merged,) = _record(*ops)
    assert {t.assignedTask.taskId: t.status for t in merged.saveTasks.tasks} == {
        "a": ScheduleStatus.ASSIGNED, "b": ScheduleStatus.PENDING, "c": ScheduleStatus.PENDING}
    assert _state([merged]) == _state(ops)


def test_consecutive_remove_tasks_merge():
    (merged,) = _record(_remove("a"), _remove("b", "c"))
    assert merged.removeTasks.taskIds == {"a", "b", "c"}


def test_different_kinds_do_not_merge_and_keep_their_order():
    ops = [_save(_task("a")), _remove("a"), _save(_task("a", ScheduleStatus.RUNNING))]
    recorded = _record(*ops)
    assert recorded == ops
    assert _state(recorded) == _state(ops) == ({"a": ScheduleStatus.RUNNING}, None, {})


def test_framework_ids_merge_to_the_last():
    (merged,) = _record(Op(saveFrameworkId=SaveFrameworkId(id="1")), Op(saveFrameworkId=SaveFrameworkId(id="2")))
    assert merged.saveFrameworkId.id == "2"


def test_host_attributes_merge_for_the_same_host_only():
    def attrs(host, rack, mode=None):
        return Op(saveHostAttributes=SaveHostAttributes(hostAttributes=HostAttributes(
            host=host, attributes={Attribute(name="rack", values={rack})}, mode=mode)))
    ops = [attrs("h1", "r1", MaintenanceMode.DRAINING), attrs("h1", "r2")]
    (merged,) = _record(*ops)
    assert merged.saveHostAttributes.hostAttributes.mode == MaintenanceMode.DRAINING
    assert _state([merged]) == _state(ops)
    assert len(_record(attrs("h1", "r1"), attrs("h2", "r1"))) == 2


def test_ops_given_are_not_changed_and_other_kinds_never_merge():
    first = _save(_task("a"))
    _record(first, _save(_task("b")))
    assert [t.assignedTask.taskId for t in first.saveTasks.tasks] == ["a"]
    quota_ops = [Op(removeQuota=RemoveQuota(role="r")), Op(removeQuota=RemoveQuota(role="r"))]
    assert _record(*quota_ops) == quota_ops
