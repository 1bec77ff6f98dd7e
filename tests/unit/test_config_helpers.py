"""Config helpers behave as Aurora's schema_helpers (thermos-runner reference, section 1.5)."""
import pytest

from thermos_executor.config.helpers import (
    SequentialTask,
    SimpleTask,
    Tasks,
    Units,
    java_options,
    order,
    python_options,
)
from thermos_executor.config.schema import GB, Constraint, Process, Resources, Task


def proc(name):
    return Process(name=name, cmdline=f'echo {name}')


def orders(task):
    return [c['order'] for c in task.constraints().get()]


def test_order_takes_processes_names_or_both():
    assert order(proc('a'), 'b', proc('c')) == [Constraint(order=['a', 'b', 'c'])]


def test_order_lists_concatenate_into_several_constraints():
    assert order('a', 'b') + order('c', 'd') == [Constraint(order=['a', 'b']), Constraint(order=['c', 'd'])]


@pytest.mark.parametrize('bad', [['a', 'b'], None, 3])
def test_order_rejects_anything_else(bad):
    with pytest.raises(ValueError, match='order\\(\\) takes Process objects or process names'):
        order('a', bad)


def test_simple_task_has_stock_resources():
    task = SimpleTask('hello', 'echo hi')
    assert task.name().get() == 'hello'
    assert task.processes().get() == (proc('hello')(cmdline='echo hi').get(),)
    assert task.resources() == Resources(cpu=1.0, ram=GB, disk=GB)
    assert Tasks.simple('hello', 'echo hi') == task


def test_sequential_task_orders_processes_in_list_order():
    task = SequentialTask(processes=[proc('a'), proc('b'), proc('c')])
    assert orders(task) == [('a', 'b', 'c')]


def test_sequential_task_refuses_its_own_constraints():
    with pytest.raises(ValueError, match='SequentialTask orders its processes itself'):
        SequentialTask(processes=[proc('a')], constraints=order('a'))


def test_combine_merges_processes_and_constraints_and_sums_resources():
    t1 = Task(name='one', processes=[proc('a'), proc('b')], constraints=order('a', 'b'),
              resources=Resources(cpu=1, ram=10, disk=100, gpu=1), finalization_wait=10)
    t2 = Task(name='two', processes=[proc('b'), proc('c')], constraints=order('a', 'b'),
              resources=Resources(cpu=0.5, ram=20, disk=200), finalization_wait=40)
    t3 = Task(name='three', processes=[proc('d')])
    combined = Tasks.combine(t1, t2, t3)
    assert [p['name'] for p in combined.processes().get()] == ['a', 'b', 'c', 'd']
    assert orders(combined) == [('a', 'b')]
    assert combined.resources() == Resources(cpu=1.5, ram=30, disk=300, gpu=1)
    assert combined.finalization_wait().get() == 40
    assert combined.name().get() == 'three'


def test_combine_applies_keywords_last_and_of_nothing_is_an_empty_task():
    assert Tasks.combine(Task(name='x', processes=[proc('a')]), name='y').name().get() == 'y'
    assert Tasks.combine() == Task()


def test_concat_chains_every_pair_of_neighbouring_tasks():
    t1 = Task(processes=[proc('a'), proc('b')], resources=Resources(cpu=1, ram=10, disk=5),
              finalization_wait=10)
    t2 = Task(processes=[proc('b'), proc('c')], resources=Resources(cpu=2, ram=5, disk=5),
              finalization_wait=20)
    t3 = Task(name='last', processes=[proc('d')])
    chained = Tasks.concat(t1, t2, t3)
    assert [p['name'] for p in chained.processes().get()] == ['a', 'b', 'c', 'd']
    assert orders(chained) == [('a', 'b'), ('a', 'c'), ('b', 'c'), ('b', 'd'), ('c', 'd')]
    assert chained.resources() == Resources(cpu=2, ram=10, disk=5, gpu=0)
    assert chained.finalization_wait().get() == 60
    assert chained.name().get() == 'last'


def test_units_accept_varargs_and_aurora_list_forms():
    r1, r2 = Resources(cpu=1, ram=2, disk=3), Resources(cpu=4, ram=1, disk=1, gpu=2)
    total = Resources(cpu=5, ram=3, disk=4, gpu=2)
    assert Units.resources_sum(r1, r2) == Units.resources_sum([r1, r2]) == total
    assert Units.resources_max([r1, r2]) == Resources(cpu=4, ram=2, disk=3, gpu=2)
    waits = [Task().finalization_wait(), Task(finalization_wait=5).finalization_wait()]
    assert (Units.finalization_wait_sum(waits), Units.finalization_wait_max(*waits)) == (35, 30)
    assert Units.finalization_wait_max([]) == 0


def test_python_options_render_flags_in_order():
    assert python_options('a', {'b': 1}, cow='foo') == '-a -b 1 --cow foo'
    assert python_options('verbose', {'level': 'debug', 'n': 3}) == '--verbose --level debug -n 3'


def test_java_options_use_single_dashes():
    assert java_options('server', {'Xmx': '1g'}, d='x') == '-server -Xmx 1g -d x'


def test_falsy_option_values_render_bare_flags():
    assert python_options(quiet=None, debug=0, x='') == '--quiet --debug -x'


def test_options_reject_other_positional_arguments():
    with pytest.raises(ValueError, match='options take flag names and dicts of flags'):
        python_options(['a'])
