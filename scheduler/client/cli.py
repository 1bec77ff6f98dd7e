"""`aurora`: Aurora's noun/verb command line (client/cli), on this project's scheduler API.

    aurora job create west/www/prod/hello hello.aurora --wait-until=RUNNING
    aurora job status west/www

`main()` builds the parser from the noun modules in NOUNS (light modules: help stays fast), runs the verb
and turns every way a command can end into an exit code of Aurora's (`exits`): a CommandError prints
"Error executing command: <message>" once; Ctrl-C is 130; anything unexpected prints one line and is 20,
never a traceback. Usage errors are argparse's (usage, then the reason; exit 2), as Aurora's.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import exits

NOUNS = ("scheduler.client.jobs", "scheduler.client.cron", "scheduler.client.config_noun", "scheduler.client.quota",
         "scheduler.client.task", "scheduler.client.sla")


def nouns() -> dict:
    result = {}
    for module in NOUNS:
        noun = importlib.import_module(module).NOUN
        result[noun.name] = noun
    return result


def parser(registered: dict) -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="aurora", description="Aurora's command-line client.")
    top.add_argument("--version", action="version", version="aurora (Python rebuild) 0.22-compatible")
    sub = top.add_subparsers(dest="noun", title="commands", metavar="{" + ",".join(registered) + "}")
    sub.required = True
    for noun in registered.values():
        noun_parser = sub.add_parser(noun.name, help=noun.help, description=noun.help)
        verbs = noun_parser.add_subparsers(dest="verb", title="subcommands",
                                           metavar="{" + ",".join(noun.verbs) + "}")
        verbs.required = True
        for verb in noun.verbs.values():
            verb_parser = verbs.add_parser(verb.name, help=verb.help.splitlines()[0], description=verb.help,
                                           formatter_class=argparse.RawDescriptionHelpFormatter)
            for option in verb.options:
                option.add_to(verb_parser)
    return top


def execute(args: list[str]) -> int:
    registered = nouns()
    options = parser(registered).parse_args(args)
    verb = registered[options.noun].verbs[options.verb]
    from .context import Context
    context = Context(options)
    try:
        code = verb.execute(context)
        return exits.EXIT_OK if code is None else code
    except exits.CommandError as error:
        if not error.logged:
            context.print_err(f"Error executing command: {error.message}")
        return error.code
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    return run_guarded(execute, sys.argv[1:] if argv is None else argv)


def run_guarded(execute_args, args: list[str]) -> int:
    """Runs `execute_args(args)` and turns every way it can end into an exit code (shared with
    `aurora-admin`): Ctrl-C is 130, a closed pipe is 0, anything unexpected one line and 20."""
    try:
        code = execute_args(args)
    except KeyboardInterrupt:
        print("Command interrupted by user", file=sys.stderr)
        code = exits.EXIT_INTERRUPTED
    except SystemExit:
        raise
    except BrokenPipeError:
        code = exits.EXIT_OK
    except Exception as error:  # noqa: BLE001 - the promise: one line, never a traceback
        message = str(error).strip().splitlines()
        print(f"Fatal error running command: {type(error).__name__}: {message[0] if message else ''}",
              file=sys.stderr)
        code = exits.EXIT_UNKNOWN_ERROR
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return code

if __name__ == "__main__":
    sys.exit(main())
