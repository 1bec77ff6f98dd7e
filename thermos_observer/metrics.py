"""/health, /vars (Aurora's `name value` text), /vars.json and /metrics (Prometheus text format)."""
from __future__ import annotations

import json
import os
import platform
import resource
import sys
import time

from thermos_observer.handlers.base import Base, NotFound

STARTED = time.time()


def variables(app_state) -> dict:
    observer = app_state.observer
    usage = resource.getrusage(resource.RUSAGE_SELF)
    counts = observer.task_id_count()
    values = {
        "sys.uptime": int(time.time() - STARTED),
        "sys.argv": " ".join(sys.argv),
        "sys.version": sys.version.split()[0],
        "sys.platform": sys.platform,
        "sys.executable": sys.executable,
        "sys.uname": " ".join(platform.uname()),
        "process.cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
        "process.rss_bytes": _rss_bytes(),
        "process.pid": os.getpid(),
        "observer.tasks.active": counts["active"],
        "observer.tasks.finished": counts["finished"],
        "observer.tasks.all": counts["all"],
        "observer.discovery.scans": observer.discovery.scans,
        "observer.discovery.last_scan_ms": round(observer.discovery.last_scan_seconds * 1000, 3),
        "observer.sampler.enabled": int(observer.sampler.enabled),
        "observer.sampler.last_process_collection_ms": round(observer.sampler.last_process_seconds * 1000, 3),
        "observer.sampler.last_disk_collection_ms": round(observer.sampler.last_disk_seconds * 1000, 3),
    }
    for name, value in observer.stats().items():
        values[f"observer.cache.{name}"] = value
    for name, value in app_state.counters.items():
        values[f"observer.{name}"] = value
    return values


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Health(Base):
    needs_auth = False

    def get(self):
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.write("OK\n")


class Vars(Base):
    def get(self, name=None):
        values = variables(self.app_state)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        if name is not None:
            if name not in values:
                raise NotFound(f"unknown exported variable: {name}")
            self.write(f"{values[name]}\n")
            return
        self.write("".join(f"{k} {v}\n" for k, v in sorted(values.items())))


class VarsJson(Base):
    json_errors = True

    def get(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.write(json.dumps(variables(self.app_state), sort_keys=True))


class Metrics(Base):
    def get(self):
        lines = []
        for name, value in sorted(variables(self.app_state).items()):
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            metric = "thermos_" + ("" if name.startswith("observer.") else "observer_") + name.replace(".", "_")
            lines.append(f"# TYPE {metric} {'counter' if name.startswith('observer.http') else 'gauge'}")
            lines.append(f"{metric} {value}")
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.write("\n".join(lines) + "\n")
