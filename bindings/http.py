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
import contextlib
import logging
import ssl
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterator, Protocol

from aiohttp import web

try:
    import resource             # POSIX: the file-descriptor limit
except ImportError:             # pragma: no cover - Windows
    resource = None  # type: ignore[assignment]

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

    def __init__(self, manager: "_OneM2MServer", *, header_timeout: float, **options: Any):
        super().__init__(manager, **options)
        self.header_timeout = header_timeout
        self.busy = 0                   # requests of this connection being handled now
        self._head_timer: asyncio.TimerHandle | None = None
        self._heads_at_arm = 0

    # -- the header-read timeout: a request head must be complete within header_timeout of
    # its first byte (idle connections are closed by aiohttp's keepalive_timeout, which
    # also runs from the moment a connection is made).
    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and self.header_timeout > 0 and self.transport is not None:
            self._heads_at_arm = self._request_count
            self._head_timer = self._loop.call_later(self.header_timeout, self._head_deadline)
        super().data_received(data)

    def _head_deadline(self) -> None:
        self._head_timer = None
        if self._request_count == self._heads_at_arm and self.transport is not None:
            log.debug("closing an HTTP connection whose request head did not arrive within %g s",
                      self.header_timeout)
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

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
        headers = {**headers, "Connection": "close"}   # said, not only done (HTTP/1.0 replies too)
        response = web.Response(status=status, headers=headers, body=body)
        response.force_close()
        return response


class _OneM2MServer(web.Server):
    """aiohttp's low-level server with `_OneM2MRequestHandler` as the protocol of each
    connection (`web.Server` is the protocol factory: calling it makes one).

    It also caps the connections open at once: past `max_connections` a new connection
    takes the place of the one that has been idle (or stuck in a request head) longest, so
    a crowd of idle or slow connections cannot lock a normal client out; when every
    connection is busy with a request, the new one is closed at once."""

    def __init__(self, handler: Any, *, handler_cancellation: bool, max_connections: int,
                 header_timeout: float, **handler_options: Any):
        super().__init__(handler, handler_cancellation=handler_cancellation, **handler_options)
        self.handler_options = handler_options
        self.header_timeout = header_timeout
        self.max_connections = max_connections
        self.live: dict[_OneM2MRequestHandler, None] = {}   # in the order they were opened
        self.evicted = 0
        self.refused = 0
        self.event_loop = asyncio.get_running_loop()

    def __call__(self) -> web.RequestHandler:
        return _OneM2MRequestHandler(self, loop=self.event_loop, header_timeout=self.header_timeout,
                                     **self.handler_options)

    def connection_made(self, handler: web.RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if len(self.live) >= self.max_connections > 0:
            idle = next((h for h in self.live if not h.busy), None)
            if idle is None:
                self.refused += 1
                log.info("refused an HTTP connection: all %d connections are busy (http.max_connections)",
                         self.max_connections)
                transport.close()
                return
            self.evicted += 1
            log.debug("closing the longest idle HTTP connection for a new one (http.max_connections %d)",
                      self.max_connections)
            self.live.pop(idle, None)
            idle.force_close()
        self.live[handler] = None  # type: ignore[index]

    def connection_lost(self, handler: web.RequestHandler, exc: BaseException | None = None) -> None:
        self.live.pop(handler, None)  # type: ignore[call-overload]
        super().connection_lost(handler, exc)


@contextlib.contextmanager
def busy(http: web.BaseRequest) -> Iterator[None]:
    """Marks the request's connection busy while it is served: the connection cap never
    evicts it to make room (an open WebSocket is busy for as long as it is open)."""
    protocol = http.protocol
    if isinstance(protocol, _OneM2MRequestHandler):
        protocol.busy += 1
    try:
        yield
    finally:
        if isinstance(protocol, _OneM2MRequestHandler):
            protocol.busy -= 1


def onem2m_server(handler: Any, *, max_connections: int, header_timeout: float,
                  keepalive_timeout: float) -> web.Server:
    """The low-level aiohttp server of the HTTP binding, with its header timeout, idle timeout
    and connection cap, for other listeners that speak HTTP first (the WebSocket handshake)."""
    return _OneM2MServer(handler, handler_cancellation=False, access_log=None,
                         max_connections=_within_descriptor_limit(max_connections),
                         header_timeout=header_timeout, keepalive_timeout=keepalive_timeout)


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
        self._runner: web.ServerRunner | None = None
        self._server: _OneM2MServer | None = None
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
        settings = self.settings
        server = _OneM2MServer(self._handle, handler_cancellation=False, access_log=None,
                               max_connections=_within_descriptor_limit(settings.max_connections),
                               header_timeout=settings.header_timeout,
                               keepalive_timeout=settings.idle_timeout)
        self._server = server
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
        with busy(http):
            return await self._answer(http)

    async def _answer(self, http: web.BaseRequest) -> web.Response:
        started = time.perf_counter()
        headers = http.headers
        serialization = media.JSON
        request: Request | None = None
        closing = False
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
        except _BodyError as error:
            # The rest of the body is not read: the connection cannot carry another request.
            closing = True
            log.debug("refused %s %s from %s: %s", http.method, http.path, http.remote, error.message)
            response = Response(rsc=error.rsc, rqi=headers.get("X-M2M-RI", ""), rvi=headers.get("X-M2M-RVI"),
                                pc={"m2m:dbg": error.message})
        except OneM2MError as error:
            response = Response(rsc=error.rsc, rqi=headers.get("X-M2M-RI", ""), rvi=headers.get("X-M2M-RVI"),
                                pc={"m2m:dbg": error.message})
        except Exception:
            log.exception("HTTP binding failed on %s %s", http.method, http.path)
            response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=headers.get("X-M2M-RI", ""),
                                pc={"m2m:dbg": "internal error in the HTTP binding"})
        self.record(started, request, response, http.path)
        status, response_headers, response_body = http_codec.encode_response(response, serialization)
        if closing:
            response_headers = {**response_headers, "Connection": "close"}
        answer = web.Response(status=status, headers=response_headers, body=response_body)
        if closing:
            answer.force_close()
        return answer

    async def _read_body(self, http: web.BaseRequest) -> bytes:
        limit = self.settings.max_body_bytes
        if http.content_length is not None and http.content_length > limit:
            raise _BodyError(RSC.BAD_REQUEST, f"the body is larger than the limit of {limit} bytes")
        body = bytearray()
        try:
            async for chunk in http.content.iter_any():
                body += chunk
                if len(body) > limit:
                    raise _BodyError(RSC.BAD_REQUEST, f"the body is larger than the limit of {limit} bytes")
        except web.RequestPayloadError as error:
            # Nothing more is read from this body: without this aiohttp's lingering close
            # would read it again after the answer and log the same failure as an ERROR.
            http.content.feed_eof()
            # A Content-Encoding (gzip, deflate) the body does not follow, a broken chunk:
            # the client's fault, answered 4000 like any other malformed body.
            cause = error.__cause__ or error
            reason = str(getattr(cause, "message", None) or cause).strip().splitlines()
            detail = " ".join(line.strip() for line in reason if line.strip())
            encoding = http.headers.get("Content-Encoding")
            raise _BodyError(RSC.BAD_REQUEST, f"the body cannot be read"
                             f"{f' as Content-Encoding {encoding!r}' if encoding else ''}: {detail}"[:300]) from None
        return bytes(body)


# Descriptors kept for everything else (storage, outbound connections, the broker, logs).
RESERVED_DESCRIPTORS = 128


def _within_descriptor_limit(cap: int) -> int:
    """`cap`, lowered to what the process's file-descriptor limit leaves for connections: a
    cap above it would let idle connections take the descriptors a new client needs."""
    if resource is None:
        return cap
    try:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (OSError, ValueError):
        return cap
    if soft == resource.RLIM_INFINITY or soft - RESERVED_DESCRIPTORS >= cap:
        return cap
    lowered = max(1, (soft - RESERVED_DESCRIPTORS) if soft > 2 * RESERVED_DESCRIPTORS else soft // 2)
    log.warning("http.max_connections %d is above what the file-descriptor limit (%d) leaves; "
                "using %d (raise ulimit -n to allow more)", cap, soft, lowered)
    return lowered


class _BodyError(OneM2MError):
    """The body could not be read to its end: answered, then the connection is closed."""
