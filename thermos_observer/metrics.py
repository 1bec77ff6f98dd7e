"""The observer's exported variables, served by the shared /health, /vars, /vars.json and /metrics handlers
(thermos_executor.daemon.http); /health answers without credentials."""
from __future__ import annotations

import os
import platform
import resource
import sys
import time

from thermos_executor.daemon.http import HealthHandler, MetricsHandler, VarsHandler, VarsJsonHandler
from thermos_observer.handlers.base import Base

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


class _Exported(Base):
    def variables(self) -> dict:
        return variables(self.app_state)


class Health(Base, HealthHandler):
    needs_auth = False


class Vars(_Exported, VarsHandler):
    pass


class VarsJson(_Exported, VarsJsonHandler):
    json_errors = True


class Metrics(_Exported, MetricsHandler):
    def metric_name(self, name: str) -> str:
        return "thermos_" + ("" if name.startswith("observer.") else "observer_") + name.replace(".", "_")

    def metric_type(self, name: str) -> str:
        return "counter" if name.startswith("observer.http") else "gauge"
