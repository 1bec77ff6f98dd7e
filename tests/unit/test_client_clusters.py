"""clusters.json as Aurora's client reads it: layouts, merging, defaults, and one-line errors."""
import json

import pytest

from scheduler.client.clusters import Cluster, ClusterNotFound, Clusters, ClustersError, load, parse, search_paths


def test_list_and_object_layouts_with_defaults():
    (a,) = parse('[{"name": "a", "zk": "zk1,zk2", "scheduler_zk_path": "/aurora/scheduler", '
                 '"slave_root": "/var/lib/mesos"}]', "f")
    assert (a.zk, a.zk_port, a.auth_mechanism, a.scheduler_uri) == ("zk1,zk2", 2181, "UNAUTHENTICATED", None)
    assert a.get("slave_root") == "/var/lib/mesos" and a.get("zk") == "zk1,zk2" and a.get("nope", 1) == 1
    clusters = parse('{"x": {"name": "b", "scheduler_uri": "http://h:8081", "zk_port": "2182"}, '
                     '"y": {"no": "name"}}', "f")
    assert [(c.name, c.scheduler_uri, c.zk_port) for c in clusters] == [("b", "http://h:8081", 2182)]


@pytest.mark.parametrize("text, message", [
    ("[{", "Unable to parse f: "), ('"x"', "Unknown layout in f"),
    ("[1]", "Unable to parse f: Clusters must be maps of key/value pairs, got int"),
    ('[{"name": "a", "zk_port": "x"}]', "zk_port must be an integer"),
    ('[{"name": "a", "zk": 3}]', "zk must be a string"),
])
def test_bad_documents(text, message):
    with pytest.raises(ClustersError) as e:
        parse(text, "f")
    assert message in str(e.value) and "\n" not in str(e.value)


def test_unknown_cluster_names_the_valid_ones():
    clusters = Clusters([Cluster("a"), Cluster("b")])
    with pytest.raises(ClusterNotFound) as e:
        clusters["c"]
    assert str(e.value) == "Unknown cluster c, valid clusters: a, b"


def test_search_paths_and_later_files_override(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert search_paths({}) == ["/etc/aurora/clusters.json", str(tmp_path / "home/.aurora/clusters.json")]
    root, user = tmp_path / "root.json", tmp_path / "user.json"
    root.write_text(json.dumps([{"name": "a", "zk": "one"}, {"name": "b", "zk": "two"}]))
    user.write_text(json.dumps([{"name": "a", "scheduler_uri": "http://x"}]))
    clusters = load([str(root), str(tmp_path / "missing.json"), str(user)])
    assert clusters["a"] == Cluster("a", scheduler_uri="http://x") and clusters["b"].zk == "two"
    assert search_paths({"AURORA_CONFIG_ROOT": "/srv/aurora"})[0] == "/srv/aurora/clusters.json"


def test_bad_file_names_the_file(tmp_path):
    bad = tmp_path / "clusters.json"
    bad.write_text('[{"name": "a",}]')
    with pytest.raises(ClustersError, match=f"^Unable to parse {bad}: "):
        load([str(bad)])
