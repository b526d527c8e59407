"""The HTTP mapping of TS-0009 as pure functions: primitives <-> method, path, query, headers,
status code and body.

Both sides of the binding use it, so each direction is written once and the two are each
other's inverse: the server (`http.py`) decodes requests and encodes responses, the sender
(`http_client.py`, notifications through `http_pipeline.py`) encodes requests and decodes
responses.  tests/bindings/test_http_codec.py checks the round trips parameter by parameter.

It must never touch a socket or an aiohttp object.  Headers come in as any mapping that
answers lower-case names (aiohttp's case-insensitive headers do, so does a dict with
lower-case keys) and go out as a plain dict; the path is the decoded one (percent escapes
resolved, as a server framework hands it over), the query a sequence of (name, value) pairs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, NamedTuple
from urllib.parse import quote, urlsplit

from cse.errors import RSC, OneM2MError, bad_request
from cse.primitives import Operation, Request, Response
from cse.ratelimit import retry_after_seconds

from . import media
from .query import parse_query, to_query

log = logging.getLogger(__name__)

# TS-0009 Table 6.3.2-1 (status codes not listed there follow their RSC class).
HTTP_STATUS = {
    1000: 202, 1001: 202, 1002: 202,
    2000: 200, 2001: 201, 2002: 200, 2004: 200,
    4000: 400, 4001: 501, 4004: 404, 4005: 405, 4008: 504, 4015: 415,
    4101: 403, 4102: 400, 4103: 403, 4104: 409, 4105: 409, 4106: 403, 4107: 403, 4108: 403,
    4109: 403, 4110: 400, 4111: 403, 4112: 403, 4113: 403, 4114: 403, 4115: 403, 4116: 403,
    4117: 403, 4118: 404, 4119: 404, 4120: 400, 4121: 404, 4122: 400, 4123: 400, 4124: 409,
    4125: 501, 4126: 403, 4127: 403, 4128: 403, 4143: 400,
    5000: 500, 5001: 501, 5103: 404, 5105: 403, 5106: 409, 5107: 404, 5203: 403, 5204: 500,
    5205: 403, 5206: 501, 5207: 406, 5208: 403, 5209: 500, 5210: 500, 5211: 500, 5212: 500,
    5214: 403, 5215: 403, 5216: 500, 5217: 500, 5218: 403, 5219: 409, 5220: 409, 5221: 500,
    5222: 403,
    6003: 404, 6005: 404, 6010: 400, 6020: 500, 6021: 500, 6022: 400, 6023: 400, 6024: 400,
    6025: 500, 6026: 500, 6028: 409, 6029: 409, 6030: 504, 6031: 504,
}
_STATUS_OF_CLASS = {1: 202, 2: 200, 4: 400, 5: 500, 6: 500}

METHODS = {"GET": Operation.RETRIEVE, "PUT": Operation.UPDATE, "DELETE": Operation.DELETE}
METHOD: dict[int, str] = {Operation.CREATE: "POST", Operation.RETRIEVE: "GET", Operation.UPDATE: "PUT",
          Operation.DELETE: "DELETE", Operation.NOTIFY: "POST"}
# TS-0004 6.7 names a media type of its own for notifications (m2m:sgn, m2m:agn); TS-0009
# 6.4.3 allows it or the plain ones.  NOTIFYs go out as application/json (cbor) by default,
# which every deployed receiver takes (ACME's tools take nothing else); the vendor type is
# the [http] notify_vendor_media_type option.  Every form is accepted on receipt (media.py).
NOTIFY_TYPE = {media.JSON: "application/vnd.onem2m-ntfy+json",
               media.CBOR: "application/vnd.onem2m-ntfy+cbor"}

# (primitive parameter, header) of the parameters that are X-M2M-* headers with a text value
# (TS-0009 6.4); the lower-case name is what decoding looks up.
REQUEST_TEXT_HEADERS = tuple((name, header, header.lower()) for name, header in (
    ("ot", "X-M2M-OT"), ("rqet", "X-M2M-RET"), ("rset", "X-M2M-RST"), ("oet", "X-M2M-OET"),
    ("gid", "X-M2M-GID"), ("vsi", "X-M2M-VSI")))
RESPONSE_TEXT_HEADERS = tuple((name, header, header.lower()) for name, header in (
    ("ot", "X-M2M-OT"), ("rset", "X-M2M-RST"), ("vsi", "X-M2M-VSI")))
RESPONSE_INT_HEADERS = tuple((name, header, header.lower()) for name, header in (
    ("ec", "X-M2M-EC"), ("cnst", "X-M2M-CTS"), ("cnot", "X-M2M-CTO")))

Headers = Mapping[str, str]


class HttpRequest(NamedTuple):
    """A request as the sender puts it on the wire.  `path` is percent-encoded, or None
    when the destination URL's own path is to be used (a notification URI)."""
    method: str
    path: str | None
    query: list[tuple[str, str]]
    headers: dict[str, str]
    body: bytes | None


class HttpResponse(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes | None


@dataclass(frozen=True, slots=True)
class RequestHead:
    """What the method and headers alone decide, before the body is read."""
    op: int
    ty: int | None
    body_format: str      # serialization of the request body ("json" / "cbor")
    accept: str           # serialization the response is to be in


# -- status codes ---------------------------------------------------------------------------
def http_status(rsc: int) -> int:
    """The HTTP status code of a response status code (TS-0009 Table 6.3.2-1)."""
    status = HTTP_STATUS.get(rsc)
    if status is not None:
        return status
    return _STATUS_OF_CLASS.get(rsc // 1000, 500)


def rsc_from_status(status: int) -> int:
    """A peer that is not a oneM2M entity answers without X-M2M-RSC: map the class."""
    if 200 <= status < 300:
        return RSC.OK
    if status == 404:
        return RSC.NOT_FOUND
    if status == 403:
        return RSC.ORIGINATOR_HAS_NO_PRIVILEGE
    if 400 <= status < 500:
        return RSC.BAD_REQUEST
    return RSC.INTERNAL_SERVER_ERROR


def rsc_of(header: str | None, status: int) -> int:
    """The RSC of an answer: its X-M2M-RSC header, else (missing or not a number) its status."""
    try:
        return int(header) if header else rsc_from_status(status)
    except ValueError:
        return rsc_from_status(status)


# -- addresses ------------------------------------------------------------------------------
def path_to_target(path: str) -> str:
    """TS-0009 6.2.2.1: /~/x is SP-relative (/x), /_/x absolute (//x), /x CSE-relative (x)."""
    if path.startswith("/~/"):
        return path[2:]
    if path == "/~":
        return "/"
    if path.startswith("/_/"):
        return "/" + path[2:]
    return path[1:]


def target_to_path(to: str) -> str:
    """The inverse of `path_to_target` (not percent-encoded)."""
    if to.startswith("//"):
        return "/_/" + to[2:]
    if to.startswith("/"):
        return "/~" + to
    return "/" + to


# -- requests -------------------------------------------------------------------------------
def read_head(method: str, headers: Headers, has_body: bool) -> RequestHead:
    """Operation, resource type and serializations from the method and headers: refused
    (4000, 4015, 5207, 4005) before a body is read.  `has_body`: the request announces one."""
    content_type = headers.get("content-type")
    ty = None
    body_format = media.JSON
    if content_type:
        media_type, params = media.parse_content_type(content_type)
        kind = media.serialization_of(media_type)
        if "ty" in params:
            try:
                ty = int(params["ty"])
            except ValueError:
                raise bad_request(f"Content-Type parameter ty={params['ty']!r} is not an integer") from None
        if kind is None:
            if has_body or ty is not None:
                raise OneM2MError(RSC.UNSUPPORTED_MEDIA_TYPE,
                                  f"media type {media_type!r} is not supported; use application/json "
                                  "or application/cbor")
        else:
            body_format = kind
    accept = media.negotiate(headers.get("accept"), body_format)
    if method == "POST":
        op: Operation | None = Operation.CREATE if ty is not None else Operation.NOTIFY
    else:
        op = METHODS.get(method)
    if op is None:
        raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"HTTP method {method} has no oneM2M meaning")
    return RequestHead(op, ty, body_format, accept)


def read_request(head: RequestHead, path: str, query: Iterable[tuple[str, str]], headers: Headers,
                 body: bytes, remote_address: str | None = None) -> Request:
    """The request primitive, from the head and the rest of the request (4000 when a body,
    query parameter or header value is not what its parameter needs)."""
    pc = media.decode(body, head.body_format) if body else None
    fields: dict[str, Any] = parse_query(query) if query else {}
    for name, _, key in REQUEST_TEXT_HEADERS:
        value = headers.get(key)
        if value is not None:
            fields[name] = value
    ec = headers.get("x-m2m-ec")
    if ec is not None:
        try:
            fields["ec"] = int(ec)
        except ValueError:
            raise bad_request(f"X-M2M-EC {ec!r} is not an integer") from None
    rtu = headers.get("x-m2m-rtu")
    return Request(
        op=head.op, to=path_to_target(path), fr=headers.get("x-m2m-origin"),
        rqi=headers.get("x-m2m-ri", ""), rvi=headers.get("x-m2m-rvi"), ty=head.ty, pc=pc,
        rtu=rtu.split("&") if rtu else None, accept=head.accept, remote_address=remote_address,
        **fields)


def decode_request(method: str, path: str, query: Iterable[tuple[str, str]], headers: Headers,
                   body: bytes, remote_address: str | None = None) -> Request:
    """`read_head` and `read_request` in one, for a request whose body is at hand."""
    return read_request(read_head(method, headers, bool(body)), path, query, headers, body,
                        remote_address)


def encode_request(request: Request, serialization: str, address_in_path: bool = True,
                   vendor_notify_type: bool = False) -> HttpRequest:
    """The request on the wire (a NOTIFY's body typed `NOTIFY_TYPE` with `vendor_notify_type`).  With `address_in_path`, the path comes from `request.to`:
    "#attr" travels as atrl=attr (a URL fragment never reaches the server) and the rest is
    percent-encoded ('?', '%', spaces...); otherwise the URL's own path is used."""
    query = to_query(request)
    path = None
    if address_in_path:
        to, _, attribute = request.to.partition("#")
        if attribute:
            query.append(("atrl", attribute))
        path = quote(target_to_path(to), safe="/~")
    headers = {"X-M2M-Origin": request.fr or "", "X-M2M-RI": request.rqi,
               "Accept": media.CONTENT_TYPE[serialization]}
    if request.rvi:
        headers["X-M2M-RVI"] = request.rvi
    for name, header, _ in REQUEST_TEXT_HEADERS:
        value = getattr(request, name)
        if value is not None:
            headers[header] = str(value)
    if request.ec is not None:
        headers["X-M2M-EC"] = str(request.ec)
    if request.rtu:
        headers["X-M2M-RTU"] = "&".join(request.rtu)
    body = None
    if request.pc is not None:
        body = media.encode(request.pc, serialization)
        vendor = vendor_notify_type and request.op == Operation.NOTIFY
        content_type = (NOTIFY_TYPE if vendor else media.CONTENT_TYPE)[serialization]
        if request.op == Operation.CREATE:
            content_type += f";ty={request.ty}"
        headers["Content-Type"] = content_type
    return HttpRequest(METHOD[request.op], path, query, headers, body)


# -- responses ------------------------------------------------------------------------------
def encode_response(response: Response, serialization: str) -> HttpResponse:
    """Status, headers and body of a response.  A body that cannot be encoded is logged and
    answered with 500 / RSC 5000 (the headers keep what was known)."""
    headers = {"X-M2M-RSC": str(int(response.rsc)), "X-M2M-RI": response.rqi}
    if response.rvi:
        headers["X-M2M-RVI"] = response.rvi
    if response.content_location:
        headers["Content-Location"] = target_to_path(response.content_location)
    if response.ot:
        headers["X-M2M-OT"] = response.ot
    if response.rset:
        headers["X-M2M-RST"] = response.rset
    if response.ec is not None:
        headers["X-M2M-EC"] = str(response.ec)
    if response.cnst is not None:
        headers["X-M2M-CTS"] = str(response.cnst)
    if response.cnot is not None:
        headers["X-M2M-CTO"] = str(response.cnot)
    if response.vsi:
        headers["X-M2M-VSI"] = response.vsi
    status = http_status(response.rsc)
    retry_after = response.extra.get("retry_after")
    if retry_after is not None:
        # Rate limited: RFC 6585 says it better than the 405 that 4005 maps to.
        status = 429
        headers["Retry-After"] = str(retry_after_seconds(retry_after))
    if response.pc is None:
        return HttpResponse(status, headers, None)
    headers["Content-Type"] = media.CONTENT_TYPE[serialization]
    try:
        body = media.encode(response.pc, serialization)
    except Exception:
        log.exception("could not encode a response body")
        headers["X-M2M-RSC"] = str(int(RSC.INTERNAL_SERVER_ERROR))
        return HttpResponse(500, headers,
                            media.encode({"m2m:dbg": "response could not be encoded"}, serialization))
    return HttpResponse(status, headers, body)


def decode_response(status: int, headers: Headers, body: bytes, rqi: str) -> Response:
    """The response primitive of an answer (`rqi`: the request's, for answers without
    X-M2M-RI).  Lenient, as the status is the answer: a body that does not decode becomes
    no content, a numeric header that is not a number is left out."""
    fields: dict[str, Any] = {}
    for name, _, key in RESPONSE_TEXT_HEADERS:
        value = headers.get(key)
        if value is not None:
            fields[name] = value
    for name, _, key in RESPONSE_INT_HEADERS:
        value = headers.get(key)
        if value is not None:
            try:
                fields[name] = int(value)
            except ValueError:
                pass
    location = headers.get("content-location")
    if location:
        # The header carries the HTTP path form (/~/id-in/x, /cse-in/x, or a full URL);
        # the primitive carries the oneM2M address, as bindings expect when rendering it.
        fields["content_location"] = path_to_target(urlsplit(location).path or "/")
    return Response(rsc=rsc_of(headers.get("x-m2m-rsc"), status), rqi=headers.get("x-m2m-ri", rqi),
                    rvi=headers.get("x-m2m-rvi"), pc=_decode_answer(body, headers.get("content-type")),
                    **fields)


def _decode_answer(raw: bytes, content_type: str | None) -> object:
    if not raw:
        return None
    kind = media.serialization_of(content_type or "application/json") or media.JSON
    try:
        return media.decode(raw, kind)
    except Exception:   # an undecodable answer body does not change the status code
        return None


def malformed_request(reason: str) -> HttpResponse:
    """The answer to bytes that are not an HTTP request at all (found by the HTTP parser)."""
    return encode_response(Response(rsc=RSC.BAD_REQUEST, rqi="",
                                    pc={"m2m:dbg": f"malformed HTTP request: {reason}"}), media.JSON)
