"""HTTP endpoints of a log node (tornado), on ``-native_log_port``.

Replica protocol (binary bodies, see `protocol.encode`), used between replicas:
  POST /replica/promise   {ballot}                       -> {ok, id, status, promised, learned, begin, end}
  POST /replica/write     {ballot, commit, writer}+entries -> {ok, id, status, promised, learned, end}
  POST /replica/commit    {ballot, commit, writer}       -> {id, learned}
  POST /replica/accepted  {lo, hi}                       -> entries with ballots
  POST /replica/learned   {lo, hi, limit}                -> {begin, learned} + committed entries
  POST /replica/info      {}                             -> {id, status, promised, learned, begin, end}

Log API (for operators, tests and tools; a scheduler embeds the node and calls the `Coordinator`):
  POST /log/append        binary message whose entries' payloads are appended -> {"positions": [...]}
  POST /log/truncate      {"before": N} (JSON)            -> {"position": P}
  GET  /log/read?from=&to=  committed entries (binary message); bad ranges are 400s (protocol.read_range)
  GET  /log/status        JSON

Metrics: /health, /vars, /vars.json, /metrics (thermos_executor.daemon.http).

The two requests on the path of every append, ``POST /log/append`` and ``POST /replica/write``, skip tornado's
web layer (`Application` routing, `RequestHandler`), which costs about as much CPU per request as tornado's
HTTP/1.1 parsing itself (bench/log_http_append.py): `LogServer` hands them to a plain
``HTTPMessageDelegate`` (`_Fast`) and everything else to the `web.Application`. Same HTTP server, same
connection handling (keep-alive, body limits, 100-continue); only the per-request objects are lighter.
"""

from __future__ import annotations

import asyncio
import json
import logging

from tornado import httputil, web
from tornado.iostream import StreamClosedError

from thermos_executor.daemon.http import BaseHandler, HealthHandler, MetricsHandler, VarsHandler, VarsJsonHandler

from .peers import parse_json
from .protocol import CONTENT_TYPE, EMPTY, MAX_INT, LogError, NotWriter, OutOfRange, decode, encode, read_range

log = logging.getLogger(__name__)


class _Base(BaseHandler):
    def initialize(self, node):
        self.node = node

    def send_message(self, header: dict, entries=()) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(encode(header, entries))

    def message(self) -> tuple[dict, list]:
        try:
            return decode(self.request.body)
        except ValueError as e:
            raise web.HTTPError(400, reason=f"bad message: {e}"[:200]) from None

    def int_field(self, header: dict, name: str, default=None) -> int:
        value = header.get(name, default)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_INT:
            raise web.HTTPError(400, reason=f"field {name!r} must be an integer in [0, 2**63)")
        return value

    def write_error_body(self, status_code: int, message: str) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": message}))


class Promise(_Base):
    async def post(self):
        header, _ = self.message()
        reply = await self.node.local.promise(self.int_field(header, "ballot"))
        if reply["status"] == EMPTY:
            log.warning("Replica in EMPTY status received a broadcasted recover request "
                        "(run `aurora-log initialize` on a quorum of replicas of a new cluster)")
        self.send_message(reply)


class Commit(_Base):
    async def post(self):
        header, _ = self.message()
        commit = self.int_field(header, "commit")
        if self.node.replica.status == "VOTING":
            if await self.node.local.commit(self.int_field(header, "ballot"), commit):
                self.node.catchup.request(str(header.get("writer", "")), commit)
            # Persist what was learned, so `aurora-log read/status --path` on this follower is current. Commit
            # messages come only when the writer is idle (50 ms after its last round, then every 0.5 s), and
            # flush writes nothing unless the mark moved: at most a few cheap transactions a second.
            await self.node.local.flush()
        self.send_message({"id": self.node.replica.replica_id, "learned": self.node.replica.learned})


class Accepted(_Base):
    async def post(self):
        header, _ = self.message()
        entries = await self.node.local.accepted(self.int_field(header, "lo"), self.int_field(header, "hi"))
        self.send_message({"n": len(entries)}, entries)


class Learned(_Base):
    async def post(self):
        header, _ = self.message()
        begin, learned, rows = await self.node.local.learned(
            self.int_field(header, "lo"), self.int_field(header, "hi"), min(self.int_field(header, "limit"), 200_000))
        self.send_message({"begin": begin, "learned": learned}, rows)


class Info(_Base):
    async def post(self):
        self.send_message(self.node.replica.info())


class _BadRequest(Exception):
    """A 400 of a fast route; the message is one line."""


def _message(body: bytes) -> tuple[dict, list]:
    try:
        return decode(body)
    except ValueError as e:
        raise _BadRequest(f"bad message: {e}"[:200]) from None


def _int_field(header: dict, name: str, default=None) -> int:
    value = header.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_INT:
        raise _BadRequest(f"field {name!r} must be an integer in [0, 2**63)")
    return value


def _json(status: int, value) -> tuple[int, str, bytes]:
    return status, "application/json", json.dumps(value).encode()


async def append(node, body: bytes) -> tuple[int, str, bytes]:
    """POST /log/append: 200 {"positions"} once committed; 503 whenever not (never left unanswered)."""
    _, entries = _message(body)
    if not entries:
        raise _BadRequest("nothing to append: the message has no entries")
    try:
        positions = await node.writer().append([e[3] for e in entries])
    except NotWriter as e:
        return _json(503, {"error": str(e), "writer": node.status()["writer"]})
    except LogError as e:  # quorum unreachable, deadline passed, fenced: not committed here (yet)
        return _json(503, {"error": str(e)})
    return _json(200, {"positions": positions})


async def replica_write(node, body: bytes) -> tuple[int, str, bytes]:
    """POST /replica/write: store a writer's entries (acceptor rules in `Replica.write`)."""
    header, entries = _message(body)
    commit = _int_field(header, "commit", 0)
    # Called inline (not on the worker thread): one fsync is cheaper than two thread hops per round.
    reply = node.replica.write(_int_field(header, "ballot"), entries, commit)
    if reply.get("ok") and reply["learned"] < commit:
        node.catchup.request(str(header.get("writer", "")), commit)
    return 200, CONTENT_TYPE, encode(reply)


FAST_ROUTES = {("POST", "/log/append"): append, ("POST", "/replica/write"): replica_write}


class _Fast(httputil.HTTPMessageDelegate):
    """One request of a fast route: collect the body, answer it from a task this delegate owns (the
    connection reads no further request until the answer is finished)."""

    def __init__(self, node, route, connection):
        self.node, self.route, self.connection = node, route, connection
        self.chunks: list[bytes] = []
        self.task: asyncio.Task | None = None

    def data_received(self, chunk):
        self.chunks.append(chunk)

    def finish(self):
        self.task = asyncio.ensure_future(self._answer(b"".join(self.chunks)))

    def on_connection_close(self):
        pass  # the answer task still completes (an append's outcome does not depend on who listens)

    async def _answer(self, body: bytes) -> None:
        try:
            status, content_type, data = await self.route(self.node, body)
        except _BadRequest as e:
            status, content_type, data = _json(400, {"error": str(e)})
        except Exception as e:  # noqa: BLE001 - a bug must still answer, once, and say what it was
            log.exception("%s failed", self.route.__name__)
            status, content_type, data = _json(500, {"error": f"{type(e).__name__}: {e}"[:200]})
        try:
            self.connection.write_headers(
                httputil.ResponseStartLine("HTTP/1.1", status, httputil.responses.get(status, "Unknown")),
                httputil.HTTPHeaders({"Content-Type": content_type, "Content-Length": str(len(data))}), data)
            self.connection.finish()
        except StreamClosedError:
            pass


class _Dispatch(httputil.HTTPMessageDelegate):
    """Chooses, once the request line is known, between a fast route and the web application."""

    def __init__(self, server: LogServer, server_conn, request_conn):
        self.server, self.server_conn, self.request_conn = server, server_conn, request_conn
        self.delegate: httputil.HTTPMessageDelegate | None = None

    def headers_received(self, start_line, headers):
        route = FAST_ROUTES.get((start_line.method, start_line.path.partition("?")[0]))
        if route is not None:
            self.delegate = _Fast(self.server.node, route, self.request_conn)
        else:
            self.delegate = self.server.app.start_request(self.server_conn, self.request_conn)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk):
        return self.delegate.data_received(chunk)

    def finish(self):
        self.delegate.finish()

    def on_connection_close(self):
        if self.delegate is not None:
            self.delegate.on_connection_close()


class _FastOnly(_Base):
    """Other methods on a fast route's path: tornado's 405."""


class LogServer(httputil.HTTPServerConnectionDelegate):
    """The request callback of a node's `HTTPServer`: fast routes, else the web application."""

    def __init__(self, node, app: web.Application):
        self.node, self.app = node, app

    def start_request(self, server_conn, request_conn):
        return _Dispatch(self, server_conn, request_conn)

    def on_close(self, server_conn):
        self.app.on_close(server_conn)


class Truncate(_Base):
    async def post(self):
        try:
            before = parse_json(self.request.body).get("before")
        except ValueError as e:
            return self.send_json({"error": str(e)}, 400)
        if not isinstance(before, int) or isinstance(before, bool):
            return self.send_json({"error": "'before' must be an integer"}, 400)
        try:
            position = await self.node.writer().truncate(before)
        except NotWriter as e:
            return self.send_json({"error": str(e), "writer": self.node.status()["writer"]}, 503)
        except OutOfRange as e:
            return self.send_json({"error": str(e)}, 409)
        except LogError as e:  # like an append: not committed here (yet), outcome unknown
            return self.send_json({"error": str(e)}, 503)
        self.send_json({"position": position})


class Read(_Base):
    async def get(self):
        bounds = []
        for name in ("from", "to"):
            text = self.get_argument(name, None)
            try:
                value = None if text is None else int(text)
            except ValueError:
                value = MAX_INT
            if value is not None and not -MAX_INT < value < MAX_INT:
                return self.send_json({"error": f"'{name}' must be an integer in [0, 2**63)"}, 400)
            bounds.append(value)
        coord = self.node.coordinator
        writer = coord is not None and coord.recovered
        end = coord.committed if writer else self.node.replica.learned
        try:
            lo, hi = read_range(*bounds, self.node.replica.begin, end)
        except LogError as e:
            return self.send_json({"error": str(e)}, 400)
        entries = await (coord.read(lo, hi) if writer else self.node.local.read(lo, hi))
        self.send_message({"n": len(entries), "learned": self.node.replica.learned}, entries)


class Status(_Base):
    def get(self):
        self.send_json(self.node.status())


class _Exported(_Base):
    def variables(self) -> dict:
        return self.node.vars()


class Health(_Base, HealthHandler):
    pass


class Vars(_Exported, VarsHandler):
    pass


class VarsJson(_Exported, VarsJsonHandler):
    pass


class Metrics(_Exported, MetricsHandler):
    pass


def make_app(node) -> LogServer:
    """The request callback for a node's tornado `HTTPServer`."""
    args = {"node": node}
    return LogServer(node, web.Application([
        (r"/replica/promise", Promise, args),
        (r"/replica/write", _FastOnly, args),
        (r"/log/append", _FastOnly, args),
        (r"/replica/commit", Commit, args),
        (r"/replica/accepted", Accepted, args),
        (r"/replica/learned", Learned, args),
        (r"/replica/info", Info, args),
        (r"/log/truncate", Truncate, args),
        (r"/log/read", Read, args),
        (r"/log/status", Status, args),
        (r"/health", Health, args),
        (r"/vars", Vars, args),
        (r"/vars/(.+)", Vars, args),
        (r"/vars.json", VarsJson, args),
        (r"/metrics", Metrics, args),
    ], default_handler_class=_NotFound, default_handler_args=args, log_function=lambda handler: None))


class _NotFound(_Base):
    """Any other path: a one-line 404, not tornado's HTML page."""

    def prepare(self):
        raise web.HTTPError(404, "no such path: %s", self.request.path)
