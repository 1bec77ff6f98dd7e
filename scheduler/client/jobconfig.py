"""A job's config as `aurora job create` reads it: load the file, pick the job the key names (Aurora's
`AuroraConfig.pick` rules and messages), convert it to a JobConfiguration (`thermos_executor.config.thrift`).

    config = get_config(jobkey, "hello.aurora", bindings=["version=3"])
    config.job          # the pystachio Job, bindings bound
    config.thrift       # ttypes.JobConfiguration

Every failure is a ConfigError whose text is what the user sees after "Error loading configuration: ".
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from pystachio.base import Object
from pystachio.parsing import MustacheParser

from thermos_executor.config import loader
from thermos_executor.config.schema import Job
from thermos_executor.config.thrift import convert
from thermos_executor.errors import ConfigError

from .jobkeys import AuroraJobKey

ENV_MISSING_NOTE = ("Note: environment is now a required field (the job key is CLUSTER/ROLE/ENV/NAME): "
                    "jobs without one are not candidates.")


@dataclass
class AuroraConfig:
    job: object
    thrift: object

    @property
    def key(self) -> AuroraJobKey:
        k = self.thrift.key
        return AuroraJobKey(field(self.job, "cluster"), k.role, k.environment, k.name)

    @property
    def instances(self) -> int:
        return self.thrift.instanceCount

    def has_cron_schedule(self) -> bool:
        return bool(self.thrift.cronSchedule)


def parse_bindings(bindings) -> dict:
    """['name=value', ...] -> {name: value}, as Aurora's --bind."""
    result = {}
    for binding in bindings or ():
        name, sep, value = binding.partition("=")
        if not sep or not name:
            raise ConfigError(f"Invalid binding {binding!r}: expected name=value")
        result[name] = value
    return result


def load_jobs(path: str, *, read_json: bool = False, bindings=None) -> list:
    """Every job the file defines, bindings bound. JSON: {"jobs": [...]} or one job object."""
    scope = parse_bindings(bindings)
    if not read_json:
        return loader.load(path, bindings=scope).jobs
    text = loader._read(path)
    try:
        document = json.loads(text)
    except ValueError as e:
        raise ConfigError(f"{path}: invalid JSON: {e}") from None
    documents = document.get("jobs") if isinstance(document, dict) and "jobs" in document else [document]
    if not isinstance(documents, list) or not all(isinstance(d, dict) for d in documents):
        raise ConfigError(f"{path}: expected a job object or {{\"jobs\": [job, ...]}}")
    try:
        jobs = [Job.json_loads(json.dumps(d)) for d in documents]
    except (ValueError, TypeError, AttributeError) as e:
        raise ConfigError(f"{path}: {e}") from None
    from thermos_executor.config.templating import bind, bindings_scope
    return [bind(j, bindings_scope(scope)) for j in jobs]


def field(job, name: str) -> str:
    """A job field as text, resolved as far as its bindings go ('' when unset)."""
    if not getattr(job, "has_" + name)():
        return ""
    try:
        return str(getattr(job, name)().get())
    except (Object.CoercionError, MustacheParser.Uninterpolatable):
        return str(getattr(job, name)())


def pick(jobs: list, key: AuroraJobKey):
    """The one job of `jobs` matching the key, with Aurora's messages otherwise."""
    if not jobs:
        raise ConfigError("No job defined in this config!")
    wanted = (key.cluster, key.role, key.env, key.name)
    fields = ("cluster", "role", "environment", "name")
    matches = [j for j in jobs if tuple(field(j, f) for f in fields) == wanted]
    if not matches:
        lines = [f"Could not find job {key}", "Candidates are:"]
        lines += ["  " + "/".join(field(j, f) or "?" for f in fields) for j in jobs]
        if any(not j.has_environment() for j in jobs):
            lines.append(ENV_MISSING_NOTE)
        raise ConfigError("\n".join(lines))
    if len(matches) > 1:
        raise ConfigError("Multiple jobs match, please disambiguate by specifying a job key.")
    return matches[0]


def get_config(key: AuroraJobKey, path: str, *, read_json: bool = False, bindings=None) -> AuroraConfig:
    job = pick(load_jobs(path, read_json=read_json, bindings=bindings), key)
    return AuroraConfig(job, convert(job))
