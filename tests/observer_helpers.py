"""Running a real `thermos_observer` in tests and talking to it over HTTP (only the standard library)."""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import tempfile
import time

from tests.helpers import BIN, wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


class Observer:
    """A `thermos_observer` subprocess on 127.0.0.1; `get(path)` sends the path as is (no normalisation)."""

    def __init__(self, *args: str, env=None):
        self.port = free_port()
        self.log = tempfile.TemporaryFile("w+")          # a file, not a pipe: a full pipe would stall it
        self.cmd = [os.path.join(BIN, "thermos_observer"), "--ip", "127.0.0.1", "--port", str(self.port), *args]
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.DEVNULL, stderr=self.log, text=True, env=env)
        try:
            wait_for(self._up, timeout=20, what="the observer to answer /health")
        except AssertionError:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"observer exited {self.proc.returncode}: {self.stderr()}")
        try:
            return self.get("/health").status == 200
        except OSError:
            return False

    def request(self, method: str, path: str, headers=None) -> Response:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for key, value in (headers or {}).items():
                conn.putheader(key, value)
            conn.endheaders()
            response = conn.getresponse()
            return Response(response.status, response.headers, response.read())
        finally:
            conn.close()

    def get(self, path: str, headers=None) -> Response:
        return self.request("GET", path, headers)

    def json(self, path: str):
        response = self.get(path)
        assert response.status == 200, (path, response.status, response.text)
        return response.json()

    def wait_task(self, task_id: str, which: str = "all", timeout: float = 10.0) -> dict:
        def listed():
            rows = self.json(f"/j/task_ids/{which}/0/1000")["tasks"]
            return next((r for r in rows if r["task_id"] == task_id), None)
        return wait_for(listed, timeout=timeout, what=f"{task_id} in /j/task_ids/{which}")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        err = self.stderr()
        self.log.close()
        return err

    def stderr(self) -> str:
        self.log.seek(0)
        return self.log.read()


def started(thermos, config: str, task_id: str, process: str, timeout: float = 30.0):
    """`thermos run` in the background, waited on until `process` is RUNNING."""
    proc = thermos.start(config, task_id)
    wait_for(lambda: thermos.running(task_id, process), timeout=timeout, what=f"{process} RUNNING")
    return proc


def stop_task(thermos, task_id: str, proc) -> None:
    if proc.poll() is None:
        thermos("kill", "--grace", "5", task_id, timeout=60)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream:
            stream.close()


def now() -> float:
    return time.time()


def synthetic_task(root: str, task_id: str, sandbox: str, status: str = "finished", processes: int = 2,
                   launch_time: float | None = None, mtime: float | None = None) -> None:
    """Write a task as the runner would (real checkpoint stream, task file), without running it.

    Finished tasks end SUCCESS; active ones have RUNNING processes whose pids are not alive (fine for
    listings; the sampler finds nothing to sample).
    """
    from thermos_executor.runner import ckpt
    from thermos_executor.runner.paths import TaskPath
    from thermos_executor.runner.state import process_record
    paths = TaskPath(root, task_id)
    os.makedirs(paths.checkpoint_dir, exist_ok=True)
    t = launch_time or time.time()
    writer = ckpt.Writer(paths.runner_checkpoint, durable_name=False)
    try:
        writer.write({"task_status": {"state": "ACTIVE", "timestamp": t, "runner_pid": 1, "runner_uid": 0}},
                     sync=False)
        writer.write({"header": {"task_id": task_id, "launch_time": t, "sandbox": sandbox,
                                 "log_dir": os.path.join(sandbox, ".logs"), "hostname": "bench", "user": "root",
                                 "uid": 0, "ports": {"http": 8080}}}, sync=False)
        for i in range(processes):
            name = f"p{i}"
            writer.write(process_record(name, "WAITING", 0), sync=False)
            writer.write(process_record(name, "FORKED", 1, coordinator_pid=999999, fork_time=t), sync=False)
            writer.write(process_record(name, "RUNNING", 2, pid=999998, start_time=t), sync=False)
            if status == "finished":
                writer.write(process_record(name, "SUCCESS", 3, return_code=0, stop_time=t + 1), sync=False)
        if status == "finished":
            for state in ("CLEANING", "FINALIZING", "SUCCESS"):
                writer.write({"task_status": {"state": state, "timestamp": t + 1, "runner_pid": 1,
                                              "runner_uid": 0}}, sync=False)
    finally:
        writer.close()
    task_file = paths.task_file(status)
    os.makedirs(os.path.dirname(task_file), exist_ok=True)
    with open(task_file, "w") as f:
        json.dump({"name": f"synthetic-{task_id}", "processes": [{"name": f"p{i}", "cmdline": "sleep 1"}
                                                                  for i in range(processes)]}, f)
    if mtime is not None:
        os.utime(task_file, (mtime, mtime))
