"""A configured job as Aurora's Thrift JobConfiguration: the client side of the task data (Aurora's
`apache.aurora.config.thrift.convert`, with the bindings and port rules of its `AuroraConfig`).

    job = choose_job(load_config('hello.aurora'), None)
    job_config = convert(job)                           # ttypes.JobConfiguration
    job_config.taskConfig.executorConfig.data           # the job, JSON, as the executor reads it

What the scheduler needs to place a task becomes Thrift fields (key, owner, instances, cron, service, priority,
tier, resources with one namedPort per port to reserve, constraints, container, metadata ...). The whole job,
interpolated as far as it can be before a task runs, travels to the executor as JSON in
`executorConfig.data` (name "AuroraExecutor"), without `instances` and `update_config` (Aurora's aliased
fields: a change of either alone must not make every task's config differ). Only `{{mesos.instance}}`,
`{{mesos.hostname}}`, `{{thermos.task_id}}` and `{{thermos.ports[NAME]}}` may stay unbound; the executor binds
them (`executor.task_data`). Every failure is a ConfigError of one line.
"""
from __future__ import annotations

import getpass
import re

from pystachio import Empty, Ref

from thermos_executor.aurora_api import to_ranges
from thermos_executor.aurora_api.gen import constants, ttypes

from ..errors import ConfigError
from . import schema
from .templating import required_ports, task_of_job
from .validation import check_fields, check_task

__all__ = ['convert', 'update_settings', 'constraints_to_thrift', 'requested_ports', 'filter_aliased_fields',
           'ALIASED_FIELDS']

MB = 1024 * 1024
# Fields left out of the executor's copy of the job (Aurora: "erasing fields of the Job that are controversial").
ALIASED_FIELDS = ('update_config', 'instances')
# Deprecated spellings Aurora's client rewrites before anything else (AuroraConfig.standard_bindings).
_STANDARD_BINDINGS = {Ref.from_address('mesos.role'): '{{role}}', Ref.from_address('mesos.cluster'): '{{cluster}}',
                      Ref.from_address('thermos.user'): '{{role}}'}
_LEFT_TO_THE_EXECUTOR = (Ref.from_address('thermos.task_id'), Ref.from_address('mesos.instance'),
                         Ref.from_address('mesos.hostname'))
_PORTS = Ref.from_address('thermos.ports')
_GOOD_IDENTIFIER = re.compile(constants.GOOD_IDENTIFIER_PATTERN_PYTHON)


def convert(job, *, metadata=(), user: str | None = None) -> ttypes.JobConfiguration:
    """`job` (a schema.Job as the loader returns it, `-E` bindings bound) as a JobConfiguration.

    `metadata`: extra (key, value) pairs beside the job's own; `user`: the owner (default: who runs this)."""
    job = job.bind(_STANDARD_BINDINGS)
    for required in ('cluster', 'task', 'role'):
        if not getattr(job, 'has_' + required)():
            raise ConfigError(f'{required} is required for job {_text(job.name())!r}')
    if not job.task().has_processes() or not job.task().processes().get():
        raise ConfigError(f'the task of job {_text(job.name())!r} has no processes')
    check_fields(job, 'job')
    key = ttypes.JobKey(role=_identifier(job, 'role'), environment=_identifier(job, 'environment'),
                        name=_identifier(job, 'name'))
    job = job(task_links=_task_links(job)) if job.has_task_links() else job

    underlying, refs = job.interpolate()
    unbound = sorted({str(ref) for ref in refs if ref not in _LEFT_TO_THE_EXECUTOR and not _PORTS.scoped_to(ref)})
    if unbound:
        raise ConfigError(f"Config contains unbound variables: {' '.join(unbound)}")
    check_task(task_of_job(underlying.bind(mesos={'instance': 31337, 'hostname': ''})))

    task = ttypes.TaskConfig(
        job=key, owner=ttypes.Identity(user=user or _local_user(key.role)),
        isService=bool(_value(job, 'service')), priority=_value(job, 'priority'),
        maxTaskFailures=_value(job, 'max_task_failures'), production=bool(_value(job, 'production')),
        tier=_value(job, 'tier', None), contactEmail=_value(job, 'contact', None),
        resources=_resources(job, requested_ports(job)),
        constraints=constraints_to_thrift(_value(job, 'constraints', {})),
        metadata=_metadata(job, metadata), taskLinks={},     # the links travel in the job: Aurora's AURORA-739
        container=_container(job), executorConfig=_executor_config(job, underlying),
        partitionPolicy=_partition_policy(job), slaPolicy=_sla_policy(job))
    return ttypes.JobConfiguration(
        key=key, owner=task.owner, cronSchedule=_value(job, 'cron_schedule', None),
        cronCollisionPolicy=_enum(ttypes.CronCollisionPolicy, _value(job, 'cron_collision_policy'),
                                  'cron_collision_policy'),
        taskConfig=task, instanceCount=_value(job, 'instances'))


MIN_PULSE_INTERVAL_SECONDS = 60


def update_settings(job, instances=None) -> ttypes.JobUpdateSettings:
    """The job's update_config as JobUpdateSettings (Aurora's UpdaterConfig.to_thrift_update_settings), for
    `instances` only when given (ids, merged into ranges); a bad update_config is a ConfigError."""
    config = job.update_config()
    batch_size, watch_secs = config.batch_size().get(), config.watch_secs().get()
    if batch_size <= 0:
        raise ConfigError('update_config: Batch size should be greater than 0')
    if watch_secs <= 0:
        raise ConfigError('update_config: Watch seconds should be greater than 0')
    pulse = config.pulse_interval_secs().get() if config.has_pulse_interval_secs() else None
    if pulse is not None and pulse < MIN_PULSE_INTERVAL_SECONDS:
        raise ConfigError(f'update_config: Pulse interval seconds must be at least {MIN_PULSE_INTERVAL_SECONDS} '
                          'seconds.')
    wait = config.wait_for_batch_completion().get()
    if config.has_update_strategy():
        strategy = _update_strategy(config.update_strategy().interpolate()[0])
    elif wait:
        strategy = ttypes.JobUpdateStrategy(batchStrategy=ttypes.BatchJobUpdateStrategy(groupSize=batch_size))
    else:
        strategy = ttypes.JobUpdateStrategy(queueStrategy=ttypes.QueueJobUpdateStrategy(groupSize=batch_size))
    return ttypes.JobUpdateSettings(
        updateGroupSize=batch_size, maxPerInstanceFailures=config.max_per_shard_failures().get(),
        maxFailedInstances=config.max_total_failures().get(), minWaitInInstanceRunningMs=watch_secs * 1000,
        rollbackOnFailure=config.rollback_on_failure().get(), waitForBatchCompletion=wait,
        updateOnlyTheseInstances=set(to_ranges(instances)) if instances else None,
        blockIfNoPulsesAfterMs=pulse * 1000 if pulse else None, slaAware=config.sla_aware().get(),
        updateStrategy=strategy)


def _update_strategy(chosen) -> ttypes.JobUpdateStrategy:
    if isinstance(chosen, schema.QueueUpdateStrategy):
        return ttypes.JobUpdateStrategy(queueStrategy=ttypes.QueueJobUpdateStrategy(
            groupSize=chosen.batch_size().get()))
    if isinstance(chosen, schema.BatchUpdateStrategy):
        return ttypes.JobUpdateStrategy(batchStrategy=ttypes.BatchJobUpdateStrategy(
            groupSize=chosen.batch_size().get(), autopauseAfterBatch=chosen.autopause_after_batch().get()))
    return ttypes.JobUpdateStrategy(varBatchStrategy=ttypes.VariableBatchJobUpdateStrategy(
        groupSizes=[s.get() for s in chosen.batch_sizes()], autopauseAfterBatch=chosen.autopause_after_batch().get()))


def filter_aliased_fields(job):
    """The job without the fields the executor must not see (ALIASED_FIELDS)."""
    return job(**{field: Empty for field in ALIASED_FIELDS})


def constraints_to_thrift(constraints: dict) -> set:
    """Aurora's constraint strings as Constraints: `'limit:2'` a limit, `'!a,b'` a negated value set, `'a,b'`
    a value set (a dedicated host is `{'dedicated': 'role/name'}`)."""
    result = set()
    for name, text in constraints.items():
        if not isinstance(name, str) or not isinstance(text, str):
            raise ConfigError(f'constraint {name!r}: both the attribute and its value must be strings')
        if text.startswith('limit:'):
            try:
                constraint = ttypes.TaskConstraint(limit=ttypes.LimitConstraint(int(text[len('limit:'):])))
            except ValueError:
                raise ConfigError(f'constraint {name}: {text!r} is not a valid limit, must be an integer') from None
        else:
            negated = text.startswith('!')
            values = set((text[1:] if negated else text).split(','))
            constraint = ttypes.TaskConstraint(value=ttypes.ValueConstraint(negated=negated, values=values))
        result.add(ttypes.Constraint(name=name, constraint=constraint))
    return result


def requested_ports(job) -> set[str]:
    """The ports the scheduler must reserve (Aurora's AuroraConfig.ports): every `{{thermos.ports[NAME]}}` of
    the task that the Announcer's portmap does not alias to a number, and every portmap alias that ends in a
    name rather than a number (the announced `primary_port`, `http` by default, among them)."""
    portmap = {}
    if job.has_announce():
        announce = job.find(Ref.from_address('announce'))
        value, refs = announce.interpolate()
        if refs:
            raise ConfigError(f"announce: unbound template variables {', '.join(sorted(map(str, refs)))}")
        announce = value.get()
        portmap = {k: v.replace('{{primary_port}}', announce['primary_port']) for k, v in announce['portmap'].items()}
    resolved = _resolve_portmap(portmap)
    unallocated = {port for port in resolved.values() if not isinstance(port, int)}
    referenced = required_ports(task_of_job(job))
    unresolved = {port for port in (resolved.get(ref, ref) for ref in referenced) if not isinstance(port, int)}
    return unallocated | unresolved


def _resolve_portmap(portmap: dict) -> dict:
    """name -> number, or the name an alias chain ends in (Aurora's PortResolver); a cycle is an error."""
    resolved = {}
    for name in portmap:
        seen, value = [name], portmap[name]
        while isinstance(value, str) and not value.isdigit() and value in portmap:
            if value in seen:
                raise ConfigError(f"announce.portmap aliases form a cycle: {' -> '.join(seen + [value])}")
            seen.append(value)
            value = portmap[value]
        resolved[name] = int(value) if isinstance(value, str) and value.isdigit() else value
    return resolved


def _resources(job, ports: set[str]) -> set:
    if not job.task().has_resources():
        raise ConfigError('Task must specify resources!')
    cpu = _value(job, 'task.resources.cpu')
    ram, disk, gpu = (_value(job, f'task.resources.{field}') for field in ('ram', 'disk', 'gpu'))
    if ram == 0 or disk == 0:
        raise ConfigError(f'Must specify ram and disk resources, got ram:{ram!r} disk:{disk!r}')
    ram_mb, disk_mb = ram // MB, disk // MB
    if cpu <= 0 or ram_mb <= 0 or disk_mb <= 0:
        raise ConfigError('Task has invalid resources.  cpu/ramMb/diskMb must all be positive: '
                          f'cpu:{cpu!r} ramMb:{ram_mb!r} diskMb:{disk_mb!r}')
    return ({ttypes.Resource(numCpus=float(cpu)), ttypes.Resource(ramMb=ram_mb), ttypes.Resource(diskMb=disk_mb)}
            | {ttypes.Resource(namedPort=port) for port in ports}
            | ({ttypes.Resource(numGpus=gpu)} if gpu else set()))


def _metadata(job, extra) -> set:
    pairs = {(str(m['key']), str(m['value'])) for m in _value(job, 'metadata', [])}
    pairs |= {(str(key), str(value)) for key, value in extra}
    return {ttypes.Metadata(key=key, value=value) for key, value in pairs}


def _container(job) -> ttypes.Container:
    """Aurora's create_container_config: none given is the Mesos containerizer without an image."""
    if not job.has_container():
        return ttypes.Container(mesos=ttypes.MesosContainer())
    container = _value(job, 'container')
    kind = type(job.container().unwrap())
    if kind is schema.Container or kind is schema.Docker:
        docker = container.get('docker') if kind is schema.Container else container
        if docker is None:
            raise ConfigError('container: Container() must set docker')
        return ttypes.Container(docker=ttypes.DockerContainer(
            image=docker['image'],
            parameters=[ttypes.DockerParameter(p['name'], p['value']) for p in docker.get('parameters', [])]))
    image = container.get('image')
    if image is None:
        thrift_image = None
    elif 'image_id' in image:
        thrift_image = ttypes.Image(appc=ttypes.AppcImage(name=image['name'], imageId=image['image_id']))
    else:
        thrift_image = ttypes.Image(docker=ttypes.DockerImage(name=image['name'], tag=image['tag']))
    volumes = [ttypes.Volume(containerPath=v['container_path'], hostPath=v['host_path'],
                             mode=_enum(ttypes.Mode, v['mode'], 'container.volumes.mode'))
               for v in container.get('volumes', [])]
    return ttypes.Container(mesos=ttypes.MesosContainer(image=thrift_image, volumes=volumes))


def _executor_config(job, underlying) -> ttypes.ExecutorConfig:
    """Thermos (the default executor) gets the job as JSON; another executor gets its own `data` as given."""
    name = _value(job, 'executor_config.name')
    if name != constants.AURORA_EXECUTOR_NAME:
        return ttypes.ExecutorConfig(name=name, data=_value(job, 'executor_config.data'))
    return ttypes.ExecutorConfig(name=name, data=filter_aliased_fields(underlying).json_dumps())


def _partition_policy(job) -> ttypes.PartitionPolicy | None:
    policy = _value(job, 'partition_policy', None)
    return None if policy is None else ttypes.PartitionPolicy(policy['reschedule'], policy['delay_secs'])


def _sla_policy(job) -> ttypes.SlaPolicy | None:
    if not job.has_sla_policy():
        return None
    policy, kind = _value(job, 'sla_policy'), type(job.sla_policy().unwrap())
    if kind is schema.CountSlaPolicy:
        return ttypes.SlaPolicy(countSlaPolicy=ttypes.CountSlaPolicy(policy['count'], policy['duration_secs']))
    if kind is schema.PercentageSlaPolicy:
        return ttypes.SlaPolicy(percentageSlaPolicy=ttypes.PercentageSlaPolicy(policy['percentage'],
                                                                               policy['duration_secs']))
    return ttypes.SlaPolicy(coordinatorSlaPolicy=ttypes.CoordinatorSlaPolicy(policy['coordinator_url'],
                                                                             policy['status_key']))


def _task_links(job):
    """task_links with `{{mesos.instance}}` as `%shard_id%` and `{{thermos.ports[x]}}` as `%port:x%`, the
    placeholders the scheduler's UI fills in."""
    links = job.task_links()
    _, refs = links.interpolate()
    substitutions = {Ref.from_address('mesos.instance'): '%shard_id%'}
    for ref in refs:
        port = _PORTS.scoped_to(ref)
        if port is not None and port.is_index():
            substitutions[ref] = f'%port:{port.action().value}%'
    return links.bind(substitutions)


def _value(job, address: str, default=Empty):
    """A field of the job, fully interpolated, as plain data; `default` when unset (required when no default)."""
    value = job.find(Ref.from_address(address)) if _has(job, address) else Empty
    if value is Empty:
        if default is Empty:
            raise ConfigError(f'{address} is required')
        return default
    value, refs = value.interpolate()
    if refs:
        raise ConfigError(f"{address}: unbound template variables {', '.join(sorted({str(r) for r in refs}))}")
    return value.get()


def _has(job, address: str) -> bool:
    """Whether every struct field along `address` (`task.resources.cpu`) is set or has a default."""
    holder = job
    for name in address.split('.'):
        if not getattr(holder, 'has_' + name)():
            return False
        holder = getattr(holder, name)()
    return True


def _identifier(job, field: str) -> str:
    value = _value(job, field)
    if not isinstance(value, str) or not _GOOD_IDENTIFIER.match(value):
        raise ConfigError(f'Invalid {field} {value!r}')
    return value


def _enum(enum, name, field: str) -> int:
    value = enum._NAMES_TO_VALUES.get(str(name).upper())
    if value is None:
        raise ConfigError(f'{field}: invalid value {name!r}, expected one of {", ".join(enum._NAMES_TO_VALUES)}')
    return value


def _text(value) -> str:
    return str(value.get()) if value is not Empty else '?'


def _local_user(fallback: str) -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):      # no login name and no passwd entry (a bare container)
        return fallback
