"""Reading a log as it grows, across rotations, with no gap and no duplicate.

The follower holds the file it reads open. When the log rotates (the path now names a newer file), it reads
the rest of the file it holds (renamed to `name.1`, but the same inode) and then moves on to the next newer
file of the set, found by inode among `name.N ... name.1, name`, from its start. Only what the rotation
policy dropped before the follower got to it can be missed: when the held file itself was dropped, the
follower carries on from the oldest file kept and counts a possible gap.

A follower that cannot stay open between reads (an HTTP client polling the observer) keeps a cursor, the
pair (inode, offset), and comes back with `Follower.resume`, which finds that inode among the files of the
set, so a rotation between two polls loses nothing. With `dir_fd`, `path` is a name inside that directory
and nothing is followed through a symbolic link (the observer confines reads to a sandbox this way).
"""
from __future__ import annotations

import os
import stat
import zlib

from thermos_executor.logs.rotating import rotated_files

CHUNK = 1 << 20
FINGERPRINT_BYTES = 64


def fingerprint(fd: int, offset: int) -> int:
    """CRC32 of the first min(64, offset) bytes: they never change in a log, so they tell a file from another
    that got the same inode number after the first was deleted."""
    return zlib.crc32(os.pread(fd, min(FINGERPRINT_BYTES, offset), 0))


class Follower:
    def __init__(self, path: str, offset: int = 0, dir_fd: int | None = None):
        self.path = path
        self.dir_fd = dir_fd
        self.offset = offset
        self.fd: int | None = None
        self.inode: int | None = None
        self.rotations = 0       # how many times we moved to a newer file
        self.gaps = 0            # times our file was dropped before we moved on: output may be missing there
        self._open(path, offset)

    @classmethod
    def resume(cls, path: str, inode: int | None, offset: int, dir_fd: int | None = None,
               print_: int | None = None) -> Follower:
        """A follower at a cursor taken earlier: the file of the set with `inode`, at `offset`.

        `print_` is the `fingerprint` taken with the cursor, if any: a file with the inode but other leading
        bytes is another file. If ours was dropped by rotation since, it starts at the oldest file kept and
        counts a gap.
        """
        follower = cls(path, offset, dir_fd=dir_fd)
        if inode is None or follower.fd is None:
            return follower
        if follower.inode == inode and follower._same(offset, print_):
            return follower
        files, inodes = follower._scan() or ([], [])
        follower.close()
        if inode in inodes and follower._open(files[inodes.index(inode)], offset, inode) and \
                follower._same(offset, print_):
            return follower
        follower.close()
        follower.gaps += 1
        for name, expected in zip(files, inodes, strict=True):
            if follower._open(name, 0, expected):
                break
        return follower

    def read(self, limit: int | None = None) -> bytes:
        """Everything written since the last call (possibly spanning several files), at most `limit` bytes."""
        out, size, retries = [], 0, 0
        while limit is None or size < limit:
            if self.fd is None and not self._open(self.path, self.offset):
                break
            chunk = self._read_rest(None if limit is None else limit - size)
            out.append(chunk)
            size += len(chunk)
            if limit is not None and size >= limit:
                break
            newer = self._newer()
            if newer is None:
                break
            chunk = self._read_rest(None if limit is None else limit - size)  # complete once a newer one exists
            out.append(chunk)
            size += len(chunk)
            if limit is not None and size >= limit:
                break
            held = self.fd
            if not self._open(*newer):     # renamed again meanwhile: keep ours, look again
                retries += 1
                if retries > 100:
                    break
                continue
            os.close(held)
            self.rotations += 1
        return b"".join(out)

    def _same(self, offset: int, print_: int | None) -> bool:
        if os.fstat(self.fd).st_size < offset:
            return False                    # shorter than where we were: not the file we read
        return print_ is None or fingerprint(self.fd, offset) == print_

    def fingerprint(self) -> int | None:
        return None if self.fd is None else fingerprint(self.fd, self.offset)

    def _stat(self, path: str) -> int | None:
        try:
            if self.dir_fd is None:
                return os.stat(path).st_ino
            return os.stat(path, dir_fd=self.dir_fd, follow_symlinks=False).st_ino
        except FileNotFoundError:
            return None

    def _open(self, path: str, offset: int, expected: int | None = None) -> bool:
        """Hold `path` at `offset`; with `expected`, only if it is still that inode (names move in rotations)."""
        try:
            if self.dir_fd is None:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            else:
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=self.dir_fd)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError:
            if self.dir_fd is None:
                raise
            return False          # a link, or something we may not read: not part of a log we follow
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (expected is not None and st.st_ino != expected):
            os.close(fd)
            return False
        self.fd = fd
        self.inode = st.st_ino
        self.offset = offset
        return True

    def _read_rest(self, limit: int | None = None) -> bytes:
        parts = []
        while limit is None or limit > 0:
            chunk = os.pread(self.fd, CHUNK if limit is None else min(CHUNK, limit), self.offset)
            if not chunk:
                break
            parts.append(chunk)
            self.offset += len(chunk)
            if limit is not None:
                limit -= len(chunk)
        return b"".join(parts)

    def _scan(self) -> tuple[list[str], list[int]] | None:
        """The files of the log and their inodes, as they were at one moment: a scan that a rotation ran
        through (the live file changed, or a file vanished between the listing and its stat) is done again.
        None if the log keeps rotating under us (try at the next read)."""
        for _ in range(100):
            live = self._stat(self.path)
            files = rotated_files(self.path, dir_fd=self.dir_fd)
            inodes = [self._stat(path) for path in files]
            if None not in inodes and self._stat(self.path) == live and (live is None or inodes[-1] == live):
                return files, inodes
        return None

    def _newer(self) -> tuple[str, int, int] | None:
        """(name, 0, inode) of the file written after the one we hold, if the log has rotated past it."""
        current = self._stat(self.path)
        if current is None or current == self.inode:
            return None                     # not rotated, or mid-rotation: the new file is not there yet
        scan = self._scan()
        if scan is None:
            return None
        files, inodes = scan
        if self.inode in inodes:
            index = inodes.index(self.inode) + 1
            return (files[index], 0, inodes[index]) if index < len(files) else None
        self.gaps += 1                      # ours was dropped: resume at the oldest file still kept
        return files[0], 0, inodes[0]

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
