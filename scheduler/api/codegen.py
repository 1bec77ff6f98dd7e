"""Generate scheduler/api/gen and scheduler/storage/gen from their IDLs with Debian's thrift compiler.

Run as a script (`python scheduler/api/codegen.py`), so that a broken gen/ never stops its own repair.
The generated packages are committed (the .deb build packages only files git knows, and the executor and
the client import them on machines without a compiler); `make gen` rewrites both, and
tests/unit/test_thrift_api.py and tests/unit/test_storage_schema.py fail while either is stale. All go
through `generate`, so there is one recipe.

Every IDL names its Python package relative to `scheduler` (`namespace py api.gen`), and the compiler is
given the prefix `scheduler.`: that way storage.thrift can include aurora.thrift and its generated code
imports the API's structs as `scheduler.api.gen.ttypes`.
"""

import pathlib
import shutil
import subprocess
import tempfile

SCHEDULER_DIR = pathlib.Path(__file__).resolve().parent.parent
API_DIR = SCHEDULER_DIR / "api"
IDL = API_DIR / "aurora.thrift"
GEN_DIR = API_DIR / "gen"
STORAGE_IDL = SCHEDULER_DIR / "storage" / "storage.thrift"
STORAGE_GEN_DIR = SCHEDULER_DIR / "storage" / "gen"
# IDL -> the committed package generated from it (a `namespace py <dir>.gen` under scheduler/).
TARGETS = {IDL: GEN_DIR, STORAGE_IDL: STORAGE_GEN_DIR}
THRIFT_ARGS = ["--gen", "py:package_prefix=scheduler."]


def generate(out_dir: pathlib.Path, idl: pathlib.Path = IDL) -> None:
    """Write the package generated from `idl` as `out_dir`, replacing it.

    thrift also writes `__init__.py` files above the package and `*-remote` scripts; both are dropped.
    """
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["thrift", *THRIFT_ARGS, "-out", tmp, str(idl)], check=True)
        package = pathlib.Path(tmp, TARGETS[idl].relative_to(SCHEDULER_DIR))
        for script in package.glob("*-remote"):
            script.unlink()
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(package, out_dir)


if __name__ == "__main__":
    for source, target in TARGETS.items():
        generate(target, source)
