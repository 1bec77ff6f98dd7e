"""The import arrows of docs/architecture.md, read from the source: a layer that imports upward fails here."""
import ast
import os

from tests.helpers import REPO

# package (a path prefix, dotted) -> packages it must never import (dotted prefixes)
FORBIDDEN = {
    "thermos_executor": ("thermos_observer", "scheduler"),
    "thermos_executor.runner": ("thermos_executor.cli", "thermos_executor.executor"),
    "thermos_executor.config": ("thermos_executor.cli", "thermos_executor.executor", "thermos_executor.runner"),
    "thermos_executor.logs": ("thermos_executor.cli", "thermos_executor.executor", "thermos_executor.runner"),
    "thermos_executor.flags": ("thermos_executor.cli", "thermos_executor.executor", "thermos_executor.runner"),
    # Daemon plumbing and ZooKeeper recipes: below every daemon and command that uses them.
    "thermos_executor.daemon": ("thermos_executor.cli", "thermos_executor.executor", "thermos_executor.runner"),
    "thermos_executor.zk": ("thermos_executor.cli", "thermos_executor.executor", "thermos_executor.runner"),
    # Aurora's Thrift API (IDL + generated code): read by both the executor and the scheduler, imports neither.
    "thermos_executor.aurora_api": ("thermos_executor.cli", "thermos_executor.executor", "thermos_executor.runner",
                                    "thermos_executor.config", "thermos_executor.logs", "thermos_executor.daemon"),
    "thermos_observer": ("scheduler", "thermos_executor.cli", "thermos_executor.executor"),
    "scheduler.log": ("scheduler.mesos_standin", "scheduler.state", "scheduler.api", "scheduler.storage",
                      "thermos_observer"),
    # The stand-in is a fake cluster under the scheduler: it imports nothing of the scheduler above it.
    "scheduler.mesos_standin": ("scheduler.log", "scheduler.storage", "scheduler.state", "scheduler.scheduling",
                                "scheduler.framework", "scheduler.api", "scheduler.ui", "scheduler.client",
                                "scheduler.app", "thermos_observer"),
    # Pure rules: no I/O layer, no wire format, no event loop.
    "scheduler.state": ("scheduler.log", "scheduler.mesos_standin", "scheduler.api", "scheduler.storage", "tornado",
                        "asyncio", "thermos_observer"),
    "scheduler.api": ("scheduler.log", "scheduler.mesos_standin", "scheduler.storage", "scheduler.framework",
                      "thermos_observer"),
    # Placement is pure rules too: offers and tasks in, assignments and vetoes out.
    "scheduler.scheduling": ("scheduler.log", "scheduler.mesos_standin", "scheduler.api", "scheduler.storage",
                             "scheduler.framework", "scheduler.app", "tornado", "asyncio", "pymesos",
                             "thermos_observer"),
    # The Mesos glue: below the daemon, never imported by the API, storage or rules.
    "scheduler.framework": ("scheduler.app", "scheduler.mesos_standin", "scheduler.ui", "scheduler.client",
                            "thermos_observer"),
    # The web pages read the daemon's objects they are handed; they import no I/O layer of the scheduler.
    "scheduler.ui": ("scheduler.log", "scheduler.mesos_standin", "scheduler.storage", "scheduler.framework",
                     "scheduler.app", "scheduler.client", "thermos_observer"),
    # The client speaks only the Thrift API (and reads configs): nothing of the scheduler's insides.
    "scheduler.client": ("scheduler.log", "scheduler.storage", "scheduler.state", "scheduler.scheduling",
                         "scheduler.framework", "scheduler.app", "scheduler.mesos_standin", "scheduler.ui",
                         "thermos_observer"),
    # The one-machine cluster starts the installed commands and sees them as a user does (ports, HTTP, files).
    "scheduler.local_cluster": ("scheduler.log", "scheduler.storage", "scheduler.state", "scheduler.scheduling",
                                "scheduler.framework", "scheduler.api", "scheduler.ui", "scheduler.client",
                                "scheduler.app", "scheduler.mesos_standin", "thermos_observer", "kazoo",
                                "tornado"),
    # Storage is written against its narrow Log interface; only the adapter (storage.replicated) sees the log.
    "scheduler.storage": ("scheduler.mesos_standin", "scheduler.state", "scheduler.framework", "thermos_observer",
                          "tornado"),
}


def _modules():
    for top in ("thermos_executor", "thermos_observer", "scheduler"):
        for dirpath, _, files in os.walk(os.path.join(REPO, top)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(dirpath, name)
                    dotted = os.path.relpath(path, REPO)[:-3].replace(os.sep, ".").removesuffix(".__init__")
                    yield dotted, path


def _imports(path: str, module: str):
    tree = ast.parse(open(path).read(), path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:                # relative: resolve against this module's package
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module
            yield target
            yield from (f"{target}.{alias.name}" for alias in node.names)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def test_no_layer_imports_upward():
    violations = []
    for module, path in _modules():
        for layer, forbidden in FORBIDDEN.items():
            if not _within(module, layer):
                continue
            for target in _imports(path, module):
                violations += [f"{module} imports {target}" for f in forbidden if _within(target, f)]
    assert sorted(set(violations)) == []


def test_the_check_sees_an_upward_import(tmp_path):
    path = tmp_path / "bad.py"
    path.write_text("from thermos_observer import app\nfrom ..cli import common\n")
    targets = set(_imports(str(path), "thermos_executor.runner.bad"))
    assert {"thermos_observer", "thermos_executor.cli", "thermos_executor.cli.common"} <= targets
