"""The scheduler's HTTP surface (tornado): health, leader health, metrics, and POST /api on the leader.

    /health          200 "OK\\n" while the process serves HTTP
    /leaderhealth    200 this scheduler leads; 503 another leader is advertised; 502 none (or ambiguous)
    /vars            Aurora's ``name value`` lines, sorted;  /vars.json: the same as a JSON object
    /metrics         the same in Prometheus text format
    POST /api        Aurora's Thrift API (scheduler.api.endpoint), served by the leader
    UI paths         (/scheduler..., /updates, ...) the web pages of scheduler.ui, leader-only like /api;
                     /assets/... their static files (served by any scheduler)

Non-leaders answer /api and the UI paths with 307 to the advertised leader's URL (same path and query), or
503 when no leader is known; a request carrying the ``Bypass-Leader-Redirect`` header is served here
(so /api on a follower answers ERROR_TRANSIENT "Storage is not READY": followers hold no state).

The handlers read the daemon through three things only: ``leading`` (bool), ``leader`` ((host, port) or
None), ``vars()`` (dict); the API handler object is given at construction. Admin calls (branch `admin`)
plug in as the same ``api`` object: give `make_app` a handler that has them.
"""

from __future__ import annotations


from tornado import web

from scheduler.api.endpoint import ApiHandler
from scheduler.ui import handlers as ui
from thermos_executor.daemon.http import BaseHandler, HealthHandler, MetricsHandler, VarsHandler, VarsJsonHandler

BYPASS = "Bypass-Leader-Redirect"
UI_PATHS = r"/(scheduler(/.*)?|updates|pendingtasks|offers|quotas|maintenance|cron|agents|slaves|tiers|utilization)"


class _Base(BaseHandler):
    def initialize(self, daemon, **_):
        self.daemon = daemon

    def text(self, body: str) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(body)

    def variables(self) -> dict:
        return self.daemon.vars()


class _LeaderOnly(_Base):
    """Serve here if leading (or asked to bypass the redirect); else 307 to the leader, or 503."""

    def prepare(self):
        if self.daemon.leading or BYPASS in self.request.headers:
            return
        leader = self.daemon.leader
        if leader is None:
            self.set_status(503)
            return self.text("No leading scheduler found.\n")
        host, port = leader
        self.redirect(f"http://{host}:{port}{self.request.uri}", status=307)


class Api(_LeaderOnly, ApiHandler):
    def initialize(self, daemon, handler):
        _LeaderOnly.initialize(self, daemon)
        ApiHandler.initialize(self, handler)


class Ui(_LeaderOnly, ui.NoSuchPage):
    """A UI path no page serves (/utilization, ...): 404 on the leader, redirected elsewhere."""


class Health(_Base, HealthHandler):
    pass


class LeaderHealth(_Base):
    def get(self):
        if self.daemon.leading:
            self.text("OK\n")
        elif self.daemon.leader is not None:
            self.set_status(503)
            self.text("Not the leader.\n")
        else:
            self.set_status(502)
            self.text("No leader found.\n")


class Vars(_Base, VarsHandler):
    pass


class VarsJson(_Base, VarsJsonHandler):
    pass


class Metrics(_Base, MetricsHandler):
    pass


def make_app(daemon, api) -> web.Application:
    """The tornado application of `daemon` (leading, leader, vars()) serving `api` on POST /api."""
    args = {"daemon": daemon}
    return web.Application([
        (r"/health", Health, args),
        (r"/leaderhealth", LeaderHealth, args),
        (r"/vars", Vars, args),
        (r"/vars/(.+)", Vars, args),
        (r"/vars\.json", VarsJson, args),
        (r"/metrics", Metrics, args),
        (r"/api", Api, {"daemon": daemon, "handler": api}),
        *((path, type(page.__name__, (_LeaderOnly, page), {}), args) for path, page in ui.ROUTES),
        (UI_PATHS, Ui, args),
    ], log_function=lambda handler: None, **ui.SETTINGS)
