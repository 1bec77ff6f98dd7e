"""The scheduler's Mesos flags: every new flag's default (through `flags.mesos`, the MesosSettings the framework
takes), each flag reaching its setting, a bad value of each refused with one line naming it, and the `float` kind
of the shared Aurora flag parser (finite numbers only)."""
import pytest

from scheduler.app import flags
from scheduler.framework.driver import MasterAddressError, check_master_address
from scheduler.framework.settings import (ExecutorSettings, FrameworkSettings, MesosSettings, Mount,
                                          PreemptorSettings, ReconciliationSettings, SchedulingSettings)
from tests.unit.test_scheduler_flags import REQUIRED
from thermos_executor.daemon.aurora_flags import Flag, FlagError
from thermos_executor.daemon.aurora_flags import parse as parse_argv


def test_defaults_are_auroras():
    c = flags.parse(REQUIRED)
    assert flags.mesos(c) == MesosSettings(
        master_address="zk://zk1:2181/mesos",
        framework=FrameworkSettings(name="Aurora", user="root", failover_timeout=21 * 86400.0, role=None,
                                    hostname=c.hostname, registration_timeout=60.0),
        executor=ExecutorSettings(path=flags.default_executor_path(), resources=(), flags="",
                                  home_in_sandbox=False, mounts=(), cpus=0.25, ram_mb=128,
                                  populate_discovery_info=False, cluster_name="devcluster"),
        scheduling=SchedulingSettings(first_schedule_delay=0.001, initial_schedule_penalty=1.0,
                                      max_schedule_penalty=60.0, max_attempts_per_sec=40.0, max_tasks_per_attempt=5,
                                      max_batch_size=3, startup_delay=30.0, min_offer_hold_time=300.0,
                                      offer_hold_jitter=60.0, offer_filter_duration=5.0, offer_order=("RANDOM",),
                                      hold_offers_forever=False, unavailability_threshold=360.0,
                                      offer_reservation_duration=180.0),
        reconciliation=ReconciliationSettings(initial_delay=60.0, explicit_interval=3600.0,
                                              implicit_interval=3600.0, schedule_spread=1800.0,
                                              explicit_batch_size=1000, explicit_batch_interval=5.0),
        preemptor=PreemptorSettings(enabled=True, delay=180.0, slot_hold_time=300.0, search_initial_delay=180.0,
                                    search_interval=60.0, reservation_batch_size=5),
        max_status_update_batch_size=1000, kill_retry_interval=15.0, transient_task_state_timeout=300.0)
    assert c.host_maintenance_polling_interval == 60.0
    # the settings' own defaults are the same figures (tests and the daemon agree)
    assert flags.mesos(c) == MesosSettings(master_address="zk://zk1:2181/mesos",
                                           framework=FrameworkSettings(hostname=c.hostname),
                                           executor=ExecutorSettings(path=flags.default_executor_path(),
                                                                     cluster_name="devcluster"))


def test_every_flag_reaches_its_setting():
    c = flags.parse(REQUIRED + [
        "-mesos_master_address=master1:5050", "-mesos_role=aurora", "-framework_name=Prod",
        "-framework_failover_timeout=7days", "-executor_user=aurora", "-max_registration_delay=2mins",
        "-thermos_executor_path=/usr/bin/thermos_executor", "-thermos_executor_resources=/a.sh, /b.tgz",
        "-thermos_executor_flags=--announcer-ensemble zk:2181", "-thermos_home_in_sandbox",
        "-thermos_executor_cpu=0.5", "-thermos_executor_ram=256MB",
        "-global_container_mounts=/etc/ssl:/etc/ssl:ro,/cache:/c:rw", "-populate_discovery_info=true",
        "-first_schedule_delay=10ms", "-initial_schedule_penalty=2secs", "-max_schedule_penalty=1mins",
        "-max_schedule_attempts_per_sec=10.5", "-max_tasks_per_schedule_attempt=7", "-scheduling_max_batch_size=4",
        "-max_reschedule_task_delay_on_startup=5secs", "-min_offer_hold_time=1mins", "-offer_hold_jitter_window=0secs",
        "-offer_filter_duration=1secs", "-offer_order=cpu,MEMORY", "-hold_offers_forever",
        "-unavailability_threshold=1hrs", "-reconciliation_initial_delay=1secs",
        "-reconciliation_explicit_interval=10mins", "-reconciliation_implicit_interval=20mins",
        "-reconciliation_schedule_spread=1mins", "-reconciliation_explicit_batch_size=50",
        "-reconciliation_explicit_batch_interval=100ms", "-max_status_update_batch_size=10",
        "-initial_task_kill_retry_interval=3secs", "-transient_task_state_timeout=2mins",
        "-host_maintenance_polling_interval=30secs", "-enable_preemptor=false", "-preemption_delay=10secs",
        "-preemption_slot_hold_time=2mins", "-preemption_slot_search_initial_delay=5ms",
        "-preemption_slot_search_interval=500ms", "-preemption_reservation_max_batch_size=2",
        "-offer_reservation_duration=30secs"])
    m = flags.mesos(c)
    assert m.master_address == "master1:5050"
    assert m.framework == FrameworkSettings(name="Prod", user="aurora", failover_timeout=7 * 86400.0, role="aurora",
                                            hostname=c.hostname, registration_timeout=120.0)
    assert m.executor == ExecutorSettings(
        path="/usr/bin/thermos_executor", resources=("/a.sh", "/b.tgz"), flags="--announcer-ensemble zk:2181",
        home_in_sandbox=True, mounts=(Mount("/etc/ssl", "/etc/ssl", "RO"), Mount("/cache", "/c", "RW")), cpus=0.5,
        ram_mb=256, populate_discovery_info=True, cluster_name="devcluster")
    assert m.scheduling == SchedulingSettings(
        first_schedule_delay=0.01, initial_schedule_penalty=2.0, max_schedule_penalty=60.0, max_attempts_per_sec=10.5,
        max_tasks_per_attempt=7, max_batch_size=4, startup_delay=5.0, min_offer_hold_time=60.0,
        offer_hold_jitter=0.0, offer_filter_duration=1.0, offer_order=("CPU", "MEMORY"), hold_offers_forever=True,
        unavailability_threshold=3600.0, offer_reservation_duration=30.0)
    assert m.preemptor == PreemptorSettings(enabled=False, delay=10.0, slot_hold_time=120.0, search_initial_delay=0.005,
                                            search_interval=0.5, reservation_batch_size=2)
    assert m.reconciliation == ReconciliationSettings(initial_delay=1.0, explicit_interval=600.0,
                                                      implicit_interval=1200.0, schedule_spread=60.0,
                                                      explicit_batch_size=50, explicit_batch_interval=0.1)
    assert (m.max_status_update_batch_size, m.kill_retry_interval, m.transient_task_state_timeout) == (10, 3.0, 120.0)
    assert c.host_maintenance_polling_interval == 30.0


@pytest.mark.parametrize("argv, message", [
    (["-mesos_master_address=foo"], "-mesos_master_address='foo' is not host:port, zk://host:port[,host:port]/path"),
    (["-mesos_master_address=zk://"], "-mesos_master_address='zk://' is not host:port"),
    (["-mesos_master_address=host:99999"], "-mesos_master_address=host:99999: the port is out of range"),
    (["-mesos_master_address=host:0"], "the port is out of range"),
    (["-mesos_master_address=http://master:5050"], "is not host:port"),
    (["-mesos_master_address=master:5050 "], "is not host:port"),
    (["-mesos_master_address=zk://zk1:2181 /mesos"], "is not host:port"),
    (["-global_container_mounts=/a:/b"], "-global_container_mounts: '/a:/b' is not host_path:container_path:mode"),
    (["-global_container_mounts=/a:/b:rx"], "-global_container_mounts: '/a:/b:rx': mode must be ro or rw"),
    (["-global_container_mounts=/a:/b:ro,::rw"], "-global_container_mounts: '::rw' is not host_path:container"),
    (["-global_container_mounts=/a:/b:ro:x"], "is not host_path:container_path:mode"),
    (["-offer_order=FASTEST"], "-offer_order: 'FASTEST' is not one of RANDOM, CPU, MEMORY, DISK, REVOCABLE_CPU"),
    (["-offer_order=CPU,bogus"], "-offer_order: 'BOGUS' is not one of"),
    (["-thermos_executor_cpu=nan"], "-thermos_executor_cpu: 'nan' is not a finite number"),
    (["-thermos_executor_cpu=inf"], "-thermos_executor_cpu: 'inf' is not a finite number"),
    (["-thermos_executor_cpu=lots"], "-thermos_executor_cpu: 'lots' is not a number"),
    (["-thermos_executor_cpu=-0.25"], "-thermos_executor_cpu must not be negative"),
    (["-thermos_executor_ram=1TB"], "-thermos_executor_ram: bad size '1TB'"),
    (["-max_schedule_attempts_per_sec=NaN"], "-max_schedule_attempts_per_sec: 'NaN' is not a finite number"),
    (["-max_schedule_attempts_per_sec=0"], "-max_schedule_attempts_per_sec must be positive"),
    (["-framework_failover_timeout=-1secs"], "-framework_failover_timeout: bad duration '-1secs'"),
    (["-max_registration_delay=0secs"], "-max_registration_delay must be positive"),
    (["-max_registration_delay=-5secs"], "-max_registration_delay: bad duration"),
    (["-first_schedule_delay=-1ms"], "-first_schedule_delay: bad duration '-1ms'"),
    (["-initial_schedule_penalty=0secs"], "-initial_schedule_penalty must be positive"),
    (["-max_schedule_penalty=0secs"], "-max_schedule_penalty must be positive"),
    (["-max_tasks_per_schedule_attempt=0"], "-max_tasks_per_schedule_attempt must be at least 1"),
    (["-scheduling_max_batch_size=0"], "-scheduling_max_batch_size must be at least 1"),
    (["-max_reschedule_task_delay_on_startup=soon"], "-max_reschedule_task_delay_on_startup: bad duration"),
    (["-min_offer_hold_time=-5mins"], "-min_offer_hold_time: bad duration '-5mins'"),
    (["-offer_hold_jitter_window=1fortnight"], "-offer_hold_jitter_window: bad duration"),
    (["-offer_filter_duration=-1secs"], "-offer_filter_duration: bad duration"),
    (["-unavailability_threshold=-1hrs"], "-unavailability_threshold: bad duration"),
    (["-hold_offers_forever=maybe"], "-hold_offers_forever: 'maybe' is not true or false"),
    (["-thermos_home_in_sandbox=maybe"], "-thermos_home_in_sandbox: 'maybe' is not true or false"),
    (["-populate_discovery_info=2"], "-populate_discovery_info: '2' is not true or false"),
    (["-reconciliation_initial_delay=-1secs"], "-reconciliation_initial_delay: bad duration"),
    (["-reconciliation_explicit_interval=0secs"], "-reconciliation_explicit_interval must be positive"),
    (["-reconciliation_implicit_interval=0secs"], "-reconciliation_implicit_interval must be positive"),
    (["-reconciliation_schedule_spread=-1mins"], "-reconciliation_schedule_spread: bad duration"),
    (["-reconciliation_explicit_batch_size=0"], "-reconciliation_explicit_batch_size must be at least 1"),
    (["-reconciliation_explicit_batch_interval=x"], "-reconciliation_explicit_batch_interval: bad duration"),
    (["-max_status_update_batch_size=0"], "-max_status_update_batch_size must be at least 1"),
    (["-max_status_update_batch_size=many"], "-max_status_update_batch_size: 'many' is not an integer"),
    (["-initial_task_kill_retry_interval=0secs"], "-initial_task_kill_retry_interval must be positive"),
    (["-host_maintenance_polling_interval=0secs"], "-host_maintenance_polling_interval must be positive"),
    (["-transient_task_state_timeout=-1secs"], "-transient_task_state_timeout: bad duration"),
    (["-enable_preemptor=maybe"], "-enable_preemptor: 'maybe' is not true or false"),
    (["-preemption_delay=0secs"], "-preemption_delay must be positive"),
    (["-preemption_delay=3minutes"], "-preemption_delay: bad duration '3minutes'"),
    (["-preemption_slot_hold_time=0mins"], "-preemption_slot_hold_time must be positive"),
    (["-preemption_slot_hold_time=-5mins"], "-preemption_slot_hold_time: bad duration"),
    (["-preemption_slot_search_interval=0secs"], "-preemption_slot_search_interval must be positive"),
    (["-preemption_slot_search_interval=often"], "-preemption_slot_search_interval: bad duration 'often'"),
    (["-preemption_slot_search_initial_delay=-1mins"], "-preemption_slot_search_initial_delay: bad duration"),
    (["-preemption_reservation_max_batch_size=0"], "-preemption_reservation_max_batch_size must be at least 1"),
    (["-offer_reservation_duration=-3mins"], "-offer_reservation_duration: bad duration '-3mins'"),
    (["-offer_reservation_duration=3fortnights"], "-offer_reservation_duration: bad duration '3fortnights'"),
    (["-preemption_slot_search_initial_delay=0secs"], "-preemption_slot_search_initial_delay must be positive"),
])
def test_bad_values(argv, message):
    with pytest.raises(flags.FlagError) as e:
        flags.parse(REQUIRED + argv)
    assert message in str(e.value) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize("address", ["local", "master:5050", "10.0.0.1:5050", "[::1]:5050", "zk://zk1:2181/mesos",
                                     "zk://zk1:2181,zk2:2181,zk3:2181/mesos", "zk://zk1:2181/aurora/mesos"])
def test_good_master_addresses(address):
    assert check_master_address(address) == address


@pytest.mark.parametrize("address", ["", "foo", "zk://", "zk:///mesos", "zk://zk1:2181", "zk://zk1:2181/",
                                     "zk://zk1:2181//mesos", "host:", ":5050", "host:65536",
                                     "host:123456", "master:50 50"])
def test_bad_master_addresses(address):
    with pytest.raises(MasterAddressError) as e:
        check_master_address(address)
    assert "-mesos_master_address" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("text, value", [("1.5", 1.5), ("0", 0.0), ("-2", -2.0), ("1e3", 1000.0), (" 7 ", 7.0)])
def test_float_kind_takes_finite_numbers(text, value):
    assert parse_argv([f"-x={text}"], [Flag("x", "float", 0.25)]) == {"x": value}
    assert parse_argv([], [Flag("x", "float", 0.25)]) == {"x": 0.25}


@pytest.mark.parametrize("text, message", [("nan", "-x: 'nan' is not a finite number"),
                                           ("-inf", "-x: '-inf' is not a finite number"),
                                           ("Infinity", "-x: 'Infinity' is not a finite number"),
                                           ("1e999", "-x: '1e999' is not a finite number"),
                                           ("one", "-x: 'one' is not a number"), ("", "-x: '' is not a number")])
def test_float_kind_refuses_the_rest(text, message):
    with pytest.raises(FlagError) as e:
        parse_argv([f"-x={text}"], [Flag("x", "float")])
    assert str(e.value) == message
