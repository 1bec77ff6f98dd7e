"""aurora-scheduler's flags: Aurora's spellings, durations, sizes, booleans, required flags, the settings built
from them; and the ServerSet member JSON."""
import pytest

from scheduler.app import flags
from scheduler.app.leadership import member_data
from scheduler.state.update_history import UpdateHistorySettings

REQUIRED = ["-cluster_name=devcluster", "-zk_endpoints=zk1:2181,zk2:2181", "-serverset_path=/aurora/scheduler",
            "-mesos_master_address=zk://zk1:2181/mesos", "-native_log_file_path=/var/lib/aurora/db",
            "-native_log_zk_group_path=/aurora/replicated-log", "-backup_dir=/var/lib/aurora/backups"]


def test_defaults_are_auroras():
    c = flags.parse(REQUIRED)
    assert (c.http_port, c.zk_session_timeout, c.native_log_quorum_size, c.native_log_write_timeout) == (0, 15, 1, 3)
    assert (c.dlog_snapshot_interval, c.dlog_max_entry_size, c.backup_interval, c.max_saved_backups) == \
        (3600, 512 * 1024, 3600, 48)
    assert (c.serverset_endpoint_name, c.max_tasks_per_job, c.allowed_container_types) == ("http", 4000, ("MESOS",))
    assert flags.flapping(c).initial_delay_ms == 30_000 and flags.pruning(c).prune_threshold_ms == 2 * 86400_000
    assert (c.cron_timezone, c.cron_start_initial_backoff, c.cron_start_max_backoff) == ("GMT", 5, 60)


def test_spellings_durations_sizes_booleans():
    c = flags.parse(REQUIRED + ["--http_port=8081", "-zk_session_timeout", "30secs", "-dlog_max_entry_size=1MB",
                                "-native_log_write_timeout=500ms", "-allow_docker_parameters",
                                "-require-docker-use-executor=false", "-zk_chroot_path=/chroot",
                                "-default_docker_parameters=a=1,b=2", "-initial_flapping_task_delay=1mins"])
    assert (c.http_port, c.zk_session_timeout, c.dlog_max_entry_size, c.native_log_write_timeout) == \
        (8081, 30, 1 << 20, 0.5)
    assert c.allow_docker_parameters is True and c.require_docker_use_executor is False
    assert c.zk_endpoints == "zk1:2181,zk2:2181/chroot"
    assert c.default_docker_parameters == (("a", "1"), ("b", "2"))
    assert flags.flapping(c).initial_delay_ms == 60_000


@pytest.mark.parametrize("argv, message", [
    (["-http_port=x"], "-http_port: 'x' is not an integer"),
    (["-http_port=70000"], "-http_port: 70000 is not a port number"),
    (["-backup_interval=1fortnight"], "-backup_interval: bad duration"),
    (["-dlog_max_entry_size=1TB"], "-dlog_max_entry_size: bad size"),
    (["-native_log_quorum_size=0"], "-native_log_quorum_size must be at least 1"),
    (["-serverset_path=aurora"], "-serverset_path: 'aurora' is not an absolute ZooKeeper path"),
    (["-allowed_job_environments=("], "-allowed_job_environments: bad regular expression"),
    (["-default_docker_parameters=novalue"], "-default_docker_parameters: 'novalue' is not name=value"),
    (["stray"], "unexpected argument 'stray'"),
    (["-cron_timezone=Mars/Olympus"], "-cron_timezone: unknown time zone: Mars/Olympus"),
    (["-cron_start_initial_backoff=0secs"], "-cron_start_initial_backoff must be positive"),
    (["-zk_connection_timeout=0secs"], "-zk_connection_timeout must be positive"),
    (["-job_update_history_pruning_interval=0secs"], "-job_update_history_pruning_interval must be positive"),
    (["-job_update_history_per_job_threshold=-1"], "-job_update_history_per_job_threshold must not be negative"),
    (["-job_update_history_per_job_threshold=many"], "-job_update_history_per_job_threshold: 'many' is not an int"),
    (["-job_update_history_pruning_threshold=1fortnight"], "-job_update_history_pruning_threshold: bad duration"),
])
def test_bad_flags(argv, message):
    with pytest.raises(flags.FlagError) as e:
        flags.parse(REQUIRED + argv)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_job_update_history_flags():
    assert flags.update_history(flags.parse(REQUIRED)) == UpdateHistorySettings(
        per_job=10, threshold_ms=30 * 86400_000, interval_ms=15 * 60_000)
    c = flags.parse(REQUIRED + ["-job_update_history_per_job_threshold=0", "-job_update_history_pruning_threshold=1hrs",
                                "-job-update-history-pruning-interval=30secs"])
    assert flags.update_history(c) == UpdateHistorySettings(per_job=0, threshold_ms=3600_000, interval_ms=30_000)


def test_missing_required_flags_are_all_named():
    with pytest.raises(flags.FlagError, match=r"missing required flags: -serverset_path, -backup_dir$"):
        flags.parse([a for a in REQUIRED if not a.startswith(("-serverset_path", "-backup_dir"))])


def test_tier_config(tmp_path):
    path = tmp_path / "tiers.json"
    path.write_text('{"default": "x", "tiers": {"x": {"preemptible": true, "revocable": false}}}')
    assert flags.api_settings(flags.parse(REQUIRED + [f"-tier_config={path}"])).tiers.default == "x"
    path.write_text('{"default": "y", "tiers": {"x": {}}}')
    with pytest.raises(flags.FlagError, match="Default tier name should match supplied tiers."):
        flags.api_settings(flags.parse(REQUIRED + [f"-tier_config={path}"]))


def test_member_data_is_auroras_serverset_json():
    assert member_data("sched1", 8081, "http") == {
        "serviceEndpoint": {"host": "sched1", "port": 8081},
        "additionalEndpoints": {"http": {"host": "sched1", "port": 8081}}, "status": "ALIVE"}


def test_a_backup_dir_unusable_when_the_daemon_starts_is_a_startup_error_taking_nothing(tmp_path):
    """flags.check_paths looked earlier; if the directory changed since, the daemon says so in one line before
    it binds a port or locks the replica."""
    from scheduler.app.daemon import SchedulerDaemon, StartupError
    (tmp_path / "file").write_text("")
    argv = [a for a in REQUIRED if not a.startswith(("-backup_dir", "-native_log_file_path"))]
    config = flags.parse([*argv, f"-backup_dir={tmp_path}/file/backups", f"-native_log_file_path={tmp_path}/log"])
    with pytest.raises(StartupError, match=r"^-backup_dir=.*/file/backups cannot be created: Not a directory$"):
        SchedulerDaemon(config)
    assert not (tmp_path / "log").exists()
