"""The web UI's job page of a 1,000-instance job, server side.

Timed: GET /scheduler/www/prod/big through the scheduler's real tornado app (scheduler.app.http.make_app),
served on loopback, as tornado measures a request (`request_time()`: from the parsed request to the last byte
written): the store query, the counts over every task, the config groups, one page (50) of active and of
finished task rows with their events, the template. The store holds the job's 1,000 RUNNING tasks (each
with its events, ~2 KB TaskConfig as bench/storage_workload.py builds them) and 200 FAILED ones, beside
another 20,000 tasks of other jobs. p50 of 200 requests after 20 warm-up ones.
Comparator, in the same run and interleaved: the raw getTasksWithoutConfigs of the same job (a Thrift-binary
call handed to `protocol.call` for SchedulerApi), what an API client asks for to draw the same page.
Goal: <= 100 ms p50 (issue 16).
Prints `metric value unit | comparator value | ratio` and writes bench/results/ui_job_page.json.
"""
from __future__ import annotations

import argparse
import asyncio
import time

import benchlib
from storage_workload import T0_MS, config, pending, running
from tornado.httpclient import AsyncHTTPClient
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from scheduler.api import protocol
from scheduler.api.handlers import SchedulerApi
from scheduler.api.settings import ApiSettings
from scheduler.api.state_manager import StateManager
from scheduler.app.http import make_app
from scheduler.state.status import ScheduleStatus
from scheduler.storage.durable import DurableStorage
from scheduler.storage.log import MemoryLog
from thermos_executor.aurora_api.gen import ReadOnlyScheduler
from thermos_executor.aurora_api.gen.ttypes import JobKey, ScheduledTask, TaskEvent, TaskQuery

INSTANCES = 1000
GOAL_MS = 100.0


class Placer:
    def pending_reason(self, _config) -> str:
        return ""


class Daemon:
    """What the HTTP app reads of the scheduler daemon."""
    leading, leader, framework = True, None, None

    def __init__(self, storage):
        self.storage = storage
        self.placer = Placer()
        self.settings = ApiSettings(cluster_name="bench")

    def vars(self) -> dict:
        return {}


def failed(task: ScheduledTask) -> ScheduledTask:
    t = running(task, task.assignedTask.instanceId % 100, T0_MS)
    t.assignedTask.taskId += "-failed"
    t.status = ScheduleStatus.FAILED
    t.taskEvents = [*t.taskEvents, TaskEvent(timestamp=T0_MS + 10, status=ScheduleStatus.FAILED, message="exit 1")]
    return t


async def run(requests: int, warmup: int) -> tuple[list[float], list[float], int]:
    storage = DurableStorage(MemoryLog())
    await storage.prepare()
    await storage.start()
    big = config("www", "big")
    async with storage.write() as w:
        w.save_tasks([running(pending(big, i), i % 100, T0_MS) for i in range(INSTANCES)])
        w.save_tasks([failed(pending(big, i)) for i in range(200)])
    for j in range(20):
        other = config("other", f"job{j}")
        async with storage.write() as w:
            w.save_tasks([running(pending(other, i), i % 100, T0_MS) for i in range(INSTANCES)])
    manager = StateManager(storage, kill=lambda _task_id: None, clock_ms=lambda: T0_MS, hostname="bench")
    api = SchedulerApi(storage, manager, ApiSettings(cluster_name="bench"))
    app = make_app(Daemon(storage), api)
    served: list[float] = []
    app.settings["log_function"] = lambda handler: served.append(handler.request.request_time() * 1000)
    sockets = bind_sockets(0, "127.0.0.1")
    server = HTTPServer(app)
    server.add_sockets(sockets)
    url = f"http://127.0.0.1:{sockets[0].getsockname()[1]}/scheduler/www/prod/big"
    client = AsyncHTTPClient()
    body = benchlib.thrift_call(ReadOnlyScheduler, "getTasksWithoutConfigs",
                                query=TaskQuery(jobKeys={JobKey("www", "prod", "big")}))
    page_ms, api_ms, size = [], [], 0
    try:
        for r in range(warmup + requests):
            reply = await client.fetch(url)
            assert reply.code == 200 and b'id="active-tasks"' in reply.body
            size = len(reply.body)
            start = time.perf_counter()
            answer = await protocol.call(api, body, protocol.BINARY, protocol.BINARY)
            raw = (time.perf_counter() - start) * 1000
            assert answer.status == 200
            if r >= warmup:
                page_ms.append(served[-1])
                api_ms.append(raw)
    finally:
        server.stop()
        client.close()
    return page_ms, api_ms, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    page_ms, api_ms, size = asyncio.run(run(args.requests, args.warmup))
    p50 = benchlib.median(page_ms)
    figures = [benchlib.figure("ui_job_page_1000_p50", p50, "ms", "getTasksWithoutConfigs_1000_p50",
                               benchlib.median(api_ms), goal=f"<= {GOAL_MS} ms", met=p50 <= GOAL_MS, fmt="{:.1f}"),
               benchlib.figure("ui_job_page_1000_p99", benchlib.percentile(page_ms, 99), "ms",
                               "getTasksWithoutConfigs_1000_p99", benchlib.percentile(api_ms, 99), fmt="{:.1f}")]
    benchlib.write_results("ui_job_page", figures, instances=INSTANCES, requests=args.requests, page_bytes=size,
                           page_ms=page_ms, api_ms=api_ms)


if __name__ == "__main__":
    main()
