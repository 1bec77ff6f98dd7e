"""The scheduler's web pages (tornado): server-rendered, autoescaped templates, one small script that reloads a
page's content every few seconds, no build step (as the observer).

    /scheduler                                    roles: job, cron job and task counts
    /scheduler/<role>[/<env>]                     the role's jobs, with task counts
    /scheduler/<role>/<env>/<job>                 the job: active and finished tasks (paged), config, updates
    /scheduler/<role>/<env>/<job>/update/<id>     one update: a box per instance, its events
    /updates /pendingtasks /quotas /maintenance /cron /agents (/slaves) /offers /tiers
    /cron /maintenance /quotas?role=R  also Aurora's JSON, with ?format=json or Accept: application/json

`ROUTES` are (path, handler class); `SETTINGS` the application settings they need (templates, static files
under /assets/). scheduler.app.http serves them on the leader only (followers redirect) with the daemon as
the handlers' one argument, read through: ``storage`` (``state``, ``store``), ``placer.pending_reason(config)``,
``framework`` (None until the leader's framework starts; ``framework.offers.held()``), ``settings``
(``cluster_name``, ``tiers``), ``cron`` (``tz``: -cron_timezone, ``clock_ms()``; GMT and the wall clock if
the daemon has none). What a page shows is computed by `scheduler.ui.views`, pure.

Errors are one line on a page: 404 for an unknown role, job or update; 400 for a bad page number; 503 while
the leader's storage is not READY yet. Never a traceback.
"""
from __future__ import annotations

import logging
import os
import time

import tornado.web
from tornado.escape import url_escape

from scheduler.state import cron as cron_schedule
from thermos_executor.daemon.http import BaseHandler, HTTPError

from . import views

log = logging.getLogger(__name__)
HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = {"template_path": os.path.join(HERE, "templates"), "static_path": os.path.join(HERE, "static"),
            "static_url_prefix": "/assets/", "autoescape": "xhtml_escape", "compiled_template_cache": True,
            "static_hash_cache": True}
REFRESH_SECONDS = 10


def job_url(role: str, env: str | None = None, name: str | None = None, *more: str) -> str:
    """/scheduler/<role>[/<env>[/<job>...]], each segment escaped."""
    parts = [p for p in (role, env, name, *more) if p is not None]
    return "/scheduler/" + "/".join(url_escape(p, plus=False) for p in parts)


class UiPage(BaseHandler):
    """A page: GET only; errors answered with the error page (one line)."""
    SUPPORTED_METHODS = ("GET",)
    title = ""

    def initialize(self, daemon, **_):
        self.daemon = daemon

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    @property
    def store(self):
        """The leader's store; 503 while storage is not READY (the leader is still replaying the log)."""
        storage = self.daemon.storage
        if storage.state != "READY":
            raise HTTPError(503, f"Storage is not READY ({storage.state}): this scheduler is becoming the "
                                 "leader; the page will load in a moment")
        return storage.store

    def pending_reason(self, config) -> str:
        return self.daemon.placer.pending_reason(config)

    def cron_clock(self) -> tuple:
        """(-cron_timezone, now in epoch ms) of the daemon's cron timers; GMT and the wall clock without them."""
        timers = getattr(self.daemon, "cron", None)
        tz = getattr(timers, "tz", None) or cron_schedule.zone("GMT")
        clock = getattr(timers, "clock_ms", None)
        return tz, clock() if clock is not None else int(time.time() * 1000)

    def wants_json(self) -> bool:
        """`?format=json`, or an Accept header asking for JSON and not HTML (`curl -H 'Accept:
        application/json'`): pages with one of Aurora's JSON answers give it instead of HTML."""
        if self.query("format") == "json":
            return True
        accept = self.request.headers.get("Accept", "")
        return "application/json" in accept and "text/html" not in accept

    def int_arg(self, name: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        value = self.query(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise HTTPError(400, f"{name} must be an integer, got {value!r}") from None
        if number < minimum or (maximum is not None and number > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise HTTPError(400, f"{name} must be {bound}, got {number}")
        return number

    def page_size(self) -> int:
        return self.int_arg("num", views.PAGE_SIZE, 1, views.MAX_PAGE_SIZE)

    def page_url(self, **changes) -> str:
        """This page's URL with some query parameters changed (paging links)."""
        args = {k: self.decode_argument(v[-1]) for k, v in self.request.query_arguments.items()}
        args.update({k: str(v) for k, v in changes.items()})
        query = "&".join(f"{url_escape(k)}={url_escape(v)}" for k, v in sorted(args.items()))
        return self.request.path + ("?" + query if query else "")

    def get_template_namespace(self):
        namespace = super().get_template_namespace()
        settings = getattr(self.daemon, "settings", None)
        namespace.update(cluster=getattr(settings, "cluster_name", "") or "", job_url=job_url,
                         url_escape=url_escape, page_url=self.page_url, refresh=REFRESH_SECONDS, title=self.title)
        return namespace

    def write_error_body(self, status_code: int, message: str) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.render_string("error.html", status=status_code, message=message))

    def error_message(self, status_code: int, error) -> str:
        if isinstance(error, views.NotFound):
            return str(error)
        if status_code >= 500 and not isinstance(error, tornado.web.HTTPError):
            return "internal error (logged by the scheduler)"
        return super().error_message(status_code, error)

    def send_error(self, status_code: int = 500, **kwargs) -> None:
        error = kwargs.get("exc_info", (None, None, None))[1]
        super().send_error(404 if isinstance(error, views.NotFound) else status_code, **kwargs)

    def log_exception(self, typ, value, tb):
        if isinstance(value, tornado.web.HTTPError | views.NotFound):
            return
        log.error("error serving %s %s", self.request.method, self.request.uri, exc_info=(typ, value, tb))


class Roles(UiPage):
    title = "Roles"

    def get(self):
        self.render("roles.html", roles=views.roles(self.store))


class Role(UiPage):
    def get(self, role, env=None):
        self.title = f"{role}/{env}" if env is not None else role
        self.render("role.html", role=role, env=env, jobs=views.role_jobs(self.store, role, env))


class Job(UiPage):
    def get(self, role, env, name):
        self.title = f"{role}/{env}/{name}"
        size = self.page_size()
        tz, now_ms = self.cron_clock()
        job = views.job_page(self.store, (role, env, name), self.pending_reason, size=size,
                             active_offset=self.int_arg("active_offset", 0),
                             finished_offset=self.int_arg("finished_offset", 0), tz=tz, now_ms=now_ms)
        self.render("job.html", job=job)


class Update(UiPage):
    def get(self, role, env, name, update_id):
        self.title = f"update {update_id} of {role}/{env}/{name}"
        self.render("update.html", update=views.update_page(self.store, (role, env, name), update_id))


class Updates(UiPage):
    title = "Updates"

    def get(self):
        self.render("updates.html", updates=views.updates(self.store, self.int_arg("offset", 0), self.page_size()))


class Pending(UiPage):
    title = "Pending tasks"

    def get(self):
        self.render("pending.html", groups=views.pending(self.store, self.pending_reason))


class Quotas(UiPage):
    title = "Quotas"

    def get(self):
        if self.wants_json():
            return self.send_json(views.quotas_json(self.store, self.query("role")))
        self.render("quotas.html", quotas=views.quotas(self.store))


class Maintenance(UiPage):
    title = "Maintenance"

    def get(self):
        if self.wants_json():
            return self.send_json(views.maintenance_json(self.store))
        self.render("maintenance.html", modes=views.maintenance(self.store))


class Cron(UiPage):
    title = "Cron jobs"

    def get(self):
        if self.wants_json():
            return self.send_json(views.cron_json(self.store))
        tz, now_ms = self.cron_clock()
        self.render("cron.html", jobs=views.cron_jobs(self.store, tz, now_ms), zone=views.zone_name(tz))


class Agents(UiPage):
    title = "Agents"

    def get(self):
        self.render("agents.html", agents=views.agents(self.store))


class Offers(UiPage):
    title = "Offers"

    def get(self):
        self.store    # noqa: B018 - 503 until the leader is ready, as every page
        framework = self.daemon.framework
        held = framework.offers.held() if framework is not None else None
        self.render("offers.html", offers=views.offers(held) if held is not None else None)


class Tiers(UiPage):
    title = "Tiers"

    def get(self):
        self.render("tiers.html", tiers=views.tiers(self.daemon.settings.tiers))


class NoSuchPage(UiPage):
    def get(self, *_):
        raise HTTPError(404, f"no such page: {self.request.path}")


SEG = r"([^/]+)"
ROUTES = [
    (r"/scheduler/?", Roles),
    (rf"/scheduler/{SEG}/?", Role),
    (rf"/scheduler/{SEG}/{SEG}/?", Role),
    (rf"/scheduler/{SEG}/{SEG}/{SEG}/?", Job),
    (rf"/scheduler/{SEG}/{SEG}/{SEG}/update/{SEG}/?", Update),
    (r"/updates/?", Updates),
    (r"/pendingtasks/?", Pending),
    (r"/quotas/?", Quotas),
    (r"/maintenance/?", Maintenance),
    (r"/cron/?", Cron),
    (r"/(?:agents|slaves)/?", Agents),
    (r"/offers/?", Offers),
    (r"/tiers/?", Tiers),
]
