"""The CoAP mapping of TS-0008 as pure functions: primitives <-> CoAP messages.

Both sides of the binding use it, so each direction is written once and the two are each
other's inverse: the server (`coap.py`) decodes requests and encodes responses, the sender
(`coap_client.py`) encodes requests and decodes responses.  tests/bindings/test_coap_codec.py
checks the round trips parameter by parameter.

A message is a `CoapMessage` of plain values (code number, path segments, query items,
the oneM2M options by number, content formats, payload); `coap_options` converts it from
and to aiocoap's messages.  This module must never touch a socket or an aiocoap object.

Option numbers follow TS-0008 V3.7.0 and later (ACME, tinyIoT); the older 256..275 numbers
(Mobius, oneM2MTester) are understood too, and a request that used them is answered with them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Iterable

from cse.errors import RSC, OneM2MError, bad_request
from cse.primitives import Operation, Request, Response

from . import media
from .query import parse_query, to_query

log = logging.getLogger(__name__)

# parameter -> option number
CURRENT = {"fr": 279, "rqi": 283, "ot": 259, "rqet": 291, "rset": 295, "oet": 299, "rturi": 263,
           "ec": 303, "rsc": 307, "gid": 311, "ty": 267, "cto": 319, "cts": 323, "ati": 327,
           "rvi": 271, "vsi": 331, "gtm": 335, "aus": 339, "asri": 275}
LEGACY = {"fr": 256, "rqi": 257, "ot": 259, "rqet": 260, "rset": 261, "oet": 262, "rturi": 263,
          "ec": 264, "rsc": 265, "gid": 266, "ty": 267, "cto": 268, "cts": 269, "ati": 270,
          "rvi": 271, "vsi": 272, "gtm": 273, "aus": 274, "asri": 275}
UINT_PARAMETERS = frozenset({"ec", "rsc", "ty", "cto", "cts"})
ONEM2M_OPTIONS = frozenset(CURRENT.values()) | frozenset(LEGACY.values())
# Request parameters in oneM2M options with a text value.
TEXT_OPTIONS = ("ot", "rqet", "rset", "oet", "gid", "vsi")
# Response parameters in oneM2M options, by option name.
RESPONSE_OPTIONS = (("ot", "ot"), ("rset", "rset"), ("ec", "ec"), ("cnst", "cts"), ("cnot", "cto"),
                    ("vsi", "vsi"))

# Content-Format numbers (TS-0008 6.2.2.3; RFC 7252 / RFC 7049 registry for 50 and 60).
JSON_FORMATS = frozenset({50, 10001, 10003, 10007, 10009})
CBOR_FORMATS = frozenset({60, 10010, 10011, 10012, 10013})
CONTENT_FORMAT = {media.JSON: 50, media.CBOR: 60}
LINK_FORMAT = 40


def code(text: str) -> int:
    """The number of CoAP code "c.dd" (RFC 7252 3: class in the top 3 bits)."""
    major, minor = text.split(".")
    return (int(major) << 5) | int(minor)


def code_text(number: int) -> str:
    return f"{number >> 5}.{number & 0x1F:02d}"


GET, POST, PUT, DELETE = 1, 2, 3, 4
METHOD_NAMES = {GET: "GET", POST: "POST", PUT: "PUT", DELETE: "DELETE", 5: "FETCH", 6: "PATCH", 7: "iPATCH"}
METHODS = {GET: Operation.RETRIEVE, PUT: Operation.UPDATE, DELETE: Operation.DELETE}
METHOD: dict[int, Any] = {Operation.CREATE: POST, Operation.RETRIEVE: GET, Operation.UPDATE: PUT,
          Operation.DELETE: DELETE, Operation.NOTIFY: POST}
CONTENT = code("2.05")
BAD_OPTION = code("4.02")
REQUEST_ENTITY_TOO_LARGE = code("4.13")

# RSC -> CoAP response code "c.dd" (TS-0008 Table 6.2.4-1); 2000 depends on the operation.
_CODES = {
    1001: "2.01", 1002: "2.04", 2001: "2.01", 2002: "2.02", 2004: "2.04",
    4000: "4.00", 4001: "5.01", 4004: "4.04", 4005: "4.05", 4008: "5.04", 4015: "4.15",
    4101: "4.03", 4102: "4.00", 4103: "4.03", 4104: "4.00", 4105: "4.03", 4106: "4.03",
    4107: "4.03", 4108: "4.03", 4109: "4.03", 4110: "4.00", 4111: "4.03", 4112: "4.03",
    4113: "4.03", 4114: "4.03", 4115: "4.03", 4116: "4.03", 4117: "4.03", 4118: "4.04",
    4119: "4.04", 4120: "4.02", 4121: "4.04", 4122: "4.02", 4123: "4.00", 4124: "4.00",
    4125: "5.01", 4126: "4.03", 4127: "4.03", 4128: "4.03", 4143: "4.00",
    5000: "5.00", 5001: "5.01", 5103: "4.04", 5105: "4.03", 5106: "4.00", 5107: "4.04",
    5203: "4.03", 5204: "5.00", 5205: "4.03", 5206: "5.01", 5207: "4.06", 5208: "4.03",
    5209: "5.00", 5210: "5.00", 5211: "5.00", 5212: "5.00", 5214: "4.03", 5215: "4.03",
    5216: "5.00", 5217: "5.00", 5218: "4.03", 5219: "4.00", 5220: "4.00", 5221: "5.00",
    5222: "4.03",
    6003: "4.04", 6005: "4.04", 6010: "4.00", 6020: "5.00", 6021: "5.00", 6022: "4.00",
    6023: "4.00", 6024: "4.00", 6025: "5.00", 6026: "5.00", 6028: "4.00", 6029: "4.00",
    6030: "5.04", 6031: "5.04",
}
_CODE_OF = {rsc: code(text) for rsc, text in _CODES.items()}
_CLASS_DEFAULT = {1: code("2.04"), 2: code("2.04"), 4: code("4.00"), 5: code("5.00"), 6: code("5.00")}


@dataclass(slots=True)
class CoapMessage:
    """A CoAP request or response as plain values.  `options` holds the oneM2M options only,
    by number, each a list of values as received (str or int; bytes for text that is not
    UTF-8); the CoAP options this binding uses have their own fields, and `unknown_options`
    lists the numbers of options that neither CoAP's registry nor oneM2M defines."""
    code: int
    uri_path: tuple[str, ...] = ()
    uri_query: tuple[str, ...] = ()          # "name=value" items
    location_path: tuple[str, ...] = ()
    options: dict[int, list[Any]] = field(default_factory=dict)
    unknown_options: tuple[int, ...] = ()
    content_format: int | None = None
    accept: int | None = None
    max_age: int | None = None
    size1: int | None = None
    payload: bytes = b""


# -- codes and formats ----------------------------------------------------------------------
def coap_code(rsc: int, op: int | None) -> int:
    """The CoAP response code of a response status code (2000 is 2.05 only for RETRIEVE)."""
    if rsc == 2000:
        return CONTENT if op == Operation.RETRIEVE else code("2.04")
    return _CODE_OF.get(rsc) or _CLASS_DEFAULT.get(rsc // 1000, code("5.00"))


def rsc_of_code(number: int, op: int | None) -> int:
    """A response status code for a peer that sent no oneM2M-RSC option."""
    major, minor = number >> 5, number & 0x1F
    if major == 2:
        return {1: 2001, 2: 2002, 4: 2004 if op == Operation.UPDATE else 2000}.get(minor, 2000)
    if major == 4:
        return {3: 4103, 4: 4004, 5: 4005, 6: 5207, 15: 4015}.get(minor, 4000)
    return {1: 5001, 4: 4008}.get(minor, 5000) if major == 5 else 5000


def serialization_of(content_format: int | None) -> str | None:
    if content_format is None:
        return None
    if content_format in JSON_FORMATS:
        return media.JSON
    if content_format in CBOR_FORMATS:
        return media.CBOR
    return None


# -- addresses ------------------------------------------------------------------------------
def path_to_target(segments: tuple[str, ...]) -> str:
    """TS-0008 6.2.2.2: ~ starts an SP-relative, _ an absolute address, else CSE-relative."""
    if segments and segments[0] == "~":
        return "/" + "/".join(segments[1:])
    if segments and segments[0] == "_":
        return "//" + "/".join(segments[1:])
    return "/".join(segments)


def target_to_path(to: str) -> list[str]:
    if to.startswith("//"):
        return ["_", *to[2:].split("/")]
    if to.startswith("/"):
        return ["~", *to[1:].split("/")]
    return to.split("/")


# -- oneM2M options -------------------------------------------------------------------------
def uses_legacy(options: dict[int, list[Any]]) -> bool:
    """True when the peer numbered its oneM2M options the pre-V3.7.0 way."""
    current = options.get(CURRENT["fr"]) or options.get(CURRENT["rqi"])
    legacy = options.get(LEGACY["fr"]) or options.get(LEGACY["rqi"])
    return bool(legacy) and not current


def option(options: dict[int, list[Any]], name: str, legacy: bool = False) -> Any:
    """The value of oneM2M option `name`, or None; 4000 when it is repeated or not UTF-8."""
    number = (LEGACY if legacy else CURRENT)[name]
    found = options.get(number)
    if not found:
        return None
    if len(found) > 1:
        raise bad_request(f"the CoAP option oneM2M-{name.upper()} ({number}) is repeated")
    value = found[0]
    if isinstance(value, bytes):
        raise bad_request(f"the CoAP option oneM2M-{name.upper()} ({number}) is not UTF-8 text")
    return value


def put(options: dict[int, list[Any]], name: str, value: Any, legacy: bool = False) -> None:
    """Add oneM2M option `name` (nothing for None)."""
    if value is not None:
        options.setdefault((LEGACY if legacy else CURRENT)[name], []).append(value)


def query_items(pairs: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Uri-Query options from (name, value) pairs; a space (the list separator of the query
    parameters, e.g. ty=2 3) travels as '+', as in an HTTP query string."""
    return tuple(f"{name}={value}".replace(" ", "+") for name, value in pairs)


# -- requests -------------------------------------------------------------------------------
def decode_request(message: CoapMessage, legacy: bool, max_body_bytes: int,
                   remote_address: str | None = None) -> tuple[Request, str]:
    """(request, serialization of the answer); OneM2MError (4000, 4005, 4015, 5207) saying
    which part of the message is wrong."""
    critical = [number for number in message.unknown_options if number & 1]
    if critical:
        # RFC 7252 5.4.1: an unrecognized critical option is refused with 4.02 (elective
        # ones are ignored, as the RFC says they must be).
        raise OneM2MError(RSC.BAD_REQUEST, f"the CoAP option {critical[0]} is critical and not understood "
                                           "by this CSE", coap_code=BAD_OPTION)
    for name, items in (("Uri-Path", message.uri_path), ("Uri-Query", message.uri_query)):
        if any(not isinstance(item, str) for item in items):
            raise bad_request(f"the {name} option is not UTF-8 text (RFC 7252 5.10.1)")
    options = message.options
    pairs = [item.partition("=")[::2] for item in message.uri_query]
    ty = option(options, "ty", legacy)
    op: int
    if message.code == POST:
        op = Operation.CREATE if ty is not None else Operation.NOTIFY
        explicit = [value for name, value in pairs if name == "op"]
        if explicit:  # non-blocking requests are all POSTs with op= (TS-0008 6.2.2.4)
            try:
                op = int(explicit[-1])
            except ValueError:
                raise bad_request(f"query parameter 'op': {explicit[-1]!r} is not an integer") from None
    else:
        method = METHODS.get(message.code)
        if method is None:
            name = METHOD_NAMES.get(message.code, code_text(message.code))
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"CoAP method {name} has no oneM2M meaning")
        op = method
    request_format = media.JSON
    content_format = message.content_format
    if content_format is not None:
        kind = serialization_of(content_format)
        if kind is None:
            raise OneM2MError(RSC.UNSUPPORTED_MEDIA_TYPE,
                              f"content format {content_format} is not supported; use 50 "
                              "(application/json) or 60 (application/cbor)")
        request_format = kind
    response_format = request_format
    if message.accept is not None:
        accepted = serialization_of(message.accept)
        if accepted is None:
            raise OneM2MError(RSC.NOT_ACCEPTABLE,
                              f"accept {message.accept} is not supported; use 50 (application/json) "
                              "or 60 (application/cbor)")
        response_format = accepted
    payload = message.payload
    if len(payload) > max_body_bytes:
        raise bad_request(f"the body is larger than the limit of {max_body_bytes} bytes")
    fields: dict[str, Any] = parse_query(pairs) if pairs else {}
    rturi = option(options, "rturi", legacy)
    fr = option(options, "fr", legacy)
    rqi = option(options, "rqi", legacy) or ""
    rvi = option(options, "rvi", legacy)
    pc = media.decode(payload, request_format) if payload else None
    for name in TEXT_OPTIONS:
        value = option(options, name, legacy)
        if value is not None:
            fields[name] = value
    request = Request(op=op, to=path_to_target(message.uri_path), fr=fr, rqi=rqi, rvi=rvi, ty=ty, pc=pc,
                      rtu=rturi.split("&") if rturi else None, accept=response_format,
                      remote_address=remote_address, ec=option(options, "ec", legacy), **fields)
    return request, response_format


def encode_request(request: Request, serialization: str, uri_path: list[str],
                   url_query: Iterable[tuple[str, str]] = ()) -> CoapMessage:
    """The request as a message to `uri_path` (see `target_to_path`); `url_query`: pairs of
    the destination URL's own query, sent before the request's parameters."""
    payload = media.encode(request.pc, serialization) if request.pc is not None else b""
    options: dict[int, list[Any]] = {}
    put(options, "fr", request.fr)
    put(options, "rqi", request.rqi)
    put(options, "rvi", request.rvi)
    if request.op == Operation.CREATE:
        put(options, "ty", request.ty)
    for name in TEXT_OPTIONS:
        value = getattr(request, name)
        put(options, name, None if value is None else str(value))
    put(options, "ec", request.ec)
    if request.rtu:
        put(options, "rturi", "&".join(request.rtu))
    return CoapMessage(
        code=METHOD[request.op], uri_path=tuple(uri_path) if uri_path != [""] else (),
        uri_query=query_items([*url_query, *to_query(request)]), options=options,
        content_format=CONTENT_FORMAT[serialization] if payload else None,
        accept=CONTENT_FORMAT[serialization], payload=payload)


# -- responses ------------------------------------------------------------------------------
def encode_response(response: Response, op: int | None, serialization: str, legacy: bool) -> CoapMessage:
    """The answer to a request of operation `op` (None: not known), with the oneM2M options
    numbered as the request's were.  A body that cannot be encoded becomes 5.00 / RSC 5000.
    The code follows the RSC (TS-0008 Table 6.2.4-1) unless `response.extra["coap_code"]`
    names another (4.02 for a bad option)."""
    payload = b""
    if response.pc is not None:
        try:
            payload = media.encode(response.pc, serialization)
        except Exception:
            log.exception("could not encode a CoAP response body")
            response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=response.rqi, rvi="3",
                                pc={"m2m:dbg": "response could not be encoded"})
            payload = media.encode(response.pc, serialization)
    number = response.extra.get("coap_code") or coap_code(response.rsc, op)
    options: dict[int, list[Any]] = {}
    put(options, "rsc", int(response.rsc), legacy)
    put(options, "rqi", response.rqi, legacy)
    put(options, "rvi", response.rvi, legacy)
    for name, option_name in RESPONSE_OPTIONS:
        put(options, option_name, getattr(response, name), legacy)
    return CoapMessage(
        code=number, options=options, payload=payload,
        content_format=CONTENT_FORMAT[serialization] if payload else None,
        max_age=0 if number == CONTENT else None,     # a CoAP cache must not answer oneM2M requests
        location_path=tuple(target_to_path(response.content_location)) if response.content_location else ())


def too_large(request: CoapMessage, limit: int) -> CoapMessage:
    """4.13 (RSC 4000) for an upload over `limit` bytes, refused before it is collected."""
    legacy = uses_legacy(request.options)
    try:
        rqi = option(request.options, "rqi", legacy) or ""
    except OneM2MError:   # the size is the problem to report
        rqi = ""
    response = Response(rsc=RSC.BAD_REQUEST, rqi=rqi, rvi="3",
                        pc={"m2m:dbg": f"the body is larger than the limit of {limit} bytes"})
    message = encode_response(response, None, media.JSON, legacy)
    message.code = REQUEST_ENTITY_TOO_LARGE
    message.size1 = limit
    return message


def decode_response(message: CoapMessage, request: Request) -> Response:
    """The response primitive of the answer to `request`.  Without a oneM2M-RSC option (a
    peer that is not a oneM2M entity) the CoAP code decides; a body that does not decode
    becomes no content, and optional parameters with unusable values are left out."""
    options = message.options
    legacy = uses_legacy(options)
    rsc = option(options, "rsc", legacy) or option(options, "rsc", not legacy)
    if rsc is None:
        rsc = rsc_of_code(message.code, request.op)
    pc = None
    if message.payload:
        content_format = message.content_format
        kind = serialization_of(content_format if content_format is not None else 50)
        try:
            pc = media.decode(message.payload, kind or media.JSON)
        except Exception:
            pc = None
    fields: dict[str, Any] = {}
    for name, option_name in RESPONSE_OPTIONS:
        try:
            value = option(options, option_name, legacy)
        except OneM2MError:
            continue
        if value is not None and isinstance(value, int) == (option_name in UINT_PARAMETERS):
            fields[name] = value
    if message.location_path:
        fields["content_location"] = path_to_target(message.location_path)
    return Response(rsc=rsc, pc=pc, rqi=option(options, "rqi", legacy) or request.rqi,
                    rvi=option(options, "rvi", legacy), **fields)
