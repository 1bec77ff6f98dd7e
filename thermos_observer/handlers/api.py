"""JSON: Aurora's /j/ routes (docs/observer.md) and Mesos-style /files/ routes.

Aurora's shapes are kept; its 500s are gone: unknown task ids and processes are 404, malformed parameters
400. /files/ paths are relative to the task's sandbox (`path=`) or to its log directory (`log=`), and are
confined by `thermos_observer.files` (a request can never leave them).
"""
from __future__ import annotations

import grp
import os
import pwd
import stat
import urllib.parse

from tornado.iostream import StreamClosedError

from thermos_executor.logs.follow import Follower, fingerprint
from thermos_observer.files import Confined, Refused, listing, mode_string
from thermos_observer.handlers.base import Base, BadRequest, NotFound
from thermos_observer.observer import TYPES

MAX_READ = 1 << 20
DOWNLOAD_CHUNK = 256 * 1024


class JsonBase(Base):
    json_errors = True

    def reply(self, data) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.write(_dumps(data))

    def task_ids_arg(self) -> list[str]:
        raw = self.query("task_id", "")
        return [t for t in (urllib.parse.unquote(part).strip(" ") for part in raw.split(",")) if t]


def _dumps(data) -> str:
    import json
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


class TaskIds(JsonBase):
    def get(self, which=None, offset=None, num=None):
        which = which or "all"
        if which not in TYPES:
            raise NotFound(f"unknown task type {which!r}: use all, active or finished")
        offset = self.int_arg("offset", offset, 0)
        num = self.int_arg("num", num, 20, minimum=0, maximum=1000)
        self.reply(self.observer.main(which, offset, num))


class TaskIdCount(JsonBase):
    def get(self):
        self.reply(self.observer.task_id_count())


class Tasks(JsonBase):
    def get(self, task_id=None):
        ids = [task_id] if task_id is not None else self.task_ids_arg()
        tasks = self.observer.tasks(ids)
        unknown = [t for t, v in tasks.items() if v is None]
        if unknown:
            raise NotFound("unknown task id: " + ", ".join(unknown))
        self.reply(tasks)


class Process(JsonBase):
    def get(self, task_id, process=None, run=None):
        if self.observer.lookup(task_id) is None:
            raise NotFound(f"unknown task id: {task_id}")
        if process is None:
            self.reply({})
            return
        run = self.int_arg("run", run, None, minimum=-1)
        data = self.observer.process(task_id, process, run)
        if data is None:
            raise NotFound(f"task {task_id} has no process {process}" + ("" if run is None else f" run {run}"))
        self.reply(data)


class Processes(JsonBase):
    def get(self):
        data = self.observer.processes(self.task_ids_arg())
        unknown = [t for t, v in data.items() if v is None]
        if unknown:
            raise NotFound("unknown task id: " + ", ".join(unknown))
        self.reply(data)


class Resources(JsonBase):
    """The last hour of a task's resource use: {task_id, interval, points: [[time, cpu, rss, disk]...]}."""

    def get(self, task_id):
        if self.observer.lookup(task_id) is None:
            raise NotFound(f"unknown task id: {task_id}")
        sampler = self.observer.sampler
        self.reply({"task_id": task_id, "interval": sampler.process_interval, "enabled": sampler.enabled,
                    "points": [list(p) for p in sampler.history(task_id)]})


# ---- files ----------------------------------------------------------------------------------------------

def confined_for(handler: Base, task_id: str, log: bool, found=None) -> Confined:
    """The sandbox (or the log dir) of a known task, or 404. `found`: the task's `lookup()`, if done already."""
    if found is None and task_id:
        found = handler.observer.lookup(task_id)
    if found is None:
        raise NotFound(f"unknown task id: {task_id}" if task_id else "task_id is required")
    header = found[1].header
    base = header.get("log_dir") if log else header.get("sandbox")
    if log and not base and header.get("sandbox"):
        base = os.path.join(header["sandbox"], ".logs")
    if not base:
        raise NotFound(f"task {task_id} has no sandbox")
    return Confined(base)


class FilesBase(JsonBase):
    def target(self) -> tuple[Confined, str]:
        task_id = self.query("task_id", "")
        path, log = self.query("path", None), self.query("log", None)
        if path is not None and log is not None:
            raise BadRequest("give either path (in the sandbox) or log (in the log directory), not both")
        return confined_for(self, task_id, log is not None), (log if log is not None else path) or ""


def _name(getter, ident: int) -> str:
    try:
        return getter(ident)[0]
    except KeyError:
        return str(ident)


def browse_rows(entry) -> list[dict]:
    prefix = "/".join(entry.rel)
    rows = []
    for name, st in listing(entry):
        rows.append({"path": f"{prefix}/{name}" if prefix else name, "name": name, "mode": mode_string(st.st_mode),
                     "nlink": st.st_nlink, "uid": _name(pwd.getpwuid, st.st_uid),
                     "gid": _name(grp.getgrgid, st.st_gid), "size": st.st_size, "mtime": st.st_mtime,
                     "is_dir": stat.S_ISDIR(st.st_mode)})
    return rows


class Browse(FilesBase):
    """Mesos-style /files/browse: the entries of a directory, `ls -l` fields."""

    def get(self):
        confined, rel = self.target()
        try:
            with confined.open(rel, want="dir") as entry:
                self.reply(browse_rows(entry))
        except Refused as e:
            self.refused(e)


class Read(FilesBase):
    """Mesos-style /files/read: {offset, length, data, size}; offset -1 gives the size. length <= 1 MiB."""

    def get(self):
        confined, rel = self.target()
        offset = self.int_arg("offset", self.query("offset", None), -1, minimum=-1)
        length = self.int_arg("length", self.query("length", None), -1, minimum=-1)
        length = MAX_READ if length == -1 else min(length, MAX_READ)
        try:
            with confined.open(rel, want="file") as entry:
                size = os.fstat(entry.fd).st_size
                if offset == -1:
                    self.reply({"offset": size, "length": 0, "data": "", "size": size})
                    return
                offset = min(offset, size)
                data = os.pread(entry.fd, length, offset) if length else b""
        except Refused as e:
            self.refused(e)
        self.reply({"offset": offset, "length": len(data), "data": data.decode("utf-8", "replace"), "size": size})


def _complete_utf8(data: bytes) -> int:
    """How many leading bytes of `data` end on a character boundary (an incomplete last sequence is held back)."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 == 0x80:
            continue                              # a continuation byte: look further back for the lead byte
        need = 2 if byte & 0xE0 == 0xC0 else 3 if byte & 0xF0 == 0xE0 else 4 if byte & 0xF8 == 0xF0 else 1
        return len(data) - back if need > back else len(data)
    return len(data)


def parse_cursor(raw: str | None) -> tuple[int, int, int | None] | None:
    """`<inode>:<offset>[:<fingerprint hex>]` as returned by /files/follow, or None."""
    if raw is None or raw == "":
        return None
    parts = raw.split(":")
    try:
        if len(parts) not in (2, 3):
            raise ValueError
        cursor = int(parts[0]), int(parts[1]), (int(parts[2], 16) if len(parts) == 3 else None)
    except ValueError:
        raise BadRequest(f"cursor must be <inode>:<offset>:<fingerprint> as returned by the last call, "
                         f"got {raw!r}") from None
    if cursor[0] < 0 or cursor[1] < 0 or (cursor[2] is not None and cursor[2] < 0):
        raise BadRequest(f"cursor must be <inode>:<offset>:<fingerprint> as returned by the last call, got {raw!r}")
    return cursor


class Follow(FilesBase):
    """Reads a (log) file as it grows, across rotations.

    Without a cursor: the last `tail` bytes (default 0) of the file now, and a cursor at its end. With the
    cursor of the last answer: what was written since, even if the file was rotated meanwhile (`rotated`
    counts the moves to a newer file, `gap` says output was dropped by rotation before it could be read).
    At most `length` (<= 1 MiB) bytes per answer; `more` says there is more to read at once.
    """

    def get(self):
        confined, rel = self.target()
        cursor = parse_cursor(self.query("cursor", None))
        tail = self.int_arg("tail", self.query("tail", None), 0, minimum=0, maximum=MAX_READ)
        length = self.int_arg("length", self.query("length", None), MAX_READ, minimum=1)
        length = min(length, MAX_READ)
        try:
            directory, name = confined.open_dir_of(rel)
        except Refused as e:
            self.refused(e)
        with directory:
            if cursor is None:
                follower = Follower(name, 0, dir_fd=directory.fd)
                if follower.fd is not None:
                    follower.offset = max(0, os.fstat(follower.fd).st_size - tail)
            else:
                follower = Follower.resume(name, cursor[0], cursor[1], dir_fd=directory.fd, print_=cursor[2])
            try:
                if follower.fd is None and cursor is None:
                    raise NotFound("no such file")
                data = follower.read(limit=length)
                # Hold back a split last character, but never bytes of an earlier (rotated) file: the cursor
                # can only point into the file the follower holds now.
                held = min(len(data) - _complete_utf8(data), follower.offset)
                keep = len(data) - held
                inode, offset = follower.inode, follower.offset - held
                print_ = fingerprint(follower.fd, offset) if follower.fd is not None else 0
                more = len(data) >= length
            finally:
                follower.close()
        self.reply({"data": data[:keep].decode("utf-8", "replace"), "length": keep,
                    "cursor": f"{inode or 0}:{offset}:{print_:x}", "rotated": follower.rotations,
                    "gap": follower.gaps > 0, "more": more})


class Download(FilesBase):
    """/files/download?task_id=&path=|log=: the file as an attachment (application/octet-stream), streamed."""

    async def get(self):
        await self.send(*self.target())

    async def send(self, confined: Confined, rel: str) -> None:
        try:
            entry = confined.open(rel, want="file")
        except Refused as e:
            self.refused(e)
        with entry:
            filename = entry.rel[-1] if entry.rel else "file"
            self.set_header("Content-Type", "application/octet-stream")
            self.set_header("Content-Disposition",
                            "attachment; filename*=UTF-8''" + urllib.parse.quote(filename, safe=""))
            self.set_header("Content-Length", str(entry.size))
            if self.request.method == "HEAD":
                return
            offset, remaining = 0, entry.size
            while remaining > 0:
                chunk = os.pread(entry.fd, min(DOWNLOAD_CHUNK, remaining), offset)
                if not chunk:
                    break
                self.write(chunk)
                try:
                    await self.flush()
                except StreamClosedError:
                    return                                # the client went away: nothing to report
                offset += len(chunk)
                remaining -= len(chunk)


class DownloadPath(Download):
    """Aurora's /download/<task_id>/<path in the sandbox>: the same attachment (old links and scripts use it).

    Aurora let bottle's static_file guess the Content-Type from the name; here it is always
    application/octet-stream, so a browser never renders task-written HTML on the observer's origin.
    """
    json_errors = False
    html_errors = True

    async def get(self, task_id, rel):
        await self.send(confined_for(self, task_id, log=False), rel)
