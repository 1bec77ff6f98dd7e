"""The layering rules read off the sources: what thermos_executor may import, where Mesos state names live."""
import ast
import pathlib

from thermos_executor.mesos_state import STATES

ROOT = pathlib.Path(__file__).resolve().parents[2]


def modules(package):
    for path in sorted((ROOT / package).rglob("*.py")):
        yield path, ast.parse(path.read_text(), str(path))


def test_thermos_executor_imports_neither_the_scheduler_nor_the_observer():
    bad = []
    for path, tree in modules("thermos_executor"):
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{path.relative_to(ROOT)}: {n}" for n in names
                    if n.split(".")[0] in ("scheduler", "thermos_observer")]
    assert bad == []


def test_mesos_task_state_names_are_spelled_in_one_module():
    spelled = sorted({str(path.relative_to(ROOT)) for package in ("thermos_executor", "scheduler")
                      for path, tree in modules(package) for node in ast.walk(tree)
                      if isinstance(node, ast.Constant) and isinstance(node.value, str)
                      and node.value in STATES})
    assert spelled == ["thermos_executor/mesos_state.py"]
