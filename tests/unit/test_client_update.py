"""`aurora update`'s pure parts: the status names spelled out for fast help, the list filter, the wait loop's
output and exit codes against a fake scheduler and clock, and the list/info renderings."""
import io
import json
from types import SimpleNamespace

import pytest

from scheduler.client import exits, render
from scheduler.client.context import Context
from scheduler.client.exits import CommandError
from scheduler.client.jobkeys import AuroraJobKey
from scheduler.client.update import (ACTIVE_NAMES, STATUS_GROUPS, STATUS_NAMES, UpdateFilter,
                                     rollback_state_to_err_code, update_filter, update_state_to_err_code,
                                     wait_for_update)
from thermos_executor.aurora_api.gen.constants import ACTIVE_JOB_UPDATE_STATES
from thermos_executor.aurora_api.gen.ttypes import (GetJobUpdateSummariesResult, JobKey, JobUpdate, JobUpdateAction,
                                                    JobUpdateDetails, JobUpdateEvent, JobUpdateInstructions,
                                                    JobUpdateKey, JobUpdateState, JobUpdateStatus,
                                                    JobUpdateSummary, JobInstanceUpdateEvent, Metadata, Response,
                                                    ResponseCode, Result)

U = JobUpdateStatus
KEY = AuroraJobKey("west", "www", "prod", "web")
UPDATE_KEY = JobUpdateKey(job=JobKey(role="www", environment="prod", name="web"), id="u-1")
T0 = 1_700_000_000_000            # 2023-11-14T22:13:20 UTC


def test_status_names_are_the_idls():
    assert STATUS_NAMES == tuple(U._VALUES_TO_NAMES[v] for v in sorted(U._VALUES_TO_NAMES))
    assert ACTIVE_NAMES == {U._VALUES_TO_NAMES[s] for s in ACTIVE_JOB_UPDATE_STATES}
    assert STATUS_GROUPS["inactive"] == {"ROLLED_FORWARD", "ROLLED_BACK", "ABORTED", "ERROR", "FAILED"}
    assert STATUS_GROUPS["ROLLED_BACK"] == {"ROLLED_BACK"}


def test_update_filter():
    assert update_filter("west") == UpdateFilter("west", None, None, None)
    assert update_filter("west/www/prod") == UpdateFilter("west", "www", "prod", None)
    for bad, message in (("", "Update filter must be non-empty"),
                         ("a/b/c/d/e", "Update filter must be a path of the form CLUSTER/ROLE/ENV/JOB.")):
        with pytest.raises(ValueError, match=message):
            update_filter(bad)


def test_exit_codes_of_terminal_statuses():
    assert [update_state_to_err_code(s) for s in (U.ROLLED_FORWARD, U.ROLLED_BACK, U.ABORTED, U.FAILED, U.ERROR)] \
        == [0, 4, 20, 20, 20]
    assert [rollback_state_to_err_code(s) for s in (U.ROLLED_BACK, U.ROLLED_FORWARD, U.ABORTED)] == [0, 4, 20]


class Clock:
    def __init__(self):
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)


class FakeApi:
    """Answers getJobUpdateSummaries with the next status of `statuses` (the last one repeats)."""

    def __init__(self, statuses):
        self.statuses = list(statuses)

    def getJobUpdateSummaries(self, query):
        assert query.key == UPDATE_KEY
        summaries = [] if not self.statuses else [summary(self.statuses[0])]
        if len(self.statuses) > 1:
            self.statuses.pop(0)
        return Response(responseCode=ResponseCode.OK,
                        result=Result(getJobUpdateSummariesResult=GetJobUpdateSummariesResult(summaries)))


def summary(status, metadata=None):
    return JobUpdateSummary(key=UPDATE_KEY, user="alice", metadata=metadata,
                            state=JobUpdateState(status=status, createdTimestampMs=T0,
                                                 lastModifiedTimestampMs=T0 + 61_500))


def context():
    out = io.StringIO()
    return Context(SimpleNamespace(), out=out, err=io.StringIO()), out


def test_wait_prints_each_change_and_ends_with_the_update():
    ctx, out = context()
    clock = Clock()
    api = FakeApi([U.ROLLING_FORWARD, U.ROLLING_FORWARD, U.ROLL_FORWARD_PAUSED, U.ROLLING_FORWARD, U.ROLLED_BACK])
    assert wait_for_update(ctx, api, UPDATE_KEY, update_state_to_err_code, clock) == exits.EXIT_COMMAND_FAILURE
    assert out.getvalue().splitlines() == ["Current state ROLLING_FORWARD", "Current state ROLL_FORWARD_PAUSED",
                                           "Current state ROLLING_FORWARD", "Current state ROLLED_BACK"]
    assert clock.slept == [0.5, 1.0, 2.0, 4.0]                  # backs off towards Aurora's 5 s


def test_wait_for_an_unknown_update():
    ctx, _ = context()
    with pytest.raises(CommandError) as e:
        wait_for_update(ctx, FakeApi([]), UPDATE_KEY, update_state_to_err_code, Clock())
    assert (e.value.code, e.value.message) == (exits.EXIT_INVALID_PARAMETER, "Job update not found.")


def test_list_table_and_json():
    table = render.updates_table("west", [summary(U.ROLLING_FORWARD)])
    header, row = table.splitlines()
    assert header.rstrip() == ("JOB" + " " * 45 + "UPDATE ID" + " " * 28 + "STATUS" + " " * 10 + "CREATED BY  "
                               + "STARTED             LAST MODIFIED")
    assert row.split() == ["west/www/prod/web", "u-1", "ROLLING_FORWARD", "alice", "2023-11-14T22:13:20",
                           "2023-11-14T22:14:21"]
    assert row.index("ROLLING_FORWARD") == header.index("STATUS")
    assert render.updates_json("west", [summary(U.ABORTED)]) == (
        '[\n  {\n    "job": "west/www/prod/web",\n    "id": "u-1",\n    "user": "alice",\n'
        '    "started": "2023-11-14T22:13:20",\n    "last_modified": "2023-11-14T22:14:21",\n'
        '    "status": "ABORTED"\n  }\n]')


def details():
    return JobUpdateDetails(
        update=JobUpdate(summary=summary(U.ROLLED_FORWARD, {Metadata("b", "2"), Metadata("a", "1")}),
                         instructions=JobUpdateInstructions()),
        updateEvents=[JobUpdateEvent(status=U.ROLLING_FORWARD, timestampMs=T0, message="deploy"),
                      JobUpdateEvent(status=U.ROLLED_FORWARD, timestampMs=T0 + 61_500)],
        instanceEvents=[JobInstanceUpdateEvent(instanceId=0, timestampMs=T0 + 1000,
                                               action=JobUpdateAction.INSTANCE_UPDATING)])


def test_info_text_and_json():
    lines = [" " * indent + line for indent, line in render.update_info_pretty(KEY, details())]
    assert lines == [
        "Job: west/www/prod/web, UpdateID: u-1",
        "Started 2023-11-14T22:13:20, last activity: 2023-11-14T22:14:21",
        "Current status: ROLLED_FORWARD",
        "Update events:",
        "  Status: ROLLING_FORWARD at 2023-11-14T22:13:20",
        "      message: deploy",
        "  Status: ROLLED_FORWARD at 2023-11-14T22:14:21",
        "Instance events:",
        "  Instance 0 at 2023-11-14T22:13:21: INSTANCE_UPDATING",
        "Metadata:",
        "  a: 1",
        "  b: 2"]
    info = json.loads(render.update_info_json(KEY, details()))
    assert info == {
        "updateId": "u-1", "job": "west/www/prod/web", "started": T0, "last_modified": "2023-11-14T22:14:21",
        "status": "ROLLED_FORWARD",
        "update_events": [{"status": "ROLLING_FORWARD", "timestampMs": T0, "message": "deploy"},
                          {"status": "ROLLED_FORWARD", "timestampMs": T0 + 61_500}],
        "instance_update_events": [{"instance": 0, "timestamp": T0 + 1000, "action": "INSTANCE_UPDATING"}],
        "metadata": [{"a": "1"}, {"b": "2"}]}


def test_a_retried_start_that_finds_its_own_update_is_a_success():
    from scheduler.client.update import CLIENT_UPDATE_ID, StartUpdate
    from thermos_executor.aurora_api.gen.ttypes import StartJobUpdateResult

    def refused(metadata):
        busy = summary(U.ROLLING_FORWARD, metadata)
        return Response(responseCode=ResponseCode.INVALID_REQUEST,
                        result=Result(startJobUpdateResult=StartJobUpdateResult(key=UPDATE_KEY, updateSummary=busy)))
    assert StartUpdate._already_in_progress(refused({Metadata(CLIENT_UPDATE_ID, "mine")}), "mine")
    assert not StartUpdate._already_in_progress(refused({Metadata(CLIENT_UPDATE_ID, "theirs")}), "mine")
    assert not StartUpdate._already_in_progress(refused(None), "mine")
    assert not StartUpdate._already_in_progress(Response(responseCode=ResponseCode.INVALID_REQUEST), "mine")
