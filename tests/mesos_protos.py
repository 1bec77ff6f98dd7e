"""Validation of JSON messages against the real Mesos v1 protos (reference mesos-zookeeper.md §1).

The protos come from Debian's `golang-github-mesos-mesos-go-dev` package, fetched at test time with
`apt-get download` and `dpkg -x` (never committed), stripped of the gogoproto import and options, compiled with
grpcio-tools into a cache directory outside the repository's tracked files
(`$XDG_CACHE_HOME/aurora-mesos-protos`, default `~/.cache/...`), and imported from there.

    validate_log(mesos.message_log.entries())   # AssertionError listing every message that does not parse

A message is valid when `json_format.ParseDict(msg, <Call or Event>(), ignore_unknown_fields=False)` accepts it
and the result has every proto2 `required` field set.
"""
from __future__ import annotations

import glob
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

PACKAGE = "golang-github-mesos-mesos-go-dev"
LIB = "usr/share/gocode/src/github.com/mesos/mesos-go/api/v1/lib"
# (path in the package, flat file name we compile it as)
PROTOS = [("mesos.proto", "mesos_v1.proto"), ("scheduler/scheduler.proto", "mesos_v1_scheduler.proto"),
          ("executor/executor.proto", "mesos_v1_executor.proto")]

_GOGO_IMPORT = re.compile(r'^import\s+"github\.com/gogo/protobuf/gogoproto/gogo\.proto";\s*$', re.M)
_GOGO_OPTION = re.compile(r"^\s*option\s+\(gogoproto\.[^)]*\)\s*=\s*[^;]*;\s*$", re.M)
_GOGO_FIELD_OPTIONS = re.compile(r"\s*\[\s*\(gogoproto\.[^\]]*\]")
_MESOS_IMPORT = re.compile(r'import\s+"github\.com/mesos/mesos-go/api/v1/lib/mesos\.proto";')

_lock = threading.Lock()
_modules = None


def cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "aurora-mesos-protos")


def strip_gogo(text: str) -> str:
    """The three regular expressions: gogoproto import, file/message options, field options."""
    text = _GOGO_IMPORT.sub("", text)
    text = _GOGO_OPTION.sub("", text)
    text = _GOGO_FIELD_OPTIONS.sub("", text)
    return _MESOS_IMPORT.sub('import "mesos_v1.proto";', text)


def _build(target: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run(["apt-get", "download", PACKAGE], cwd=tmp, capture_output=True, text=True)
        debs = glob.glob(os.path.join(tmp, "*.deb"))
        if not debs:
            raise RuntimeError(f"apt-get download {PACKAGE} failed: {result.stderr.strip().splitlines()[-1:]}")
        subprocess.run(["dpkg", "-x", debs[0], os.path.join(tmp, "x")], check=True)
        src = os.path.join(tmp, "src")
        out = os.path.join(tmp, "out")
        os.makedirs(src)
        os.makedirs(out)
        for path, flat in PROTOS:
            with open(os.path.join(tmp, "x", LIB, path)) as f:
                text = strip_gogo(f.read())
            if "gogoproto" in text:
                raise RuntimeError(f"{path}: gogoproto left after stripping")
            with open(os.path.join(src, flat), "w") as f:
                f.write(text)
        from grpc_tools import protoc
        include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
        args = ["protoc", f"-I{src}", f"-I{include}", f"--python_out={out}"] + [os.path.join(src, f) for _, f in
                                                                               PROTOS]
        if protoc.main(args) != 0:
            raise RuntimeError("protoc failed on the Mesos protos")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        staging = tempfile.mkdtemp(dir=os.path.dirname(target))
        for name in os.listdir(out):
            shutil.copy(os.path.join(out, name), staging)
        for _, flat in PROTOS:
            shutil.copy(os.path.join(src, flat), staging)
        try:
            os.rename(staging, target)
        except OSError:  # another process built it first
            shutil.rmtree(staging, ignore_errors=True)


def modules():
    """(mesos_v1_pb2, mesos_v1_scheduler_pb2, mesos_v1_executor_pb2), building the cache on first use."""
    global _modules
    with _lock:
        if _modules is None:
            target = os.path.join(cache_dir(), "v1")
            if not os.path.exists(os.path.join(target, "mesos_v1_executor_pb2.py")):
                _build(target)
            if target not in sys.path:
                sys.path.insert(0, target)
            _modules = tuple(importlib.import_module(f"{flat[:-6]}_pb2") for _, flat in PROTOS)
        return _modules


def message_class(api: str, kind: str):
    _, scheduler_pb2, executor_pb2 = modules()
    module = scheduler_pb2 if api == "scheduler" else executor_pb2
    return module.Call if kind == "call" else module.Event


def validate(api: str, kind: str, message: dict) -> str | None:
    """None if `message` is a valid mesos.<api>.<Call|Event> in JSON form, else what is wrong."""
    from google.protobuf import json_format
    proto = message_class(api, kind)()
    try:
        json_format.ParseDict(message, proto, ignore_unknown_fields=False)
    except json_format.ParseError as e:
        return str(e)
    missing = proto.FindInitializationErrors()
    if missing:
        return f"missing required fields: {', '.join(missing)}"
    return None


def validate_log(entries) -> int:
    """Validate every (api, kind, message) entry; AssertionError listing the bad ones. Returns how many."""
    errors = []
    for api, kind, message in entries:
        error = validate(api, kind, message)
        if error:
            errors.append(f"{api} {kind} {message.get('type')}: {error}\n    {message}")
    if errors:
        raise AssertionError(f"{len(errors)} message(s) do not match the Mesos v1 protos:\n" + "\n".join(errors))
    return len(entries)
