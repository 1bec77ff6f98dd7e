"""Resource vectors: what an offer has, what a task asks for, and Aurora's names and veto scales for each.

    ResourceBag(cpus=1.0, ram_mb=128, disk_mb=64, ports=2, gpus=0)    # frozen; +, -, fits, shortfalls
    task_demand(config) -> ResourceBag              # the TaskConfig's `resources` set (named ports are counted)
    demand_with_overhead(config, overhead) -> ResourceBag   # + the executor's share when the task has one
    executor_overhead(cpus=0.25, ram_mb=128) -> ResourceBag  # -thermos_executor_cpu / -thermos_executor_ram

Aurora keeps the executor's cpu and ram beside every task it launches, so a task fits an offer only when its own
demand plus that overhead fits (ExecutorSettings.getExecutorOverhead: only tasks with an executorConfig pay it;
a Docker task without an executor does not). Ports are a count here; which ports is the assigner's choice.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from thermos_executor.aurora_api.gen.ttypes import TaskConfig


class ResourceType(StrEnum):
    """Aurora's ResourceType, in its order (the order resource vetoes are listed in)."""
    CPUS = "cpus"
    RAM_MB = "ram_mb"
    DISK_MB = "disk_mb"
    PORTS = "ports"
    GPUS = "gpus"

    @property
    def aurora_name(self) -> str:
        """The name in "Insufficient: <name>" (ResourceType.getAuroraName)."""
        return _AURORA_NAME[self]

    @property
    def scaling_range(self) -> int:
        """A typical agent's amount, which scales a shortfall into a veto score (ResourceType.getScalingRange)."""
        return _SCALING_RANGE[self]

    @property
    def mesos_name(self) -> str:
        return _MESOS_NAME[self]


_AURORA_NAME = {ResourceType.CPUS: "CPU", ResourceType.RAM_MB: "RAM", ResourceType.DISK_MB: "disk",
                ResourceType.PORTS: "ports", ResourceType.GPUS: "GPU"}
_SCALING_RANGE = {ResourceType.CPUS: 16, ResourceType.RAM_MB: 24 * 1024, ResourceType.DISK_MB: 450 * 1024,
                  ResourceType.PORTS: 1000, ResourceType.GPUS: 4}
_MESOS_NAME = {ResourceType.CPUS: "cpus", ResourceType.RAM_MB: "mem", ResourceType.DISK_MB: "disk",
               ResourceType.PORTS: "ports", ResourceType.GPUS: "gpus"}
BY_MESOS_NAME = {mesos: rtype for rtype, mesos in _MESOS_NAME.items()}


@dataclass(frozen=True, slots=True)
class ResourceBag:
    """An amount of each resource Aurora schedules: cores, MB of RAM and disk, a number of ports, GPUs."""
    cpus: float = 0.0
    ram_mb: float = 0.0
    disk_mb: float = 0.0
    ports: int = 0
    gpus: float = 0.0

    def __add__(self, other: ResourceBag) -> ResourceBag:
        return ResourceBag(self.cpus + other.cpus, self.ram_mb + other.ram_mb, self.disk_mb + other.disk_mb,
                           self.ports + other.ports, self.gpus + other.gpus)

    def __sub__(self, other: ResourceBag) -> ResourceBag:
        return ResourceBag(self.cpus - other.cpus, self.ram_mb - other.ram_mb, self.disk_mb - other.disk_mb,
                           self.ports - other.ports, self.gpus - other.gpus)

    def value_of(self, rtype: ResourceType) -> float:
        return getattr(self, rtype.value)

    def fits(self, available: ResourceBag) -> bool:
        """Whether this demand fits in `available` (every resource at most what is available)."""
        return (self.cpus <= available.cpus and self.ram_mb <= available.ram_mb
                and self.disk_mb <= available.disk_mb and self.ports <= available.ports
                and self.gpus <= available.gpus)

    def shortfalls(self, available: ResourceBag) -> Iterator[tuple[ResourceType, float]]:
        """(resource, how much is missing) for each resource this demand exceeds `available` in, in Aurora's
        order."""
        for rtype in ResourceType:
            excess = getattr(self, rtype.value) - getattr(available, rtype.value)
            if excess > 0:
                yield rtype, excess


EMPTY = ResourceBag()


def executor_overhead(cpus: float = 0.25, ram_mb: float = 128) -> ResourceBag:
    """The Thermos executor's share of every task's offer (-thermos_executor_cpu, -thermos_executor_ram)."""
    return ResourceBag(cpus=cpus, ram_mb=ram_mb)


def task_demand(config: TaskConfig) -> ResourceBag:
    """The task's own demand: the sum of its `resources` set (the legacy numCpus/ramMb/diskMb fields are not in
    our IDL). Each named port counts one port."""
    cpus = ram = disk = gpus = 0.0
    ports = 0
    for resource in config.resources or ():
        if resource.numCpus is not None:
            cpus += resource.numCpus
        elif resource.ramMb is not None:
            ram += resource.ramMb
        elif resource.diskMb is not None:
            disk += resource.diskMb
        elif resource.namedPort is not None:
            ports += 1
        elif resource.numGpus is not None:
            gpus += resource.numGpus
    return ResourceBag(cpus, ram, disk, ports, gpus)


def named_ports(config: TaskConfig) -> list[str]:
    """The task's port names, sorted (a Thrift set has no order of its own)."""
    return sorted({r.namedPort for r in config.resources or () if r.namedPort is not None})


def demand_with_overhead(config: TaskConfig, overhead: ResourceBag) -> ResourceBag:
    """What an offer must hold for this task: its demand, plus the executor overhead when it runs under an
    executor (a task without executorConfig, e.g. a Docker task, pays none, as Aurora)."""
    demand = task_demand(config)
    return demand + overhead if config.executorConfig is not None else demand
