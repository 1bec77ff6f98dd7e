"""`aurora-admin`: Aurora's operator command line (admin/aurora_admin.py), on the `aurora` client's machinery.

    aurora-admin set_quota devcluster www 4.0 8g 16g
    aurora-admin host_drain --hosts=agent1 devcluster

Flat commands (`aurora-admin COMMAND [options] ARGS`), registered by the light modules in COMMANDS on one
`registry.Noun`. The cluster's scheduler, retries and printing are `context.Context`'s, the guard against
tracebacks is `cli.run_guarded`'s. What differs from `aurora` is Aurora's admin manners: a refusal or bad
input prints its message alone and exits 1 (Aurora's die()/check_and_log_response), and every scheduler
answer is reported as `Response from scheduler: OK (message: ...)` on stderr.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import exits
from .cli import run_guarded
from .context import Context
from .exits import CommandError

COMMANDS = ("scheduler.client.admin", "scheduler.client.admin_hosts")


def commands() -> dict:
    """Every admin command by name."""
    registered = {}
    for module in COMMANDS:
        registered.update(importlib.import_module(module).ADMIN.verbs)
    return registered


def parser(registered: dict) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="aurora-admin", description="Aurora's operator command-line client.")
    top.add_argument("--version", action="version", version="aurora-admin (Python rebuild) 0.22-compatible")
    sub = top.add_subparsers(dest="command", title="commands", metavar="COMMAND")
    sub.required = True
    for verb in sorted(registered.values(), key=lambda v: v.name):
        command = sub.add_parser(verb.name, help=verb.help.splitlines()[0], description=verb.help,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        for option in verb.options:
            option.add_to(command)
    return top


class AdminContext(Context):
    """Context with aurora-admin's texts: an unknown cluster is Aurora admin's die() (exit 1)."""

    def cluster(self, name: str):
        from .clusters import ClusterNotFound
        try:
            return self.clusters[name]
        except ClusterNotFound:
            raise CommandError(exits.EXIT_ADMIN_FAILURE, f"Unknown cluster: {name}. Known clusters: "
                                                         f"{', '.join(self.clusters)}") from None

    def check_and_log_response(self, reply) -> None:
        """Aurora's check_and_log_response: report the answer on stderr; anything but OK exits 1."""
        from thermos_executor.aurora_api.gen.ttypes import ResponseCode
        name = ResponseCode._VALUES_TO_NAMES.get(reply.responseCode, str(reply.responseCode))
        self.print_err(f"Response from scheduler: {name} (message: {combine_messages(reply)})")
        if reply.responseCode != ResponseCode.OK:
            raise CommandError(exits.EXIT_ADMIN_FAILURE, "", logged=True)


def combine_messages(reply) -> str:
    """Aurora's base.combine_messages: the details' messages, comma-joined ('' when none)."""
    return ", ".join(d.message or "Unknown error" for d in reply.details or [])


def die(message: str) -> CommandError:
    """Aurora's die(): the message alone, exit 1 (raise what this returns)."""
    return CommandError(exits.EXIT_ADMIN_FAILURE, message)


def execute(args: list[str]) -> int:
    registered = commands()
    options = parser(registered).parse_args(args)
    context = AdminContext(options)
    try:
        code = registered[options.command].execute(context)
        return exits.EXIT_OK if code is None else code
    except CommandError as error:
        if not error.logged and error.message:
            context.print_err(error.message)
        return error.code
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    return run_guarded(execute, sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
