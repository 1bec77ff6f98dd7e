"""Confinement of file access to a sandbox: a corpus of paths that must not get out."""
from __future__ import annotations

import os

import pytest

from thermos_observer.files import Confined, Refused, components, is_within, listing


@pytest.fixture
def tree(tmp_path):
    """tmp/sandbox (files, sub dir, links in and out, fifo), tmp/sandbox_old/secret, tmp/outside/secret."""
    sandbox = tmp_path / "sandbox"
    (sandbox / "sub" / "deeper").mkdir(parents=True)
    (sandbox / "a.txt").write_text("A")
    (sandbox / "sub" / "b.txt").write_text("B")
    (sandbox / "sub" / "deeper" / "c.txt").write_text("C")
    (tmp_path / "sandbox_old").mkdir()
    (tmp_path / "sandbox_old" / "secret").write_text("S")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret").write_text("S")
    os.symlink(tmp_path / "outside", sandbox / "link_out_dir")
    os.symlink(tmp_path / "outside" / "secret", sandbox / "link_out_file")
    os.symlink("../sandbox_old", sandbox / "link_sibling")
    os.symlink("a.txt", sandbox / "link_in")
    os.symlink("sub", sandbox / "sub_link")
    os.mkfifo(sandbox / "fifo")
    return tmp_path


@pytest.mark.parametrize("rel", ["", ".", None, "a.txt", "sub", "sub/", "sub/b.txt", "./sub//deeper/./c.txt",
                                 "sub/deeper"])
def test_inside_paths_open(tree, rel):
    with Confined(str(tree / "sandbox")).open(rel) as entry:
        assert entry.fd >= 0


@pytest.mark.parametrize("rel", [
    "../sandbox_old/secret", "..", "../", "sub/../../sandbox_old/secret", "sub/..", "/etc/passwd", "//etc/passwd",
    "/tmp", "link_out_dir/secret", "link_out_dir", "link_out_file", "link_sibling/secret", "link_in",
    "sub_link/b.txt", "fifo", "missing", "sub/missing/x", "a.txt/x", "a.txt\x00", "sub/deeper/../../..",
])
def test_escaping_or_odd_paths_are_refused(tree, rel):
    with pytest.raises(Refused):
        Confined(str(tree / "sandbox")).open(rel).close()


def test_want_file_or_dir(tree):
    confined = Confined(str(tree / "sandbox"))
    with pytest.raises(Refused):
        confined.open("sub", want="file")
    with pytest.raises(Refused):
        confined.open("a.txt", want="dir")
    with confined.open("sub/b.txt", want="file") as entry:
        assert os.pread(entry.fd, 10, 0) == b"B" and entry.rel == ["sub", "b.txt"] and not entry.is_dir


def test_a_sandbox_reached_through_a_link_still_works(tree):
    os.symlink(tree / "sandbox", tree / "sandbox_link")
    with Confined(str(tree / "sandbox_link")).open("sub/b.txt") as entry:
        assert entry.size == 1


def test_missing_sandbox_is_refused(tree):
    with pytest.raises(Refused):
        Confined(str(tree / "nope")).open("")


def test_components():
    assert components("a//b/./c/") == ["a", "b", "c"]
    for bad in ("..", "a/../b", "/a", "a/..", "x\x00"):
        with pytest.raises(Refused):
            components(bad)


@pytest.mark.parametrize("base,target,inside", [
    ("/x/sandbox", "/x/sandbox", True), ("/x/sandbox", "/x/sandbox/a/b", True),
    ("/x/sandbox", "/x/sandbox_old/secret", False), ("/x/sandbox", "/x/sandbox_old", False),
    ("/x/sandbox", "/x", False), ("/x/sandbox", "/y/sandbox", False), ("/", "/anything", True),
    ("/x/sandbox/", "/x/sandbox/a", True),
])
def test_is_within_compares_components(base, target, inside):
    assert is_within(base, target) is inside


def test_listing_does_not_follow_links(tree):
    with Confined(str(tree / "sandbox")).open("") as entry:
        rows = dict(listing(entry))
    assert sorted(rows) == ["a.txt", "fifo", "link_in", "link_out_dir", "link_out_file", "link_sibling", "sub",
                            "sub_link"]
    assert os.path.stat.S_ISLNK(rows["link_out_dir"].st_mode)
