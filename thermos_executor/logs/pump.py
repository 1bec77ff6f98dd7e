"""The pump: copies a child's stdout and stderr from pipes to their destinations, inside the run's coordinator.

Only the piped policies use it (`rotate`, and destination `both`); in `standard` mode the log file itself is
the child's stdout and nothing is copied. It lives in the coordinator, not the runner, so a runner that is
killed and restarted loses no byte. To a rotating file with no console copy, data moves with `splice(2)`,
pipe to file, without passing through user space; otherwise it is read and written in 1 MiB chunks.
"""
from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass

from thermos_executor.logs.policy import LogPolicy
from thermos_executor.logs.rotating import RotatingFile

CHUNK = 1 << 20
APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC


@dataclass
class _Stream:
    child_end: int                     # the pipe's write end, given to the child as fd 1 or 2
    sink: RotatingFile | int | None    # rotating file, or an fd opened for append, or None (console only)
    console: int | None                # our copy of the runner's stdout/stderr, for destination `both`


class Pump:
    def __init__(self, policy: LogPolicy, log_dir: str):
        self.streams: dict[int, _Stream] = {}
        for name, console in (("stdout", 1), ("stderr", 2)):
            read_end, write_end = os.pipe2(os.O_CLOEXEC)
            try:
                fcntl.fcntl(read_end, fcntl.F_SETPIPE_SZ, CHUNK)   # fewer wake-ups for chatty processes
            except OSError:
                pass                                               # above /proc/sys/fs/pipe-max-size: keep 64 KiB
            path = os.path.join(log_dir, name)
            if policy.rotating:
                sink = RotatingFile(path, policy.log_size, policy.backups)
            elif policy.to_file:
                sink = os.open(path, APPEND, 0o644)
            else:
                sink = None
            self.streams[read_end] = _Stream(write_end, sink, console if policy.destination == "both" else None)

    def child_ends(self) -> tuple[int, int]:
        ends = [s.child_end for s in self.streams.values()]
        return ends[0], ends[1]

    def close_child_ends(self) -> None:
        """Once the child has them: the pipes must reach EOF when the child's side closes."""
        for stream in self.streams.values():
            os.close(stream.child_end)

    @property
    def open_fds(self) -> list[int]:
        return list(self.streams)

    def transfer(self, fd: int) -> bool:
        """Move what `fd` has to its destinations; False (and the stream is closed) when its writers are gone."""
        stream = self.streams[fd]
        if stream.console is None and isinstance(stream.sink, RotatingFile):
            moved = stream.sink.splice_from(fd, CHUNK)
        else:
            data = os.read(fd, CHUNK)
            moved = len(data)
            if stream.console is not None and data:
                stream.console = _write_all(stream.console, data)
            if isinstance(stream.sink, RotatingFile):
                stream.sink.write(data)
            elif stream.sink is not None:
                _write_all(stream.sink, data)
        if moved == 0:
            self._close(fd)
            return False
        return True

    def _close(self, fd: int) -> None:
        stream = self.streams.pop(fd)
        os.close(fd)
        if isinstance(stream.sink, RotatingFile):
            stream.sink.close()
        elif stream.sink is not None:
            os.close(stream.sink)

    def close(self) -> None:
        for fd in list(self.streams):
            self._close(fd)


def _write_all(fd: int, data: bytes) -> int | None:
    """Write everything; return fd, or None if it is broken (a console that went away must not stop the log)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError:
        return None
    return fd
