"""Builders for the placement tests: Mesos v1 offer dicts as pymesos hands them, TaskConfigs, constraints."""
from __future__ import annotations

import random

from thermos_executor.aurora_api.gen.ttypes import (Constraint, ExecutorConfig, JobKey, LimitConstraint,
                                                    MaintenanceMode, Resource, TaskConfig, TaskConstraint,
                                                    ValueConstraint)

from scheduler.scheduling.offers import HostOffer, parse_offer


def offer_dict(i: int | str = 1, cpus: float = 4.0, mem: float = 4096, disk: float = 8192,
               ports=((31000, 31099),), attributes: dict | None = None, gpus: float | None = None,
               unavailability_ns: int | None = None) -> dict:
    resources = [{"name": "cpus", "type": "SCALAR", "scalar": {"value": cpus}, "role": "*"},
                 {"name": "mem", "type": "SCALAR", "scalar": {"value": mem}, "role": "*"},
                 {"name": "disk", "type": "SCALAR", "scalar": {"value": disk}, "role": "*"}]
    if ports:
        resources.append({"name": "ports", "type": "RANGES", "role": "*",
                          "ranges": {"range": [{"begin": b, "end": e} for b, e in ports]}})
    if gpus is not None:
        resources.append({"name": "gpus", "type": "SCALAR", "scalar": {"value": gpus}})
    data = {"id": {"value": f"offer-{i}"}, "agent_id": {"value": f"agent-{i}"},
            "framework_id": {"value": "fw"}, "hostname": f"host{i}", "resources": resources,
            "attributes": [{"name": name, "type": "TEXT", "text": {"value": value}}
                           for name, values in (attributes or {}).items()
                           for value in ([values] if isinstance(values, str) else values)]}
    if unavailability_ns is not None:
        data["unavailability"] = {"start": {"nanoseconds": unavailability_ns}}
    return data


def offer(i: int | str = 1, mode: int = MaintenanceMode.NONE, rng: random.Random | None = None,
          **kwargs) -> HostOffer:
    return parse_offer(offer_dict(i, **kwargs), mode=mode, rng=rng or random.Random(f"offer-{i}"))


def value(name: str, *values: str, negated: bool = False) -> Constraint:
    return Constraint(name, TaskConstraint(value=ValueConstraint(negated=negated, values=set(values))))


def limit(name: str, n: int) -> Constraint:
    return Constraint(name, TaskConstraint(limit=LimitConstraint(limit=n)))


def config(cpus: float = 1.0, ram_mb: int = 128, disk_mb: int = 64, ports=(), gpus: int | None = None,
           constraints=(), executor: bool = True, job=("www-data", "prod", "web")) -> TaskConfig:
    resources = {Resource(numCpus=cpus), Resource(ramMb=ram_mb), Resource(diskMb=disk_mb)}
    resources |= {Resource(namedPort=p) for p in ports}
    if gpus is not None:
        resources.add(Resource(numGpus=gpus))
    return TaskConfig(job=JobKey(*job), resources=resources, constraints=set(constraints),
                      executorConfig=ExecutorConfig(name="AuroraExecutor", data="{}") if executor else None)
