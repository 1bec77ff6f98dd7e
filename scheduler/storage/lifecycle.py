"""The storage's lifecycle, CONSTRUCTED -> PREPARED -> READY -> STOPPED (Aurora's CallOrderEnforcingStorage).

`prepare` needs CONSTRUCTED, `start` needs PREPARED, reads and writes need READY; `stop` is allowed from any
state. A call in the wrong state raises `TransientStorageError("Storage is not <the state it needs>")`, the
message the API hands back with ERROR_TRANSIENT (Aurora's TransientStorageException).
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    CONSTRUCTED = "CONSTRUCTED"
    PREPARED = "PREPARED"
    READY = "READY"
    STOPPED = "STOPPED"


class StorageError(Exception):
    """A storage operation failed (its change, if any, was rolled back)."""


class TransientStorageError(StorageError):
    """Storage cannot serve now (not started yet, or stopped); worth retrying later."""


class Lifecycle:
    def __init__(self):
        self.state = State.CONSTRUCTED

    def require(self, state: State) -> None:
        if self.state != state:
            raise TransientStorageError(f"Storage is not {state}")

    def advance(self, required: State, to: State) -> None:
        self.require(required)
        self.state = to
