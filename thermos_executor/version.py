"""The version every command's `--version` prints: the installed package's, read from its metadata."""
from __future__ import annotations

from importlib import metadata

DISTRIBUTION = "aurora-thermos"


def version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:   # run from a checkout that was never installed
        return "unknown"


def version_line(prog: str) -> str:
    return f"{prog} {version()}"


def add_version_flag(parser) -> None:
    """`--version` on an argparse parser: prints `<prog> <version>` and exits 0."""
    prog = parser.prog.split()[0]          # a subcommand's parser ("thermos run") prints the command's name
    parser.add_argument("--version", action="version", version=version_line(prog),
                        help="print the version and exit")
