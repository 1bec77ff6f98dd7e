"""The schema's fields and defaults are Aurora's; the JSON and TaskSpec forms carry exactly what was set."""
import pytest

from thermos_executor import config
from thermos_executor.config.schema import (
    GB,
    KB,
    MB,
    TB,
    Announcer,
    Constraint,
    Docker,
    DockerImage,
    HealthCheckConfig,
    Job,
    Logger,
    Mesos,
    MesosContext,
    Process,
    Resources,
    RotatePolicy,
    Service,
    Task,
    ThermosContext,
    UpdateConfig,
)
from thermos_executor.config.spec import LoggerSpec


def task(**kw):
    return Task(processes=[Process(name='p', cmdline='true')], **kw)


def test_size_constants():
    assert (KB, MB, GB, TB) == (1024, 1024 ** 2, 1024 ** 3, 1024 ** 4)


def test_process_defaults():
    p = Process(name='p', cmdline='true')
    assert p.max_failures().get() == 1
    assert p.daemon().get() is False
    assert p.ephemeral().get() is False
    assert p.min_duration().get() == 5
    assert p.final().get() is False
    assert not p.has_logger() and not p.has_resources()


def test_task_defaults_and_name_from_first_process():
    t = Task(processes=[Process(name='first', cmdline='true'), Process(name='second', cmdline='true')])
    assert t.name().get() == 'first'
    assert t.constraints().get() == ()
    assert (t.max_failures().get(), t.max_concurrency().get(), t.finalization_wait().get()) == (1, 0, 30)
    assert not t.has_user() and not t.has_resources()


def test_resources_gpu_defaults_to_zero():
    assert Resources(cpu=1, ram=MB, disk=MB).gpu().get() == 0


def test_logger_and_rotate_policy_defaults():
    logger = Logger()
    assert (logger.destination().get(), logger.mode().get()) == ('file', 'standard')
    assert not logger.has_rotate()
    assert (RotatePolicy().log_size().get(), RotatePolicy().backups().get()) == (100 * MB, 5)


@pytest.mark.parametrize('kw, message', [
    ({'destination': 'syslog'}, 'LoggerDestination only accepts the following values: file, console, both'),
    ({'mode': 'daily'}, 'LoggerMode only accepts the following values: standard, rotate'),
])
def test_logger_enum_rejects_unknown_literal_at_construction(kw, message):
    with pytest.raises(ValueError, match=message):
        Logger(**kw)


def test_contexts():
    thermos = ThermosContext(ports={'http': 80}, task_id='t', user='u')
    assert dict(thermos.ports().get()) == {'http': 80}
    assert dict(MesosContext(instance=2, hostname='h').get()) == {'instance': 2, 'hostname': 'h'}


def test_constraint_holds_an_order():
    assert Constraint(order=['a', 'b']).order().get() == ('a', 'b')


def test_job_defaults():
    job = Job(cluster='c', role='r', environment='devel', task=task())
    assert job.name().get() == 'p'
    assert job.instances().get() == 1
    assert job.service().get() is False
    assert job.max_task_failures().get() == 1
    assert job.priority().get() == 0
    assert job.production().get() is False
    assert job.cron_collision_policy().get() == 'KILL_EXISTING'
    assert job.metadata().get() == ()
    assert job.executor_config().name().get() == 'AuroraExecutor'
    assert job.check().ok()


def test_service_is_a_job_with_service_set():
    service = Service(cluster='c', role='r', environment='devel', task=task())
    assert isinstance(service, Job) and service.service().get() is True


def test_update_config_defaults():
    assert dict(UpdateConfig().get()) == {
        'batch_size': 1, 'watch_secs': 45, 'max_per_shard_failures': 0, 'max_total_failures': 0,
        'rollback_on_failure': True, 'wait_for_batch_completion': False, 'sla_aware': False}


def test_health_check_defaults_are_aurora_http():
    hc = HealthCheckConfig()
    assert dict(hc.health_checker().http().get()) == {'endpoint': '/health', 'expected_response': 'ok',
                                                 'expected_response_code': 0}
    intervals = hc.initial_interval_secs().get(), hc.interval_secs().get(), hc.timeout_secs().get()
    assert intervals == (15.0, 10.0, 1.0)
    assert (hc.max_consecutive_failures().get(), hc.min_consecutive_successes().get()) == (0, 1)


def test_job_lifecycle_defaults_to_http():
    http = Job(cluster='c', role='r', environment='e', task=task()).lifecycle().http()
    assert dict(http.get()) == {'port': 'health', 'graceful_shutdown_endpoint': '/quitquitquit',
                          'shutdown_endpoint': '/abortabortabort', 'graceful_shutdown_wait_secs': 5,
                          'shutdown_wait_secs': 5}


def test_announcer_portmap_aliases_aurora_to_primary_port():
    announcer = Announcer(zk_path='/x')
    assert announcer.primary_port().get() == 'http'
    assert dict(announcer.portmap().get()) == {'aurora': 'http'}


def test_job_takes_containers_and_a_constraints_map():
    job = Job(cluster='c', role='r', environment='e', task=task(), constraints={'host': 'limit:1'},
              container=Mesos(image=DockerImage(name='debian', tag='12')))
    assert job.check().ok()
    assert dict(job.constraints().get()) == {'host': 'limit:1'}
    assert Job(cluster='c', role='r', environment='e', task=task(), container=Docker(image='x')).check().ok()


def test_task_to_json_fills_defaults_and_omits_unset_fields():
    data = config.task_to_json(task())
    assert data == {'name': 'p', 'constraints': [], 'max_failures': 1, 'max_concurrency': 0,
                    'finalization_wait': 30,
                    'processes': [{'name': 'p', 'cmdline': 'true', 'max_failures': 1, 'daemon': False,
                                   'ephemeral': False, 'min_duration': 5, 'final': False}]}


def test_interpolated_task_json_round_trips_to_an_equal_task():
    original = Task(processes=[Process(name='p', cmdline='x {{thermos.task_id}}',
                                       logger=Logger(mode='rotate', rotate=RotatePolicy()))],
                    resources=Resources(cpu=0.5, ram=MB, disk=GB), user='www',
                    constraints=[Constraint(order=['p'])])
    interpolated = config.interpolate(original, task_id='t', ports={}, user='u', hostname='h')
    assert config.task_from_json(config.task_to_json(interpolated)) == interpolated


def test_task_from_json_rejects_garbage():
    with pytest.raises(config.ConfigError, match='invalid task JSON'):
        config.task_from_json({'processes': 'not a list'})


def spec_logger(logger):
    spec = config.to_spec(task()(processes=[Process(name='p', cmdline='x', logger=logger)]))
    return spec.processes[0].logger


def test_spec_logger_absent_when_unset_even_against_an_empty_logger():
    assert config.to_spec(task()).processes[0].logger is None
    assert spec_logger(Logger()) == LoggerSpec('file', 'standard', None, None)


def test_spec_logger_sizes_only_with_a_rotate_policy():
    assert spec_logger(Logger(mode='rotate')) == LoggerSpec('file', 'rotate', None, None)
    assert spec_logger(Logger(destination='both', mode='rotate', rotate=RotatePolicy(backups=2))) == \
        LoggerSpec('both', 'rotate', 100 * MB, 2)


def test_spec_carries_every_task_and_process_field():
    t = Task(name='t', processes=[Process(name='a', cmdline='x', max_failures=0, daemon=True, min_duration=1),
                                  Process(name='b', cmdline='y', ephemeral=True, final=True)],
             constraints=[Constraint(order=['a', 'b'])], max_failures=2, max_concurrency=3,
             finalization_wait=4, user='www', resources=Resources(cpu=1, ram=2, disk=3))
    spec = config.to_spec(t)
    assert (spec.name, spec.constraints, spec.max_failures, spec.max_concurrency, spec.finalization_wait,
            spec.user) == ('t', (('a', 'b'),), 2, 3, 4, 'www')
    assert spec.resources == {'cpu': 1.0, 'ram': 2, 'disk': 3, 'gpu': 0}
    a, b = spec.processes
    assert (a.max_failures, a.daemon, a.min_duration, a.final) == (0, True, 1, False)
    assert (b.ephemeral, b.final) == (True, True)
