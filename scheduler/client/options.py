"""Options shared by several verbs, spelled and defaulted as Aurora's client/cli/options.py."""
from .jobkeys import AuroraJobKey, instance_specifier, partial_jobkey, qualified_role, task_instance_key
from .registry import argument_type, opt

BATCH_OPTION = opt("--batch-size", type=int, default=1,
                   help="Number of instances to be operate on in one iteration")
BIND_OPTION = opt("--bind", type=str, default=[], dest="bindings", action="append", metavar="pystachio-binding",
                  help="Bind a thermos mustache variable name to a value. "
                       "Multiple flags may be used to specify multiple values.")
BROWSER_OPTION = opt("--open-browser", default=False, dest="open_browser", action="store_true",
                     help="open browser to view job page after job is created")
CONFIG_ARGUMENT = opt("config_file", type=str,
                      help="pathname of the aurora configuration file contain the job specification")
CONFIG_OPTION = opt("--config", type=str, default=None, dest="config", metavar="pathname",
                    help="Config file for the job, possibly containing hooks")
FORCE_OPTION = opt("--force", default=False, action="store_true",
                   help="Force execution of the command even if there is a warning")
HEALTHCHECK_OPTION = opt("--healthcheck-interval-seconds", type=int, default=3, dest="healthcheck_interval_seconds",
                         help="Number of seconds between healthchecks while monitoring update")
INSTANCES_SPEC_ARGUMENT = opt("instance_spec", type=argument_type(instance_specifier, "instance_spec"),
                              metavar="CLUSTER/ROLE/ENV/NAME[/INSTANCES]",
                              help="Fully specified job instance key, in CLUSTER/ROLE/ENV/NAME[/INSTANCES] "
                                   "format. If INSTANCES is omitted, then all instances will be operated on.")
JOBSPEC_ARGUMENT = opt("jobspec", type=argument_type(AuroraJobKey.from_path, "jobspec"),
                       metavar="CLUSTER/ROLE/ENV/NAME",
                       help="Fully specified job key, in CLUSTER/ROLE/ENV/NAME format")
JSON_READ_OPTION = opt("--read-json", default=False, dest="read_json", action="store_true",
                       help="Read job configuration in json format")
JSON_WRITE_OPTION = opt("--write-json", default=False, dest="write_json", action="store_true",
                        help="Generate command output in JSON format")
MAX_TOTAL_FAILURES_OPTION = opt("--max-total-failures", type=int, default=0,
                                help="Maximum number of instance failures to be tolerated in total before "
                                     "aborting.")
NO_BATCHING_OPTION = opt("--no-batching", default=False, action="store_true",
                         help="Run the command on all instances at once, instead of running in batches")
ROLE_ARGUMENT = opt("role", type=argument_type(qualified_role, "role"), metavar="CLUSTER/NAME",
                    help="Rolename to retrieve information about")
STRICT_OPTION = opt("--strict", default=False, action="store_true",
                    help="Check instances and generate an error for instance ranges in parameters that are "
                         "larger than the actual set of instances in the job")
TASK_INSTANCE_ARGUMENT = opt("task_instance", type=argument_type(task_instance_key, "task_instance"),
                             metavar="CLUSTER/ROLE/ENV/NAME/INSTANCE",
                             help="A task instance specifier, in the form CLUSTER/ROLE/ENV/NAME/INSTANCE")
WATCH_OPTION = opt("--watch-secs", type=int, default=30,
                   help="Minimum number of seconds a instance must remain in RUNNING state before considered "
                        "a success.")
WAIT_UNTIL_OPTION = opt("--wait-until", choices=("PENDING", "RUNNING", "FINISHED"), default="PENDING",
                        help="Block the client until all the tasks have transitioned into the requested state. "
                             "Default: PENDING")
WILDCARD_JOBKEY_OPTION = opt("jobspec", type=argument_type(partial_jobkey, "jobspec"),
                             metavar="cluster[/role[/env[/name]]]",
                             help="A jobkey, optionally containing wildcards")


def split_options(text: str) -> list[str]:
    """`--ssh-options='-F my_config -o ConnectTimeout=5'` -> its words, as a shell would split them."""
    import shlex
    try:
        return shlex.split(text)
    except ValueError as e:
        raise ValueError(f"Cannot split options {text!r}: {e}") from None


EXECUTOR_SANDBOX_OPTION = opt("--executor-sandbox", action="store_true", default=False,
                              help="Run the command in the executor sandbox instead of the task sandbox")
SSH_USER_OPTION = opt("--ssh-user", "-l", default=None, help="ssh as this username instead of the job's role")
SSH_OPTIONS = opt("--ssh-options", dest="ssh_options", action="append", default=[], metavar="OPTIONS",
                  type=argument_type(split_options, "ssh_options"),
                  help="Options for ssh, split as a shell would: --ssh-options='-F ssh_config -p 2222' "
                       "(repeatable)")
SCP_OPTIONS = opt("--scp-options", dest="scp_options", action="append", default=[], metavar="OPTIONS",
                  type=argument_type(split_options, "scp_options"),
                  help="Options for scp, split as a shell would: --scp-options='-F ssh_config -r' (repeatable)")
SSH_INSTANCE_ARGUMENT = opt("instance_spec", type=argument_type(instance_specifier, "instance_spec"),
                            metavar="CLUSTER/ROLE/ENV/NAME[/INSTANCES]",
                            help="Fully specified job instance key, in CLUSTER/ROLE/ENV/NAME[/INSTANCES] format. "
                                 "If INSTANCES is omitted, the first instance found is used.")
