"""pymesos' executor driver with two corrections: it tells the executor which updates were acknowledged (so
that the executor exits as soon as its terminal update is safe, not after a fixed wait), and it reads
MESOS_CHECKPOINT as Mesos writes it ("1"/"0"; pymesos takes any non-empty value, "0" too, for true)."""
from __future__ import annotations

import os

from pymesos import MesosExecutorDriver


class ExecutorDriver(MesosExecutorDriver):
    def __init__(self, executor):
        super().__init__(executor, use_addict=False)
        self.checkpoint = os.environ.get("MESOS_CHECKPOINT", "") not in ("", "0", "false")

    def on_acknowledged(self, event):
        super().on_acknowledged(event)
        self.executor.acknowledged(event["task_id"]["value"], event["uuid"])
