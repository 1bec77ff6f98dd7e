"""Quotas through the Jobs API (a Thrift client in both protocols, in process, on a DurableStorage over the in-memory
log): createJob and addInstances refused over quota with nothing written, accepted at the exact boundary;
non-production, dedicated and revocable jobs not counted; setQuota's refusals; getQuota's four numbers."""
import pytest

from tests.unit.test_api_jobs import KEY, Env, _job, _ok, _refused
from tests.unit.test_api_jobs import protocol  # noqa: F401  (the fixture)
from thermos_executor.aurora_api.gen.ttypes import (Constraint, InstanceKey, JobKey, Resource, ResourceAggregate,
                                                    ResponseCode, TaskConstraint, ValueConstraint)

OK, INVALID, ERROR = ResponseCode.OK, ResponseCode.INVALID_REQUEST, ResponseCode.ERROR
# _job's task: 0.5 CPU, 128 MB RAM, 64 MB disk (and a port, which is not quota).
OVER_ONE = ("Insufficient resource quota: CPU quota exceeded by 0.50 core(s); RAM quota exceeded by 128.00 MB; "
            "disk quota exceeded by 64.00 MB")


def _quota(cpus, ram, disk) -> ResourceAggregate:
    return ResourceAggregate({Resource(numCpus=float(cpus)), Resource(ramMb=ram), Resource(diskMb=disk)})


@pytest.fixture
def env(protocol):  # noqa: F811
    env = Env(protocol)
    yield env
    env.close()


def _dedicated():
    return {Constraint(name="dedicated", constraint=TaskConstraint(value=ValueConstraint(negated=False,
                                                                                         values={"www/db"})))}


def test_create_job_is_refused_over_quota_and_writes_nothing(env):
    entries = len(env.log.entries)
    _refused(env.client.createJob(_job(production=True, instances=1)), INVALID, OVER_ONE)  # no quota: zero
    _refused(env.client.createJob(_job(tier="preferred", instances=1)), INVALID, OVER_ONE)  # the tier makes it prod
    assert env.tasks() == [] and len(env.log.entries) == entries
    _ok(env.client.setQuota("www", _quota(1.5, 384, 192)))
    _refused(env.client.createJob(_job(production=True, instances=4)), INVALID, OVER_ONE)
    assert env.tasks() == []
    _ok(env.client.createJob(_job(production=True, instances=3)))  # exactly the quota
    assert len(env.tasks(jobKeys={KEY})) == 3


def test_only_one_resource_over_is_named(env):
    _ok(env.client.setQuota("www", _quota(10, 10_000, 128)))
    _refused(env.client.createJob(_job(production=True, instances=3)), INVALID,
             "Insufficient resource quota: disk quota exceeded by 64.00 MB")


def test_non_production_dedicated_and_revocable_jobs_need_no_quota(env):
    _ok(env.client.createJob(_job(instances=5)))  # no tier, not production: the implicit non-prod tier
    _ok(env.client.createJob(_job(JobKey("www", "prod", "rev"), tier="revocable")))
    _ok(env.client.createJob(_job(JobKey("www", "prod", "db"), production=True, constraints=_dedicated())))
    assert len(env.tasks()) == 11
    result = _ok(env.client.getQuota("www")).getQuotaResult
    assert result.quota == _quota(0, 0, 0)
    assert result.prodSharedConsumption == _quota(0, 0, 0)
    assert result.nonProdSharedConsumption == _quota(4.0, 1024, 512)
    assert result.prodDedicatedConsumption == _quota(1.5, 384, 192)
    assert result.nonProdDedicatedConsumption == _quota(0, 0, 0)


def test_add_instances_checks_quota_at_the_boundary(env):
    _ok(env.client.setQuota("www", _quota(2.0, 512, 256)))
    _ok(env.client.createJob(_job(production=True, instances=2)))
    entries = len(env.log.entries)
    _refused(env.client.addInstances(InstanceKey(KEY, 0), 3), INVALID, OVER_ONE)
    assert len(env.tasks(jobKeys={KEY})) == 2 and len(env.log.entries) == entries
    _ok(env.client.addInstances(InstanceKey(KEY, 0), 2))
    assert len(env.tasks(jobKeys={KEY})) == 4
    # Another role's quota is its own.
    _refused(env.client.createJob(_job(JobKey("ads", "prod", "x"), production=True, instances=1)), INVALID, OVER_ONE)


def test_ended_tasks_free_their_quota(env):
    _ok(env.client.setQuota("www", _quota(0.5, 128, 64)))
    _ok(env.client.createJob(_job(production=True, instances=1)))
    _refused(env.client.createJob(_job(JobKey("www", "prod", "two"), production=True, instances=1)), INVALID,
             OVER_ONE)
    _ok(env.client.killTasks(KEY, None, None))  # a PENDING task is deleted when killed
    _ok(env.client.createJob(_job(JobKey("www", "prod", "two"), production=True, instances=1)))


def test_set_quota_refusals(env):
    _ok(env.client.setQuota("www", _quota(2.0, 512, 256)))
    _ok(env.client.createJob(_job(production=True, instances=2)))
    low = _quota(0.5, 512, 256)
    _refused(env.client.setQuota("www", low), INVALID,
             "Quota: ResourceAggregate(resources:[<Resource numCpus:0.5>, <Resource ramMb:512>, "
             "<Resource diskMb:256>]) is less then current prod reservation: "
             "ResourceBag{resourceVectors={CPUS=1.0, RAM_MB=256.0, DISK_MB=128.0}}")
    negative = _quota(1, -1, 0)
    _refused(env.client.setQuota("www", negative), INVALID,
             "Negative values in: ResourceAggregate(resources:[<Resource numCpus:1.0>, <Resource ramMb:-1>, "
             "<Resource diskMb:0>])")
    _refused(env.client.setQuota("www", ResourceAggregate({Resource(numCpus=1.0)})), ERROR,
             "Quota resources must be exactly: [CPUS, RAM_MB, DISK_MB]")
    _refused(env.client.setQuota("", _quota(1, 1, 1)), ERROR, "ownerRole must not be blank")
    assert _ok(env.client.getQuota("www")).getQuotaResult.quota == _quota(2.0, 512, 256)  # unchanged
    _ok(env.client.setQuota("www", _quota(1.0, 256, 128)))  # exactly the current use
    assert _ok(env.client.getQuota("www")).getQuotaResult.quota == _quota(1.0, 256, 128)


def test_a_quota_for_a_role_no_job_could_name_is_refused_and_nothing_stored(env):
    entries = len(env.log.entries)
    _refused(env.client.setQuota("www data", _quota(1, 1, 1)), INVALID, "Role contains illegal characters: www data")
    _refused(env.client.setQuota("r/x", _quota(1, 1, 1)), INVALID, "Role contains illegal characters: r/x")
    assert len(env.log.entries) == entries
