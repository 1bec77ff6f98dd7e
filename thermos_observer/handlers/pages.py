"""HTML pages, server-rendered with tornado templates (autoescaped: every value shown is escaped)."""
from __future__ import annotations

import json
import time
import urllib.parse

from tornado.escape import url_escape

from thermos_observer.files import Refused
from thermos_observer.handlers.api import browse_rows, confined_for
from thermos_observer.handlers.base import Base, NotFound

PAGE_SIZE = 20


def fmt_time(ts) -> str:
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts))


def fmt_mtime(ts) -> str:
    now = time.gmtime()
    t = time.gmtime(ts)
    return time.strftime("%b %d %H:%M" if t.tm_year == now.tm_year else "%b %d  %Y", t)


def fmt_bytes(n) -> str:
    n = float(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return ""


def quote_path(rel: str) -> str:
    return "/".join(url_escape(part, plus=False) for part in rel.split("/") if part)


class Page(Base):
    def get_template_namespace(self):
        namespace = super().get_template_namespace()
        namespace.update(hostname=self.app_state.hostname, host=self.request.host_name, fmt_time=fmt_time,
                         fmt_bytes=fmt_bytes, fmt_mtime=fmt_mtime, quote_path=quote_path, url_escape=url_escape)
        return namespace

    def found(self, task_id: str):
        found = self.observer.lookup(task_id)
        if found is None:
            raise NotFound(f"unknown task id: {task_id} (new tasks show within a couple of seconds)")
        return found


class Index(Page):
    def get(self):
        offsets, fragments = {}, {}
        for which in ("active", "finished"):
            offsets[which] = self.int_arg(f"{which}_offset", self.query(f"{which}_offset", None), 0,
                                          minimum=0)
            fragments[which] = self.observer.main(which, offsets[which], PAGE_SIZE)
        self.render("index.html", offsets=offsets, fragments=fragments, num=PAGE_SIZE)


class Main(Page):
    """The HTML fragment of one table of the index (the index's script reloads it every 10 s)."""

    def get(self, which):
        offset = self.int_arg("offset", self.query("offset", None), 0, minimum=0)
        num = self.int_arg("num", self.query("num", None), PAGE_SIZE, minimum=1, maximum=1000)
        self.render("main.html", **self.observer.main(which, offset, num))


def _chart(title: str, points, value_index: int, label) -> dict:
    width, height = 320, 80
    now = time.time()
    values = [p[value_index] for p in points]
    top = max(values) if values and max(values) > 0 else 1
    coords = []
    for p in points:
        x = width - (now - p[0]) / 3600.0 * width
        if x < 0:
            continue
        y = height - 2 - (p[value_index] / top) * (height - 4)
        coords.append(f"{x:.1f},{y:.1f}")
    return {"title": title, "width": width, "height": height, "points": " ".join(coords),
            "max_label": label(top if values else 0)}


class Task(Page):
    def get(self, task_id):
        found = self.found(task_id)
        state = found[1]
        task = self.observer.task(task_id, found)
        processes = []
        for name in sorted(state.processes, key=lambda n: (state.processes[n][0].start_time or float("inf"), n)):
            processes.append({"name": name, "runs": self.observer.process_runs(task_id, name, found) or []})
        sampler = self.observer.sampler
        history = sampler.history(task_id)
        charts = []
        if history:
            charts = [_chart("cpu (cores)", history, 1, lambda v: f"{v:.2f}"),
                      _chart("rss", history, 2, fmt_bytes), _chart("disk", history, 3, fmt_bytes)]
        self.render("task.html", task=task, header=state.header, statuses=sorted(state.statuses,
                    key=lambda s: s.get("timestamp") or 0), usage=task["resource_consumption"],
                    processes=processes, charts=charts, sampling=sampler.enabled)


class RawTask(Page):
    def get(self, task_id):
        _, _, task_json = self.found(task_id)
        self.render("rawtask.html", task_id=task_id, config=json.dumps(task_json, indent=4, sort_keys=True))


class Process(Page):
    def get(self, task_id, name):
        found = self.found(task_id)
        task_json = found[2]
        runs = self.observer.process_runs(task_id, name, found)
        if not runs:
            raise NotFound(f"task {task_id} has no process {name}")
        cmdline = ""
        for proc in task_json.get("processes") or []:
            if isinstance(proc, dict) and proc.get("name") == name:
                cmdline = str(proc.get("cmdline", ""))
        self.render("process.html", task_id=task_id, name=name, runs=runs, cmdline=cmdline)


class Browse(Page):
    def get(self, task_id, rel=None):
        confined = confined_for(self, task_id, log=False, found=self.found(task_id))
        try:
            with confined.open(rel or "", want="dir") as entry:
                rows = browse_rows(entry)
                parts = entry.rel
        except Refused as e:
            self.refused(e)
        self.render("browse.html", task_id=task_id, rel="/".join(parts), parent="/".join(parts[:-1]), rows=rows)


class FileViewer(Page):
    """The viewer of a sandbox file (`/file/<task>/<path>`) or of a log (`/logs/<task>/<process>/<run>/<which>`)."""

    def get(self, task_id, *rest):
        found = self.found(task_id)
        if len(rest) == 1:
            kind, rel = "path", rest[0]
            label = rel
        else:
            process, run, which = rest
            kind, rel = "log", f"{process}/{run}/{which}"
            label = f"{process} run {run} {which}"
        confined = confined_for(self, task_id, log=kind == "log", found=found)
        try:
            confined.open(rel, want="file").close()
        except Refused as e:
            self.refused(e)
        download = "/files/download?" + urllib.parse.urlencode({"task_id": task_id, kind: rel})
        self.render("viewer.html", task_id=task_id, kind=kind, rel=rel, label=label, download=download)
