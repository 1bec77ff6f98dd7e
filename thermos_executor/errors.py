"""Errors meant for people: each carries one line saying what is wrong and where."""


class ThermosError(Exception):
    """Base of every error we report to a user as one line, never as a traceback."""


class ConfigError(ThermosError):
    """A configuration file, binding, port map or task is invalid."""
