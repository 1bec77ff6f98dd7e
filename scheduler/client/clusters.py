"""clusters.json as Aurora's client reads it (common/clusters.py, common/cluster.py).

Files, later overriding earlier clusters of the same name: ``$AURORA_CONFIG_ROOT/clusters.json`` (default
``/etc/aurora/clusters.json``), then ``~/.aurora/clusters.json``. A file is a JSON list of cluster objects or
an object whose values are cluster objects; an entry without ``name`` is ignored (as Aurora). Keys that mean
something here: name, zk, zk_port (2181), scheduler_zk_path, scheduler_uri, proxy_url, auth_mechanism
(UNAUTHENTICATED); others (slave_root, slave_run_directory, docker_registry, ...) are kept in `extra` for
the commands that need them. Errors are `ClustersError` with Aurora's messages, one line each.
"""
from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class ClustersError(Exception):
    pass


class ClusterNotFound(ClustersError, KeyError):
    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Cluster:
    name: str
    zk: str | None = None
    zk_port: int = 2181
    scheduler_zk_path: str | None = None
    scheduler_uri: str | None = None
    proxy_url: str | None = None
    auth_mechanism: str = "UNAUTHENTICATED"
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def from_dict(cls, document: Mapping, source: str = "clusters.json") -> Cluster:
        known = {"name", "zk", "zk_port", "scheduler_zk_path", "scheduler_uri", "proxy_url", "auth_mechanism"}
        values = {k: v for k, v in document.items() if k in known and v is not None}
        for key in known - {"zk_port"}:
            if key in values and not isinstance(values[key], str):
                raise ClustersError(f"Unable to parse {source}: cluster {document.get('name')!r}: {key} must be "
                                    f"a string, got {type(values[key]).__name__}")
        if "zk_port" in values:
            try:
                values["zk_port"] = int(values["zk_port"])
            except (TypeError, ValueError):
                raise ClustersError(f"Unable to parse {source}: cluster {document['name']!r}: zk_port must be an "
                                    f"integer, got {values['zk_port']!r}") from None
        return cls(**values, extra={k: v for k, v in document.items() if k not in known})

    def get(self, key: str, default=None):
        """Any key of the cluster's document (`slave_root`, `slave_run_directory`, ...)."""
        return getattr(self, key) if key in self.__dataclass_fields__ and key != "extra" \
            else self.extra.get(key, default)


class Clusters(Mapping):
    """Clusters by name; looking up an unknown one raises ClusterNotFound with Aurora's message."""

    def __init__(self, clusters: Iterable[Cluster] = ()):
        self._clusters: dict[str, Cluster] = {}
        self.update(clusters)

    def update(self, clusters: Iterable[Cluster]) -> None:
        for cluster in clusters:
            self._clusters[cluster.name] = cluster

    def __getitem__(self, name: str) -> Cluster:
        try:
            return self._clusters[name]
        except KeyError:
            raise ClusterNotFound(f"Unknown cluster {name}, valid clusters: "
                                  f"{', '.join(self._clusters)}") from None

    def __iter__(self):
        return iter(self._clusters)

    def __len__(self) -> int:
        return len(self._clusters)


def parse(text: str, source: str) -> list[Cluster]:
    """The clusters of one clusters.json document."""
    try:
        document = json.loads(text)
    except ValueError as e:
        raise ClustersError(f"Unable to parse {source}: {e}") from None
    if isinstance(document, list):
        entries = document
    elif isinstance(document, dict):
        entries = list(document.values())
    else:
        raise ClustersError(f"Unknown layout in {source}")
    clusters = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ClustersError(f"Unable to parse {source}: Clusters must be maps of key/value pairs, "
                                f"got {type(entry).__name__}")
        if "name" not in entry:
            continue
        clusters.append(Cluster.from_dict(entry, source))
    return clusters


def search_paths(environ: Mapping[str, str] = os.environ) -> list[str]:
    root = environ.get("AURORA_CONFIG_ROOT") or "/etc/aurora"
    return [os.path.join(root, "clusters.json"), os.path.join(os.path.expanduser("~/.aurora"), "clusters.json")]


def load(paths: Iterable[str] | None = None) -> Clusters:
    """Every cluster of the files in `paths` (default: `search_paths()`) that exist."""
    clusters = Clusters()
    for path in search_paths() if paths is None else paths:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError) as e:
            raise ClustersError(f"Unable to read {path}: {getattr(e, 'strerror', None) or e}") from None
        clusters.update(parse(text, path))
    return clusters
