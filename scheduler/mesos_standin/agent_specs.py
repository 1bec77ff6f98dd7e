"""Which agents a stand-in cluster has: one `AgentSpec` per agent, from shared defaults plus per-agent overrides.
Pure logic, no I/O.

One agent keeps the single-agent layout: its work dir is the cluster's, its host name the one given (or this
machine's), its port `agent_port`. Several agents are named `agent1` ... `agentN`; agent i has the host name
`agent<i>` (so constraints on `host` and spreading see different machines; the names do not resolve), the work
dir `<work_dir>/agent<i>`, and the port `agent_port + i - 1` (or a free one when `agent_port` is 0).

An override replaces what it names and keeps the rest: `resources` and `attributes` are merged by name
(`cpus:4` on agent 2 changes its cpus, keeps the shared mem, disk and ports). On the command line overrides are
`--agent_resources I=SPEC`, `--agent_attributes I=SPEC`, `--agent_hostname I=NAME`: the agent's number, `=`,
then the usual text form, whose own `;` and `:` can never be mistaken for the number's.
"""
from __future__ import annotations

import dataclasses
import os

from scheduler.mesos_standin.resources import ResourceError, Resources, attributes_from_dict, parse_attributes

MAX_AGENTS = 1000


class AgentSpecError(ValueError):
    """A bad agent count or override; the message says which and why in one line."""


@dataclasses.dataclass(frozen=True)
class AgentSpec:
    """One agent of the cluster: all a `Cluster` needs to build it."""
    name: str
    hostname: str
    work_dir: str
    resources: Resources
    attributes: tuple = ()
    port: int = 0


def merge_resources(base: Resources, override: Resources) -> Resources:
    """`base` with every resource named in `override` replaced by the override's."""
    names = set(override.scalars) | set(override.ranges)
    scalars = {n: v for n, v in base.scalars.items() if n not in names}
    ranges = {n: v for n, v in base.ranges.items() if n not in names}
    scalars.update(override.scalars)
    ranges.update(override.ranges)
    return Resources(scalars, ranges)


def merge_attributes(base, override) -> list[dict]:
    """`base` with every attribute named in `override` replaced (in place), new ones appended."""
    replacing = {a["name"]: a for a in override}
    merged = [replacing.pop(a["name"], a) for a in base]
    return merged + [a for a in override if a["name"] in replacing]


def as_resources(value) -> Resources:
    """Resources from their text form, a dict (`{'cpus': 2, 'ports': [(31000, 31009)]}`) or Resources."""
    if isinstance(value, Resources):
        return value
    if isinstance(value, str):
        return Resources.parse(value)
    if isinstance(value, dict):
        return Resources.from_dict(value)
    raise ResourceError(f"resources must be text, a dict or Resources, not {type(value).__name__}")


def as_attributes(value) -> list[dict]:
    """Attributes from their text form, a dict (`{'rack': 'a'}`) or a list of v1 Attribute objects."""
    if isinstance(value, str):
        return parse_attributes(value)
    if isinstance(value, dict):
        return attributes_from_dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    raise ResourceError(f"attributes must be text, a dict or a list, not {type(value).__name__}")


def build(work_dir: str, count: int, resources: Resources, attributes, *, hostname: str | None = None,
          port: int = 0, overrides: dict[int, dict] | None = None) -> list[AgentSpec]:
    """The specs of `count` agents. `overrides` maps an agent's number (1-based) to any of `hostname`,
    `resources`, `attributes` (merged by name, any form `as_resources`/`as_attributes` take) and `port`."""
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_AGENTS:
        raise AgentSpecError(f"the number of agents must be 1-{MAX_AGENTS}, got {count!r}")
    overrides = overrides or {}
    for number, override in overrides.items():
        if not isinstance(number, int) or not 1 <= number <= count:
            raise AgentSpecError(f"agent {number} does not exist: there are {count} agent(s), numbered 1-{count}")
        unknown = set(override) - {"hostname", "resources", "attributes", "port"}
        if unknown:
            raise AgentSpecError(f"agent {number}: unknown field(s) {', '.join(sorted(unknown))}; "
                                 f"expected hostname, resources, attributes, port")
    if port and port + count - 1 > 65535:
        raise AgentSpecError(f"agent ports {port}-{port + count - 1} go beyond 65535")
    base_attributes = as_attributes(attributes)
    specs = []
    for number in range(1, count + 1):
        override = overrides.get(number, {})
        if count == 1:
            name, default_host, agent_dir = "agent1", hostname or os.uname().nodename, work_dir
        else:
            name = f"agent{number}"
            default_host, agent_dir = name, os.path.join(work_dir, name)
        try:
            agent_resources = merge_resources(resources, as_resources(override.get("resources", Resources())))
            agent_attributes = merge_attributes(base_attributes, as_attributes(override.get("attributes", [])))
        except ResourceError as e:
            raise AgentSpecError(f"agent {number}: {e}") from None
        agent_host = override.get("hostname") or default_host
        if not isinstance(agent_host, str) or any(c.isspace() for c in agent_host):
            raise AgentSpecError(f"agent {number}: host name {agent_host!r} must be text without spaces")
        agent_port = override.get("port", port + number - 1 if port else 0)
        if not isinstance(agent_port, int) or not 0 <= agent_port <= 65535:
            raise AgentSpecError(f"agent {number}: port must be 0-65535, got {agent_port!r}")
        specs.append(AgentSpec(name, agent_host, agent_dir, agent_resources, tuple(agent_attributes), agent_port))
    return specs


def parse_overrides(flag_values: dict[str, list[str]], count: int) -> dict[int, dict]:
    """`{'resources': ['2=cpus:4;mem:8192'], 'attributes': ['1=rack:a'], 'hostname': ['3=big']}` (the values of
    --agent_resources, --agent_attributes, --agent_hostname) -> overrides for `build`, parsed and checked."""
    overrides: dict[int, dict] = {}
    for field, values in flag_values.items():
        flag = f"--agent_{field}"
        for value in values:
            number_text, sep, spec = value.partition("=")
            if not sep or not number_text.strip().isdigit():
                raise AgentSpecError(f"{flag} {value!r} is not N=VALUE (N: the agent's number, 1-{count})")
            number = int(number_text)
            if not 1 <= number <= count:
                raise AgentSpecError(f"{flag} {value!r}: agent {number} does not exist (--agents {count})")
            override = overrides.setdefault(number, {})
            if field in override:
                raise AgentSpecError(f"{flag} is given twice for agent {number}")
            try:
                if field == "resources":
                    override[field] = Resources.parse(spec)
                elif field == "attributes":
                    override[field] = parse_attributes(spec)
                else:
                    override[field] = spec.strip()
            except ResourceError as e:
                raise AgentSpecError(f"{flag} {value!r}: {e}") from None
            if field == "hostname" and (not override[field] or any(c.isspace() for c in override[field])):
                raise AgentSpecError(f"{flag} {value!r}: a host name is non-empty text without spaces")
    return overrides


def from_list(agents: list) -> tuple[int, dict[int, dict]]:
    """LocalMesos' `agents=[{...}, {...}]` (one dict of overrides per agent) -> (count, overrides)."""
    if not isinstance(agents, (list, tuple)) or not agents:
        raise AgentSpecError("agents must be a number or a non-empty list of dicts")
    overrides = {}
    for number, item in enumerate(agents, 1):
        if not isinstance(item, dict):
            raise AgentSpecError(f"agent {number}: expected a dict of overrides, got {type(item).__name__}")
        overrides[number] = dict(item)
    return len(agents), overrides
