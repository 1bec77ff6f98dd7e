"""The tornado application: routes, and the timers that keep the model current.

One IOLoop does everything: discovery every `polling_interval` seconds, process sampling every
`process_interval`, and disk sampling every `disk_interval` in a single worker thread (so a slow `du`-like
walk never blocks requests). Nothing here writes to disk.
"""
from __future__ import annotations

import asyncio
import collections
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import tornado.ioloop
import tornado.web

from thermos_observer import metrics
from thermos_observer.discovery import Discovery
from thermos_observer.handlers import api, pages
from thermos_observer.handlers.base import NotFoundHandler
from thermos_observer.observer import TaskObserver
from thermos_observer.sampler import Sampler, disk_usage

log = logging.getLogger(__name__)
HERE = os.path.dirname(os.path.abspath(__file__))
SEG = r"([^/]+)"


@dataclass
class Options:
    roots: list = field(default_factory=list)
    mesos_roots: list = field(default_factory=list)
    polling_interval: float = 1.0
    process_interval: float = 20.0
    disk_interval: float = 60.0
    collect_resources: bool = True
    auth: object = None
    hostname: str = field(default_factory=lambda: os.uname().nodename)


class AppState:
    """What the handlers share: the model, the options, counters."""

    def __init__(self, options: Options):
        self.options = options
        self.hostname = options.hostname
        self.auth = options.auth
        sampler = Sampler(options.process_interval, options.disk_interval, enabled=options.collect_resources)
        self.observer = TaskObserver(Discovery(options.roots, options.mesos_roots), sampler)
        self.counters = collections.Counter({"http_requests": 0, "http_4xx": 0, "http_5xx": 0})
        self._timers: list[tornado.ioloop.PeriodicCallback] = []
        self._disk_pool: ThreadPoolExecutor | None = None
        self._disk_running = False

    # ---- timers ----------------------------------------------------------------------------------------
    def start(self) -> None:
        """Scan at once (tasks show from the first request), then keep up on timers. Call on the IOLoop."""
        self.refresh()
        opts = self.options
        self._timers.append(tornado.ioloop.PeriodicCallback(self.refresh, opts.polling_interval * 1000))
        if opts.collect_resources:
            self._disk_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="disk")
            self._timers.append(tornado.ioloop.PeriodicCallback(self.sample_processes, opts.process_interval * 1000))
            self._timers.append(tornado.ioloop.PeriodicCallback(self.sample_disk, opts.disk_interval * 1000))
            tornado.ioloop.IOLoop.current().add_callback(self.sample_disk)
        for timer in self._timers:
            timer.start()

    def stop(self) -> None:
        for timer in self._timers:
            timer.stop()
        if self._disk_pool is not None:
            self._disk_pool.shutdown(wait=False, cancel_futures=True)

    def refresh(self) -> None:
        try:
            before = set(self.observer.sampler.tasks)
            if self.observer.refresh() and self.options.collect_resources:
                active = {e.task_id for e in self.observer.discovery.listing("active")}
                if active - before:          # new active tasks get a first sample now, not in 20 s (or 60 s)
                    self.sample_processes()
                    tornado.ioloop.IOLoop.current().add_callback(self.sample_disk, active - before)
        except Exception:
            log.exception("task discovery failed; trying again in %.0f s", self.options.polling_interval)

    def sample_processes(self) -> None:
        try:
            self.observer.sampler.sample_processes(self.observer.active_states())
        except Exception:
            log.exception("process sampling failed")

    async def sample_disk(self, only: set | None = None) -> None:
        """Measure every active sandbox (the timer; skipped while such a walk runs), or only the `only` tasks'
        (new ones: their first sample, queued behind a walk in progress on the one disk thread, not dropped)."""
        full = only is None
        if self._disk_pool is None or (full and self._disk_running):
            return
        if full:
            self._disk_running = True
        try:
            jobs = self.observer.sampler.disk_jobs(only)
            started = time.monotonic()
            loop = asyncio.get_running_loop()
            results = await loop.run_in_executor(self._disk_pool, _measure_all, jobs)
            self.observer.sampler.record_disk(results, time.monotonic() - started if full else None)
        except Exception:
            log.exception("disk sampling failed")
        finally:
            if full:
                self._disk_running = False


def _measure_all(jobs) -> dict:
    return {task_id: disk_usage(sandbox) for task_id, sandbox in jobs}


def _log_request(handler) -> None:
    """One line per request: successes at DEBUG (auto-refreshing pages would flood the journal), 4xx at INFO."""
    status = handler.get_status()
    level = logging.DEBUG if status < 400 else logging.INFO if status < 500 else logging.ERROR
    if access_log.isEnabledFor(level):
        access_log.log(level, "%d %s %.2fms", status, handler._request_summary(),
                       1000.0 * handler.request.request_time())


access_log = logging.getLogger("thermos_observer.access")


def make_app(state: AppState) -> tornado.web.Application:
    kw = {"app_state": state}
    routes = [
        (r"/", pages.Index, kw),
        (r"/main/(active|finished|all)", pages.Main, kw),
        (rf"/task/{SEG}", pages.Task, kw),
        (rf"/rawtask/{SEG}", pages.RawTask, kw),
        (rf"/process/{SEG}/{SEG}", pages.Process, kw),
        (rf"/browse/{SEG}/?", pages.Browse, kw),
        (rf"/browse/{SEG}/(.+)", pages.Browse, kw),
        (rf"/file/{SEG}/(.+)", pages.FileViewer, kw),
        (rf"/logs/{SEG}/{SEG}/{SEG}/(stdout|stderr)", pages.FileViewer, kw),
        (r"/j/task_ids", api.TaskIds, kw),
        (rf"/j/task_ids/{SEG}", api.TaskIds, kw),
        (rf"/j/task_ids/{SEG}/{SEG}", api.TaskIds, kw),
        (rf"/j/task_ids/{SEG}/{SEG}/{SEG}", api.TaskIds, kw),
        (r"/j/task_id_count", api.TaskIdCount, kw),
        (r"/j/task", api.Tasks, kw),
        (rf"/j/task/{SEG}", api.Tasks, kw),
        (rf"/j/process/{SEG}", api.Process, kw),
        (rf"/j/process/{SEG}/{SEG}", api.Process, kw),
        (rf"/j/process/{SEG}/{SEG}/{SEG}", api.Process, kw),
        (r"/j/processes", api.Processes, kw),
        (rf"/j/resources/{SEG}", api.Resources, kw),
        (r"/files/browse", api.Browse, kw),
        (r"/files/read", api.Read, kw),
        (r"/files/follow", api.Follow, kw),
        (r"/files/download", api.Download, kw),
        (rf"/download/{SEG}/(.+)", api.DownloadPath, kw),
        (r"/(favicon\.ico)", tornado.web.StaticFileHandler, {"path": os.path.join(HERE, "static")}),
        (r"/health", metrics.Health, kw),
        (r"/vars", metrics.Vars, kw),
        (r"/vars\.json", metrics.VarsJson, kw),
        (rf"/vars/{SEG}", metrics.Vars, kw),
        (r"/metrics", metrics.Metrics, kw),
    ]
    return tornado.web.Application(
        routes, template_path=os.path.join(HERE, "templates"), static_path=os.path.join(HERE, "static"),
        autoescape="xhtml_escape", compiled_template_cache=True, static_hash_cache=True,
        default_handler_class=NotFoundHandler, default_handler_args=kw, xheaders=False, log_function=_log_request)
