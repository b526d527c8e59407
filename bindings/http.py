"""HTTP binding (TS-0009): aiohttp server <-> request/response primitives.

This module knows headers, status codes, paths and media types, and nothing about
resources.  Every request gets a response: errors found here (bad headers, undecodable
bodies, unsupported media types) are answered as oneM2M errors like the core's, and any
unexpected exception becomes a 5000 response instead of a dropped connection.
"""
from __future__ import annotations

import logging
import ssl
from typing import TYPE_CHECKING

from aiohttp import web

from cse.certs import peer_common_name, server_context
from cse.errors import RSC, OneM2MError, bad_request
from cse.primitives import Operation, Request, Response
from cse.ratelimit import retry_after_seconds

from . import media
from .query import parse_query

if TYPE_CHECKING:
    from cse.auth import Authenticator
    from cse.config import HttpSettings
    from cse.dispatcher import Dispatcher

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

METHODS = {"GET": Operation.RETRIEVE, "PUT": Operation.UPDATE, "DELETE": Operation.DELETE}
HEADER_FIELDS = (("X-M2M-OT", "ot"), ("X-M2M-RET", "rqet"), ("X-M2M-RST", "rset"),
                 ("X-M2M-OET", "oet"), ("X-M2M-GID", "gid"), ("X-M2M-VSI", "vsi"))


def server_tls_context(settings: "HttpSettings") -> ssl.SSLContext | None:
    """The HTTPS context the settings ask for, or None for plain HTTP."""
    if not settings.tls_cert:
        return None
    verify_clients = settings.tls_client_cert != "none"
    return server_context(settings.tls_cert, settings.tls_key,
                          settings.tls_ca if verify_clients else None,
                          require_client_cert=settings.tls_client_cert == "required")


def tls_peer_name(http: web.BaseRequest) -> str | None:
    """Common name of the client's verified TLS certificate, if it presented one."""
    transport = http.transport
    return peer_common_name(transport.get_extra_info("ssl_object")) if transport else None


def authenticator_hook(authenticator: "Authenticator"):
    """Adapts `cse.auth.Authenticator` to the binding's hook (request, header, http request)."""
    async def hook(request: Request, authorization: str | None, http: web.BaseRequest) -> None:
        await authenticator.authenticate(request, authorization, tls_peer_name(http))
    return hook


def http_status(rsc: int) -> int:
    status = HTTP_STATUS.get(rsc)
    if status is not None:
        return status
    return {1: 202, 2: 200, 4: 400, 5: 500, 6: 500}.get(rsc // 1000, 500)


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
    if to.startswith("//"):
        return "/_/" + to[2:]
    if to.startswith("/"):
        return "/~" + to
    return "/" + to


class _OneM2MRequestHandler(web.RequestHandler):
    """aiohttp answers requests it cannot parse (unknown method, malformed header or
    chunk, oversized header) itself, in plain text.  This answers them as oneM2M errors
    too, so a client always finds X-M2M-RSC and m2m:dbg; hostile input is logged at
    debug level only, as it is not the server's fault."""

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        log.debug("unparsable HTTP request from %s: %s", request.remote, exc or message)
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent; cannot send the error")
        text = getattr(exc, "message", None) or message or str(exc or "") or "malformed request"
        reason = next((line.strip() for line in str(text).splitlines() if line.strip()), "malformed request")
        reason = reason.rstrip(":")[:200]
        headers = {"X-M2M-RSC": str(int(RSC.BAD_REQUEST)), "X-M2M-RI": ""}
        response = web.Response(status=400, headers=headers, content_type="application/json",
                                body=media.encode({"m2m:dbg": f"malformed HTTP request: {reason}"},
                                                  media.JSON))
        response.force_close()
        return response


class _OneM2MServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        return _OneM2MRequestHandler(self, loop=self._loop, **self._kwargs)


class HttpBinding:
    name = "http"

    def __init__(self, settings: "HttpSettings", dispatcher: "Dispatcher",
                 ssl_context: ssl.SSLContext | None = None, authenticator=None):
        self.settings = settings
        self.dispatcher = dispatcher
        self.ssl_context = ssl_context
        # Optional: checks credentials against the originator (set by the security setup).
        self.authenticator = authenticator
        self._runner: web.ServerRunner | None = None
        self._site: web.TCPSite | None = None
        self.port: int | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context else "http"

    @property
    def url(self) -> str:
        host = self.settings.host
        if ":" in host:
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def poa(self) -> list[str]:
        return [self.settings.public_url or self.url]

    async def start(self) -> None:
        server = _OneM2MServer(self._handle, handler_cancellation=False, access_log=None)
        self._runner = web.ServerRunner(server)
        await self._runner.setup()
        self._site = web.TCPSite(self._runner, self.settings.host, self.settings.port,
                                 ssl_context=self.ssl_context, reuse_address=True)
        await self._site.start()
        sockets = self._site._server.sockets if self._site._server else []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- request handling ---------------------------------------------------------------
    async def _handle(self, http: web.BaseRequest) -> web.Response:
        rqi = http.headers.get("X-M2M-RI", "")
        serialization = media.JSON
        try:
            request, serialization = await self._to_request(http)
            response = await self.dispatcher.handle(request)
        except OneM2MError as error:
            response = Response(rsc=error.rsc, rqi=rqi, rvi=http.headers.get("X-M2M-RVI"),
                                pc={"m2m:dbg": error.message})
        except Exception:
            log.exception("HTTP binding failed on %s %s", http.method, http.path)
            response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=rqi,
                                pc={"m2m:dbg": "internal error in the HTTP binding"})
        return self._to_http(response, serialization)

    async def _to_request(self, http: web.BaseRequest) -> tuple[Request, str]:
        headers = http.headers
        method = http.method
        content_type = headers.get("Content-Type")
        ty = None
        request_format = media.JSON
        if content_type:
            media_type, params = media.parse_content_type(content_type)
            kind = media.serialization_of(media_type)
            if "ty" in params:
                try:
                    ty = int(params["ty"])
                except ValueError:
                    raise bad_request(f"Content-Type parameter ty={params['ty']!r} is not an integer") from None
            if kind is None:
                if http.can_read_body or ty is not None:
                    raise OneM2MError(RSC.UNSUPPORTED_MEDIA_TYPE,
                                      f"media type {media_type!r} is not supported; use application/json "
                                      "or application/cbor")
            else:
                request_format = kind
        response_format = media.negotiate(headers.get("Accept"), request_format)
        if method == "POST":
            op = Operation.CREATE if ty is not None else Operation.NOTIFY
        else:
            op = METHODS.get(method)
            if op is None:
                raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"HTTP method {method} has no oneM2M meaning")
        body = await self._read_body(http)
        pc = media.decode(body, request_format) if body else None
        fields = parse_query(http.query.items()) if http.query_string else {}
        rtu = headers.get("X-M2M-RTU")
        request = Request(
            op=op, to=path_to_target(http.path), fr=headers.get("X-M2M-Origin"),
            rqi=headers.get("X-M2M-RI", ""), rvi=headers.get("X-M2M-RVI"), ty=ty, pc=pc,
            rtu=rtu.split("&") if rtu else None, accept=response_format,
            remote_address=http.remote, **fields)
        for header, name in HEADER_FIELDS:
            value = headers.get(header)
            if value is not None:
                setattr(request, name, value)
        ec = headers.get("X-M2M-EC")
        if ec is not None:
            try:
                request.ec = int(ec)
            except ValueError:
                raise bad_request(f"X-M2M-EC {ec!r} is not an integer") from None
        if self.authenticator is not None:
            outcome = self.authenticator(request, headers.get("Authorization"), http)
            if outcome is not None:
                await outcome
        return request, response_format

    async def _read_body(self, http: web.BaseRequest) -> bytes:
        if not http.can_read_body:
            return b""
        limit = self.settings.max_body_bytes
        if http.content_length is not None and http.content_length > limit:
            raise bad_request(f"the body is larger than the limit of {limit} bytes")
        body = bytearray()
        async for chunk in http.content.iter_any():
            body += chunk
            if len(body) > limit:
                raise bad_request(f"the body is larger than the limit of {limit} bytes")
        return bytes(body)

    def _to_http(self, response: Response, serialization: str) -> web.Response:
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
            return web.Response(status=status, headers=headers)
        headers["Content-Type"] = media.CONTENT_TYPE[serialization]
        try:
            body = media.encode(response.pc, serialization)
        except Exception:
            log.exception("could not encode a response body")
            headers["X-M2M-RSC"] = str(int(RSC.INTERNAL_SERVER_ERROR))
            return web.Response(status=500, headers=headers,
                                body=media.encode({"m2m:dbg": "response could not be encoded"}, serialization))
        return web.Response(status=status, headers=headers, body=body)
