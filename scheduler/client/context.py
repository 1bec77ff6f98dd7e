"""What every verb works through (Aurora's AuroraCommandContext): options, printing, the cluster's
scheduler (`get_api`), job configs, and the few queries several verbs share.

Failures become CommandErrors with Aurora's exit codes: an unknown cluster or a bad clusters.json is 3
(invalid configuration), a scheduler that never answered is 7 (network error), an API error is what the
caller asks for (default 10).
"""
from __future__ import annotations

import sys

from . import exits
from .exits import CommandError


class Context:
    def __init__(self, options, *, out=None, err=None):
        self.options = options
        self._out, self._err = out, err
        self._clusters = None
        self._apis: dict = {}

    # -- printing

    def print_out(self, message: str = "", indent: int = 0) -> None:
        pad = " " * indent
        print("\n".join(pad + line for line in str(message).split("\n")), file=self._out or sys.stdout)

    def print_err(self, message: str = "", indent: int = 0) -> None:
        pad = " " * indent
        print("\n".join(pad + line for line in str(message).split("\n")), file=self._err or sys.stderr)

    # -- clusters and schedulers

    @property
    def clusters(self):
        if self._clusters is None:
            from .clusters import ClustersError, load
            try:
                self._clusters = load()
            except ClustersError as e:
                raise CommandError(exits.EXIT_INVALID_CONFIGURATION, str(e)) from None
        return self._clusters

    def cluster(self, name: str):
        from .clusters import ClusterNotFound
        try:
            return self.clusters[name]
        except ClusterNotFound as e:
            raise CommandError(exits.EXIT_INVALID_CONFIGURATION, str(e)) from None

    def get_api(self, cluster_name: str) -> Api:
        if cluster_name not in self._apis:
            from .scheduler_client import SchedulerProxy
            try:
                proxy = SchedulerProxy(self.cluster(cluster_name), on_retry=self.print_err)
            except ValueError as e:
                raise CommandError(exits.EXIT_INVALID_CONFIGURATION, str(e)) from None
            self._apis[cluster_name] = Api(proxy)
        return self._apis[cluster_name]

    def close(self) -> None:
        self._apis.clear()

    # -- configs

    def get_job_config(self, jobkey, config_file: str):
        from thermos_executor.errors import ConfigError

        from .jobconfig import get_config
        try:
            return get_config(jobkey, config_file, read_json=getattr(self.options, "read_json", False),
                              bindings=getattr(self.options, "bindings", None))
        except ConfigError as e:
            raise CommandError(exits.EXIT_INVALID_CONFIGURATION, f"Error loading configuration: {e}") from None

    def get_job_config_optional(self, jobkey, config_file: str | None):
        return self.get_job_config(jobkey, config_file) if config_file else None

    # -- replies

    def log_response_and_raise(self, reply, err_code: int = exits.EXIT_API_ERROR,
                               err_msg: str = "Command failure:") -> None:
        from thermos_executor.aurora_api.gen.ttypes import ResponseCode
        if reply.responseCode == ResponseCode.OK:
            return
        self.print_err(err_msg)
        self.print_err(f"\t{combine_messages(reply)}")
        raise CommandError(err_code, err_msg, logged=True)

    # -- shared queries

    def get_active_tasks(self, jobkey) -> list:
        from thermos_executor.aurora_api.gen.constants import ACTIVE_STATES
        from thermos_executor.aurora_api.gen.ttypes import TaskQuery
        api = self.get_api(jobkey.cluster)
        reply = api.getTasksWithoutConfigs(TaskQuery(jobKeys={jobkey.to_thrift()}, statuses=set(ACTIVE_STATES)))
        self.log_response_and_raise(reply, err_code=exits.EXIT_INVALID_PARAMETER)
        return reply.result.scheduleStatusResult.tasks or []

    def get_active_instances_or_raise(self, jobkey, instances) -> set:
        active = {t.assignedTask.instanceId for t in self.get_active_tasks(jobkey)}
        unknown = sorted(set(instances) - active)
        if unknown:
            raise CommandError(exits.EXIT_INVALID_PARAMETER, f"Invalid instance parameter: {unknown}")
        return active

    def get_jobs_matching_key(self, key) -> list:
        """The job keys matching a partial key (parts may be globs), as Aurora: getJobs (jobs with active tasks,
        and cron jobs) of each cluster, filtered."""
        from fnmatch import fnmatch

        from .jobkeys import AuroraJobKey
        if not any("*" in part or "?" in part or "[" in part for part in key):
            return [AuroraJobKey(*key)]
        clusters = list(self.clusters) if key.cluster == "*" else [key.cluster]
        role = None if any(c in key.role for c in "*?[") else key.role
        found = []
        for cluster in clusters:
            api = self.get_api(cluster)
            reply = api.getJobs(role)
            self.log_response_and_raise(reply, err_code=exits.EXIT_COMMAND_FAILURE)
            for job in reply.result.getJobsResult.configs or []:
                k = job.key
                if fnmatch(k.role, key.role) and fnmatch(k.environment, key.env) and fnmatch(k.name, key.name):
                    found.append(AuroraJobKey(cluster, k.role, k.environment, k.name))
        return sorted(found)


def combine_messages(reply) -> str:
    return ", ".join(d.message or "(No message)" for d in reply.details or []) or "Unknown error"


class Api:
    """A cluster's SchedulerProxy whose failures to reach any scheduler are CommandErrors (exit 7; 30 for a
    401/403)."""

    def __init__(self, proxy):
        self.proxy = proxy

    def _guard(self, call, *args):
        from .scheduler_client import AuthError, CouldNotConnect, SchedulerUnreachable
        try:
            return call(*args)
        except (SchedulerUnreachable, CouldNotConnect) as e:
            raise CommandError(exits.EXIT_NETWORK_ERROR, str(e)) from None
        except AuthError as e:
            raise CommandError(exits.EXIT_AUTH_ERROR, str(e)) from None

    @property
    def url(self) -> str:
        return self._guard(lambda: self.proxy.url)

    def job_page(self, jobkey) -> str:
        return synthesize_url(self.url, jobkey.role, jobkey.env, jobkey.name)

    def __getattr__(self, method: str):
        target = getattr(self.proxy, method)
        return lambda *args: self._guard(target, *args)


def synthesize_url(scheduler_url: str, role=None, env=None, job=None) -> str:
    """Aurora's client/base.py synthesize_url: <scheduler>/scheduler[/role[/env[/job]]]."""
    if not scheduler_url.startswith(("http://", "https://")):
        scheduler_url = f"http://{scheduler_url}"
    url = scheduler_url.rstrip("/") + "/scheduler"
    for part in (role, env, job):
        if not part:
            break
        url += f"/{part}"
    return url
