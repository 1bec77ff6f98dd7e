"""Aurora 0.22's Thrift API: our IDL (aurora.thrift) and the code generated from it (gen/, by `make gen`).

It sits in the lowest layer because both sides of Mesos use it: the scheduler (scheduler.api serves it,
scheduler.storage stores its structs) and the executor, which decodes the AssignedTask of TaskInfo.data
(`thermos_executor.executor.task_data`).

Importing this package also makes the generated structs hashable, by value. Thrift's Python generator gives
them `__eq__` but no `__hash__`, so Python 3 makes them unhashable, and Aurora's many `set<struct>` fields
(TaskConfig.resources, TaskQuery.jobKeys, ...) could then be neither built nor decoded. Hashing by value,
as Java Thrift does, keeps `==` meaningful for structs holding such sets (two TaskConfigs with equal
resources are equal). Like any key, a struct must not be changed while it sits in a set or a dict. Every
import of `thermos_executor.aurora_api.gen` runs this file first, so no decoder can miss it.
"""

from thermos_executor.aurora_api.gen import ttypes


def job_key(key) -> tuple[str, str, str]:
    """A JobKey as a plain key (dicts, sorting): (role, environment, name)."""
    return key.role, key.environment, key.name


def to_ranges(numbers) -> list:
    """Aurora's Numbers.toRanges: the fewest closed Ranges covering `numbers` (instance ids), ascending."""
    result: list = []
    for n in sorted(set(numbers)):
        if result and result[-1].last == n - 1:
            result[-1].last = n
        else:
            result.append(ttypes.Range(first=n, last=n))
    return result


def hash_by_value(generated) -> None:
    """Give every struct of a generated `ttypes` module the value hash (storage's structs need it too)."""
    for struct in vars(generated).values():
        if isinstance(struct, type) and struct.__module__ == generated.__name__ and hasattr(struct, "thrift_spec"):
            struct.__hash__ = _value_hash


def _value_hash(struct) -> int:
    return hash((type(struct), *(_frozen(getattr(struct, f[2])) for f in struct.thrift_spec if f)))


def _frozen(value):
    if isinstance(value, set | frozenset):
        return frozenset(value)
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return frozenset((k, _frozen(v)) for k, v in value.items())
    return value


hash_by_value(ttypes)
