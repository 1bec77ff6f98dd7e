"""Aurora's client exit codes (client/cli/__init__.py) and the one error every command raises to stop.

A command ends by returning an exit code or raising `CommandError(code, message)`; the command line prints
the message (one line, "Error executing command: ..." as Aurora's) and exits with the code. `logged=True`
means the command already printed what went wrong (Aurora's CommandErrorLogged).
"""
EXIT_OK = 0
# aurora-admin's die() and check_and_log_response (client/base.py): every admin failure Aurora reports is 1.
EXIT_ADMIN_FAILURE = 1
EXIT_INVALID_CONFIGURATION = 3
EXIT_COMMAND_FAILURE = 4
EXIT_INVALID_COMMAND = 5
EXIT_INVALID_PARAMETER = 6
EXIT_NETWORK_ERROR = 7
EXIT_PERMISSION_VIOLATION = 8
EXIT_TIMEOUT = 9
EXIT_API_ERROR = 10
EXIT_UNKNOWN_ERROR = 20
EXIT_AUTH_ERROR = 30
EXIT_INTERRUPTED = 130


class CommandError(Exception):
    """Stops a command with an exit code and a one-line message."""

    def __init__(self, code: int, message: str, *, logged: bool = False):
        super().__init__(message)
        self.code, self.message, self.logged = code, message, logged
