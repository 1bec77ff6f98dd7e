"""Asking a task to stop over HTTP before signals: POST /quitquitquit, wait; POST /abortabortabort, wait.

An endpoint counts as handled when the task answers at all (any status); then we wait up to that step's time
for the task to end, and stop escalating as soon as it has. An endpoint nobody answers is skipped at once.
"""
from __future__ import annotations

import http.client
import logging
import threading

log = logging.getLogger("thermos.lifecycle")
POST_TIMEOUT = 1.0


def post(port: int, endpoint: str, timeout: float = POST_TIMEOUT) -> bool:
    try:
        conn = http.client.HTTPConnection("localhost", port, timeout=timeout)
        try:
            conn.request("POST", endpoint, body=b"")
            conn.getresponse().read()
        finally:
            conn.close()
        return True
    except (OSError, http.client.HTTPException) as e:
        log.info("POST http://localhost:%d%s: %s", port, endpoint, e)
        return False


def graceful_stop(port: int, steps: list[tuple[str, float]], ended: threading.Event, deadline_left) -> bool:
    """Run the escalation; True if the task ended during it. `deadline_left()` bounds every wait."""
    for endpoint, wait in steps:
        if ended.is_set():
            return True
        if post(port, endpoint, timeout=min(POST_TIMEOUT, max(0.1, deadline_left()))):
            log.info("POST %s handled; waiting up to %.0fs for the task to end", endpoint, wait)
            if ended.wait(max(0.0, min(wait, deadline_left()))):
                return True
    return ended.is_set()
