"""`aurora-admin` host maintenance (Aurora 0.22's admin/maintenance.py, host_maintenance.py): host_deactivate,
host_activate, host_status, host_drain and sla_host_drain.

Draining is two-phase as in Aurora: every listed host goes into maintenance first (scheduling avoids it),
then batch by batch (--grouping) each is drained and the command waits, polling maintenanceStatus, until
the batch is DRAINED or --drain_timeout passes. Drained hosts stay in maintenance until host_activate.
"""
from __future__ import annotations

from . import exits
from .admin import ADMIN, CLUSTER, _die_on_bad_input
from .admin_util import DEFAULT_GROUPING, GROUPINGS
from .registry import Verb, opt

FILENAME_OPTION = opt("--filename", default=None, help="Name of the file with hostnames")
HOSTS_OPTION = opt("--hosts", default=None, help="Comma separated list of hosts")
GROUPING_OPTION = opt("--grouping", default=DEFAULT_GROUPING, metavar="GROUPING",
                      help=f"Grouping function to use to group hosts.  Options: {', '.join(GROUPINGS)}.  "
                           f"Default: {DEFAULT_GROUPING}")
# Ours: Aurora waits 5 s between polls and up to 5 minutes per batch (MAX_STATUS_WAIT), fixed.
DRAIN_TIMEOUT_OPTION = opt("--drain_timeout", "--drain-timeout", dest="drain_timeout", type=float, default=300.0,
                           metavar="SECONDS", help="How long to wait for a batch of hosts to be DRAINED. "
                                                   "Default: 300")
POLL_INTERVAL_OPTION = opt("--poll_interval", "--poll-interval", dest="poll_interval", type=float, default=5.0,
                           metavar="SECONDS", help="Seconds between maintenance status checks. Default: 5")
POST_DRAIN_SCRIPT_OPTION = opt("--post_drain_script", default=None,
                               help="Path to a script to run for each host if needed.")


def _hosts(context) -> list[str]:
    from .admin_util import parse_hostnames
    return _die_on_bad_input(parse_hostnames, context.options.filename, context.options.hosts)


def _thrift_hosts(names):
    from thermos_executor.aurora_api.gen.ttypes import Hosts
    return Hosts(hostNames=set(names))


def mode_name(mode) -> str:
    from thermos_executor.aurora_api.gen.ttypes import MaintenanceMode
    return MaintenanceMode._VALUES_TO_NAMES.get(mode, str(mode))


def statuses(context, api, names) -> list[tuple[str, str]]:
    """[(host, mode name)] of the hosts, sorted."""
    reply = api.maintenanceStatus(_thrift_hosts(names))
    context.check_and_log_response(reply)
    return sorted((s.host, mode_name(s.mode)) for s in reply.result.maintenanceStatusResult.statuses or [])


def wait_for_drained(status_of, hosts: set[str], *, timeout: float, interval: float, clock, log) -> set[str]:
    """Polls `status_of(hosts)` ([(host, mode)]) until every host is DRAINED or `timeout` seconds pass;
    returns the hosts still not DRAINED (Aurora's _drain_hosts wait)."""
    deadline = clock.monotonic() + timeout
    waiting = set(hosts)
    last: dict[str, str] = {}
    while waiting:
        last = dict(status_of(waiting))
        waiting = {h for h in waiting if last.get(h) != "DRAINED"}
        if not waiting:
            break
        remaining = deadline - clock.monotonic()
        if remaining <= 0:
            log(f"Failed to move all hosts into DRAINED within {timeout:g} s:\n"
                + "\n".join(f"\tHost:{h}\tStatus:{last.get(h, 'NONE')}" for h in sorted(waiting)))
            break
        log(f"Waiting for hosts to be in DRAINED: {sorted(waiting)}")
        clock.sleep(min(interval, remaining))
    return waiting


def _post_drain_callback(path):
    """Runs the script with each drained host as its argument (Aurora's parse_script)."""
    import os
    if not path:
        return None
    from .admin_cli import die
    if not os.path.exists(path):
        raise die(f"No such file: {path}")
    command = os.path.abspath(path)

    def callback(host):
        import subprocess
        subprocess.run([command, host], check=False)
    return callback


@ADMIN.verb
class HostDeactivate(Verb):
    name = "host_deactivate"
    help = ("Puts hosts into maintenance mode.\n\n"
            "The list of hosts is marked for maintenance, and will be de-prioritized from consideration for\n"
            "scheduling.\n\nusage: host_deactivate {--filename=filename | --hosts=hosts} cluster")
    options = (FILENAME_OPTION, HOSTS_OPTION, CLUSTER)

    def execute(self, context):
        hosts = _hosts(context)
        context.check_and_log_response(context.get_api(context.options.cluster).startMaintenance(
            _thrift_hosts(hosts)))


@ADMIN.verb
class HostActivate(Verb):
    name = "host_activate"
    help = ("Removes maintenance mode from hosts.\n\n"
            "The list of hosts is marked as not in a drained state anymore. This will allow normal scheduling\n"
            "to resume on the given list of hosts.\n\n"
            "usage: host_activate {--filename=filename | --hosts=hosts} cluster")
    options = (FILENAME_OPTION, HOSTS_OPTION, CLUSTER)

    def execute(self, context):
        hosts = _hosts(context)
        api = context.get_api(context.options.cluster)
        context.check_and_log_response(api.endMaintenance(_thrift_hosts(hosts)))
        for host, mode in statuses(context, api, hosts):
            if mode != "NONE":
                context.print_err(f"{host} is DRAINING or in DRAINED")


@ADMIN.verb
class HostStatus(Verb):
    name = "host_status"
    help = ("Print the drain status of each supplied host.\n\n"
            "usage: host_status {--filename=filename | --hosts=hosts} cluster")
    options = (FILENAME_OPTION, HOSTS_OPTION, CLUSTER)

    def execute(self, context):
        hosts = _hosts(context)
        for host, mode in statuses(context, context.get_api(context.options.cluster), hosts):
            context.print_out(f"{host} is in state: {mode}")


class _Drain(Verb):
    """What host_drain and sla_host_drain share: batches, the wait for DRAINED, the post-drain script."""

    def drain_batch(self, context, api, batch) -> None:
        raise NotImplementedError

    def execute(self, context):
        import time

        from .admin_cli import die
        from .admin_util import check_grouping, host_batches
        o = context.options
        hosts = _hosts(context)
        _die_on_bad_input(check_grouping, o.grouping)
        if o.drain_timeout < 0 or o.poll_interval <= 0:
            raise die("--drain_timeout must be >= 0 and --poll_interval > 0")
        callback = _post_drain_callback(getattr(o, "post_drain_script", None))
        api = context.get_api(o.cluster)
        self.before(context, api, hosts)
        not_drained: set[str] = set()
        for batch in host_batches(hosts, o.grouping):
            self.drain_batch(context, api, batch)
            left = wait_for_drained(lambda names: statuses(context, api, names), batch, timeout=o.drain_timeout,
                                    interval=o.poll_interval, clock=time, log=context.print_err)
            not_drained |= left
            if callback:
                for host in sorted(batch - left):
                    callback(host)
        if not_drained:
            raise die(f"Hosts not DRAINED within {o.drain_timeout:g} s: {', '.join(sorted(not_drained))}")
        context.print_err(f"Hosts DRAINED: {', '.join(sorted(hosts))}")
        return exits.EXIT_OK

    def before(self, context, api, hosts) -> None:
        pass


@ADMIN.verb
class HostDrain(_Drain):
    name = "host_drain"
    help = ("Puts hosts into maintenance and drains any active tasks on them.\n\n"
            "Asks the scheduler to start maintenance on the list of provided hosts (see host_deactivate for\n"
            "more details) and drains any active tasks on them.\n\n"
            "The list of hosts is drained and marked in a drained state.  This will kill off any tasks\n"
            "currently running on these hosts, as well as prevent future tasks from scheduling on these hosts\n"
            "while they are drained.\n\n"
            "The hosts are left in maintenance mode upon completion. Use host_activate to return hosts back to\n"
            "service and allow scheduling tasks on them.\n\n"
            "usage: host_drain {--filename=filename | --hosts=hosts} [--post_drain_script=path]\n"
            "                  [--grouping=function] [--drain_timeout=SECONDS] cluster")
    options = (FILENAME_OPTION, HOSTS_OPTION, POST_DRAIN_SCRIPT_OPTION, GROUPING_OPTION, DRAIN_TIMEOUT_OPTION,
               POLL_INTERVAL_OPTION, CLUSTER)

    def before(self, context, api, hosts):
        context.check_and_log_response(api.startMaintenance(_thrift_hosts(hosts)))

    def drain_batch(self, context, api, batch):
        context.check_and_log_response(api.drainHosts(_thrift_hosts(batch)))


@ADMIN.verb
class SlaHostDrain(_Drain):
    name = "sla_host_drain"
    help = ("Drains hosts honouring each job's SLA (slaDrainHosts).\n\n"
            "Asks the scheduler to drain the hosts while honouring each job's SLA (slaDrainHosts); tasks without\n"
            "an SlaPolicy use --default_percentage/--default_duration, and after --force_drain_timeout tasks\n"
            "are drained regardless.\n\n"
            "usage: sla_host_drain {--filename=filename | --hosts=hosts} [--default_percentage=PCT]\n"
            "                      [--default_duration=DURATION] [--force_drain_timeout=DURATION] cluster")
    options = (FILENAME_OPTION, HOSTS_OPTION, GROUPING_OPTION,
               opt("--default_percentage", default="95",
                   help="Percentage of tasks required to be up all the time within the duration. Default: 95"),
               opt("--default_duration", default="30m",
                   help="Time interval (now - value) for the percentage of up tasks. Format: XdYhZmWs. "
                        "Default: 30m"),
               opt("--force_drain_timeout", default="7d",
                   help="Time interval (now - value) after which tasks will be forcefully drained. "
                        "Format: XdYhZmWs. Default: 7d"),
               DRAIN_TIMEOUT_OPTION, POLL_INTERVAL_OPTION, CLUSTER)

    def before(self, context, api, hosts):
        from .admin_util import parse_sla_percentage, parse_time_secs
        o = context.options
        self._percentage = _die_on_bad_input(parse_sla_percentage, o.default_percentage)
        self._duration = _die_on_bad_input(parse_time_secs, o.default_duration)
        self._timeout = _die_on_bad_input(parse_time_secs, o.force_drain_timeout)

    def drain_batch(self, context, api, batch):
        from thrift.Thrift import TApplicationException

        from thermos_executor.aurora_api.gen.ttypes import PercentageSlaPolicy, SlaPolicy

        from .admin_cli import die
        policy = SlaPolicy(percentageSlaPolicy=PercentageSlaPolicy(percentage=self._percentage,
                                                                   durationSecs=self._duration))
        try:
            reply = api.slaDrainHosts(_thrift_hosts(batch), policy, self._timeout)
        except TApplicationException as e:
            if e.type == TApplicationException.UNKNOWN_METHOD:
                raise die("SLA-aware drain is not supported by this scheduler yet (no slaDrainHosts); "
                          "use host_drain") from None
            raise
        context.check_and_log_response(reply)
