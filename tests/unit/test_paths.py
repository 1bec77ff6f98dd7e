"""Default roots and sandboxes: Aurora's system paths when usable, per-user ones otherwise."""
from thermos_executor.runner import paths


def test_system_paths_when_writable(monkeypatch):
    monkeypatch.setattr(paths, "_usable", lambda path: True)
    assert paths.default_root() == "/var/run/thermos"
    assert paths.default_sandbox("t-1") == "/var/lib/thermos/sandbox/t-1"


def test_per_user_paths_otherwise(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "_usable", lambda path: False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert paths.default_root() == str(tmp_path / "thermos" / "run")
    assert paths.default_sandbox("t-1") == str(tmp_path / "thermos" / "sandbox" / "t-1")


def test_usable_walks_up_to_an_existing_parent(tmp_path):
    assert paths._usable(str(tmp_path / "not" / "yet"))
    assert not paths._usable("/proc/1/nope/deeper")
