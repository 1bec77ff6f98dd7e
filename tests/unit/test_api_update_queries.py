"""The read side of job updates through a Thrift client built from our IDL (binary protocol, in process, on a
DurableStorage over the in-memory log): updates stored directly through the storage writer, then
getJobUpdateSummaries (every query field, newest change first, offset and limit), getJobUpdateDetails (by
query, by the deprecated key, unknown key) and getJobUpdateDiff (add, remove, update, unchanged, a scope,
and the bad inputs) with Aurora's messages and codes."""
import pytest

from scheduler.api.admin import Handlers
from scheduler.api.handlers import SchedulerApi
from scheduler.api.update_queries import UpdateQueriesApi
from tests.unit.test_api_jobs import ERROR, INVALID, OK, SETTINGS, TRANSIENT, Env, _job, _task
from thermos_executor.aurora_api.gen.ttypes import (
    ConfigGroup, JobInstanceUpdateEvent, JobKey, JobUpdate, JobUpdateAction, JobUpdateEvent, JobUpdateInstructions,
    JobUpdateKey, JobUpdateQuery, JobUpdateRequest, JobUpdateSettings, JobUpdateState, JobUpdateStatus,
    JobUpdateSummary, Range, Resource)

St = JobUpdateStatus
WWW = JobKey(role="www", environment="prod", name="hello")
WWW2 = JobKey(role="www", environment="prod", name="other")
ADS = JobKey(role="ads", environment="devel", name="hello")


class UpdateEnv(Env):
    """Env with the update queries served beside the job calls (as the daemon's Handlers)."""

    def __init__(self):
        super().__init__("binary")
        self.api = Handlers(SchedulerApi(self.storage, self.manager, SETTINGS),
                            UpdateQueriesApi(self.storage, SETTINGS))

    def write(self, body):
        async def write():
            async with self.storage.write() as w:
                body(w)
        self.run(write())

    def save(self, job, uid, status, created, user="alice", modified=None):
        """An update of `job` created at `created` (its first event) and now in `status` (a later event)."""
        key = JobUpdateKey(job=job, id=uid)
        instructions = JobUpdateInstructions(initialState=set(), settings=JobUpdateSettings())

        def body(w):
            w.save_job_update(JobUpdate(summary=JobUpdateSummary(key=key, user=user), instructions=instructions))
            w.save_job_update_event(key, JobUpdateEvent(status=St.ROLLING_FORWARD, timestampMs=created, user=user))
            if status != St.ROLLING_FORWARD or modified is not None:
                w.save_job_update_event(key, JobUpdateEvent(status=status, timestampMs=modified or created + 1))
        self.write(body)
        return key


@pytest.fixture
def env():
    e = UpdateEnv()
    yield e
    e.close()


def _ok(response):
    assert response.responseCode == OK, response
    return response.result


def _ids(summaries):
    return [s.key.id for s in summaries]


@pytest.fixture
def stored(env):
    env.save(WWW, "a", St.ROLLED_FORWARD, created=100)
    env.save(WWW, "b", St.ROLLING_FORWARD, created=300)
    env.save(WWW2, "c", St.ABORTED, created=200, user="bob")
    env.save(ADS, "d", St.ROLL_FORWARD_PAUSED, created=150, modified=400)
    return env


@pytest.mark.parametrize("query, ids", [
    (JobUpdateQuery(), ["d", "b", "c", "a"]),                       # latest change first: 400, 300, 201, 101
    (JobUpdateQuery(role="www"), ["b", "c", "a"]),
    (JobUpdateQuery(role=""), []),                                   # Aurora compares the role as given
    (JobUpdateQuery(jobKey=WWW), ["b", "a"]),
    (JobUpdateQuery(key=JobUpdateKey(job=WWW, id="a")), ["a"]),
    (JobUpdateQuery(key=JobUpdateKey(job=WWW2, id="a")), []),
    (JobUpdateQuery(user="bob"), ["c"]),
    (JobUpdateQuery(updateStatuses={St.ROLLING_FORWARD, St.ROLL_FORWARD_PAUSED}), ["d", "b"]),
    (JobUpdateQuery(updateStatuses=set()), ["d", "b", "c", "a"]),   # empty: any status
    (JobUpdateQuery(role="www", user="alice"), ["b", "a"]),
    (JobUpdateQuery(offset=1, limit=2), ["b", "c"]),
    (JobUpdateQuery(offset=3, limit=0), ["a"]),                     # no limit unless positive
    (JobUpdateQuery(offset=9), []),
    (JobUpdateQuery(limit=-1), ["d", "b", "c", "a"]),
])
def test_summaries_match_every_field_of_the_query(stored, query, ids):
    result = _ok(stored.client.getJobUpdateSummaries(query)).getJobUpdateSummariesResult
    assert _ids(result.updateSummaries) == ids


def test_summary_state_is_synthesized_from_the_events(stored):
    summary = _ok(stored.client.getJobUpdateSummaries(JobUpdateQuery(role="ads"))).getJobUpdateSummariesResult
    assert summary.updateSummaries[0].state == JobUpdateState(status=St.ROLL_FORWARD_PAUSED, createdTimestampMs=150,
                                                              lastModifiedTimestampMs=400)
    assert summary.updateSummaries[0].user == "alice"


def test_summaries_refuse_a_negative_offset_and_no_query(env):
    refused = env.client.getJobUpdateSummaries(JobUpdateQuery(offset=-1))
    assert refused.responseCode == ERROR and refused.details[0].message == "offset must not be negative: -1"
    assert env.client.getJobUpdateSummaries(None).responseCode == ERROR


def test_details_by_query_and_by_key(stored):
    key = JobUpdateKey(job=WWW, id="b")
    stored.write(lambda w: [w.save_job_instance_update_event(key, JobInstanceUpdateEvent(
        instanceId=i, timestampMs=at, action=JobUpdateAction.INSTANCE_UPDATING)) for i, at in ((1, 350), (0, 320))])

    found = _ok(stored.client.getJobUpdateDetails(None, JobUpdateQuery(jobKey=WWW))).getJobUpdateDetailsResult
    assert found.details is None and [d.update.summary.key.id for d in found.detailsList] == ["b", "a"]
    details = found.detailsList[0]
    assert [(e.instanceId, e.timestampMs) for e in details.instanceEvents] == [(0, 320), (1, 350)]  # time order
    assert [(e.status, e.timestampMs) for e in details.updateEvents] == [(St.ROLLING_FORWARD, 300)]
    assert details.update.summary.state.lastModifiedTimestampMs == 350

    response = stored.client.getJobUpdateDetails(key, None)
    assert response.responseCode == OK
    assert [d.message for d in response.details] == ["The key argument is deprecated, use the query argument instead"]
    assert response.result.getJobUpdateDetailsResult.details == details
    assert response.result.getJobUpdateDetailsResult.detailsList is None

    both = _ok(stored.client.getJobUpdateDetails(key, JobUpdateQuery(user="bob"))).getJobUpdateDetailsResult
    assert [d.update.summary.key.id for d in both.detailsList] == ["c"]  # the query wins


def test_details_of_an_unknown_update_and_of_nothing(stored):
    response = stored.client.getJobUpdateDetails(JobUpdateKey(job=WWW, id="nope"), None)
    assert response.responseCode == INVALID
    assert response.details[0].message == \
        "Invalid update: IJobUpdateKey{job=IJobKey{role=www, environment=prod, name=hello}, id=nope}"
    assert _ok(stored.client.getJobUpdateDetails(None, JobUpdateQuery(role="nobody"))
               ).getJobUpdateDetailsResult.detailsList == []
    response = stored.client.getJobUpdateDetails(None, None)
    assert response.responseCode == ERROR and response.details[0].message == "Either key or query must be set."


# -- getJobUpdateDiff -------------------------------------------------------------------------------------------
def _request(instances, scope=None, key=WWW, **fields):
    return JobUpdateRequest(taskConfig=_task(key, **fields), instanceCount=instances,
                            settings=JobUpdateSettings(updateOnlyTheseInstances=scope))


def _groups(groups):
    """{frozenset of (first, last)}: the instance ranges of each config group, configs compared apart."""
    return {frozenset((r.first, r.last) for r in g.instances) for g in groups}


@pytest.fixture
def running(env):
    _ok(env.client.createJob(_job(WWW, instances=3)))
    return env


def _stored_config(env):
    return env.tasks(role="www")[0].assignedTask.task


def test_diff_of_more_instances_of_a_new_config(running):
    old = _stored_config(running)
    diff = _ok(running.client.getJobUpdateDiff(_request(5, priority=5))).getJobUpdateDiffResult
    populated = _ok(running.client.populateJobConfig(_job(WWW, priority=5))).populateJobResult.taskConfig
    assert diff.add == {ConfigGroup(config=populated, instances={Range(3, 4)})}
    assert diff.update == {ConfigGroup(config=old, instances={Range(0, 2)})}   # the config they have now
    assert diff.remove == set() and diff.unchanged == set()


def test_diff_of_fewer_instances_of_the_same_config(running):
    diff = _ok(running.client.getJobUpdateDiff(_request(1))).getJobUpdateDiffResult
    old = _stored_config(running)
    assert diff.unchanged == {ConfigGroup(config=old, instances={Range(0, 0)})}
    assert diff.remove == {ConfigGroup(config=old, instances={Range(1, 2)})}
    assert diff.add == set() and diff.update == set()


def test_diff_limited_to_some_instances(running):
    diff = _ok(running.client.getJobUpdateDiff(_request(5, scope={Range(1, 1), Range(4, 6)}, priority=5))
               ).getJobUpdateDiffResult
    assert _groups(diff.update) == {frozenset({(1, 1)})}
    assert _groups(diff.add) == {frozenset({(4, 4)})}
    assert _groups(diff.unchanged) == {frozenset({(0, 0), (2, 2)})}   # out of scope: left alone
    assert diff.remove == set()


def test_diff_of_a_job_with_no_active_task_adds_everything(env):
    diff = _ok(env.client.getJobUpdateDiff(_request(2))).getJobUpdateDiffResult
    assert _groups(diff.add) == {frozenset({(0, 1)})}
    assert diff.remove == diff.update == diff.unchanged == set()
    assert _ok(env.client.getJobUpdateDiff(_request(0))).getJobUpdateDiffResult.add == set()


@pytest.mark.parametrize("request_, code, message", [
    (_request(2, scope={Range(3, 1)}), INVALID, "Invalid range: [3..1]"),
    (_request(2, scope={Range(0, 2), Range(2, 4)}), INVALID,
     "Overlapping ranges not permitted in ImmutableRangeSet: [0..2] overlaps with [2..4]"),
    (_request(-1), INVALID, "Invalid range: [0..-1)"),
    (_request(2, resources={Resource(numCpus=0.0), Resource(ramMb=128), Resource(diskMb=64)}), INVALID,
     "num_cpus must be greater than 0.0"),
    (_request(2, key=JobKey(role="www", environment="prod", name="bad name")), INVALID,
     "Job key IJobKey{role=www, environment=prod, name=bad name} is invalid."),
    (JobUpdateRequest(taskConfig=None, instanceCount=1, settings=JobUpdateSettings()), ERROR,
     "request.taskConfig must be set"),
    (JobUpdateRequest(taskConfig=_task(WWW), instanceCount=1), ERROR, "request.settings must be set"),
])
def test_diff_refusals(running, request_, code, message):
    response = running.client.getJobUpdateDiff(request_)
    assert (response.responseCode, [d.message for d in response.details]) == (code, [message])


def test_diff_of_a_cron_job_is_refused(env):
    job = _job(WWW, instances=1)
    job.cronSchedule = "* * * * *"
    env.write(lambda w: w.save_cron_job(job))
    response = env.client.getJobUpdateDiff(_request(1))
    assert response.responseCode == INVALID and response.details[0].message == "Cron jobs are not supported."


def test_reads_need_ready_storage():
    env = Env("binary", start=False)
    env.api = Handlers(UpdateQueriesApi(env.storage, SETTINGS))
    try:
        for response in (env.client.getJobUpdateSummaries(JobUpdateQuery()),
                         env.client.getJobUpdateDetails(None, JobUpdateQuery()),
                         env.client.getJobUpdateDiff(_request(1))):
            assert response.responseCode == TRANSIENT and response.details[0].message == "Storage is not READY"
    finally:
        env.close()
