"""Finding tasks under checkpoint roots, cheaply enough to do every second.

Two kinds of roots: a thermos root given with `--root` (`<root>/tasks/{active,finished}/<task_id>`), and a
Mesos agent work dir given with `--mesos-root`, under which every executor run may hold one
(`slaves/*/frameworks/*/executors/*/runs/*/checkpoints`; the `latest` links are skipped).

Each scan re-reads a directory only when its mtime changed (a listing taken within a second of the mtime is
not trusted, since mtimes are coarse), so with nothing new a scan costs one stat per directory. Runs whose
tasks have all finished are looked at again only every `finished_every` scans. What is kept per task is an
`Entry` (root, id, active/finished, file mtime): no task state, so memory grows by ~200 bytes per task.

Task ids are assumed unique across roots, as in Aurora; a second root holding the same id is ignored.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

log = logging.getLogger(__name__)
TRUST_AFTER_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Entry:
    root: str
    task_id: str
    status: str      # 'active' or 'finished'
    mtime: float     # of the task file: when the task was written, the listing's sort key


class _Listing:
    """A directory's entries, re-read only when the directory changed."""
    __slots__ = ("mtime_ns", "taken_ns", "names")

    def __init__(self):
        self.mtime_ns = -1
        self.taken_ns = 0
        self.names: tuple[str, ...] = ()


class _DirCache:
    def __init__(self):
        self._listings: dict[str, _Listing] = {}

    def names(self, path: str) -> tuple[tuple[str, ...], bool]:
        """(entries, changed) of `path`; ((), True) if it disappeared."""
        try:
            mtime_ns = os.stat(path).st_mtime_ns
        except OSError:
            return (), self._listings.pop(path, None) is not None
        listing = self._listings.get(path)
        if listing is None:
            listing = self._listings[path] = _Listing()
        if listing.mtime_ns == mtime_ns and listing.taken_ns - mtime_ns > TRUST_AFTER_NS:
            return listing.names, False
        try:
            names = tuple(sorted(n for n in os.listdir(path) if not n.startswith(".")))
        except OSError:
            names = ()
        changed = names != listing.names
        listing.mtime_ns, listing.taken_ns, listing.names = mtime_ns, time.time_ns(), names
        return names, changed

    def forget_under(self, prefix: str) -> None:
        for path in [p for p in self._listings if p == prefix or p.startswith(prefix + os.sep)]:
            del self._listings[path]


class _RootScan:
    """The tasks of one thermos checkpoint root."""

    def __init__(self, root: str, dirs: _DirCache):
        self.root = root
        self._dirs = dirs
        self.tasks: dict[str, Entry] = {}

    def scan(self) -> bool:
        changed = False
        found: dict[str, Entry] = {}
        for status in ("active", "finished"):
            directory = os.path.join(self.root, "tasks", status)
            names, _ = self._dirs.names(directory)
            for task_id in names:
                old = self.tasks.get(task_id)
                if old is not None and old.status == status:
                    found[task_id] = old
                    continue
                try:
                    mtime = os.stat(os.path.join(directory, task_id)).st_mtime
                except OSError:
                    continue
                # both active and finished for a moment (mid-rename): finished, scanned last, wins
                found[task_id] = Entry(self.root, task_id, status, mtime)
                changed = True
        if found.keys() != self.tasks.keys():
            changed = True
        self.tasks = found
        return changed

    @property
    def all_finished(self) -> bool:
        return bool(self.tasks) and all(e.status == "finished" for e in self.tasks.values())


class Discovery:
    """The tasks under the roots, kept current by `scan()` (called every polling interval)."""

    def __init__(self, roots=(), mesos_roots=(), finished_every: int = 15):
        self.roots = list(roots)
        self.mesos_roots = list(mesos_roots)
        self.finished_every = finished_every
        self._dirs = _DirCache()
        self._scans: dict[str, _RootScan] = {}
        self._count = 0
        self.tasks: dict[str, Entry] = {}
        self._sorted: dict[str, list[Entry]] = {}
        self.last_scan_seconds = 0.0
        self.scans = 0

    def _mesos_checkpoint_roots(self, mesos_root: str) -> list[str]:
        roots = []
        slaves = os.path.join(mesos_root, "slaves")
        for slave in self._dirs.names(slaves)[0]:
            frameworks = os.path.join(slaves, slave, "frameworks")
            for framework in self._dirs.names(frameworks)[0]:
                executors = os.path.join(frameworks, framework, "executors")
                for executor in self._dirs.names(executors)[0]:
                    runs = os.path.join(executors, executor, "runs")
                    for run in self._dirs.names(runs)[0]:
                        path = os.path.join(runs, run)
                        if run == "latest" or os.path.islink(path):
                            continue
                        roots.append(os.path.join(path, "checkpoints"))
        return roots

    def scan(self) -> bool:
        """Look at the disk again; return whether the set of tasks or their states changed."""
        started = time.monotonic()
        self._count += 1
        roots = list(self.roots)
        for mesos_root in self.mesos_roots:
            roots.extend(self._mesos_checkpoint_roots(mesos_root))
        changed = False
        live = set(roots)
        for root in roots:
            scan = self._scans.get(root)
            if scan is None:
                if not os.path.isdir(root):
                    continue
                scan = self._scans[root] = _RootScan(root, self._dirs)
            elif scan.all_finished and root not in self.roots and self._count % self.finished_every:
                continue      # a Mesos run whose tasks ended: only its removal can change it, seen later
            changed |= scan.scan()
        for root in [r for r in self._scans if r not in live]:
            del self._scans[root]
            self._dirs.forget_under(root)
            changed = True
        if changed:
            self._rebuild()
        self.last_scan_seconds = time.monotonic() - started
        self.scans += 1
        return changed

    def _rebuild(self) -> None:
        tasks: dict[str, Entry] = {}
        for root in self.roots + [r for r in self._scans if r not in self.roots]:
            scan = self._scans.get(root)
            for task_id, entry in (scan.tasks.items() if scan else ()):
                if task_id in tasks:
                    log.warning("task %s is under both %s and %s; showing the first", task_id,
                                tasks[task_id].root, root)
                    continue
                tasks[task_id] = entry
        self.tasks = tasks
        newest = sorted(tasks.values(), key=lambda e: (e.mtime, e.task_id), reverse=True)
        self._sorted = {"all": newest,
                        "active": [e for e in newest if e.status == "active"],
                        "finished": [e for e in newest if e.status == "finished"]}

    def listing(self, which: str) -> list[Entry]:
        """Tasks of a type ('all', 'active', 'finished'), newest first. Do not change the list."""
        return self._sorted.get(which, [])

    def get(self, task_id: str) -> Entry | None:
        return self.tasks.get(task_id)

    def counts(self) -> dict:
        return {which: len(self.listing(which)) for which in ("active", "finished", "all")}
