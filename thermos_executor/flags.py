"""Command-line plumbing every daemon and command shares: Aurora's two flag spellings, `--version`, and
argparse errors as one line. Imports nothing heavy, so that any command (the observer's too) can use it."""
from __future__ import annotations

import argparse

from thermos_executor.version import add_version_flag


class ArgumentParser(argparse.ArgumentParser):
    """argparse with `--version`, whose errors are one line (`prog: error: ...`, exit 2), not a usage block."""

    def __init__(self, *args, version: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if version:
            add_version_flag(self)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_flag(parser: argparse.ArgumentParser, name: str, *more, **kwargs):
    """Add --name with both spellings, `_` and `-`, as Aurora's flags were spelled either way."""
    spellings = [name]
    body = name[2:]
    other = body.replace("_", "-") if "_" in body else body.replace("-", "_")
    if name.startswith("--") and other != body:
        spellings.append("--" + other)
    kwargs.setdefault("dest", name.lstrip("-").replace("-", "_"))
    return parser.add_argument(*spellings, *more, **kwargs)
