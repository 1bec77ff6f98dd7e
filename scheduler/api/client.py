"""A blocking client of Aurora's API, built on the generated AuroraAdmin.Client.

The generated client writes a call to its transport, flushes, then reads the reply from the same transport.
`_CallTransport` turns that flush into one request/reply exchange through a `send(body, content_type)`
function, so the same client talks to a scheduler over HTTP (`connect(url)`) or straight to a handler in
the same process (tests). Binary is the default, as Aurora's own client has used since 0.17.
"""

import io
import urllib.error
import urllib.request
from collections.abc import Callable

from thrift.protocol import TBinaryProtocol, TJSONProtocol
from thrift.transport import TTransport

from thermos_executor.aurora_api.gen import AuroraAdmin
from scheduler.api.protocol import BINARY, JSON

Send = Callable[[bytes, str], bytes]
_PROTOCOLS = {"binary": (BINARY, TBinaryProtocol.TBinaryProtocol), "json": (JSON, TJSONProtocol.TJSONProtocol)}


class _CallTransport(TTransport.TTransportBase):
    """Buffers one call; flush sends it and makes the reply readable."""

    def __init__(self, send: Send, content_type: str):
        self._send, self._content_type = send, content_type
        self._request, self._reply = io.BytesIO(), io.BytesIO()

    def isOpen(self):
        return True

    def write(self, buf):
        self._request.write(buf)

    def flush(self):
        body, self._request = self._request.getvalue(), io.BytesIO()
        self._reply = io.BytesIO(self._send(body, self._content_type))

    def read(self, sz):
        return self._reply.read(sz)


def client(send: Send, protocol: str = "binary") -> AuroraAdmin.Client:
    """An AuroraAdmin client (all three services' methods) whose calls go through `send`."""
    content_type, protocol_class = _PROTOCOLS[protocol]
    transport = _CallTransport(send, content_type)
    return AuroraAdmin.Client(protocol_class(transport), protocol_class(transport))


def http_send(url: str, timeout: float = 30.0) -> Send:
    """POST each call to `url` (a scheduler's /api); an HTTP error status is a TTransportException."""

    def send(body: bytes, content_type: str) -> bytes:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": content_type, "Accept": content_type}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as reply:
                return reply.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise TTransport.TTransportException(message=f"HTTP {error.code} from {url}: {detail}") from None
        except OSError as error:
            raise TTransport.TTransportException(message=f"cannot reach {url}: {error}") from None

    return send


def connect(url: str, protocol: str = "binary", timeout: float = 30.0) -> AuroraAdmin.Client:
    """A client of the scheduler API at `url` (e.g. http://host:8081/api)."""
    return client(http_send(url, timeout), protocol)
