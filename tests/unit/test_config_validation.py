"""Every validation error: one line saying what is wrong and where."""
import pytest

from thermos_executor import config
from thermos_executor.config import ConfigError
from thermos_executor.config.helpers import order
from thermos_executor.config.schema import Constraint, Logger, Process, Resources, RotatePolicy, Task


def p(name, **kw):
    return Process(name=name, cmdline=kw.pop('cmdline', 'true'), **kw)


def t(*processes, **kw):
    return Task(name=kw.pop('name', 't'), processes=list(processes), **kw)


def fails(task, message, ports=None):
    """Assert that both validation and interpolation reject `task` with exactly `message`."""
    with pytest.raises(ConfigError) as e:
        config.interpolate(task, task_id='id', ports=ports or {}, user='u', hostname='h')
    assert str(e.value) == message
    if ports is None and not message.startswith('Unbound ports'):
        with pytest.raises(ConfigError) as e:
            config.validate(task)
        assert str(e.value) == message


def test_a_valid_task_interpolates_fully():
    task = t(p('a', cmdline='serve {{thermos.ports[http]}}'), p('b', ephemeral=True, daemon=True),
             p('c', final=True), p('d', final=True), constraints=order('c', 'd'), max_concurrency=2)
    result = config.interpolate(task, task_id='id', ports={'http': 8080, 'extra': 9}, user='u', hostname='h')
    assert result.processes()[0].cmdline().get() == 'serve 8080'
    config.validate(task)


def test_task_without_processes():
    fails(Task(name='empty'), "task 'empty' has no processes")


def test_missing_required_field():
    fails(t(Process(name='a')), "process 'a': cmdline is required")
    fails(t(Process(cmdline='x')), 'process #1: name is required')


def test_missing_nested_required_field():
    fails(t(p('a', resources=Resources(cpu=1))), "process 'a': resources.ram is required")
    fails(t(p('a'), resources=Resources(ram=1, disk=1)), "task 't': resources.cpu is required")


@pytest.mark.parametrize('field, value, what', [
    ('max_failures', 'lots', "'lots' is not an integer"),
    ('daemon', 'maybe', "'maybe' is not a boolean"),
    ('min_duration', [1], '[1] is not an integer'),
])
def test_wrong_types_name_the_process_and_field(field, value, what):
    fails(t(p('ok'), p('bad', **{field: value})), f"process 'bad': {field}: {what}")


def test_wrong_type_from_a_binding():
    fails(t(p('a', max_failures='{{n}}')).bind(n='many'),
          "process 'a': max_failures: 'many' is not an integer")


def test_wrong_enum_value_from_a_binding():
    fails(t(p('a', logger=Logger(destination='{{dest}}'))).bind(dest='syslog'),
          "process 'a': logger.destination: 'syslog' is not one of file, console, both, none")


def test_wrong_type_in_a_task_field():
    fails(t(p('a'), finalization_wait='soon'), "task 't': finalization_wait: 'soon' is not an integer")


def test_template_that_refers_to_itself():
    fails(t(p('{{name}}')), "process '{{name}}': name: template '{{name}}' refers to itself")


def test_unbound_template_variables_are_listed():
    fails(t(p('a', cmdline='{{zeta}} {{alpha.beta}} {{zeta}}')),
          "task 't': unbound template variables {{alpha.beta}}, {{zeta}}; bind them with -E NAME=VALUE")


@pytest.mark.parametrize('name', ['', '.hidden', '/abs', 'a/b'])
def test_invalid_process_names(name):
    fails(t(p(name)), f"invalid process name {name!r}: a name must be non-empty, must not start with '.' and "
                      "must not contain '/'")


def test_duplicate_process_names():
    fails(t(p('a'), p('b'), p('a', cmdline='other')), "task 't': duplicate process name 'a'")


@pytest.mark.parametrize('field', ['max_failures', 'min_duration'])
def test_negative_process_numbers(field):
    fails(t(p('a', **{field: -1})), f"process 'a': {field} must be >= 0, got -1")


@pytest.mark.parametrize('field', ['max_failures', 'max_concurrency', 'finalization_wait'])
def test_negative_task_numbers(field):
    fails(t(p('a'), **{field: -2}), f"task 't': {field} must be >= 0, got -2")


def test_rotate_log_size_must_be_positive():
    fails(t(p('a', logger=Logger(rotate=RotatePolicy(log_size=0)))),
          "process 'a': logger.rotate.log_size must be > 0 bytes, got 0")


def test_rotate_backups_must_be_positive_with_mode_rotate():
    fails(t(p('a', logger=Logger(mode='rotate', rotate=RotatePolicy(backups=0)))),
          "process 'a': logger.rotate.backups must be >= 1 with mode rotate, got 0")
    config.validate(t(p('a', logger=Logger(mode='standard', rotate=RotatePolicy(backups=0)))))


def test_empty_order():
    fails(t(p('a'), constraints=[Constraint(order=[])]), "task 't': empty order constraint")


def test_order_naming_unknown_processes():
    fails(t(p('a'), p('b'), constraints=order('a', 'x', 'b')),
          "task 't': order(a, x, b) names unknown process: x")
    fails(t(p('a'), constraints=order('x', 'y', 'x')),
          "task 't': order(x, y, x) names unknown processes: x, y")


def test_order_mixing_final_and_regular_processes():
    fails(t(p('a'), p('f', final=True), constraints=order('a', 'f')),
          "task 't': order(a, f) mixes final and regular processes")


def test_depending_on_a_daemon():
    fails(t(p('d', daemon=True), p('a'), constraints=order('d', 'a')),
          "task 't': process 'a' may not depend on daemon process 'd'")


def test_regular_process_depending_on_an_ephemeral_one():
    fails(t(p('e', ephemeral=True), p('a'), constraints=order('e', 'a')),
          "task 't': regular process 'a' may not depend on ephemeral process 'e'")


def test_allowed_ephemeral_dependencies():
    config.validate(t(p('e', ephemeral=True), p('f', ephemeral=True), constraints=order('e', 'f')))
    config.validate(t(p('a'), p('e', ephemeral=True), constraints=order('a', 'e')))


def test_cycles():
    fails(t(p('a'), p('b'), p('c'), constraints=order('a', 'b', 'c') + order('c', 'b')),
          "task 't': order constraints form a cycle: b -> c -> b")
    fails(t(p('a'), constraints=order('a', 'a')), "task 't': order constraints form a cycle: a -> a")


def test_overlapping_orders_without_cycles_are_fine():
    constraints = order('a', 'b') + order('a', 'b', 'c') + order('a', 'c')
    config.validate(t(p('a'), p('b'), p('c'), constraints=constraints))


def test_ports_not_given():
    task = t(p('a', cmdline='{{thermos.ports[http]}} {{thermos.ports[admin]}} {{thermos.ports[debug]}}'))
    fails(task, 'Unbound ports: admin, http', ports={'debug': 1234})
    config.validate(task)


def test_bad_port_number():
    fails(t(p('a')), "port http must be a number from 1 to 65535, got 'x'", ports={'http': 'x'})
    fails(t(p('a')), 'port http must be a number from 1 to 65535, got 70000', ports={'http': 70000})


def test_config_problems_come_before_missing_ports():
    fails(t(p('a', cmdline='{{thermos.ports[http]}}'), p('a')), "task 't': duplicate process name 'a'",
          ports={'x': 1})


def test_cycle_search_is_iterative_and_finds_cycles():
    from thermos_executor.config.validation import _find_cycle
    chain = [(f"p{i}", f"p{i + 1}") for i in range(5000)]       # deeper than Python's recursion limit
    assert _find_cycle(chain) is None
    assert _find_cycle(chain + [("p5000", "p2500")])[0] == "p2500"
    assert _find_cycle([("x", "y"), ("y", "z"), ("z", "y")]) == ["y", "z", "y"]
