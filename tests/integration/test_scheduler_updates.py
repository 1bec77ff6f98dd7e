"""The read side of job updates on a real `aurora-scheduler` (one, with real ZooKeeper), over real HTTP
POST /api in both protocols: getJobUpdateDiff of a running job, getJobUpdateSummaries and getJobUpdateDetails
(before any update is started; updates that run are in test_scheduler_update_rollout.py), and the update
history pruner armed by the job_update_history flags (a round every second, logged; counted in /vars)."""

from __future__ import annotations

import pytest
from schedcluster import SchedulerCluster, job_config

from tests.helpers import wait_for
from thermos_executor.aurora_api.gen.ttypes import (JobKey, JobUpdateKey, JobUpdateQuery, JobUpdateRequest,
                                                    JobUpdateSettings, Range, ResponseCode)

KEY = JobKey(role="www", environment="prod", name="hello")


@pytest.fixture
def cluster(tmp_path, zookeeper):
    c = SchedulerCluster(tmp_path, zookeeper.endpoints, size=1,
                         extra_args=("-job_update_history_pruning_interval=1secs",
                                     "-job_update_history_per_job_threshold=3"))
    yield c
    c.close()


@pytest.mark.parametrize("protocol", ["binary", "json"])
def test_update_queries_answer_over_http(cluster, protocol):
    cluster.start()
    leader = cluster.wait_leader()
    api = cluster.client(leader, protocol)
    assert api.createJob(job_config("www", "prod", "hello", instances=3)).responseCode == ResponseCode.OK

    changed = job_config("www", "prod", "hello").taskConfig
    changed.priority = 7
    request = JobUpdateRequest(taskConfig=changed, instanceCount=4,
                               settings=JobUpdateSettings(updateOnlyTheseInstances={Range(0, 0), Range(3, 3)}))
    diff = api.getJobUpdateDiff(request)
    assert diff.responseCode == ResponseCode.OK, diff
    groups = diff.result.getJobUpdateDiffResult
    ranges = {name: [sorted((r.first, r.last) for r in g.instances) for g in getattr(groups, name)]
              for name in ("add", "remove", "update", "unchanged")}
    assert ranges == {"add": [[(3, 3)]], "remove": [], "update": [[(0, 0)]], "unchanged": [[(1, 2)]]}
    assert next(iter(groups.add)).config.priority == 7 and next(iter(groups.update)).config.priority == 0

    summaries = api.getJobUpdateSummaries(JobUpdateQuery(role="www"))
    assert summaries.responseCode == ResponseCode.OK
    assert summaries.result.getJobUpdateSummariesResult.updateSummaries == []
    details = api.getJobUpdateDetails(None, JobUpdateQuery(jobKey=KEY))
    assert details.responseCode == ResponseCode.OK and details.result.getJobUpdateDetailsResult.detailsList == []
    missing = api.getJobUpdateDetails(JobUpdateKey(job=KEY, id="nope"), None)
    assert missing.responseCode == ResponseCode.INVALID_REQUEST
    assert missing.details[0].message == \
        "Invalid update: IJobUpdateKey{job=IJobKey{role=www, environment=prod, name=hello}, id=nope}"

    assert cluster.vars(leader)["job_updates_pruned"] == 0
    wait_for(lambda: "No job update history to prune." in cluster.stderr(leader), 10, what="a pruning round")
