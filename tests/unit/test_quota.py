"""The quota rules of scheduler/api/quota.py on a store written through DurableStorage over the in-memory log:
what consumes quota (prod shared only), cron templates and active updates in the consumption, each check at its
exact boundary, Aurora's texts (resource names, units, two decimals, "; "), setQuota's own refusals."""
import asyncio

import pytest

from scheduler.api import quota
from scheduler.api.quota import Bag
from scheduler.state.status import ScheduleStatus as S
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from thermos_executor.aurora_api.gen.ttypes import (
    AssignedTask, Constraint, InstanceTaskConfig, JobConfiguration, JobKey, JobUpdate, JobUpdateInstructions,
    JobUpdateKey, JobUpdateState, JobUpdateStatus, JobUpdateSummary, Range, Resource, ResourceAggregate,
    ScheduledTask, TaskConfig, TaskConstraint, ValueConstraint)

ROLE = "www"


def config(name="hello", *, prod=True, cpus=1.0, ram=128, disk=64, dedicated=False, role=ROLE) -> TaskConfig:
    constraints = {Constraint(name="dedicated", constraint=TaskConstraint(value=ValueConstraint(
        negated=False, values={f"{role}/hosts"})))} if dedicated else set()
    return TaskConfig(job=JobKey(role, "prod", name), production=prod, constraints=constraints,
                      tier="preferred" if prod else "preemptible",
                      resources={Resource(numCpus=cpus), Resource(ramMb=ram), Resource(diskMb=disk),
                                 Resource(namedPort="http")})


def task(cfg: TaskConfig, instance: int, status=S.RUNNING) -> ScheduledTask:
    job = cfg.job
    return ScheduledTask(assignedTask=AssignedTask(taskId=f"{job.role}-{job.name}-{instance}-{status}", task=cfg,
                                                   instanceId=instance),
                         status=status, taskEvents=[])


def aggregate(cpus, ram, disk) -> ResourceAggregate:
    return ResourceAggregate({Resource(numCpus=float(cpus)), Resource(ramMb=ram), Resource(diskMb=disk)})


def update(cfg_from, cfg_to, initial, desired, status=JobUpdateStatus.ROLLING_FORWARD, uid="u1") -> JobUpdate:
    """An update of cfg_to's job: `initial`/`desired` are instance ranges ((first, last), ...)."""
    ranges = lambda pairs: {Range(first=a, last=b) for a, b in pairs}  # noqa: E731
    instructions = JobUpdateInstructions(
        initialState={InstanceTaskConfig(task=cfg_from, instances=ranges(initial))} if initial else set(),
        desiredState=InstanceTaskConfig(task=cfg_to, instances=ranges(desired)) if desired else None)
    summary = JobUpdateSummary(key=JobUpdateKey(job=cfg_to.job, id=uid), user="alice",
                               state=JobUpdateState(status=status, createdTimestampMs=1, lastModifiedTimestampMs=1))
    return JobUpdate(summary=summary, instructions=instructions)


def store_with(*, tasks=(), quota_of=None, crons=(), updates=()):
    """A READY DurableStorage's store holding these, written as one transaction."""
    async def main():
        storage = DurableStorage(MemoryLog())
        await storage.prepare()
        await storage.start()
        async with storage.write() as w:
            if tasks:
                w.save_tasks(list(tasks))
            if quota_of is not None:
                w.save_quota(ROLE, quota_of)
            for job in crons:
                w.save_cron_job(job)
            for job_update in updates:
                w.save_job_update(job_update)
        return storage.store
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


# ------------------------------------------------------------------ the bag and the comparison

def test_greater_or_equal_names_each_exceeded_resource_in_aurora_s_words():
    assert quota.greater_or_equal(Bag(2.0, 256, 128), Bag(2.0, 256, 128)) == quota.SUFFICIENT
    check = quota.greater_or_equal(Bag(1.0, 256, 64), Bag(2.0, 384, 128))
    assert not check.sufficient
    assert check.message == ("Insufficient resource quota: CPU quota exceeded by 1.00 core(s); "
                             "RAM quota exceeded by 128.00 MB; disk quota exceeded by 64.00 MB")
    # Java's %.2f: half-up on the shortest decimal form of the double
    assert quota.greater_or_equal(Bag(1.0, 256, 64), Bag(1.125, 0, 64)).details == "CPU quota exceeded by 0.13 core(s)"
    assert quota.greater_or_equal(Bag(1.0, 0, 0), Bag(1.004, 0, 0)).details == "CPU quota exceeded by 0.00 core(s)"
    assert quota.greater_or_equal(Bag(0, 0, 10), Bag(0, 0, 11)).details == "disk quota exceeded by 1.00 MB"


def test_bag_arithmetic_and_aggregate():
    a, b = Bag(1.0, 100, 10), Bag(0.5, 200, 5)
    assert (a + b, a - b, a.max(b), a.scale(3)) == (Bag(1.5, 300, 15), Bag(0.5, -100, 5), Bag(1.0, 200, 10),
                                                   Bag(3.0, 300, 30))
    assert Bag.of([config(cpus=0.5), config(cpus=0.25)]) == Bag(0.75, 256, 128)  # ports are not quota
    assert Bag.of([aggregate(2, 1024, 2048)]) == Bag(2.0, 1024, 2048)
    assert Bag(1.5, 384, 192).aggregate() == aggregate(1.5, 384, 192)


def test_bag_prints_as_aurora_s_resource_bag():
    assert str(Bag(1.0, 128, 64)) == "ResourceBag{resourceVectors={CPUS=1.0, RAM_MB=128.0, DISK_MB=64.0}}"
    assert str(Bag(0.0005, 10_485_760, 0)) == (
        "ResourceBag{resourceVectors={CPUS=5.0E-4, RAM_MB=1.048576E7, DISK_MB=0.0}}")


# ------------------------------------------------------------------ consumption

def test_only_production_shared_tasks_consume_quota():
    prod, nonprod = config("p", cpus=1.0), config("n", prod=False, cpus=0.5)
    prod_dedicated, nonprod_dedicated = config("pd", dedicated=True, cpus=2.0), config("nd", prod=False,
                                                                                      dedicated=True, cpus=4.0)
    store = store_with(tasks=[task(prod, 0), task(prod, 1, S.PENDING), task(prod, 2, S.FINISHED),
                              task(nonprod, 0), task(prod_dedicated, 0), task(nonprod_dedicated, 0),
                              task(config("other", role="ads", cpus=8.0), 0)],
                       quota_of=aggregate(10, 1024, 1024))
    info = quota.role_info(store, ROLE)
    assert info.quota == Bag(10.0, 1024, 1024)
    assert info.prod_shared == Bag(2.0, 256, 128)  # the FINISHED task and the other role's task do not count
    assert info.non_prod_shared == Bag(0.5, 128, 64)
    assert info.prod_dedicated == Bag(2.0, 128, 64)
    assert info.non_prod_dedicated == Bag(4.0, 128, 64)
    assert quota.role_info(store_with(), ROLE) == quota.QuotaInfo(*[quota.EMPTY] * 5)


def test_a_cron_template_counts_the_larger_of_template_and_running_tasks():
    small, big = config("c", cpus=1.0), config("c", cpus=3.0)
    template = JobConfiguration(key=small.job, taskConfig=small, instanceCount=2, cronSchedule="* * * * *")
    assert quota.role_info(store_with(crons=[template]), ROLE).prod_shared == Bag(2.0, 256, 128)
    # One running task of an older, bigger template: CPU from the task, RAM and disk from the template.
    store = store_with(crons=[template], tasks=[task(big, 0)])
    assert quota.role_info(store, ROLE).prod_shared == Bag(3.0, 256, 128)
    nonprod = JobConfiguration(key=small.job, taskConfig=config("c", prod=False), instanceCount=5,
                               cronSchedule="* * * * *")
    info = quota.role_info(store_with(crons=[nonprod]), ROLE)
    assert (info.prod_shared, info.non_prod_shared) == (quota.EMPTY, Bag(5.0, 640, 320))


def test_an_active_update_counts_the_worst_case_of_old_and_new_instances():
    old, new = config(cpus=1.0, ram=512), config(cpus=2.0, ram=128)
    tasks = [task(old, i) for i in range(4)]
    # Instances 0-2 are being replaced by the new config; instance 3 is outside the update.
    running = update(old, new, initial=[(0, 2)], desired=[(0, 2)])
    info = quota.role_info(store_with(tasks=tasks, updates=[running]), ROLE)
    assert info.prod_shared == Bag(1.0, 512, 64) + Bag(6.0, 1536, 192)
    finished = update(old, new, initial=[(0, 2)], desired=[(0, 2)], status=JobUpdateStatus.ROLLED_FORWARD)
    assert quota.role_info(store_with(tasks=tasks, updates=[finished]), ROLE).prod_shared == Bag(4.0, 2048, 256)
    # prod -> non-prod: only the initial (prod) state counts against prod.
    to_nonprod = update(old, config(prod=False, cpus=9.0), initial=[(0, 3)], desired=[(0, 3)])
    info = quota.role_info(store_with(tasks=tasks, updates=[to_nonprod]), ROLE)
    assert (info.prod_shared, info.non_prod_shared) == (Bag(4.0, 2048, 256), Bag(36.0, 512, 256))


# ------------------------------------------------------------------ the checks

def test_instance_addition_at_the_exact_boundary():
    cfg = config(cpus=0.5, ram=128, disk=64)
    store = store_with(tasks=[task(cfg, 0)], quota_of=aggregate(2, 512, 256))
    assert quota.check_instance_addition(store, cfg, 3) == quota.SUFFICIENT  # 4 x (0.5, 128, 64) == the quota
    check = quota.check_instance_addition(store, cfg, 4)
    assert check.message == ("Insufficient resource quota: CPU quota exceeded by 0.50 core(s); "
                             "RAM quota exceeded by 128.00 MB; disk quota exceeded by 64.00 MB")
    assert quota.check_instance_addition(store, cfg, 0) == quota.SUFFICIENT
    with pytest.raises(ValueError):
        quota.check_instance_addition(store, cfg, -1)


def test_non_production_and_dedicated_templates_are_not_checked():
    store = store_with()  # no quota at all
    assert quota.check_instance_addition(store, config(prod=False, cpus=100), 10) == quota.SUFFICIENT
    assert quota.check_instance_addition(store, config(dedicated=True, cpus=100), 10) == quota.SUFFICIENT
    assert quota.check_instance_addition(store, config(cpus=0.1), 1).details == "CPU quota exceeded by 0.10 core(s); " \
        "RAM quota exceeded by 128.00 MB; disk quota exceeded by 64.00 MB"


def test_job_update_check_mixes_in_the_requested_update():
    old, new = config(cpus=1.0), config(cpus=2.0)
    tasks = [task(old, i) for i in range(2)]
    store = store_with(tasks=tasks, quota_of=aggregate(4, 256, 128))
    assert quota.check_job_update(store, update(old, new, [(0, 1)], [(0, 1)])) == quota.SUFFICIENT  # 2 x 2.0
    check = quota.check_job_update(store, update(old, new, [(0, 1)], [(0, 2)]))  # adds a third, bigger instance
    assert check.details == "CPU quota exceeded by 2.00 core(s); RAM quota exceeded by 128.00 MB; " \
        "disk quota exceeded by 64.00 MB"
    assert quota.check_job_update(store, update(old, new, [(0, 1)], None)) == quota.SUFFICIENT  # only kills
    assert quota.check_job_update(store, update(old, config(prod=False, cpus=50), [(0, 1)], [(0, 9)])).sufficient


def test_cron_update_check_counts_the_delta_against_the_stored_template():
    cfg = config("c", cpus=1.0)
    old = JobConfiguration(key=cfg.job, taskConfig=cfg, instanceCount=2, cronSchedule="* * * * *")
    store = store_with(crons=[old], quota_of=aggregate(3, 384, 192))
    bigger = JobConfiguration(key=cfg.job, taskConfig=cfg, instanceCount=3, cronSchedule="* * * * *")
    assert quota.check_cron_update(store, bigger) == quota.SUFFICIENT  # 2 used + (3 - 2) == 3
    too_big = JobConfiguration(key=cfg.job, taskConfig=cfg, instanceCount=4, cronSchedule="* * * * *")
    assert quota.check_cron_update(store, too_big).details.startswith("CPU quota exceeded by 1.00 core(s)")
    nonprod = JobConfiguration(key=cfg.job, taskConfig=config("c", prod=False), instanceCount=99)
    assert quota.check_cron_update(store, nonprod) == quota.SUFFICIENT


def test_saved_quota_refusals():
    cfg = config(cpus=1.0, ram=128, disk=64)
    store = store_with(tasks=[task(cfg, 0), task(cfg, 1), task(config("n", prod=False, cpus=50), 0)])
    assert quota.saved_quota_error(ROLE, aggregate(2, 256, 128), store) is None  # exactly current prod use
    negative = aggregate(-1, 256, 128)
    assert quota.saved_quota_error(ROLE, negative, store) == (
        "Negative values in: ResourceAggregate(resources:[<Resource numCpus:-1.0>, <Resource ramMb:256>, "
        "<Resource diskMb:128>])")
    low = aggregate(2, 255, 128)
    assert quota.saved_quota_error(ROLE, low, store) == (
        "Quota: ResourceAggregate(resources:[<Resource numCpus:2.0>, <Resource ramMb:255>, <Resource diskMb:128>])"
        " is less then current prod reservation: "
        "ResourceBag{resourceVectors={CPUS=2.0, RAM_MB=256.0, DISK_MB=128.0}}")
    assert quota.saved_quota_error("ads", aggregate(0, 0, 0), store) is None  # another role uses nothing
