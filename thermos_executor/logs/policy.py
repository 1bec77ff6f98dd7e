"""Which destination and mode a process's logs get: its own `logger`, else the runner's cluster-wide defaults.

Precedence is Aurora's (reference thermos-runner.md §4): a process whose `logger` is unset takes the runner's
flags (`--process_logger_destination`, `--process_logger_mode`, `--rotate_log_size_mb`,
`--rotate_log_backups`, each falling back to file / standard / 100 MiB / 5); a process whose `logger` is set,
even to `Logger()`, takes everything from it and the flags are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass

from thermos_executor.config.spec import DEFAULT_LOG_BACKUPS, DEFAULT_LOG_SIZE, LoggerSpec
from thermos_executor.errors import ThermosError

DESTINATIONS = ("file", "console", "both", "none")
MODES = ("standard", "rotate")
MB = 1024 * 1024


@dataclass(frozen=True)
class LogPolicy:
    destination: str = "file"
    mode: str = "standard"
    log_size: int = DEFAULT_LOG_SIZE
    backups: int = DEFAULT_LOG_BACKUPS

    @property
    def to_file(self) -> bool:
        return self.destination in ("file", "both")

    @property
    def rotating(self) -> bool:
        return self.to_file and self.mode == "rotate"

    @property
    def piped(self) -> bool:
        """Whether the coordinator copies the output (otherwise the child writes to its file, or console, itself)."""
        return self.destination == "both" or self.rotating


@dataclass(frozen=True)
class LogDefaults:
    """The runner's cluster-wide flags; None (or 0 for the numbers, as in Aurora) means unset."""
    destination: str | None = None
    mode: str | None = None
    rotate_log_size_mb: int | None = None
    rotate_log_backups: int | None = None

    def __post_init__(self):
        if self.destination not in (None, *DESTINATIONS):
            raise ThermosError(f"--process_logger_destination must be one of {', '.join(DESTINATIONS)}, "
                               f"got {self.destination!r}")
        if self.mode not in (None, *MODES):
            raise ThermosError(f"--process_logger_mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        for flag, value in (("--rotate_log_size_mb", self.rotate_log_size_mb),
                            ("--rotate_log_backups", self.rotate_log_backups)):
            if value is not None and value < 0:
                raise ThermosError(f"{flag} must be a positive number, got {value}")


def resolve(logger: LoggerSpec | None, defaults: LogDefaults = LogDefaults()) -> LogPolicy:
    if logger is None:
        return LogPolicy(destination=defaults.destination or "file", mode=defaults.mode or "standard",
                         log_size=(defaults.rotate_log_size_mb or 0) * MB or DEFAULT_LOG_SIZE,
                         backups=defaults.rotate_log_backups or DEFAULT_LOG_BACKUPS)
    return LogPolicy(destination=logger.destination, mode=logger.mode,
                     log_size=logger.log_size or DEFAULT_LOG_SIZE, backups=logger.backups or DEFAULT_LOG_BACKUPS)
