"""A log file that never grows past `log_size` bytes.

When the live file `name` is full it becomes `name.1`, `name.1` becomes `name.2` ... up to `name.<backups>`
(the oldest is dropped), and a new empty `name` is opened. Writes are split exactly at the boundary, so no
file is ever larger than `log_size`, and the files read oldest first (`name.<backups>` ... `name.1`, `name`)
are exactly the bytes written, minus what was dropped. Data can arrive by `write` or, without copying
through user space, by `splice_from` a pipe.
"""
from __future__ import annotations

import os


class RotatingFile:
    def __init__(self, path: str, log_size: int, backups: int):
        if log_size <= 0 or backups < 1:
            raise ValueError(f"rotation needs log_size > 0 and backups >= 1, got {log_size} and {backups}")
        self.path = path
        self.log_size = log_size
        self.backups = backups
        self.fd = self._open()
        self.size = os.fstat(self.fd).st_size

    def _open(self) -> int:
        # Not O_APPEND: splice(2) refuses such files. We are the file's only writer, so the end is where we are.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        os.lseek(fd, 0, os.SEEK_END)
        return fd

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view[:self.log_size - self.size])
            self.size += written
            view = view[written:]
            self._rotate_if_full()

    def splice_from(self, fd: int, limit: int) -> int:
        """Move up to `limit` bytes from pipe `fd` into the file; 0 means the pipe's writers are gone."""
        moved = os.splice(fd, self.fd, min(limit, self.log_size - self.size))
        self.size += moved
        self._rotate_if_full()
        return moved

    def _rotate_if_full(self) -> None:
        if self.size < self.log_size:
            return
        os.close(self.fd)
        # Delete the oldest first: a rename onto an existing file makes ext4 (auto_da_alloc) write the renamed
        # file out at once, and freeing the replaced one issues discards: together ~1 GB of disk I/O per GB.
        try:
            os.unlink(f"{self.path}.{self.backups}")
        except FileNotFoundError:
            pass
        for k in range(self.backups - 1, 0, -1):
            try:
                os.rename(f"{self.path}.{k}", f"{self.path}.{k + 1}")
            except FileNotFoundError:
                pass
        os.rename(self.path, f"{self.path}.1")
        self.fd = self._open()
        self.size = 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def rotated_files(path: str, dir_fd: int | None = None) -> list[str]:
    """The files of one log, oldest first: path.N ... path.1, path (those that exist).

    With `dir_fd`, `path` is a name inside that directory (and so are the names returned).
    """
    directory, name = os.path.split(path)
    numbered = []
    try:
        entries = os.listdir(dir_fd if dir_fd is not None else (directory or "."))
    except FileNotFoundError:
        return []
    for entry in entries:
        suffix = entry[len(name) + 1:] if entry.startswith(name + ".") else ""
        if suffix.isdigit():
            numbered.append(int(suffix))
    files = [f"{path}.{k}" for k in sorted(numbered, reverse=True)]
    if dir_fd is None:
        return files + ([path] if os.path.exists(path) else [])
    return files + ([path] if name in entries else [])
