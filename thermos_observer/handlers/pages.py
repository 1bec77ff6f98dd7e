"""HTML pages, server-rendered with tornado templates (autoescaped: every value shown is escaped)."""
from __future__ import annotations

import json
import time
import urllib.parse

from tornado.escape import url_escape

from thermos_executor.runner import inspector
from thermos_executor.runner.paths import TaskPath
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


def crumbs(parts: list[str]) -> list[tuple[str, str]]:
    """(name, path from the sandbox) of each directory on the way to `parts`: the breadcrumb links."""
    return [(name, "/".join(parts[:i + 1])) for i, name in enumerate(parts)]


class Page(Base):
    html_errors = True

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


CHART = {"width": 360, "height": 120, "left": 64, "right": 12, "top": 8, "bottom": 20}


def fmt_span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _chart(title: str, points, value_index: int, label) -> dict:
    """An SVG line chart of the samples on hand, with axes: time (UTC) from the first sample to the last, not a
    fixed hour (which drew the first minutes as a sliver), and values from 0 to the largest. Points whose
    value is None (disk before the sandbox was first measured) are left out; `empty` if none is left."""
    samples = [(p[0], p[value_index]) for p in points if p[value_index] is not None]
    if not samples:
        return {"title": title, "empty": True}
    c = dict(CHART)
    plot_w = c["width"] - c["left"] - c["right"]
    plot_h = c["height"] - c["top"] - c["bottom"]
    t0, t1 = samples[0][0], samples[-1][0]
    span = t1 - t0
    peak = max(v for _, v in samples)
    top = peak if peak > 0 else 1

    def xy(t, v):
        x = c["left"] + ((t - t0) / span * plot_w if span > 0 else plot_w)
        return x, c["top"] + plot_h - v / top * plot_h
    coords = [xy(t, v) for t, v in samples]
    ticks = [(c["left"], "start", t0), (c["left"] + plot_w, "end", t1)]
    if span > 0:
        ticks.insert(1, (c["left"] + plot_w / 2, "middle", t0 + span / 2))
    c.update(title=title, empty=False, plot_w=plot_w, plot_h=plot_h, span=span,
             points=" ".join(f"{x:.1f},{y:.1f}" for x, y in coords), last=coords[-1],
             ticks=[(x, anchor, time.strftime("%H:%M:%S", time.gmtime(t))) for x, anchor, t in ticks],
             top_label=label(top), zero_label=label(0), now_label=label(samples[-1][1]), max_label=label(peak),
             span_label=fmt_span(span), count=len(samples))
    return c


class Task(Page):
    def get(self, task_id):
        found = self.found(task_id)
        state = found[1]
        task = self.observer.task(task_id, found)
        processes = []
        for name in sorted(state.processes, key=lambda n: (state.processes[n][0].start_time or float("inf"), n)):
            processes.append({"name": name, "runs": self.observer.process_runs(task_id, name, found) or []})
        processes += [{"name": name, "runs": []} for name in inspector.never_run(state, found[2])]
        active = found[0].status == "active"
        runner_pid = inspector.runner_pid(TaskPath(found[0].root, task_id)) if active else None
        sampler = self.observer.sampler
        history = sampler.history(task_id)
        charts = []
        if history:
            charts = [_chart("cpu (cores)", history, 1, lambda v: f"{v:.2f}"),
                      _chart("rss", history, 2, fmt_bytes), _chart("disk", history, 3, fmt_bytes)]
        self.render("task.html", task=task, header=state.header, statuses=sorted(state.statuses,
                    key=lambda s: s.get("timestamp") or 0), usage=task["resource_consumption"],
                    processes=processes, charts=charts, sampling=sampler.enabled, disk=sampler.disk(task_id),
                    active=active, runner_pid=runner_pid)


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
        self.render("browse.html", task_id=task_id, rel="/".join(parts), parent="/".join(parts[:-1]), rows=rows,
                    crumbs=crumbs(parts), leaf=None)


class FileViewer(Page):
    """The viewer of a sandbox file (`/file/<task>/<path>`) or of a log (`/logs/<task>/<process>/<run>/<which>`)."""

    def get(self, task_id, *rest):
        found = self.found(task_id)
        process = run = which = None
        if len(rest) == 1:
            kind, rel = "path", rest[0]
            label = rel
            ended_url = f"/j/task/{url_escape(task_id, plus=False)}"
        else:
            process, run, which = rest
            kind, rel = "log", f"{process}/{run}/{which}"
            label = f"{process} run {run} {which}"
            ended_url = f"/j/process/{url_escape(task_id, plus=False)}/{url_escape(process, plus=False)}/" \
                        f"{url_escape(run, plus=False)}"
        confined = confined_for(self, task_id, log=kind == "log", found=found)
        try:
            with confined.open(rel, want="file") as entry:
                parts = entry.rel
        except Refused as e:
            self.refused(e)
        download = "/files/download?" + urllib.parse.urlencode({"task_id": task_id, kind: rel})
        self.render("viewer.html", task_id=task_id, kind=kind, rel=rel, label=label, download=download,
                    crumbs=crumbs(parts[:-1]), leaf=parts[-1], process=process, run=run, which=which,
                    ended_url=ended_url)
