"""Job and task configuration checks, and the defaults filled in (Aurora 0.22's ConfigurationManager, with
ThriftBackfill's tier backfill and SanitizedConfiguration).

`validate_job(job, settings)` and `validate_task(config, settings)` are pure: they return a populated copy
(the caller's structs are not changed) or raise `TaskDescriptionError` with Aurora's message, checking in
Aurora's order, so the first problem Aurora would report is the one reported. A config with no tier whose
production flag matches no tier raises `NoImplicitTier` (Aurora: an IllegalStateException, answered ERROR).
"""
from __future__ import annotations

import copy
import re
from collections import Counter

from thermos_executor.aurora_api.gen.ttypes import DockerParameter, JobConfiguration, TaskConfig
from scheduler.api.settings import ApiSettings

DEDICATED_ATTRIBUTE = "dedicated"
NO_DOCKER_PARAMETERS = "This scheduler is configured to disallow Docker parameters."
EXECUTOR_REQUIRED_WITH_DOCKER = "This scheduler is configured to require an executor for Docker-based tasks."
MESOS_FETCHER_DISABLED = "Mesos Fetcher for individual jobs is disabled in this cluster."
NO_EXECUTOR_OR_CONTAINER = "Configuration may not be null."
INVALID_EXECUTOR_CONFIG = "Executor name may not be left unset."
NO_CONTAINER_VOLUMES = "This scheduler is configured to disallow container volumes."

_GOOD_IDENTIFIER = re.compile(r"[\w\-.]+", re.ASCII)  # api.thrift GOOD_IDENTIFIER_PATTERN, Java's \w
_MAX_IDENTIFIER_LENGTH = 255
# Resource field -> Aurora's name for it in messages (ResourceType.getAuroraName); ports may repeat.
_RESOURCE_NAMES = {"numCpus": "CPU", "ramMb": "RAM", "diskMb": "DISK", "namedPort": "PORT", "numGpus": "GPU"}
RESOURCE_FIELDS = tuple(_RESOURCE_NAMES)  # a Resource's fields, in Aurora's ResourceType order


class TaskDescriptionError(ValueError):
    """An invalid job or task configuration (Aurora's TaskDescriptionException)."""


class NoImplicitTier(RuntimeError):
    """No tier matches a tier-less config's production flag."""


def is_good_identifier(value: str | None) -> bool:
    """Aurora's UserProvidedStrings.isGoodIdentifier: role, environment, job names, user, tier."""
    return value is not None and _GOOD_IDENTIFIER.fullmatch(value) is not None and len(value) <= _MAX_IDENTIFIER_LENGTH


def is_valid_key(key) -> bool:
    """JobKeys.isValid."""
    return key is not None and all(is_good_identifier(v) for v in (key.role, key.environment, key.name))


def key_text(key) -> str:
    """A JobKey as Aurora prints one in messages (the immutable struct's toString)."""
    if key is None:
        return "null"
    return f"IJobKey{{role={key.role}, environment={key.environment}, name={key.name}}}"



def update_key_text(key) -> str:
    """A JobUpdateKey as Aurora prints one in messages (the immutable struct's toString)."""
    return f"IJobUpdateKey{{job={key_text(key.job)}, id={key.id}}}"


def canonical(key) -> str:
    """JobKeys.canonicalString: role/environment/name."""
    return f"{key.role}/{key.environment}/{key.name}"


def is_cron(job: JobConfiguration) -> bool:
    """SanitizedConfiguration.isCron: a cron schedule is set (even empty)."""
    return job.cronSchedule is not None


def validate_job(job: JobConfiguration, settings: ApiSettings) -> JobConfiguration:
    """A populated copy of `job`, or TaskDescriptionError."""
    if job is None:
        raise TaskDescriptionError("Job configuration must be set.")
    if job.taskConfig is None:
        raise TaskDescriptionError("Job configuration must have taskConfig set.")
    if (job.instanceCount or 0) <= 0:
        raise TaskDescriptionError("Instance count must be positive.")
    if not is_valid_key(job.key):
        raise TaskDescriptionError(f"Job key {key_text(job.key)} is invalid.")
    pattern = settings.allowed_job_environments
    if re.fullmatch(pattern, job.key.environment) is None:
        raise TaskDescriptionError(f"Job environment {job.key.environment} doesn't match: {pattern}")
    if job.owner is not None and not is_good_identifier(job.owner.user):
        raise TaskDescriptionError(f"Job user contains illegal characters: {job.owner.user}")
    populated = copy.copy(job)
    # The job's tasks are the job's: a task config naming another job would file its tasks under that one.
    populated.taskConfig = validate_task(copy.copy(job.taskConfig), settings)
    populated.taskConfig.job = job.key
    if job.cronSchedule and populated.taskConfig.isService:
        raise TaskDescriptionError(f"A service task may not be run on a cron schedule: {populated}")
    return populated


def validate_task(config: TaskConfig, settings: ApiSettings) -> TaskConfig:
    """A populated copy of `config`, or TaskDescriptionError."""
    tiers = settings.tiers.by_name
    if config.tier is not None and not is_good_identifier(config.tier):
        raise TaskDescriptionError(f"Tier contains illegal characters: {config.tier}")
    if config.tier is not None and config.tier not in tiers:
        raise TaskDescriptionError(f"Invalid tier '{config.tier}' in TaskConfig.")
    if not is_valid_key(config.job):
        raise TaskDescriptionError(f"Job key {key_text(config.job)} is invalid.")
    container = config.container
    docker = container.docker if container is not None else None
    if config.executorConfig is None and docker is None:
        raise TaskDescriptionError(NO_EXECUTOR_OR_CONTAINER)
    if config.executorConfig is not None:
        name = config.executorConfig.name
        if name is None:
            raise TaskDescriptionError(INVALID_EXECUTOR_CONFIG)
        if name not in settings.executors:
            raise TaskDescriptionError(f"Configuration for executor '{name}' doesn't exist.")
    _check_dedicated(config)

    populated = copy.copy(config)
    if container is None:
        container_type = "MESOS"
    elif docker is not None:
        container_type = "DOCKER"
        if docker.image is None:
            raise TaskDescriptionError("A container must specify an image.")
        if not docker.parameters:
            populated.container = copy.copy(container)
            populated.container.docker = copy.copy(docker)
            populated.container.docker.parameters = [DockerParameter(name=n, value=v)
                                                     for n, v in settings.default_docker_parameters]
        elif not settings.allow_docker_parameters:
            raise TaskDescriptionError(NO_DOCKER_PARAMETERS)
        if settings.require_docker_use_executor and config.executorConfig is None:
            raise TaskDescriptionError(EXECUTOR_REQUIRED_WITH_DOCKER)
    elif container.mesos is not None:
        container_type = "MESOS"
    else:
        raise TaskDescriptionError("A job must have a container type.")
    if container_type not in settings.allowed_container_types:
        raise TaskDescriptionError(f"This scheduler is not configured to allow the container type {container_type}")

    _backfill_tier(populated, settings)
    _check_resources(config, settings)
    if not settings.enable_mesos_fetcher and config.mesosFetcherUris:
        raise TaskDescriptionError(MESOS_FETCHER_DISABLED)
    mesos = populated.container.mesos if populated.container is not None else None
    if mesos is not None and mesos.volumes and not settings.allow_container_volumes:
        raise TaskDescriptionError(NO_CONTAINER_VOLUMES)
    if not config.taskLinks:
        ports = {r.namedPort for r in config.resources or () if r.namedPort is not None}
        populated.taskLinks = {name: f"http://%host%:%port:{name}%" for name in ("health", "http") if name in ports}
    return populated


def _check_dedicated(config: TaskConfig) -> None:
    constraint = next((c for c in config.constraints or () if c.name == DEDICATED_ATTRIBUTE), None)
    if constraint is None:
        return
    value = constraint.constraint.value if constraint.constraint is not None else None
    if value is None:
        raise TaskDescriptionError("A dedicated constraint must be of value type.")
    if len(value.values or ()) != 1:
        raise TaskDescriptionError("A dedicated constraint must have exactly one value")
    role = next(iter(value.values)).split("/")[0]
    if role not in ("*", config.job.role):
        raise TaskDescriptionError(f"Only {role} may use hosts dedicated for that role.")


def _backfill_tier(config: TaskConfig, settings: ApiSettings) -> None:
    """ThriftBackfill.backfillTier: production follows a given tier; no tier: the first matching production."""
    tiers = settings.tiers
    if config.tier is not None:
        tier = tiers.by_name[config.tier]
        config.production = not tier.preemptible and not tier.revocable
        return
    production = bool(config.production)
    name = next((n for n, t in tiers.tiers if t.preemptible == (not production) and not t.revocable), None)
    if name is None:
        raise NoImplicitTier(f"No matching implicit tier for task of job {key_text(config.job)}")
    config.tier = name


def _check_resources(config: TaskConfig, settings: ApiSettings) -> None:
    kinds = Counter(resource_kind(r) for r in config.resources or ())
    repeated = sorted(_RESOURCE_NAMES[k] for k, n in kinds.items() if n > 1 and k not in ("namedPort", None))
    if repeated:
        raise TaskDescriptionError("Multiple resource values are not supported for " + ", ".join(repeated))
    for kind, label in (("numCpus", "num_cpus"), ("ramMb", "ram_mb"), ("diskMb", "disk_mb")):
        quantity = sum(getattr(r, kind) for r in config.resources or () if getattr(r, kind) is not None)
        if quantity <= 0:
            raise TaskDescriptionError(f"{label} must be greater than 0.0")
    if not settings.allow_gpu_resource and kinds["numGpus"]:
        raise TaskDescriptionError("GPU resource support is disabled in this cluster.")


def resource_kind(resource) -> str | None:
    """Which field of a Resource (a Thrift union) is set: one of RESOURCE_FIELDS, None if none is."""
    return next((k for k in RESOURCE_FIELDS if getattr(resource, k) is not None), None)
