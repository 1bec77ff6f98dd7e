"""The task's sandbox under the executor's Mesos run directory: `$MESOS_DIRECTORY/sandbox`.

When the executor runs as root and the task runs as its role, the run directory and the sandbox are handed
to that user (Mesos >= 1.6 needs the run directory too, MESOS-8332) and the sandbox is made private (0700).
"""
from __future__ import annotations

import os
import pwd

from thermos_executor.errors import ThermosError


class SandboxError(ThermosError):
    pass


def create_sandbox(mesos_directory: str, user: str | None) -> str:
    root = os.path.join(mesos_directory, "sandbox")
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as e:
        raise SandboxError(f"Failed to create the sandbox: {e}") from None
    if user is None:
        return root
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        raise SandboxError(f"Could not create sandbox because user does not exist: {user}") from None
    try:
        for path in (mesos_directory, root):
            os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o700)
    except OSError as e:
        raise SandboxError(f"Failed to create the sandbox: {e}") from None
    return root
