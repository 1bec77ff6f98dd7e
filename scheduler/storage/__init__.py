"""Durable scheduler storage: an in-memory store whose every write is one transaction on the replicated log.

Modules, lowest first:

* `gen/` - generated from `storage.thrift` (Aurora's LogEntry/Transaction/Op/Snapshot); never edited.
* `codec` - entries to bytes and back: Thrift binary, deflate, schema-version checks.
* `framing` - entries over -dlog_max_entry_size split into a header and chunks, and reassembled.
* `dedup` - snapshots with each distinct TaskConfig stored once.
* `recorder` - the ops of one write, coalesced as Aurora's TransactionRecorder.
* `tasks`, `store` - the in-memory state serving all reads; `store.apply` is the one place an op takes effect.
* `snapshot` - the whole store as a Snapshot, and back.
* `log` - the narrow `Log` interface storage is written against, and `MemoryLog` for tests.
* `replicated` - `Log` over scheduler.log's Coordinator.
* `backup` - backup files: naming, atomic writes, retention, reading back, staging one for online recovery.
* `durable` - `DurableStorage`: lifecycle, the write path, replay, snapshots.

Importing this package gives the generated storage structs the API structs' value hash (see
thermos_executor/aurora_api/__init__.py), so that Snapshot's sets of them decode.
"""

from thermos_executor.aurora_api import hash_by_value
from scheduler.storage.gen import ttypes

hash_by_value(ttypes)
