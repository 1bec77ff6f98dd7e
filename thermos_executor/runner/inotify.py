"""A minimal inotify watch (Linux), through ctypes: the stdlib has none and we need no more than this.

The runner watches its task's checkpoint directory so that a coordinator's record wakes it at once, even a
coordinator started by an earlier runner (pipes would not survive a runner restart).
"""
from __future__ import annotations

import ctypes
import os
import struct

IN_MODIFY = 0x00000002
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
_EVENT = struct.Struct("iIII")

_libc = ctypes.CDLL(None, use_errno=True)


class Inotify:
    def __init__(self):
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")

    def watch(self, path: str, mask: int = IN_MODIFY | IN_CREATE) -> None:
        if _libc.inotify_add_watch(self.fd, os.fsencode(path), mask) < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"inotify_add_watch {path}: {os.strerror(err)}")

    def read_names(self) -> set[str]:
        """Names of the files that changed since the last call (drains the queue)."""
        names = set()
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return names
            offset = 0
            while offset < len(data):
                _wd, _mask, _cookie, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size
                names.add(data[offset:offset + length].rstrip(b"\0").decode(errors="replace"))
                offset += length

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
