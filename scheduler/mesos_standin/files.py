"""The agent's `/files/browse` and `/files/read`: sandbox files, confined to the agent's work directory.

A requested path is resolved to its real path (following `runs/latest` and any other link) and allowed only if
that real path lies inside the real work directory, compared component by component (never as string prefixes, so
`/work2` is not inside `/work`). The final open uses O_NOFOLLOW, and the real path the kernel reports for the
opened descriptor is checked the same way (a link swapped in between the check and the open is refused).
Anything outside, missing or unreadable is reported as not found, so the endpoints never tell what exists
outside the work directory.

`is_within` repeats `thermos_observer.files.is_within` on purpose: this stand-in imports neither the observer nor
the scheduler above it, and the observer should not depend on the scheduler either.
"""
from __future__ import annotations

import grp
import os
import pwd
import stat

MAX_READ = 1024 * 1024  # bytes per /files/read answer, like Mesos' cap


class FileNotFound(Exception):
    """The path does not exist inside the confined root (or is outside it)."""


class FileBadRequest(Exception):
    """The request is malformed (bad offset/length, reading a directory)."""


def confine(root: str, path: str) -> str:
    """The real path of `path` if it lies inside `root`; FileNotFound otherwise."""
    if not path or "\x00" in path:
        raise FileNotFound(path)
    real_root = os.path.realpath(root)
    real = os.path.realpath(path if os.path.isabs(path) else os.path.join(real_root, path))
    if not is_within(real_root, real) or not os.path.lexists(real):
        raise FileNotFound(path)
    return real


def is_within(base: str, target: str) -> bool:
    """Whether `target` is `base` or below it, comparing path components (both must be real, absolute paths)."""
    base_parts = [p for p in base.split(os.sep) if p]
    target_parts = [p for p in target.split(os.sep) if p]
    return target_parts[:len(base_parts)] == base_parts


def _open(root: str, path: str, flags: int) -> int:
    """A descriptor of `path` (confined), opened with O_NOFOLLOW and checked again after the open."""
    real = confine(root, path)
    try:
        fd = os.open(real, flags | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        raise FileNotFound(path) from None
    try:
        opened = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        opened = ""
    if not is_within(os.path.realpath(root), opened):
        os.close(fd)
        raise FileNotFound(path)
    return fd


def browse(root: str, path: str) -> list[dict]:
    """Mesos' /files/browse answer: one entry per directory member (a file gives itself)."""
    fd = _open(root, path, os.O_PATH)
    try:
        st = os.fstat(fd)
        shown = os.path.normpath(path)
        if not stat.S_ISDIR(st.st_mode):
            return [_entry(shown, st)]
        try:
            directory = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
        except OSError:
            raise FileNotFound(path) from None
    finally:
        os.close(fd)
    entries = []
    try:
        for name in sorted(os.listdir(directory)):
            try:
                entries.append(_entry(os.path.join(shown, name), os.stat(name, dir_fd=directory,
                                                                          follow_symlinks=False)))
            except OSError:
                continue  # vanished while listing
    except OSError:
        raise FileNotFound(path) from None
    finally:
        os.close(directory)
    return entries


def read(root: str, path: str, offset: int = 0, length: int | None = None) -> dict:
    """Mesos' /files/read answer `{"data": str, "offset": int}`; offset -1 gives the size and no data.

    `length` is capped at MAX_READ. Bytes are decoded as UTF-8 with replacement characters, so a multi-byte
    character cut at a boundary shows as U+FFFD; offsets always count bytes.
    """
    if offset < -1:
        raise FileBadRequest(f"offset {offset} is negative (only -1, meaning 'the size', is allowed)")
    if length is not None and length < 0:
        raise FileBadRequest(f"length {length} is negative")
    fd = _open(root, path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise FileBadRequest(f"cannot read {path}: it is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise FileBadRequest(f"cannot read {path}: it is not a regular file")
        if offset == -1:
            return {"data": "", "offset": st.st_size}
        want = MAX_READ if length is None else min(length, MAX_READ)
        offset = min(offset, st.st_size)
        data = os.pread(fd, want, offset) if want else b""
        return {"data": data.decode("utf-8", errors="replace"), "offset": offset}
    finally:
        os.close(fd)


def _entry(path: str, st: os.stat_result) -> dict:
    return {
        "path": path,
        "nlink": st.st_nlink,
        "size": st.st_size,
        "mtime": int(st.st_mtime),
        "mode": stat.filemode(st.st_mode),
        "uid": _user(st.st_uid),
        "gid": _group(st.st_gid),
    }


def _user(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
