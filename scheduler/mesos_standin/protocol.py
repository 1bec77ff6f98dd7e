"""Mesos v1 messages shared by the master and the agent: status builders, event constructors.

Messages are plain dicts in the v1 JSON form (IDs are `{"value": ...}`, enums are names, bytes are base64);
tests check every one against the real Mesos protos. Task states are `thermos_executor.mesos_state`'s.
"""
from __future__ import annotations

import base64
import os
import time
import uuid

def partition_aware(framework_info: dict) -> bool:
    return any(c.get("type") == "PARTITION_AWARE" for c in framework_info.get("capabilities") or [])


def new_uuid() -> str:
    """A status update UUID: 16 random bytes, base64 as in the JSON form of `bytes`."""
    return base64.b64encode(uuid.uuid4().bytes).decode("ascii")


def status(task_id: str, state: str, *, source: str, agent_id: str | None = None,
           executor_id: str | None = None, reason: str | None = None, message: str | None = None,
           with_uuid: bool = False) -> dict:
    """A TaskStatus made by the master (no uuid: nobody acknowledges it) or the agent (with a uuid)."""
    out = {"task_id": {"value": task_id}, "state": state, "source": source, "timestamp": time.time()}
    if agent_id:
        out["agent_id"] = {"value": agent_id}
    if executor_id:
        out["executor_id"] = {"value": executor_id}
    if reason:
        out["reason"] = reason
    if message:
        out["message"] = message
    if with_uuid:
        out["uuid"] = new_uuid()
    return out


def event(kind: str, payload: dict | None = None) -> dict:
    """`{"type": "UPDATE", "update": {...}}`: the payload sits under the lower-cased type."""
    out: dict = {"type": kind}
    if payload is not None:
        out[kind.lower()] = payload
    return out


def describe_wait_status(wait_status: int) -> str:
    if os.WIFSIGNALED(wait_status):
        return f"killed by signal {os.WTERMSIG(wait_status)}"
    return f"exited with status {os.WEXITSTATUS(wait_status)}"


def wait_status_of(returncode: int) -> int:
    """Popen's returncode (negative = signal) as the raw wait(2) status Mesos reports in FAILURE events."""
    return -returncode if returncode < 0 else (returncode & 0xFF) << 8
