"""How `aurora` picks a job from a config (Aurora's AuroraConfig.pick rules and messages), and how the command
line turns every ending into an exit code without a traceback."""
import json

import pytest

from scheduler.client import cli, exits
from scheduler.client.jobconfig import get_config, load_jobs, parse_bindings
from scheduler.client.jobkeys import AuroraJobKey
from thermos_executor.errors import ConfigError

TWO_JOBS = """
task = Task(processes=[Process(name='main', cmdline='echo {{greeting}}')],
            resources=Resources(cpu=0.1, ram=8*MB, disk=8*MB))
jobs = [Job(cluster='west', role='www', environment='prod', name='hello', task=task),
        Job(cluster='west', role='www', environment='devel', name='hello', task=task, instances=3)]
"""


def key(path):
    return AuroraJobKey.from_path(path)


def test_picks_the_job_the_key_names(tmp_path):
    path = tmp_path / "two.aurora"
    path.write_text(TWO_JOBS)
    config = get_config(key("west/www/devel/hello"), str(path), bindings=["greeting=hi"])
    assert config.key == key("west/www/devel/hello") and config.instances == 3
    assert json.loads(config.thrift.taskConfig.executorConfig.data)["task"]["processes"][0]["cmdline"] == "echo hi"


def test_selection_errors_are_aurora_s(tmp_path):
    path = tmp_path / "two.aurora"
    path.write_text(TWO_JOBS)
    with pytest.raises(ConfigError) as e:
        get_config(key("west/www/test/hello"), str(path), bindings=["greeting=hi"])
    assert str(e.value) == ("Could not find job west/www/test/hello\nCandidates are:\n  west/www/prod/hello\n"
                            "  west/www/devel/hello")
    empty = tmp_path / "empty.aurora"
    empty.write_text("jobs = []\n")
    with pytest.raises(ConfigError, match="^No job defined in this config!$"):
        get_config(key("west/www/prod/hello"), str(empty))
    twice = tmp_path / "twice.aurora"
    twice.write_text(TWO_JOBS.replace("'devel'", "'prod'"))
    with pytest.raises(ConfigError, match="^Multiple jobs match, please disambiguate by specifying a job key.$"):
        get_config(key("west/www/prod/hello"), str(twice), bindings=["greeting=x"])
    with pytest.raises(ConfigError, match="unbound variables: {{greeting}}"):
        get_config(key("west/www/prod/hello"), str(path))


def test_json_configs_and_bindings(tmp_path):
    path = tmp_path / "two.aurora"
    path.write_text(TWO_JOBS)
    jobs = load_jobs(str(path), bindings=["greeting=x"])
    document = tmp_path / "jobs.json"
    document.write_text(json.dumps({"jobs": [json.loads(j.json_dumps()) for j in jobs]}))
    assert len(load_jobs(str(document), read_json=True)) == 2
    single = tmp_path / "one.json"
    single.write_text(jobs[0].json_dumps())
    assert get_config(key("west/www/prod/hello"), str(single), read_json=True).instances == 1
    single.write_text("[1]")
    with pytest.raises(ConfigError, match="expected a job object"):
        load_jobs(str(single), read_json=True)
    assert parse_bindings(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ConfigError, match="Invalid binding 'a'"):
        parse_bindings(["a"])


def test_unexpected_errors_are_one_line_and_exit_20(monkeypatch, capsys):
    def boom(args):
        raise RuntimeError("wires crossed\nsecond line")
    monkeypatch.setattr(cli, "execute", boom)
    assert cli.main(["job", "list", "x"]) == exits.EXIT_UNKNOWN_ERROR
    assert capsys.readouterr().err == "Fatal error running command: RuntimeError: wires crossed\n"

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(cli, "execute", interrupted)
    assert cli.main(["job", "list", "x"]) == exits.EXIT_INTERRUPTED


def test_exit_codes_are_aurora_s():
    assert (exits.EXIT_OK, exits.EXIT_INVALID_CONFIGURATION, exits.EXIT_COMMAND_FAILURE, exits.EXIT_INVALID_COMMAND,
            exits.EXIT_INVALID_PARAMETER, exits.EXIT_NETWORK_ERROR, exits.EXIT_PERMISSION_VIOLATION,
            exits.EXIT_TIMEOUT, exits.EXIT_API_ERROR, exits.EXIT_UNKNOWN_ERROR, exits.EXIT_AUTH_ERROR,
            exits.EXIT_INTERRUPTED) == (0, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 130)


def test_every_verb_is_registered_with_help():
    nouns = cli.nouns()
    assert set(nouns["job"].verbs) == {"create", "diff", "inspect", "kill", "killall", "list", "open", "restart",
                                      "status", "add"}
    assert set(nouns["config"].verbs) == {"list"} and set(nouns["quota"].verbs) == {"get"}
    assert all(v.help for n in nouns.values() for v in n.verbs.values())
    with pytest.raises(SystemExit) as e:
        cli.main(["job", "nosuchverb"])
    assert e.value.code == 2
