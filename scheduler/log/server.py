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

Metrics: /health, /vars, /vars.json, /metrics (Prometheus text).
"""

from __future__ import annotations

import json
import logging

from tornado import web

from .peers import parse_json
from .protocol import CONTENT_TYPE, EMPTY, MAX_INT, LogError, NotWriter, OutOfRange, decode, encode, read_range

log = logging.getLogger(__name__)


class _Base(web.RequestHandler):
    def initialize(self, node):
        self.node = node

    def send_message(self, header: dict, entries=()) -> None:
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(encode(header, entries))

    def send_json(self, value, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(value))

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

    def write_error(self, status_code, **kwargs):
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": self._reason}))


class Promise(_Base):
    async def post(self):
        header, _ = self.message()
        reply = await self.node.local.promise(self.int_field(header, "ballot"))
        if reply["status"] == EMPTY:
            log.warning("Replica in EMPTY status received a broadcasted recover request "
                        "(run `aurora-log initialize` on a quorum of replicas of a new cluster)")
        self.send_message(reply)


class Write(_Base):
    async def post(self):
        header, entries = self.message()
        commit = self.int_field(header, "commit", 0)
        # Called inline (not on the worker thread): one fsync is cheaper than two thread hops per round.
        reply = self.node.replica.write(self.int_field(header, "ballot"), entries, commit)
        if reply.get("ok") and reply["learned"] < commit:
            self.node.catchup.request(str(header.get("writer", "")), commit)
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


class Append(_Base):
    async def post(self):
        _, entries = self.message()
        if not entries:
            return self.send_json({"error": "nothing to append: the message has no entries"}, 400)
        try:
            positions = await self.node.writer().append([e[3] for e in entries])
        except NotWriter as e:
            return self.send_json({"error": str(e), "writer": self.node.status()["writer"]}, 503)
        except LogError as e:  # quorum unreachable, deadline passed, fenced: not committed here (yet)
            return self.send_json({"error": str(e)}, 503)
        self.send_json({"positions": positions})


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


class Health(_Base):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.finish("OK\n")


class Vars(_Base):
    def get(self):
        self.set_header("Content-Type", "text/plain")
        self.finish("".join(f"{k} {v}\n" for k, v in sorted(self.node.vars().items())))


class VarsJson(_Base):
    def get(self):
        self.send_json(self.node.vars())


class Metrics(_Base):
    def get(self):
        self.set_header("Content-Type", "text/plain; version=0.0.4")
        self.finish("".join(f"# TYPE {k} gauge\n{k} {v}\n" for k, v in sorted(self.node.vars().items())))


def make_app(node) -> web.Application:
    args = {"node": node}
    return web.Application([
        (r"/replica/promise", Promise, args),
        (r"/replica/write", Write, args),
        (r"/replica/commit", Commit, args),
        (r"/replica/accepted", Accepted, args),
        (r"/replica/learned", Learned, args),
        (r"/replica/info", Info, args),
        (r"/log/append", Append, args),
        (r"/log/truncate", Truncate, args),
        (r"/log/read", Read, args),
        (r"/log/status", Status, args),
        (r"/health", Health, args),
        (r"/vars", Vars, args),
        (r"/vars.json", VarsJson, args),
        (r"/metrics", Metrics, args),
    ], log_function=lambda handler: None)
