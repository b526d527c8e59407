"""HTTP binding (TS-0009): an aiohttp server <-> request/response primitives.

The mapping itself (headers, status codes, paths, query, media types) is `http_codec`;
this module only moves requests from aiohttp to the codec and the dispatcher and back, reads
bodies within the size limit, and knows nothing about resources.  Every request gets a
response: errors found on the way (bad headers, undecodable bodies, unsupported media types)
are answered as oneM2M errors like the core's, and any unexpected exception becomes a 5000
response instead of a dropped connection.
"""
from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Protocol

from aiohttp import web

from cse.certs import peer_common_name, server_context
from cse.errors import RSC, OneM2MError, bad_request
from cse.observe import RequestRecorder, not_recorded
from cse.primitives import Request, Response

from . import http_codec, media

if TYPE_CHECKING:
    from cse.auth import Authenticator
    from cse.config import HttpSettings

log = logging.getLogger(__name__)


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


class RequestHandler(Protocol):
    """What the binding hands requests to: the CSE's `Dispatcher`, or an AE's notification
    receiver (client/receiver.py)."""

    async def handle(self, request: Request) -> Response: ...


# Checks a request's credentials: the request back (marked authenticated), or a 4106.
AuthenticatorHook = Callable[[Request, "str | None", web.BaseRequest], Awaitable[Request]]


def authenticator_hook(authenticator: "Authenticator") -> AuthenticatorHook:
    """Adapts `cse.auth.Authenticator` to the binding's hook (request, header, http request)."""
    async def hook(request: Request, authorization: str | None, http: web.BaseRequest) -> Request:
        return await authenticator.authenticate(request, authorization, tls_peer_name(http))
    return hook


class _OneM2MRequestHandler(web.RequestHandler):
    """aiohttp answers requests it cannot parse (unknown method, malformed header or
    chunk, oversized header) itself, in plain text, through `handle_error` (a public method
    of aiohttp's RequestHandler).  This answers them as oneM2M errors too, so a client always
    finds X-M2M-RSC and m2m:dbg; hostile input is logged at debug level only, as it is not
    the server's fault."""

    def handle_error(self, request: web.BaseRequest, status: int = 500,
                     exc: BaseException | None = None, message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        log.debug("unparsable HTTP request from %s: %s", request.remote, exc or message)
        if request.writer.output_size > 0:
            raise ConnectionError("a response was already sent; cannot send the error")
        text = getattr(exc, "message", None) or message or str(exc or "") or "malformed request"
        reason = next((line.strip() for line in str(text).splitlines() if line.strip()), "malformed request")
        status, headers, body = http_codec.malformed_request(reason.rstrip(":")[:200])
        response = web.Response(status=status, headers=headers, body=body)
        response.force_close()
        return response


class _OneM2MServer(web.Server):
    """aiohttp's low-level server with `_OneM2MRequestHandler` as the protocol of each
    connection (`web.Server` is the protocol factory: calling it makes one)."""

    def __init__(self, handler: Any, *, handler_cancellation: bool, **handler_options: Any):
        super().__init__(handler, handler_cancellation=handler_cancellation, **handler_options)
        self.handler_options = handler_options
        self.event_loop = asyncio.get_running_loop()

    def __call__(self) -> web.RequestHandler:
        return _OneM2MRequestHandler(self, loop=self.event_loop, **self.handler_options)


class HttpBinding:
    name = "http"

    def __init__(self, settings: "HttpSettings", dispatcher: "RequestHandler",
                 ssl_context: ssl.SSLContext | None = None,
                 authenticator: AuthenticatorHook | None = None,
                 record: RequestRecorder = not_recorded):
        self.settings = settings
        self.dispatcher = dispatcher
        self.ssl_context = ssl_context
        # Optional: checks credentials against the originator (set by the security setup).
        self.authenticator = authenticator
        # Told about every answered request (the request log and metrics, cse/observe.py).
        self.record = record
        self._server: web.Server | None = None
        self._runner: web.ServerRunner | None = None
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
        server = self._server = _OneM2MServer(self._handle, handler_cancellation=False, access_log=None)
        self._runner = web.ServerRunner(server)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port,
                           ssl_context=self.ssl_context, reuse_address=True)
        await site.start()
        addresses = self._runner.addresses       # (host, port, ...) of each listening socket
        self.port = addresses[0][1] if addresses else self.settings.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def open_connections(self) -> int:
        """Client connections open right now (the connections metric)."""
        return len(self._server.connections) if self._server is not None else 0

    # -- request handling ---------------------------------------------------------------
    async def _handle(self, http: web.BaseRequest) -> web.Response:
        started = time.perf_counter()
        headers = http.headers
        serialization = media.JSON
        request: Request | None = None
        try:
            head = http_codec.read_head(http.method, headers, http.can_read_body)
            body = await self._read_body(http) if http.can_read_body else b""
            request = http_codec.read_request(head, http.path, http.query.items() if http.query_string else (),
                                              headers, body, http.remote)
            if self.authenticator is not None:
                request = await self.authenticator(request, headers.get("Authorization"), http)
            # Errors up to here are answered in JSON: the request was not understood.
            serialization = head.accept
            response = await self.dispatcher.handle(request)
        except OneM2MError as error:
            response = Response(rsc=error.rsc, rqi=headers.get("X-M2M-RI", ""), rvi=headers.get("X-M2M-RVI"),
                                pc={"m2m:dbg": error.message})
        except Exception:
            log.exception("HTTP binding failed on %s %s", http.method, http.path)
            response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=headers.get("X-M2M-RI", ""),
                                pc={"m2m:dbg": "internal error in the HTTP binding"})
        self.record(started, request, response, http.path)
        status, response_headers, response_body = http_codec.encode_response(response, serialization)
        return web.Response(status=status, headers=response_headers, body=response_body)

    async def _read_body(self, http: web.BaseRequest) -> bytes:
        limit = self.settings.max_body_bytes
        if http.content_length is not None and http.content_length > limit:
            raise bad_request(f"the body is larger than the limit of {limit} bytes")
        body = bytearray()
        async for chunk in http.content.iter_any():
            body += chunk
            if len(body) > limit:
                raise bad_request(f"the body is larger than the limit of {limit} bytes")
        return bytes(body)
