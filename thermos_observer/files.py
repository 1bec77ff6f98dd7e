"""Reading files of a task without ever leaving its sandbox.

A request names a path *relative* to a base directory (the task's sandbox, or its log directory). `Confined`
walks it one component at a time from a descriptor of the base, with `openat` and O_NOFOLLOW, so a symbolic
link anywhere on the way, `..`, an absolute path or a NUL byte never gets out: such paths are refused (the
caller answers 404). The descriptor finally opened is checked once more: the real path the kernel reports for
it must have the real base path as its leading *components* (a sibling directory `sandbox_old` is not inside
`sandbox`). Nothing here writes, and FIFOs, sockets and devices are never opened for reading.

Usage:
    with Confined(sandbox).open("logs/app.log") as entry:   # an Entry: fd, stat, is_dir
        data = os.pread(entry.fd, 65536, 0)
"""
from __future__ import annotations

import os
import stat

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    """The path is not a readable file or directory inside the base (or does not exist). One line for people."""


def components(rel: str | None) -> list[str]:
    """The components of a relative request path; '' / None / '.' mean the base itself.

    Refused: absolute paths, NUL bytes, '..' anywhere. Empty and '.' components are dropped.
    """
    if rel is None or rel in ("", "."):
        return []
    if "\x00" in rel:
        raise Refused("path contains a NUL byte")
    if rel.startswith("/"):
        raise Refused("absolute paths are not served; give a path relative to the sandbox")
    parts = [p for p in rel.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise Refused("'..' is not allowed in paths")
    return parts


def is_within(base: str, target: str) -> bool:
    """Whether `target` is `base` or below it, comparing path components (both must be real, absolute paths)."""
    base_parts = [p for p in base.split(os.sep) if p]
    target_parts = [p for p in target.split(os.sep) if p]
    return target_parts[:len(base_parts)] == base_parts


class Entry:
    """An open file or directory inside the base. Close it (or use `with`)."""

    def __init__(self, fd: int, st: os.stat_result, rel: list[str]):
        self.fd = fd
        self.stat = st
        self.rel = rel

    @property
    def is_dir(self) -> bool:
        return stat.S_ISDIR(self.stat.st_mode)

    @property
    def size(self) -> int:
        return self.stat.st_size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Entry:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Confined:
    """A base directory; every path is opened relative to it and never leaves it."""

    def __init__(self, base: str):
        self.base = base

    def _real_base(self) -> str:
        real = os.path.realpath(self.base)
        if not os.path.isabs(real):
            raise Refused("no such sandbox")
        return real

    def open(self, rel: str | None, want: str = "any") -> Entry:
        """Open `rel` ('any', 'file' or 'dir'); raise Refused if it is not an existing one inside the base."""
        parts = components(rel)
        real_base = self._real_base()
        try:
            fd = os.open(real_base, _DIR_FLAGS)
        except OSError:
            raise Refused("the sandbox does not exist (yet, or any more)") from None
        try:
            for i, name in enumerate(parts):
                last = i == len(parts) - 1
                try:
                    new = os.open(name, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=fd)
                except OSError:
                    raise Refused("no such file or directory") from None
                os.close(fd)
                fd = new
            st = os.fstat(fd)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                raise Refused("not a regular file or directory")
            if want == "file" and not stat.S_ISREG(st.st_mode):
                raise Refused("not a regular file")
            if want == "dir" and not stat.S_ISDIR(st.st_mode):
                raise Refused("not a directory")
            if not is_within(real_base, os.readlink(f"/proc/self/fd/{fd}")):
                raise Refused("outside the sandbox")
            return Entry(fd, st, parts)
        except BaseException:
            os.close(fd)
            raise

    def open_dir_of(self, rel: str) -> tuple[Entry, str]:
        """The directory holding `rel` (opened, confined) and the last component's name (for a Follower)."""
        parts = components(rel)
        if not parts:
            raise Refused("not a file")
        directory = self.open("/".join(parts[:-1]), want="dir")
        return directory, parts[-1]


def listing(entry: Entry) -> list[tuple[str, os.stat_result]]:
    """(name, lstat) of every entry of an open directory, sorted by name; entries that vanish are skipped."""
    rows = []
    for name in sorted(os.listdir(entry.fd)):
        try:
            rows.append((name, os.stat(name, dir_fd=entry.fd, follow_symlinks=False)))
        except OSError:
            pass
    return rows


def mode_string(mode: int) -> str:
    """`ls -l` style: drwxr-xr-x."""
    return stat.filemode(mode)
