"""Generate thermos_executor/aurora_api/gen and scheduler/storage/gen from their IDLs with Debian's thrift compiler.

Run as a script (`python scheduler/api/codegen.py`), so that a broken gen/ never stops its own repair.
The generated packages are committed (the .deb build packages only files git knows, and the executor and
the client import them on machines without a compiler); `make gen` rewrites both, and
tests/unit/test_thrift_api.py and tests/unit/test_storage_schema.py fail while either is stale. All go
through `generate`, so there is one recipe.

Aurora's API (aurora.thrift) lives in the executor's package, the lowest layer: the executor decodes the
AssignedTask of TaskInfo.data with it, and the scheduler imports it from there. Every IDL names its full
Python package (`namespace py thermos_executor.aurora_api.gen`, `scheduler.storage.gen`), so storage.thrift's
generated code imports the API's structs as `thermos_executor.aurora_api.gen.ttypes`.
"""

import pathlib
import shutil
import subprocess
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
IDL = ROOT / "thermos_executor" / "aurora_api" / "aurora.thrift"
GEN_DIR = IDL.parent / "gen"
STORAGE_IDL = ROOT / "scheduler" / "storage" / "storage.thrift"
STORAGE_GEN_DIR = STORAGE_IDL.parent / "gen"
# IDL -> the committed package generated from it (its `namespace py`, as a directory under ROOT).
TARGETS = {IDL: GEN_DIR, STORAGE_IDL: STORAGE_GEN_DIR}
THRIFT_ARGS = ["--gen", "py"]


def generate(out_dir: pathlib.Path, idl: pathlib.Path = IDL) -> None:
    """Write the package generated from `idl` as `out_dir`, replacing it.

    thrift also writes `__init__.py` files above the package and `*-remote` scripts; both are dropped.
    """
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["thrift", *THRIFT_ARGS, "-out", tmp, str(idl)], check=True)
        package = pathlib.Path(tmp, TARGETS[idl].relative_to(ROOT))
        for script in package.glob("*-remote"):
            script.unlink()
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(package, out_dir)


if __name__ == "__main__":
    for source, target in TARGETS.items():
        generate(target, source)
