"""The API calls the framework answers: the admin reconciliation calls (ReconciliationApi: batch size checks,
settings missing, not registered, OK) and getPendingReason (SchedulerApi: statuses or slaveHosts refused with
Aurora's text, reasons for PENDING tasks only, from the placement's pending_reason)."""
import asyncio

import pytest

from scheduler.api.handlers import SchedulerApi
from scheduler.api.reconciliation import BATCH_SIZE_MESSAGE, ReconciliationApi
from scheduler.api.settings import ApiSettings
from tests.unit.framework_helpers import World, _config
from tests.unit.test_state_manager import JOB
from thermos_executor.aurora_api.gen.ttypes import ExplicitReconciliationSettings, JobKey, ResponseCode, TaskQuery

SETTINGS = ApiSettings(cluster_name="devcluster", stats_url_prefix="http://stats/")


class FakeReconciler:
    def __init__(self):
        self.calls = []

    def trigger_explicit(self, batch_size):
        self.calls.append(("explicit", batch_size))

    def trigger_implicit(self):
        self.calls.append(("implicit",))


def _messages(response):
    return [d.message for d in response.details]


@pytest.mark.parametrize("batch_size", [0, -1, -1000])
def test_explicit_batch_size_must_be_positive(batch_size):
    reconciler = FakeReconciler()
    api = ReconciliationApi(lambda: reconciler, SETTINGS)
    response = asyncio.run(api.triggerExplicitTaskReconciliation(ExplicitReconciliationSettings(batchSize=batch_size)))
    assert response.responseCode == ResponseCode.INVALID_REQUEST
    assert _messages(response) == [BATCH_SIZE_MESSAGE] == ["Batch size must be greater than zero."]
    assert reconciler.calls == [] and response.serverInfo.clusterName == "devcluster"


def test_explicit_without_settings_is_an_error_of_one_line():
    reconciler = FakeReconciler()
    response = asyncio.run(ReconciliationApi(lambda: reconciler, SETTINGS).triggerExplicitTaskReconciliation(None))
    assert response.responseCode == ResponseCode.ERROR
    (message,) = _messages(response)
    assert message and "\n" not in message and reconciler.calls == []


def test_not_registered_is_transient():
    api = ReconciliationApi(lambda: None, SETTINGS)
    for response in (asyncio.run(api.triggerExplicitTaskReconciliation(ExplicitReconciliationSettings())),
                     asyncio.run(api.triggerImplicitTaskReconciliation())):
        assert response.responseCode == ResponseCode.ERROR_TRANSIENT
        assert _messages(response) == ["Not registered with Mesos yet"]


def test_ok_triggers_the_reconciler():
    reconciler = FakeReconciler()
    api = ReconciliationApi(lambda: reconciler, SETTINGS)
    for settings in (ExplicitReconciliationSettings(batchSize=7), ExplicitReconciliationSettings()):
        response = asyncio.run(api.triggerExplicitTaskReconciliation(settings))
        assert response.responseCode == ResponseCode.OK and response.result is None
    assert asyncio.run(api.triggerImplicitTaskReconciliation()).responseCode == ResponseCode.OK
    assert reconciler.calls == [("explicit", 7), ("explicit", None), ("implicit",)]


# -- getPendingReason ---------------------------------------------------------------------------------------------
OTHER = JobKey(role="www", environment="prod", name="other")


async def _api():
    w = await World().start()
    ids = await w.insert(instances=range(3))
    other = await w.insert(_config(job=OTHER), [0])
    await w.assign(ids[0])
    asked = []

    def pending_reason(config):
        asked.append(config.job)
        return "Insufficient: CPU" if config.job == JOB else "Limit not satisfied: host"
    return SchedulerApi(w.storage, w.manager, SETTINGS, pending_reason=pending_reason), ids, other, asked


@pytest.mark.parametrize("query", [TaskQuery(statuses={0}), TaskQuery(slaveHosts={"host-1"}),
                                   TaskQuery(role="www", statuses=set()), TaskQuery(slaveHosts=set())])
def test_pending_reason_refuses_statuses_and_slave_hosts(query):
    async def scenario():
        api, _, _, asked = await _api()
        response = await api.getPendingReason(query=query)
        assert response.responseCode == ResponseCode.INVALID_REQUEST
        (message,) = _messages(response)
        assert message.startswith("Statuses or slaveHosts are not supported in TaskQuery(") and "\n" not in message
        assert asked == []
    asyncio.run(scenario())


def test_pending_reason_of_pending_tasks_only():
    async def scenario():
        api, ids, other, _ = await _api()
        response = await api.getPendingReason(query=TaskQuery(role="www"))
        assert response.responseCode == ResponseCode.OK
        reasons = {r.taskId: r.reason for r in response.result.getPendingReasonResult.reasons}
        assert reasons == {ids[1]: "Insufficient: CPU", ids[2]: "Insufficient: CPU",
                           other[0]: "Limit not satisfied: host"}          # ids[0] is ASSIGNED: no reason
        response = await api.getPendingReason(query=TaskQuery(jobKeys={OTHER}))
        assert {r.taskId for r in response.result.getPendingReasonResult.reasons} == set(other)
        response = await api.getPendingReason(query=TaskQuery(taskIds={ids[0]}))
        assert response.result.getPendingReasonResult.reasons == set()
    asyncio.run(scenario())


def test_pending_reason_without_a_query_is_an_error():
    async def scenario():
        api, _, _, _ = await _api()
        response = await api.getPendingReason(query=None)
        assert response.responseCode == ResponseCode.ERROR
    asyncio.run(scenario())
