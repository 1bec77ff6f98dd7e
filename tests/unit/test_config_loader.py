"""Loading config files, picking a task, templating and port discovery."""
import json
import os
import socket
import textwrap

import pytest

from thermos_executor import config
from thermos_executor.config import ConfigError

EXAMPLES = os.path.join(os.path.dirname(__file__), '..', '..', 'examples')


@pytest.fixture
def write(tmp_path):
    def write(name, text):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return str(path)
    return write


def run_spec(task, ports=None, **kw):
    kw.setdefault('hostname', 'node1')
    return config.to_spec(config.interpolate(task, task_id='t-1', ports=ports or {}, user='alice', **kw))


def cmdlines(task, ports=None, **kw):
    return [p.cmdline for p in run_spec(task, ports, **kw).processes]


def one_task(path, **kw):
    return config.choose_task(config.load_config(path, **kw))


# ---- the examples ----------------------------------------------------------------------------------------

def test_hello_world_example_is_a_service_job_needing_http():
    loaded = config.load_config(os.path.join(EXAMPLES, 'hello_world.aurora'))
    assert loaded.tasks == [] and len(loaded.jobs) == 1
    job = loaded.jobs[0]
    assert job.service().get() is True and job.name().get() == 'hello_world'
    task = config.choose_task(loaded)
    assert config.required_ports(task) == ['http']
    assert cmdlines(task, {'http': 8080}) == ['python3 -m http.server 8080 --bind 127.0.0.1']


def test_hello_thermos_example_orders_two_processes():
    spec = run_spec(one_task(os.path.join(EXAMPLES, 'hello.thermos')))
    assert [p.name for p in spec.processes] == ['prepare', 'greet']
    assert spec.constraints == (('prepare', 'greet'),)
    assert 'hello from t-1 (instance 0) on node1' in spec.processes[0].cmdline


# ---- Python configs ----------------------------------------------------------------------------------------

def test_export_takes_tasks_and_dicts_and_python_works(write):
    path = write('a.thermos', """
        import os
        export(Task(name='one', processes=[Process(name='p', cmdline='echo ' + os.path.basename('/x/y'))]))
        export({'name': 'two', 'processes': [{'name': 'q', 'cmdline': 'true'}]})
    """)
    loaded = config.load_config(path)
    assert [t.name().get() for t in loaded.tasks] == ['one', 'two']
    assert cmdlines(loaded.tasks[0]) == ['echo y']


def test_export_of_anything_else_names_the_line(write):
    path = write('a.thermos', """
        export(42)
    """)
    with pytest.raises(ConfigError, match=r'a\.thermos:2: TypeError: export\(\) takes a Task or a dict, '
                                          'got int$'):
        config.load_config(path)


def test_helpers_and_aurora_names_are_in_scope(write):
    path = write('a.aurora', """
        a = Process(name='a', cmdline='java ' + java_options('server'))
        b = Process(name='b', cmdline='python ' + python_options(v=None))
        t = SequentialTask(processes=[a, b], resources=Resources(cpu=1, ram=1*GB, disk=1*MB))
        jobs = [Service(cluster='c', role='r', environment='e', task=t, announce=Announcer(),
                        health_check_config=HealthCheckConfig(), update_config=UpdateConfig())]
        export(Tasks.combine(SimpleTask('x', 'true'), t, name='combined'))
        units = Units
    """)
    loaded = config.load_config(path)
    assert cmdlines(config.choose_task(loaded, job='a')) == ['java -server', 'python -v']
    assert loaded.tasks[0].name().get() == 'combined'


def test_python_error_names_file_and_line(write):
    path = write('hello.aurora', """
        import os

        hello = Process(
          name='hello',
          cmdline='echo hi')
        other = Proces(name='x')
    """)
    with pytest.raises(ConfigError) as e:
        config.load_config(path)
    assert str(e.value) == f"{path}:7: NameError: name 'Proces' is not defined"


def test_syntax_error_names_file_and_line(write):
    path = write('bad.aurora', """
        p = Process(name='p',
                    cmdline='x'
        q = 1
    """)
    with pytest.raises(ConfigError, match=r'bad\.aurora:\d: SyntaxError: '):
        config.load_config(path)


def test_invalid_enum_literal_fails_loading_at_its_line(write):
    path = write('a.aurora', """
        log = Logger(destination='syslog')
    """)
    with pytest.raises(ConfigError, match=r'a\.aurora:2: ValueError: LoggerDestination only accepts the '
                                          r'following values: file, console, both, none'):
        config.load_config(path)


def test_missing_file():
    with pytest.raises(ConfigError, match='^config file not found: /nonexistent/x.aurora$'):
        config.load_config('/nonexistent/x.aurora')


def test_include_is_relative_to_each_including_file(write):
    write('lib/common.aurora', """
        include('deeper/base.aurora')
        common = Process(name='common', cmdline='echo ' + BASE)
    """)
    write('lib/deeper/base.aurora', """
        BASE = 'base'
    """)
    path = write('main.aurora', """
        include('lib/common.aurora')
        export(Task(processes=[common]))
    """)
    assert cmdlines(one_task(path)) == ['echo base']


def test_error_in_included_file_names_that_file(write):
    write('lib/broken.aurora', """
        x = 1
        y = undefined_name
    """)
    path = write('main.aurora', """
        include('lib/broken.aurora')
    """)
    with pytest.raises(ConfigError, match=r"lib/broken\.aurora:3: NameError: name 'undefined_name' is not "):
        config.load_config(path)


def test_missing_include_names_the_including_line(write):
    path = write('main.aurora', """
        x = 1
        include('nope.aurora')
    """)
    with pytest.raises(ConfigError, match=r'main\.aurora:3: config file not found: .*nope\.aurora$'):
        config.load_config(path)


def test_include_cycle(write):
    write('a.aurora', "include('b.aurora')\n")
    write('b.aurora', "include('a.aurora')\n")
    with pytest.raises(ConfigError, match=r'include cycle: .*a\.aurora -> .*b\.aurora -> .*a\.aurora'):
        config.load_config(write('main.aurora', "include('a.aurora')\n"))


def test_jobs_must_be_jobs(write):
    with pytest.raises(ConfigError, match=r'a\.aurora: jobs must be a list of Job objects'):
        config.load_config(write('a.aurora', "jobs = [Task()]\n"))


def test_job_without_task(write):
    with pytest.raises(ConfigError, match=r'a\.aurora: job c/r/e/\{\{task.name\}\} has no task'):
        config.load_config(write('a.aurora', "jobs = [Job(cluster='c', role='r', environment='e')]\n"))


# ---- JSON ------------------------------------------------------------------------------------------------

def test_json_task_file(write):
    path = write('t.json', json.dumps({'name': 't', 'processes': [{'name': 'p', 'cmdline': 'echo {{x}}'}]}))
    assert cmdlines(one_task(path, json=True, bindings={'x': '1'})) == ['echo 1']


def test_json_job_file_uses_its_task(write):
    job = {'cluster': 'c', 'role': 'www', 'environment': 'prod', 'name': 'j',
           'task': {'processes': [{'name': 'p', 'cmdline': 'echo {{role}}'}]}}
    loaded = config.load_config(write('j.json', json.dumps(job)), json=True)
    assert len(loaded.jobs) == 1 and cmdlines(config.choose_task(loaded)) == ['echo www']


def test_interpolated_task_json_loads_back(write):
    task = config.interpolate(one_task(os.path.join(EXAMPLES, 'hello.thermos')), task_id='t', ports={},
                              user='u', hostname='h')
    path = write('task.json', json.dumps(config.task_to_json(task)))
    assert one_task(path, json=True) == task


@pytest.mark.parametrize('text, message', [
    ('{"name": ', r'invalid JSON: Expecting value: line 1 column 10'),
    ('[1, 2]', r'expected a JSON object \(a Task or a Job\), got list'),
    ('{"processes": 3}', r'ListContainer expects an iterable'),
])
def test_bad_json(write, text, message):
    path = write('bad.json', text)
    with pytest.raises(ConfigError, match=r'bad\.json: ' + message):
        config.load_config(path, json=True)


# ---- choosing a task -------------------------------------------------------------------------------------

@pytest.fixture
def several(write):
    return config.load_config(write('several.aurora', """
        def task(name):
          return Task(name=name, processes=[Process(name=name + '_p', cmdline='echo {{environment}}')])
        export(task('solo'))
        jobs = [
          Job(cluster='c', role='r', environment='devel', name='web', task=task('web_task')),
          Job(cluster='c', role='r', environment='prod', name='web', task=task('web_task')),
          Job(cluster='c', role='r', environment='prod', name='db', task=task('db_task')),
        ]
    """))


def test_job_by_name(several):
    assert cmdlines(config.choose_task(several, job='db')) == ['echo prod']


def test_job_by_key_when_names_clash(several):
    assert cmdlines(config.choose_task(several, job='c/r/devel/web')) == ['echo devel']
    with pytest.raises(ConfigError, match='^several jobs named web: c/r/devel/web, c/r/prod/web; '
                                          'give --job CLUSTER/ROLE/ENV/NAME$'):
        config.choose_task(several, job='web')


def test_unknown_job(several):
    with pytest.raises(ConfigError, match='^no job named nope; jobs: web, web, db$'):
        config.choose_task(several, job='nope')


def test_job_and_task_must_agree(several):
    assert config.choose_task(several, job='db', task='db_task').name().get() == 'db_task'
    with pytest.raises(ConfigError, match='^job db has no task named solo \\(its task is db_task\\)$'):
        config.choose_task(several, job='db', task='solo')


def test_task_by_name_among_exported_and_job_tasks(several):
    assert config.choose_task(several, task='solo').name().get() == 'solo'
    assert cmdlines(config.choose_task(several, task='db_task')) == ['echo prod']
    with pytest.raises(ConfigError, match='several tasks named web_task in .*; choose one with --job NAME'):
        config.choose_task(several, task='web_task')
    with pytest.raises(ConfigError, match='no task named x in .*; tasks: solo; jobs: web, web, db$'):
        config.choose_task(several, task='x')


def test_several_candidates_need_a_choice(several):
    with pytest.raises(ConfigError, match=r'several\.aurora defines several '
                                          r'\(tasks: solo; jobs: web, web, db\); '
                                          'choose one with --task NAME or --job NAME$'):
        config.choose_task(several)


def test_nothing_to_run(write):
    path = write('empty.aurora', 'x = 1\n')
    with pytest.raises(ConfigError, match=f'^no tasks or jobs defined in {path}$'):
        config.choose_task(config.load_config(path))


# ---- templating ------------------------------------------------------------------------------------------

def test_job_attributes_resolve_in_its_task(write):
    path = write('a.aurora', """
        p = Process(name='p', cmdline='{{role}} {{environment}} {{cluster}} {{instances}} {{name}} '
                                      '{{mesos.role}} {{mesos.cluster}}')
        jobs = [Job(cluster='west', role='www', environment='prod', instances=3, task=Task(processes=[p]))]
    """)
    assert cmdlines(one_task(path)) == ['www prod west 3 p www west']


def test_thermos_and_mesos_contexts(write):
    path = write('a.thermos', """
        cmdline = '{{thermos.task_id}} {{thermos.user}} {{thermos.ports[http]}} {{mesos.instance}} ' \\
                  '{{mesos.hostname}}'
        export(Task(processes=[Process(name='p', cmdline=cmdline)]))
    """)
    task = one_task(path)
    assert cmdlines(task, {'http': 80}) == ['t-1 alice 80 0 node1']
    assert cmdlines(task, {'http': 80}, hostname=None) == [f't-1 alice 80 0 {socket.gethostname()}']


def test_bindings_override_the_default_mesos_context(write):
    path = write('a.thermos', """
        cmdline = '{{mesos.instance}} {{mesos.hostname}} {{greeting}}'
        export(Task(processes=[Process(name='p', cmdline=cmdline)]))
    """)
    bindings = {'mesos.instance': '3', 'greeting': 'hi'}
    assert cmdlines(one_task(path, bindings=bindings)) == ['3 node1 hi']
    assert cmdlines(one_task(path), bindings=bindings) == ['3 node1 hi']
    bindings = {'mesos.hostname': 'elsewhere', 'greeting': 'x'}
    assert cmdlines(one_task(path, bindings=bindings)) == ['0 elsewhere x']


def test_bindings_reach_job_tasks_and_names(write):
    path = write('a.aurora', """
        jobs = [Job(cluster='c', role='r', environment='{{env}}', name='job_{{env}}',
                    task=Task(processes=[Process(name='p', cmdline='echo {{environment}}')]))]
    """)
    loaded = config.load_config(path, bindings={'env': 'staging'})
    assert cmdlines(config.choose_task(loaded, job='job_staging')) == ['echo staging']


def test_struct_fields_are_visible_inside_the_struct(write):
    path = write('a.thermos', "export(Task(processes=[Process(name='web', cmdline='echo {{name}}')]))\n")
    assert cmdlines(one_task(path)) == ['echo web']


def test_invalid_binding_name(write):
    with pytest.raises(ConfigError, match="invalid binding name 'a b'"):
        config.load_config(write('a.thermos', ''), bindings={'a b': '1'})


def test_required_ports_are_sorted_and_unique(write):
    path = write('a.thermos', """
        export(Task(processes=[
          Process(name='a', cmdline='{{thermos.ports[http]}} {{thermos.ports[admin]}}'),
          Process(name='b', cmdline='{{thermos.ports[http]}} {{thermos.task_id}}')]))
    """)
    assert config.required_ports(one_task(path)) == ['admin', 'http']
    assert config.required_ports(one_task(path, bindings={'thermos.ports[admin]': '9'})) == ['http']


def test_nested_templates_are_rejected(write):
    path = write('a.thermos', """
        export(Task(processes=[Process(name='a', cmdline='echo {{thermos.ports[{{port_name}}]}}')]))
    """)
    with pytest.raises(ConfigError, match=r"^process 'a' cmdline: nested template in "
                                          r"'echo \{\{thermos.ports\[\{\{port_name\}\}\]\}\}'; "
                                          r"template variables cannot be nested$"):
        config.required_ports(one_task(path, bindings={'port_name': 'http'}))


def test_dotted_port_reference_is_rejected(write):
    path = write('a.thermos', "export(Task(processes=[Process(name='a', cmdline='{{thermos.ports.http}}')]))")
    with pytest.raises(ConfigError, match=r'^bad port reference \{\{thermos.ports.http\}\}: '
                                          r'write \{\{thermos.ports\[NAME\]\}\}$'):
        config.required_ports(one_task(path))


def test_inspect_leaves_unbound_refs(write):
    path = write('a.thermos', """
        a = Process(name='a', cmdline='{{thermos.ports[http]}} {{mesos.instance}}', max_failures='{{tries}}')
        export(Task(name='t', processes=[a]))
    """)
    data = config.task_to_json(one_task(path))
    assert data['processes'][0]['cmdline'] == '{{thermos.ports[http]}} {{mesos.instance}}'
    assert data['processes'][0]['max_failures'] == '{{tries}}'
    assert config.task_to_json(one_task(path, bindings={'tries': '3'}))['processes'][0]['max_failures'] == 3


def test_bindings_win_over_job_fields(write):
    path = write('a.aurora', """
        jobs = [Job(cluster='c', role='r', environment='devel',
                    task=Task(processes=[Process(name='p', cmdline='echo {{environment}}')]))]
    """)
    assert cmdlines(one_task(path, bindings={'environment': 'prod'})) == ['echo prod']
