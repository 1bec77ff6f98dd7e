"""What every observer handler shares: GET and HEAD only, optional basic auth, one-line errors, counters."""
from __future__ import annotations

import logging

import tornado.escape
import tornado.web

from thermos_executor.daemon.http import BaseHandler, HTTPError
from thermos_observer.files import Refused

log = logging.getLogger(__name__)


class BadRequest(HTTPError):
    def __init__(self, message: str):
        super().__init__(400, message)


class NotFound(HTTPError):
    def __init__(self, message: str):
        super().__init__(404, message)


class Base(BaseHandler):
    SUPPORTED_METHODS = ("GET", "HEAD")
    json_errors = False
    html_errors = False    # pages answer errors with a page (the header, the one line, a link back)
    needs_auth = True      # /health answers without credentials (load balancers, systemd); it reveals nothing

    def initialize(self, app_state):
        self.app_state = app_state
        self.observer = app_state.observer

    def prepare(self):
        self.app_state.counters["http_requests"] += 1
        auth = self.app_state.auth
        if auth is not None and self.needs_auth and \
                auth.check_header(self.request.headers.get("Authorization")) is None:
            raise tornado.web.HTTPError(401)

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("Cache-Control", "no-store")

    async def head(self, *args, **kwargs):
        result = self.get(*args, **kwargs)
        if result is not None:
            await result

    def int_arg(self, name: str, value, default=None, minimum=None, maximum=None) -> int | None:
        """An integer parameter (None: absent, the default), or 400 with one line saying which."""
        if value is None:
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise BadRequest(f"{name} must be an integer, got {value!r}") from None
        if minimum is not None and number < minimum:
            raise BadRequest(f"{name} must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise BadRequest(f"{name} must be at most {maximum}, got {number}")
        return number

    def refused(self, error: Refused):
        raise NotFound(str(error))

    def log_exception(self, typ, value, tb):
        if isinstance(value, tornado.web.HTTPError):
            return
        log.error("error serving %s %s", self.request.method, self.request.uri, exc_info=(typ, value, tb))

    def error_message(self, status_code: int, error) -> str:
        """The shared one line (daemon.http), in the observer's words where the error brings none, and never an
        internal error's details."""
        if getattr(error, "message", None) is None:
            if status_code == 401:
                return "authentication required"
            if status_code == 405:
                return "only GET and HEAD are served: the observer is read-only"
            if status_code >= 500:
                return "internal error (logged by the observer)"
        return super().error_message(status_code, error)

    def write_error_body(self, status_code: int, message: str):
        if status_code == 401:
            self.set_header("WWW-Authenticate", 'Basic realm="thermos observer", charset="UTF-8"')
        counter = "http_4xx" if status_code < 500 else "http_5xx"
        self.app_state.counters[counter] += 1
        if self.json_errors:
            self.set_header("Content-Type", "application/json; charset=utf-8")
            self.finish({"error": message, "status": status_code})
        elif self.html_errors:
            self.set_header("Content-Type", "text/html; charset=utf-8")
            back, back_label = self.error_back_link() if status_code != 401 else ("/", "back to the task list")
            self.finish(self.render_string("error.html", status=status_code, message=message, back=back,
                                           back_label=back_label, hostname=self.app_state.hostname))
        else:
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish(f"{status_code} {message}\n")

    def error_back_link(self) -> tuple[str, str]:
        """Where an error page leads back to: the task named in the URL if it exists, else the task list."""
        task_id = self.path_args[0] if self.path_args else None
        if isinstance(task_id, str) and self.request.path.rstrip("/") != f"/task/{task_id}" and \
                self.observer.lookup(task_id) is not None:
            return "/task/" + tornado.escape.url_escape(task_id, plus=False), f"back to task {task_id}"
        return "/", "back to the task list"


class NotFoundHandler(Base):
    """Unknown URLs: JSON under /j/ and /files/, a page elsewhere."""

    def prepare(self):
        self.json_errors = self.request.path.startswith(("/j/", "/files/"))
        self.html_errors = not self.json_errors
        super().prepare()

    def get(self, *args):
        raise NotFound(f"no such page: {self.request.path}")
