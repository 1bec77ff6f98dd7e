"""HTTP plumbing every daemon shares (tornado): a base handler whose errors are one line, listening with a
one-line error, and the metrics endpoints every daemon serves (docs/decisions.md, conventions):

  GET /health      `OK`
  GET /vars        Aurora's text format: one `name value` line per exported variable, sorted by name
  GET /vars/NAME   one variable's value (404 if there is none)
  GET /vars.json   the same variables as one JSON object
  GET /metrics     the numeric variables in the Prometheus text format (0.0.4)

A daemon subclasses `VarsHandler`, `VarsJsonHandler` and `MetricsHandler` with its own handler base first, and
that base provides `variables()`; `MetricsHandler.metric_name` / `metric_type` say how a variable is exported.
"""
from __future__ import annotations

import json

import tornado.netutil
import tornado.web


class ListenError(OSError):
    """A daemon cannot listen; the message says where, and which server if it has several."""


def bind_sockets(ip: str, port: int, what: str | None = None) -> list:
    """tornado's bind_sockets (port 0 picks a free one), failing with a one-line ListenError."""
    try:
        return tornado.netutil.bind_sockets(port, ip)
    except OSError as e:
        who = f"the {what} " if what else ""
        raise ListenError(f"{who}cannot listen on {ip}:{port}: {e.strerror or e}") from None


class HTTPError(tornado.web.HTTPError):
    """An error answered with `status_code` and `message`, one line for people."""

    def __init__(self, status_code: int, message: str):
        super().__init__(status_code)
        self.message = message


class BaseHandler(tornado.web.RequestHandler):
    """Errors are one line, never tornado's HTML page or a traceback: `write_error` answers `error_message` with
    `write_error_body` (plain text here; a daemon may answer JSON instead)."""

    def error_message(self, status_code: int, error: BaseException | None) -> str:
        """`HTTPError.message`, else a tornado HTTPError's log message, else the status' reason phrase."""
        message = getattr(error, "message", None)
        if isinstance(message, str):
            return message
        if isinstance(error, tornado.web.HTTPError) and error.log_message:
            return error.log_message % error.args if error.args else error.log_message
        return self._reason

    def write_error(self, status_code: int, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        self.write_error_body(status_code, self.error_message(status_code, error))

    def write_error_body(self, status_code: int, message: str) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{message}\n")

    def query(self, name: str, default=None):
        """A query parameter exactly as sent (the last one if repeated).

        Not tornado's `get_query_argument`: that turns control characters into spaces and strips the value, so
        `task_id=<id>%00` or `path=hello.txt%00` would name `<id>` and `hello.txt`.
        """
        values = self.request.query_arguments.get(name)
        if not values:
            return default
        return self.decode_argument(values[-1], name=name)

    def send_json(self, value, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))


class HealthHandler(BaseHandler):
    """GET /health: `OK`, for load balancers and systemd."""

    def get(self):
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("OK\n")


class VariablesHandler(BaseHandler):
    """A handler that shows the daemon's exported variables."""

    def variables(self) -> dict:
        """name -> value (a number or a string) of every exported variable."""
        raise NotImplementedError


class VarsHandler(VariablesHandler):
    """GET /vars and /vars/NAME (Aurora's text format)."""

    def get(self, name=None):
        values = self.variables()
        if name is not None and name not in values:
            raise HTTPError(404, f"unknown exported variable: {name}")
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{values[name]}\n" if name is not None else render_vars(values))


class VarsJsonHandler(VariablesHandler):
    """GET /vars.json."""

    def get(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(self.variables(), sort_keys=True))


class MetricsHandler(VariablesHandler):
    """GET /metrics (Prometheus text format): the numeric variables, named by `metric_name`, typed by
    `metric_type`."""

    def metric_name(self, name: str) -> str:
        return name

    def metric_type(self, name: str) -> str:
        return "gauge"

    def get(self):
        self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.finish(render_metrics(self.variables(), self.metric_name, self.metric_type))


def render_vars(values: dict) -> str:
    """Aurora's /vars text: `name value` lines, sorted by name."""
    return "".join(f"{k} {v}\n" for k, v in sorted(values.items()))


def render_metrics(values: dict, metric_name=lambda name: name, metric_type=lambda name: "gauge") -> str:
    """The Prometheus text format of the numeric values (booleans and strings are not metrics)."""
    lines = []
    for name, value in sorted(values.items()):
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        metric = metric_name(name)
        lines.append(f"# TYPE {metric} {metric_type(name)}\n{metric} {value}\n")
    return "".join(lines)
