"""Generate scheduler/api/gen from aurora.thrift with Debian's thrift compiler.

Run as a script (`python scheduler/api/codegen.py [OUT]`), so that a broken gen/ never stops its own repair.
The generated package is committed (the .deb build packages only files git knows, and the executor and
the client import it on machines without a compiler); `make gen` rewrites it and
tests/unit/test_thrift_api.py fails when it is stale. Both go through `generate`, so there is one recipe.
"""

import pathlib
import shutil
import subprocess
import sys
import tempfile

API_DIR = pathlib.Path(__file__).resolve().parent
IDL = API_DIR / "aurora.thrift"
GEN_DIR = API_DIR / "gen"
# package_prefix makes the generated modules import each other as scheduler.api.gen.*.
THRIFT_ARGS = ["--gen", "py:package_prefix=scheduler.api."]


def generate(out_dir: pathlib.Path) -> None:
    """Write the generated package (the IDL's `namespace py gen`) as `out_dir`, replacing it.

    thrift also writes an `__init__.py` beside the package and `*-remote` scripts; both are dropped.
    """
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["thrift", *THRIFT_ARGS, "-out", tmp, str(IDL)], check=True)
        package = pathlib.Path(tmp, "gen")
        for script in package.glob("*-remote"):
            script.unlink()
        shutil.rmtree(out_dir, ignore_errors=True)
        shutil.copytree(package, out_dir)


if __name__ == "__main__":
    generate(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else GEN_DIR)
