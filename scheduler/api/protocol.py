"""Aurora's /api wire protocol: one request body in, one reply body out, never an exception.

`call(handler, body, content_type, accept)` decodes a Thrift call in the protocol the Content-Type names,
runs the handler's method of the same name (plain or async) with the call's arguments as keywords, and
encodes the Response it returns in the protocol the Accept header asks for. Content types are Aurora's
(TContentAwareServlet): TJSON for no Content-Type, `application/x-thrift`, `application/json` and
`application/vnd.apache.thrift.json`; TBinary for `application/vnd.apache.thrift.binary`; any other is 415.
The reply is TBinary only when Accept is exactly the binary type, TJSON otherwise.

A request we cannot take (garbage, truncated, a known field of the wrong type, not a CALL, a method the IDL
or the handler lacks) is answered with a TApplicationException carrying the call's name and sequence id
when they could be read, and so is a handler that raises or returns something other than a Response.

Arguments are checked against the IDL before they are decoded: Thrift's generated readers silently skip
a field whose type does not match, which would hand the handler a None it did not ask for and hide an
IDL mistake; the check also walks the whole body in pure Python first, so the C decoder never sees a
container length the body cannot hold. Unknown field ids are skipped, as Thrift does, so newer and older
clients still work.
"""

import dataclasses
import inspect
import logging

from thrift.protocol import TBinaryProtocol, TJSONProtocol
from thrift.Thrift import TApplicationException, TMessageType, TType
from thrift.transport import TTransport

from thermos_executor.aurora_api.gen import AuroraAdmin, AuroraSchedulerManager, ReadOnlyScheduler
from thermos_executor.aurora_api.gen.ttypes import Response

log = logging.getLogger(__name__)

BINARY = "application/vnd.apache.thrift.binary"
JSON = "application/vnd.apache.thrift.json"
_JSON_REQUESTS = {"application/x-thrift", "application/json", JSON}

_JSON_FACTORY = TJSONProtocol.TJSONProtocolFactory()
_BINARY_CHECK_FACTORY = TBinaryProtocol.TBinaryProtocolFactory()
_BINARY_FACTORY = TBinaryProtocol.TBinaryProtocolAcceleratedFactory()

# Method name -> the generated module holding its <name>_args/<name>_result (AuroraAdmin's own Iface lists
# only the methods it adds, so all three services are walked).
METHODS = {
    name: module
    for module in (ReadOnlyScheduler, AuroraSchedulerManager, AuroraAdmin)
    for name in vars(module.Iface)
    if not name.startswith("_")
}


@dataclasses.dataclass(frozen=True)
class Reply:
    """What to answer over HTTP."""

    status: int
    body: bytes
    content_type: str


class _Refused(Exception):
    """A call we answer with a TApplicationException of this type."""

    def __init__(self, kind: int, message: str):
        super().__init__(message)
        self.kind = kind


async def call(handler, body: bytes, content_type: str | None = None, accept: str | None = None) -> Reply:
    """Answer one /api request for `handler` (an object with Aurora's method names)."""
    request_type = _media_type(content_type) or "application/x-thrift"
    if request_type == BINARY:
        check_factory, decode_factory = _BINARY_CHECK_FACTORY, _BINARY_FACTORY
    elif request_type in _JSON_REQUESTS:
        check_factory = decode_factory = _JSON_FACTORY
    else:
        return Reply(415, f"Unsupported Content-Type: {content_type}".encode(), "text/plain; charset=utf-8")
    if _media_type(accept) == BINARY:
        reply_type, reply_factory = BINARY, _BINARY_FACTORY
    else:
        reply_type, reply_factory = JSON, _JSON_FACTORY
    return Reply(200, await _dispatch(handler, body, check_factory, decode_factory, reply_factory), reply_type)


async def _dispatch(handler, body, check_factory, decode_factory, reply_factory) -> bytes:
    name, seqid = "", 0
    try:
        check = check_factory.getProtocol(TTransport.TMemoryBuffer(body))
        name, message_type, seqid = check.readMessageBegin()
        if not -2 ** 31 <= seqid < 2 ** 31:    # TJSON does not range-check it; a reply would not encode
            seqid = 0
            raise _Refused(TApplicationException.PROTOCOL_ERROR, "Bad request: the sequence id is not an i32")
        if message_type != TMessageType.CALL:
            raise _Refused(TApplicationException.INVALID_MESSAGE_TYPE, f"Not a call: type {message_type}")
        module, method = METHODS.get(name), getattr(handler, name, None)
        if module is None or method is None:
            raise _Refused(TApplicationException.UNKNOWN_METHOD, f"Unknown method {name!r}")
        args_class = getattr(module, f"{name}_args")
        _check_struct(check, args_class.thrift_spec)
        decode = decode_factory.getProtocol(TTransport.TMemoryBuffer(body))
        decode.readMessageBegin()
        args = args_class()
        args.read(decode)
        _check_end(check)
    except _Refused as refused:
        return _exception(reply_factory, name, seqid, refused.kind, str(refused))
    except Exception as error:  # a parser over untrusted bytes: any failure is the request's
        log.debug("undecodable API call: %r", error)
        return _exception(reply_factory, name, seqid, TApplicationException.PROTOCOL_ERROR,
                          "Bad request: not a complete Thrift call")

    try:
        response = method(**{field[2]: getattr(args, field[2]) for field in args_class.thrift_spec if field})
        if inspect.isawaitable(response):
            response = await response
        if not isinstance(response, Response):
            raise TypeError(f"{name} returned {type(response).__name__}, not a Response")
        return _encode(reply_factory, name, TMessageType.REPLY, seqid, getattr(module, f"{name}_result")(response))
    except TApplicationException as error:
        return _exception(reply_factory, name, seqid, error.type, error.message)
    except Exception:
        log.exception("API call %s failed", name)
        return _exception(reply_factory, name, seqid, TApplicationException.INTERNAL_ERROR, f"Internal error in {name}")


def _check_end(prot) -> None:
    """The call must end where its message ends (TJSON's closing `]`), with nothing but white space after:
    a truncated or padded body is refused, not run."""
    prot.readMessageEnd()
    if prot.trans.read(1 << 20).strip():
        raise _Refused(TApplicationException.PROTOCOL_ERROR, "Bad request: bytes after the end of the call")


def _check_struct(prot, spec) -> None:
    """Read one struct, refusing a known field whose wire type differs from the IDL's."""
    prot.readStructBegin()
    while True:
        _, wire_type, field_id = prot.readFieldBegin()
        if wire_type == TType.STOP:
            break
        field = spec[field_id] if 0 <= field_id < len(spec) else None
        if field is None:
            prot.skip(wire_type)
        elif wire_type != field[1]:
            raise _Refused(
                TApplicationException.PROTOCOL_ERROR,
                f"Field {field[2]} ({field_id}) is {_type_name(wire_type)}, expected {_type_name(field[1])}",
            )
        else:
            _check_value(prot, field[1], field[3], field[2])
        prot.readFieldEnd()
    prot.readStructEnd()


def _check_value(prot, ttype, type_args, where) -> None:
    if ttype == TType.STRUCT:
        _check_struct(prot, type_args[0].thrift_spec)
    elif ttype in (TType.LIST, TType.SET):
        is_list = ttype == TType.LIST
        element_type, size = prot.readListBegin() if is_list else prot.readSetBegin()
        _check_element(element_type, type_args[0], size, where)
        for _ in range(size):
            _check_value(prot, type_args[0], type_args[1], where)
        prot.readListEnd() if is_list else prot.readSetEnd()
    elif ttype == TType.MAP:
        key_type, value_type, size = prot.readMapBegin()
        _check_element(key_type, type_args[0], size, where)
        _check_element(value_type, type_args[2], size, where)
        for _ in range(size):
            _check_value(prot, type_args[0], type_args[1], where)
            _check_value(prot, type_args[2], type_args[3], where)
        prot.readMapEnd()
    elif ttype == TType.STRING and type_args == "UTF8":
        prot.readString()  # decodes: invalid UTF-8 fails here
    else:
        prot.skip(ttype)


def _check_element(wire_type, expected, size, where) -> None:
    # An empty container's element type carries nothing, and some encoders leave it unset.
    if size and wire_type != expected:
        raise _Refused(
            TApplicationException.PROTOCOL_ERROR,
            f"Elements of {where} are {_type_name(wire_type)}, expected {_type_name(expected)}",
        )


def _type_name(ttype: int) -> str:
    names = TType._VALUES_TO_NAMES  # a tuple indexed by type id, with holes
    return names[ttype] if 0 <= ttype < len(names) and names[ttype] else str(ttype)


def _exception(factory, name, seqid, kind, message) -> bytes:
    return _encode(factory, name, TMessageType.EXCEPTION, seqid, TApplicationException(kind, message))


def _encode(factory, name, message_type, seqid, payload) -> bytes:
    buffer = TTransport.TMemoryBuffer()
    prot = factory.getProtocol(buffer)
    prot.writeMessageBegin(name, message_type, seqid)
    payload.write(prot)
    prot.writeMessageEnd()
    return buffer.getvalue()


def _media_type(header: str | None) -> str:
    """`application/json; charset=utf-8` -> `application/json` (parameters are not Aurora's to check)."""
    return (header or "").split(";")[0].strip().lower()
