"""Pure pieces of the Mesos-API stand-in: RecordIO framing, resource and attribute arithmetic, sandbox file
confinement, the gogoproto stripping used for proto validation."""
from __future__ import annotations

import json
import os

import pytest

from scheduler.mesos_standin import files, recordio
from scheduler.mesos_standin.resources import (ResourceError, Resources, attributes_summary, format_duration,
                                       parse_attributes)
from tests.mesos_protos import strip_gogo


# -- RecordIO ------------------------------------------------------------------------------------------------------
def test_recordio_roundtrip_across_arbitrary_chunks():
    messages = [{"type": "HEARTBEAT"}, {"type": "UPDATE", "update": {"status": {"message": "é ✓ \n 12\n"}}}, {}]
    stream = b"".join(recordio.encode(m) for m in messages)
    assert stream.startswith(b"%d\n{" % len(json.dumps(messages[0], separators=(",", ":"))))
    for size in (1, 2, 3, 7, len(stream)):
        decoder = recordio.Decoder()
        out = []
        for i in range(0, len(stream), size):
            out.extend(decoder.feed(stream[i:i + size]))
        assert out == messages and decoder.pending == 0


def test_recordio_length_counts_bytes():
    record = recordio.encode({"m": "€"})
    length, body = record.split(b"\n", 1)
    assert int(length) == len(body) and json.loads(body) == {"m": "€"}
    assert recordio.Decoder().feed(b'11\n{"m":"\xe2\x82\xac"}') == [{"m": "€"}]  # raw UTF-8 counts bytes


@pytest.mark.parametrize("bad", [b"x\n{}", b"-1\n{}", b"3\nabc", b"1" * 30])
def test_recordio_rejects_garbage(bad):
    with pytest.raises(recordio.RecordIOError):
        recordio.Decoder().feed(bad)


# -- resources -----------------------------------------------------------------------------------------------------
def test_parse_and_proto_forms():
    r = Resources.parse("cpus:2;mem:4096;disk:10240;ports:[31000-31999, 32000-32005]")
    assert r.scalars == {"cpus": 2.0, "mem": 4096.0, "disk": 10240.0}
    assert r.ranges == {"ports": ((31000, 32005),)}  # adjacent ranges merge
    assert Resources.from_proto(r.to_proto()) == r
    assert r.summary()["ports"] == "[31000-32005]"
    assert str(Resources.parse("cpus:0.5;mem:64")) == "cpus:0.5;mem:64"
    assert Resources.from_dict({"cpus": 1, "ports": [(5, 6), (1, 2)]}).ranges == {"ports": ((1, 2), (5, 6))}


@pytest.mark.parametrize("spec", ["cpus", "cpus:x", "cpus:-1", "ports:[1-", "ports:[5-1]", "ports:[a-b]",
                                  "cpus:1;cpus:2", ":3"])
def test_parse_errors_are_one_line(spec):
    with pytest.raises(ResourceError) as e:
        Resources.parse(spec)
    assert "\n" not in str(e.value)


def test_arithmetic_scalars_and_ranges():
    total = Resources.parse("cpus:2;mem:1024;ports:[31000-31009]")
    task = Resources.parse("cpus:0.1;mem:32;ports:[31002-31003]")
    left = total - task
    assert left.scalars == {"cpus": 1.9, "mem": 992.0}
    assert left.ranges == {"ports": ((31000, 31001), (31004, 31009))}
    assert total.contains(task) and not left.contains(task) and left.contains(Resources.parse("ports:[31005-31005]"))
    assert left + task == total
    assert (Resources.parse("cpus:0.3") - Resources.parse("cpus:0.1") - Resources.parse("cpus:0.2")).empty()
    assert not Resources.parse("cpus:1").contains(Resources.parse("gpus:1"))
    assert Resources().contains(Resources()) and not Resources()
    assert (Resources.parse("cpus:1") - Resources.parse("cpus:5")).empty()  # saturates like Mesos


def test_from_proto_validation():
    assert Resources.from_proto([{"name": "cpus", "type": "SCALAR", "scalar": {"value": 1}},
                                 {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.5}}]).scalars == {"cpus": 1.5}
    for bad in ([{"type": "SCALAR"}], [{"name": "cpus", "type": "SCALAR"}], [{"name": "x", "type": "SET"}],
                [{"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 5}]}}], {"name": "cpus"},
                [{"name": "cpus", "type": "SCALAR", "scalar": {"value": -1}}]):
        with pytest.raises(ResourceError):
            Resources.from_proto(bad)


def test_attributes():
    attributes = parse_attributes("rack:a;level:3;slots:[1-4]")
    assert attributes == [{"name": "rack", "type": "TEXT", "text": {"value": "a"}},
                          {"name": "level", "type": "SCALAR", "scalar": {"value": 3.0}},
                          {"name": "slots", "type": "RANGES", "ranges": {"range": [{"begin": 1, "end": 4}]}}]
    assert attributes_summary(attributes) == {"rack": "a", "level": 3.0, "slots": "[1-4]"}
    for bad in ("rack", "rack:a;rack:b", ":x"):
        with pytest.raises(ResourceError):
            parse_attributes(bad)


def test_durations_in_mesos_form():
    assert format_duration(5) == "5secs" and format_duration(0.25) == "250ms" and format_duration(0) == "0ms"


# -- file confinement ----------------------------------------------------------------------------------------------
def test_files_confined_by_real_path_components(tmp_path):
    root = tmp_path / "work"
    sandbox = root / "slaves" / "S0" / "runs" / "c1"
    sandbox.mkdir(parents=True)
    (sandbox / "stdout").write_bytes(b"hello world")
    os.symlink("c1", root / "slaves" / "S0" / "runs" / "latest")
    (tmp_path / "work2").mkdir()
    (tmp_path / "work2" / "f").write_text("no")
    (tmp_path / "outside").write_text("no")
    os.symlink(str(tmp_path / "outside"), sandbox / "link-out")
    os.symlink("stdout", sandbox / "link-in")

    latest = str(root / "slaves" / "S0" / "runs" / "latest")
    listing = files.browse(str(root), latest)
    assert [e["path"] for e in listing] == [f"{latest}/{n}" for n in ("link-in", "link-out", "stdout")]
    assert listing[1]["mode"].startswith("l")  # listed as the link it is; reading through it is refused
    assert files.read(str(root), f"{latest}/stdout", -1) == {"data": "", "offset": 11}
    assert files.read(str(root), f"{latest}/stdout", 6, 3) == {"data": "wor", "offset": 6}
    assert files.read(str(root), f"{sandbox}/link-in", 0)["data"] == "hello world"
    for path in (str(tmp_path / "work2" / "f"), f"{sandbox}/link-out", f"{sandbox}/../../../../../outside",
                 "/etc/passwd", f"{sandbox}/missing", "", "rel\x00ative"):
        with pytest.raises(files.FileNotFound):
            files.read(str(root), path)
        with pytest.raises(files.FileNotFound):
            files.browse(str(root), path)
    with pytest.raises(files.FileBadRequest):
        files.read(str(root), str(sandbox))
    with pytest.raises(files.FileBadRequest):
        files.read(str(root), f"{sandbox}/stdout", -5)


def test_read_is_capped(tmp_path):
    (tmp_path / "big").write_bytes(b"a" * (files.MAX_READ + 10))
    assert len(files.read(str(tmp_path), str(tmp_path / "big"), 0, 10 * files.MAX_READ)["data"]) == files.MAX_READ
    assert files.read(str(tmp_path), str(tmp_path / "big"), files.MAX_READ)["data"] == "a" * 10


# -- gogoproto stripping (tests/mesos_protos.py) --------------------------------------------------------------------
def test_strip_gogo():
    text = '''syntax = "proto2";
package mesos.scheduler;
import "github.com/mesos/mesos-go/api/v1/lib/mesos.proto";
import "github.com/gogo/protobuf/gogoproto/gogo.proto";
option go_package = "scheduler";
option (gogoproto.equal_all) = true;
message M {
  option (gogoproto.goproto_stringer) = false;
  required FrameworkID framework_id = 1 [(gogoproto.nullable) = false, (gogoproto.customname) = "FrameworkID"];
  optional string x = 2 [default = "a"];
}
'''
    out = strip_gogo(text)
    assert "gogo" not in out and 'import "mesos_v1.proto";' in out
    assert "required FrameworkID framework_id = 1;" in out and '[default = "a"]' in out
