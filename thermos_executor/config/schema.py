"""The configuration language: Aurora's pystachio structs, field for field.

Two layers, as in Aurora. The Thermos layer (Process, Task, Constraint, Resources, Logger, RotatePolicy and
the `thermos` context) is what the runner executes. The Aurora job layer (Job, Service, HealthCheckConfig,
Announcer, UpdateConfig, ...) is what `.aurora` files declare around a task; the runner only reads a job's
task, the executor and scheduler read the rest. Field names and defaults are Aurora's, so that existing
configs load unchanged. What each field means is in docs/configuration.md.
"""
from pystachio import (
    Boolean,
    Choice,
    Default,
    Empty,
    Enum,
    Float,
    Integer,
    List,
    Map,
    Required,
    String,
    Struct,
)

__all__ = [
    'BYTES', 'KB', 'MB', 'GB', 'TB',
    'ThermosContext', 'MesosContext', 'Resources', 'Constraint', 'RotatePolicy', 'LoggerDestination',
    'LoggerMode', 'Logger', 'Process', 'Task',
    'UpdateConfig', 'QueueUpdateStrategy', 'BatchUpdateStrategy', 'VariableBatchUpdateStrategy',
    'HttpHealthChecker', 'ShellHealthChecker', 'HealthCheckerConfig', 'DefaultHealthChecker',
    'HealthCheckConfig', 'HttpLifecycleConfig', 'LifecycleConfig', 'DisableLifecycle',
    'DefaultLifecycleConfig',
    'Announcer', 'Parameter', 'Docker', 'AppcImage', 'DockerImage', 'Mode', 'Volume', 'Mesos', 'Container',
    'PartitionPolicy', 'Metadata', 'CountSlaPolicy', 'PercentageSlaPolicy', 'CoordinatorSlaPolicy',
    'ExecutorConfig', 'MesosTaskInstance', 'Job', 'MesosJob', 'Service',
]

BYTES = 1
KB = 1024 * BYTES
MB = 1024 * KB
GB = 1024 * MB
TB = 1024 * GB


# ---- Thermos layer -----------------------------------------------------------------------------------------

class ThermosContext(Struct):
    """Bound as `thermos` when a task runs: {{thermos.ports[http]}}, {{thermos.task_id}}, {{thermos.user}}."""
    ports = Map(String, Integer)
    task_id = String
    user = String


class MesosContext(Struct):
    """Bound as `mesos`: `{{mesos.instance}}`, `{{mesos.hostname}}`."""
    instance = Required(Integer)
    hostname = Required(String)


class Resources(Struct):
    """What a task asks of its machine; informational for Thermos. ram and disk are bytes."""
    cpu = Required(Float)
    ram = Required(Integer)
    disk = Required(Integer)
    gpu = Default(Integer, 0)


class Constraint(Struct):
    """`order`: each named process waits for the one before it to succeed."""
    order = List(String)


class RotatePolicy(Struct):
    log_size = Default(Integer, 100 * MB)
    backups = Default(Integer, 5)


LoggerDestination = Enum('LoggerDestination', ('file', 'console', 'both', 'none'))
LoggerMode = Enum('LoggerMode', ('standard', 'rotate'))


class Logger(Struct):
    destination = Default(LoggerDestination, LoggerDestination('file'))
    mode = Default(LoggerMode, LoggerMode('standard'))
    rotate = RotatePolicy


class Process(Struct):
    name = Required(String)
    cmdline = Required(String)
    resources = Resources                       # reserved; ignored by Thermos
    max_failures = Default(Integer, 1)          # failed runs before the process fails; 0 = retry forever
    daemon = Default(Boolean, False)            # a successful exit re-arms the process
    ephemeral = Default(Boolean, False)         # not waited for when deciding task completion
    min_duration = Default(Integer, 5)          # seconds between a run's end and the next start
    final = Default(Boolean, False)             # runs in the finalizing plan, after the regular one
    logger = Default(Logger, Empty)             # unset: the runner's cluster-wide defaults apply


class Task(Struct):
    name = Default(String, '{{processes[0].name}}')
    processes = List(Process)
    constraints = Default(List(Constraint), [])
    resources = Resources
    max_failures = Default(Integer, 1)          # failed processes that fail the task; 0 = no limit
    max_concurrency = Default(Integer, 0)       # 0 = unlimited
    finalization_wait = Default(Integer, 30)    # seconds from the end of the regular plan to a terminal state
    user = String


# ---- Aurora job layer --------------------------------------------------------------------------------------

class QueueUpdateStrategy(Struct):
    batch_size = Default(Integer, 1)


class BatchUpdateStrategy(Struct):
    batch_size = Default(Integer, 1)
    autopause_after_batch = Default(Boolean, False)


class VariableBatchUpdateStrategy(Struct):
    batch_sizes = List(Integer)
    autopause_after_batch = Default(Boolean, False)


class UpdateConfig(Struct):
    batch_size = Default(Integer, 1)
    watch_secs = Default(Integer, 45)
    max_per_shard_failures = Default(Integer, 0)
    max_total_failures = Default(Integer, 0)
    rollback_on_failure = Default(Boolean, True)
    wait_for_batch_completion = Default(Boolean, False)
    pulse_interval_secs = Integer
    sla_aware = Default(Boolean, False)
    update_strategy = Choice([QueueUpdateStrategy, BatchUpdateStrategy, VariableBatchUpdateStrategy])


class HttpHealthChecker(Struct):
    endpoint = Default(String, '/health')
    expected_response = Default(String, 'ok')
    expected_response_code = Default(Integer, 0)


class ShellHealthChecker(Struct):
    shell_command = Required(String)


class HealthCheckerConfig(Struct):
    http = HttpHealthChecker
    shell = ShellHealthChecker


DefaultHealthChecker = HealthCheckerConfig(http=HttpHealthChecker())


class HealthCheckConfig(Struct):
    health_checker = Default(HealthCheckerConfig, DefaultHealthChecker)
    initial_interval_secs = Default(Float, 15.0)
    interval_secs = Default(Float, 10.0)
    max_consecutive_failures = Default(Integer, 0)
    min_consecutive_successes = Default(Integer, 1)
    timeout_secs = Default(Float, 1.0)


class HttpLifecycleConfig(Struct):
    port = Default(String, 'health')
    graceful_shutdown_endpoint = Default(String, '/quitquitquit')
    shutdown_endpoint = Default(String, '/abortabortabort')
    graceful_shutdown_wait_secs = Default(Integer, 5)
    shutdown_wait_secs = Default(Integer, 5)


class LifecycleConfig(Struct):
    http = HttpLifecycleConfig


DisableLifecycle = LifecycleConfig()
DefaultLifecycleConfig = LifecycleConfig(http=HttpLifecycleConfig())


class Announcer(Struct):
    primary_port = Default(String, 'http')
    portmap = Default(Map(String, String), {'aurora': '{{primary_port}}'})
    zk_path = String


class Parameter(Struct):
    name = Required(String)
    value = Required(String)


class Docker(Struct):
    image = Required(String)
    parameters = Default(List(Parameter), [])


class AppcImage(Struct):
    name = Required(String)
    image_id = Required(String)


class DockerImage(Struct):
    name = Required(String)
    tag = Required(String)


Mode = Enum('Mode', ('RO', 'RW'))


class Volume(Struct):
    container_path = Required(String)
    host_path = Required(String)
    mode = Required(Mode)


class Mesos(Struct):
    image = Choice([AppcImage, DockerImage])
    volumes = Default(List(Volume), [])


class Container(Struct):
    docker = Docker


class PartitionPolicy(Struct):
    reschedule = Default(Boolean, True)
    delay_secs = Default(Integer, 0)


class Metadata(Struct):
    key = Required(String)
    value = Required(String)


class CountSlaPolicy(Struct):
    count = Required(Integer)
    duration_secs = Required(Integer)


class PercentageSlaPolicy(Struct):
    percentage = Required(Float)
    duration_secs = Required(Integer)


class CoordinatorSlaPolicy(Struct):
    coordinator_url = Required(String)
    status_key = Default(String, 'drain')


class ExecutorConfig(Struct):
    name = Default(String, 'AuroraExecutor')
    data = Default(String, '')


class MesosTaskInstance(Struct):
    """The legacy executor payload: one instance of a job's task (executorConfig data before MesosJob)."""
    task = Required(Task)
    instance = Required(Integer)
    role = Required(String)
    announce = Announcer
    environment = Required(String)
    health_check_config = Default(HealthCheckConfig, HealthCheckConfig())
    lifecycle = LifecycleConfig


class Job(Struct):
    name = Default(String, '{{task.name}}')
    role = Required(String)
    contact = String
    cluster = Required(String)
    environment = Required(String)
    instances = Default(Integer, 1)
    task = Required(Task)
    announce = Announcer
    tier = String
    cron_schedule = String
    cron_collision_policy = Default(String, 'KILL_EXISTING')
    update_config = Default(UpdateConfig, UpdateConfig())
    constraints = Map(String, String)           # scheduling constraints, e.g. {'host': 'limit:1'}
    metadata = Default(List(Metadata), [])
    service = Default(Boolean, False)
    max_task_failures = Default(Integer, 1)
    production = Default(Boolean, False)
    priority = Default(Integer, 0)
    health_check_config = Default(HealthCheckConfig, HealthCheckConfig())
    lifecycle = Default(LifecycleConfig, DefaultLifecycleConfig)
    task_links = Map(String, String)
    enable_hooks = Default(Boolean, False)
    partition_policy = PartitionPolicy
    sla_policy = Choice([CountSlaPolicy, PercentageSlaPolicy, CoordinatorSlaPolicy])
    executor_config = Default(ExecutorConfig, ExecutorConfig())
    container = Choice([Container, Docker, Mesos])


MesosJob = Job
Service = Job(service=True)
