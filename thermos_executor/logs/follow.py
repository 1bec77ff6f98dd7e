"""Reading a log as it grows, across rotations, with no gap and no duplicate.

The follower holds the file it reads open. When the log rotates (the path now names a newer file), it reads
the rest of the file it holds (renamed to `name.1`, but the same inode) and then moves on to the next newer
file of the set, found by inode among `name.N ... name.1, name`, from its start. Only what the rotation
policy dropped before the follower got to it can be missed: when the held file itself was dropped, the
follower carries on from the oldest file kept and counts a possible gap.
"""
from __future__ import annotations

import os

from thermos_executor.logs.rotating import rotated_files

CHUNK = 1 << 20


class Follower:
    def __init__(self, path: str, offset: int = 0):
        self.path = path
        self.offset = offset
        self.fd: int | None = None
        self.inode: int | None = None
        self.rotations = 0       # how many times we moved to a newer file
        self.gaps = 0            # times our file was dropped before we moved on: output may be missing there
        self._open(path, offset)

    def read(self) -> bytes:
        """Everything written since the last call (possibly spanning several files)."""
        out = []
        while True:
            if self.fd is None and not self._open(self.path, self.offset):
                break
            out.append(self._read_rest())
            newer = self._newer()
            if newer is None:
                break
            out.append(self._read_rest())   # the held file is complete once a newer one exists
            os.close(self.fd)
            self.fd = None
            self.rotations += 1
            if not self._open(newer, 0):
                break
        return b"".join(out)

    def _open(self, path: str, offset: int) -> bool:
        try:
            self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        self.inode = os.fstat(self.fd).st_ino
        self.offset = offset
        return True

    def _read_rest(self) -> bytes:
        parts = []
        while chunk := os.pread(self.fd, CHUNK, self.offset):
            parts.append(chunk)
            self.offset += len(chunk)
        return b"".join(parts)

    def _newer(self) -> str | None:
        """The file written after the one we hold, if the log has rotated past it."""
        try:
            if os.stat(self.path).st_ino == self.inode:
                return None
        except FileNotFoundError:
            return None                     # mid-rotation: the new file is not there yet
        files = rotated_files(self.path)
        inodes = []
        for path in files:
            try:
                inodes.append(os.stat(path).st_ino)
            except FileNotFoundError:
                inodes.append(None)
        if self.inode in inodes:
            return files[inodes.index(self.inode) + 1]
        self.gaps += 1                      # ours was dropped: resume at the oldest file still kept
        return files[0] if files else None

    def tail(self, lines: int, window: int = 64 * 1024) -> bytes:
        """The last `lines` lines of the file held now, and move to its end (to follow from there)."""
        if self.fd is None:
            return b""
        end = os.fstat(self.fd).st_size
        data = os.pread(self.fd, min(window, end), max(0, end - window))
        self.offset = end
        if lines <= 0:
            return b""
        cut = data.rstrip(b"\n").rsplit(b"\n", lines)
        return b"\n".join(cut[1:] if len(cut) > lines else cut) + (b"\n" if data.endswith(b"\n") else b"")

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
