"""The command registry: nouns holding verbs, each verb its argparse options and an `execute(context)`.

    job = Noun("job", "Work with an aurora job")

    @job.verb
    class Create(Verb):
        name, help = "create", "Create a service or ad hoc job using aurora"
        options = (opt("--wait-until", ...), JOBSPEC, CONFIG)
        def execute(self, context): ...

A noun module registers its verbs at import and must stay light (argparse-level imports only) so that
`aurora --help` is fast: Thrift, pystachio and kazoo are imported inside `execute`. `cli.NOUNS` lists the
noun modules; a new noun is one module and one line there.
"""
from __future__ import annotations

import argparse


class Option:
    """An argparse argument spec, added to each parser that wants it."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(*self.args, **self.kwargs)


opt = Option


class Verb:
    name: str = ""
    help: str = ""
    options: tuple = ()

    def execute(self, context) -> int:
        raise NotImplementedError


class Noun:
    def __init__(self, name: str, help: str):
        self.name, self.help = name, help
        self.verbs: dict[str, Verb] = {}

    def verb(self, cls: type[Verb]) -> type[Verb]:
        """Class decorator: register one instance of `cls`."""
        self.verbs[cls.name] = cls()
        return cls


def argument_type(parse, metavar: str):
    """An argparse `type` whose ValueError text reaches the user as is (Aurora's messages)."""
    def convert(text):
        try:
            return parse(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None
    convert.__name__ = metavar
    return convert
