"""HTTP pieces shared by the master and the agent: one-line errors, JSON call parsing, RecordIO event streams,
the message log, and the file endpoints.

Every handler answers a bad request with a 4xx and one line of plain text saying what is wrong (as Mesos does);
an unexpected exception is logged with its traceback and answered 500 "internal error", which is a bug.
"""
from __future__ import annotations

import collections
import copy
import json
import logging
import threading
import uuid

import tornado.concurrent
import tornado.iostream
import tornado.web

from scheduler.mesos_standin import files, recordio
from thermos_executor.daemon.http import BaseHandler

log = logging.getLogger(__name__)


class CallError(Exception):
    """A call the stand-in refuses: answered with `status` and the one-line `message`."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def require(obj: dict, *keys: str, where: str = "") -> None:
    """Mesos' own wording for a missing field: "Expecting 'accept' to be present"."""
    for key in keys:
        if not isinstance(obj, dict) or key not in obj or obj[key] is None:
            raise CallError(400, f"Expecting '{where}{key}' to be present")


def id_value(obj, what: str) -> str:
    """The `value` of an ID message (`{"value": "..."}`), or a 400 naming the field."""
    if not isinstance(obj, dict) or not isinstance(obj.get("value"), str) or not obj["value"]:
        raise CallError(400, f"'{what}' must be an object with a non-empty string 'value'")
    return obj["value"]


class MessageLog:
    """A bounded, thread-safe record of every Call received and Event sent, for validation against the protos.

    Entries are `(api, kind, message)` with api "scheduler" or "executor" and kind "call" or "event"; messages
    are deep copies taken when recorded. Disabled (records nothing) unless `enabled`.
    """

    def __init__(self, enabled: bool = False, maxlen: int = 20000):
        self.enabled = enabled
        self._entries: collections.deque = collections.deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def record(self, api: str, kind: str, message: dict) -> None:
        if self.enabled:
            with self._lock:
                self._entries.append((api, kind, copy.deepcopy(message)))

    def entries(self, api: str | None = None, kind: str | None = None) -> list[tuple[str, str, dict]]:
        with self._lock:
            return [e for e in self._entries if (api is None or e[0] == api) and (kind is None or e[1] == kind)]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Handler(BaseHandler):
    """Base handler: one-line text errors (BaseHandler's), JSON calls and answers."""

    def fail(self, status: int, message: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(message.splitlines()[0] + "\n" if message else "\n")

    def parse_call(self) -> dict:
        ctype = self.request.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
        if ctype not in ("application/json", ""):
            raise CallError(415, f"Content-Type {ctype!r} is not supported: the stand-in speaks application/json")
        try:
            call = json.loads(self.request.body or b"")
        except ValueError as e:
            raise CallError(400, f"Failed to parse body into JSON: {e}") from None
        if not isinstance(call, dict):
            raise CallError(400, "Failed to parse body into Call: the body must be a JSON object")
        if not isinstance(call.get("type"), str):
            raise CallError(400, "Expecting 'type' to be present")
        return call


class EventStream:
    """One subscription: a 200 chunked response whose body is a RecordIO stream of events.

    Owned by the handler of the SUBSCRIBE request; `send` writes one event, `close` ends the chunked body
    (`abort=True` drops the connection instead). `closed` resolves when the stream is over, whoever ended it.
    """

    def __init__(self, handler: tornado.web.RequestHandler, api: str, message_log: MessageLog,
                 stream_id: str | None = None):
        self.handler = handler
        self.api = api
        self.message_log = message_log
        self.stream_id = stream_id
        self.closed = handler._closed_future = tornado.concurrent.Future()
        self.events_sent = 0
        handler.set_status(200)
        handler.set_header("Content-Type", "application/json")
        if stream_id is not None:
            handler.set_header("Mesos-Stream-Id", stream_id)
        handler.flush().add_done_callback(self._check_flush)

    @property
    def is_open(self) -> bool:
        return not self.closed.done()

    def send(self, event: dict) -> bool:
        if not self.is_open:
            return False
        self.message_log.record(self.api, "event", event)
        self.events_sent += 1
        try:
            self.handler.write(recordio.encode(event))
            flushed = self.handler.flush()
        except tornado.iostream.StreamClosedError:
            self._done()
            return False
        flushed.add_done_callback(self._check_flush)
        return True

    def _check_flush(self, future) -> None:
        if future.exception() is not None:
            self._done()

    def close(self, abort: bool = False) -> None:
        if not self.is_open:
            return
        self._done()
        try:
            if abort:
                self.handler.request.connection.close()
            else:
                self.handler.finish()
        except Exception:  # the peer went away first: nothing left to end
            pass

    def _done(self) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class StreamingHandler(Handler):
    """A handler whose POST may turn into an EventStream; notices when the client hangs up."""

    _closed_future = None

    def on_connection_close(self) -> None:
        if self._closed_future is not None and not self._closed_future.done():
            self._closed_future.set_result(None)
        self.on_stream_lost()

    def on_stream_lost(self) -> None:
        """Called when the client closes the connection."""

    async def serve_call(self, api: str, message_log, subscribe, call_fn) -> None:
        """A v1 API POST: SUBSCRIBE becomes an event stream (`subscribe(self, call)`), any other call goes to
        `call_fn(call)` and answers 202; bad calls answer 4xx with one line, never 500."""
        try:
            call = self.parse_call()
            message_log.record(api, "call", call)
            if call["type"] == "SUBSCRIBE":
                await subscribe(self, call).closed
                return
            call_fn(call)
        except CallError as e:
            if not self._headers_written:
                self.fail(e.status, e.message)
            return
        except (TypeError, AttributeError, KeyError, ValueError) as e:  # a field of the wrong JSON type
            log.warning("malformed call answered 400", exc_info=True)
            if not self._headers_written:
                self.fail(400, f"Malformed call: {type(e).__name__}: {e}")
            return
        self.set_status(202)
        self.finish()


def new_stream_id() -> str:
    return str(uuid.uuid4())


class FilesHandler(Handler):
    """The agent's work directory files: a `path` is required (400), one outside or missing is 404."""

    def initialize(self, root_fn):
        self.root_fn = root_fn

    def serve(self, answer_fn) -> None:
        path = self.query("path")
        if not path:
            return self.fail(400, "Expecting 'path' to be present")
        try:
            self.send_json(answer_fn(self.root_fn(), path))
        except files.FileNotFound:
            self.fail(404, f"No such file or directory: {path}")
        except files.FileBadRequest as e:
            self.fail(400, str(e))


class FilesBrowseHandler(FilesHandler):
    """GET /files/browse?path=<absolute path under the work directory>."""

    def get(self):
        self.serve(files.browse)


class FilesReadHandler(FilesHandler):
    """GET /files/read?path=&offset=&length= (offset -1 answers the size; length capped at 1 MiB)."""

    def get(self):
        self.serve(self.read)

    def read(self, root: str, path: str) -> dict:
        try:
            offset = int(self.query("offset", "0"))
            length_arg = self.query("length")
            length = None if length_arg in (None, "") else int(length_arg)
        except ValueError:
            raise files.FileBadRequest("'offset' and 'length' must be integers") from None
        return files.read(root, path, offset, length)


class VersionHandler(Handler):
    def get(self):
        self.send_json({"version": MESOS_VERSION, "build_user": "aurora-mesos-local", "git_tag": MESOS_VERSION})


class HealthHandler(Handler):
    def get(self):
        self.set_status(200)
        self.finish()


MESOS_VERSION = "1.11.0"
