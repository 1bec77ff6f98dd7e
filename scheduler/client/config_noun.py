"""`aurora config list CONFIG`: the job keys a config file defines (Aurora's client/cli/config.py)."""
from __future__ import annotations

from . import exits
from .options import BIND_OPTION, CONFIG_ARGUMENT
from .registry import Noun, Verb

NOUN = Noun("config", "Work with an aurora configuration file")


@NOUN.verb
class ListJobs(Verb):
    name = "list"
    help = "List all of the jobs defined in a configuration file"
    options = (BIND_OPTION, CONFIG_ARGUMENT)

    def execute(self, context):
        from thermos_executor.errors import ConfigError

        from .jobconfig import field, load_jobs
        try:
            jobs = load_jobs(context.options.config_file, bindings=context.options.bindings)
        except ConfigError as e:
            context.print_err(f"Error loading configuration file: {e}")
            return exits.EXIT_COMMAND_FAILURE
        keys = ["/".join(field(j, f) for f in ("cluster", "role", "environment", "name")) for j in jobs]
        context.print_out(f"jobs=[{', '.join(keys)}]")
        return exits.EXIT_OK
