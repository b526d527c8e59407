"""WebSocket binding (TS-0020): WebSocket connections <-> request/response primitives.

An AE (a browser, a device behind NAT) or a CSE opens a WebSocket with the subprotocol
`oneM2M.json` or `oneM2M.cbor` and sends request primitives; each gets its response primitive
on the same connection.  The CSE sends its own requests (notifications, relayed NOTIFYs) to
an entity over the connection it opened: once a request of an originator has succeeded on a
connection, that originator is attached to it in `Outbound` (`wsconn://<n>`), which the
notification targets and the NOTIFY relay prefer over the entity's poa, so such an entity
needs no poa at all.  Credentials are those of the opening handshake (Authorization header,
TLS client certificate), checked for every request exactly as over HTTP.  A browser cannot
set a header on a WebSocket, so a bearer token may instead come as the RFC 6750 query
parameter `?access_token=<token>` of the handshake URL (checked as `Authorization: Bearer`).

The mapping itself is `ws_codec`; this module moves messages and keeps the bounds: open
connections (`max_connections`, beyond that the handshake is answered 503), requests the CSE
has in flight on one connection (`max_pending_per_connection`; beyond that the target is
unreachable, 5103, and the notifier's own queue and retries take over), requests a peer has
in flight here (the same number: the connection is not read further until one finishes), and
originators one connection may stand for.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from typing import TYPE_CHECKING, Callable

from aiohttp import WSMsgType, web

from cse.errors import RSC, OneM2MError
from cse.observe import RequestRecorder, not_recorded
from cse.outbound import live_entity_id
from cse.primitives import Request, Response, ResponseTypeValue
from cse.tasks import cancel_and_wait

from . import http_codec, media, ws_codec
from .http import busy, onem2m_server, tls_peer_name

if TYPE_CHECKING:
    from cse.auth import Authenticator
    from cse.config import Config, WsSettings
    from cse.dispatcher import Dispatcher
    from cse.outbound import Outbound

log = logging.getLogger(__name__)

SCHEME = "wsconn"          # internal URLs of open connections: wsconn://<number>
AE_TY, REMOTE_CSE_TY = 2, 16


class WsConnection:
    """One open WebSocket: sends (serialised by a lock), the CSE's requests waiting for their
    answers, and the originators attached to it."""

    def __init__(self, number: int, socket: web.WebSocketResponse, serialization: str,
                 settings: "WsSettings", remote: str | None, authorization: str | None, peer_name: str | None):
        self.url = f"{SCHEME}://{number}"
        self.socket = socket
        self.serialization = serialization
        self.settings = settings
        self.remote = remote
        self.authorization = authorization
        self.peer_name = peer_name
        self.originators: set[str] = set()
        self._pending: dict[str, asyncio.Future[Response]] = {}
        self._send_lock = asyncio.Lock()
        self._counter = itertools.count(1)

    async def send_message(self, message: bytes | str) -> None:
        async with self._send_lock:
            if isinstance(message, str):
                await self.socket.send_str(message)
            else:
                await self.socket.send_bytes(message)

    async def request(self, request: Request, timeout: float) -> Response:
        """Send a request of the CSE's and wait for the peer's response primitive."""
        if self.socket.closed:
            raise ConnectionError(f"the WebSocket {self.url} is closed")
        if len(self._pending) >= self.settings.max_pending_per_connection:
            raise ConnectionError(f"{len(self._pending)} requests are already waiting for answers on "
                                  f"{self.url} (ws.max_pending_per_connection)")
        key = request.rqi or f"ws-{next(self._counter)}"
        if key in self._pending:
            raise ConnectionError(f"a request with rqi {key!r} is already waiting on {self.url}")
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            await self.send_message(ws_codec.encode_request(request, self.serialization))
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(key, None)

    def answered(self, response: Response) -> None:
        future = self._pending.get(response.rqi)
        if future is None or future.done():
            log.debug("a response on %s matches no waiting request (rqi %r)", self.url, response.rqi)
            return
        future.set_result(response)

    def closed(self) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError(f"the WebSocket {self.url} closed"))


class WsSender:
    """Sends the CSE's requests over the connections entities opened (`wsconn://<n>`)."""

    keeps_order = True        # one connection, one sending lock: requests go out in call order

    def __init__(self) -> None:
        self.connections: dict[str, WsConnection] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    @property
    def poa(self) -> list[str]:
        return []

    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        connection = self.connections.get(url)
        if connection is None:
            raise ConnectionError(f"the WebSocket {url} is no longer open")
        return await connection.request(request, timeout)


class WsBinding:
    name = "ws"

    def __init__(self, config: "Config", dispatcher: "Dispatcher", outbound: "Outbound", sender: WsSender,
                 normalize: Callable[[str], str],
                 authenticator: "Authenticator | None" = None, ssl_context: ssl.SSLContext | None = None,
                 record: RequestRecorder = not_recorded):
        self.settings = config.ws
        # The handshake is HTTP: a slow or stuck one is closed as on the HTTP binding.
        self.header_timeout = config.http.header_timeout
        self.cse_id = config.cse.cse_id
        self.dispatcher = dispatcher
        self.outbound = outbound
        self.sender = sender
        self.normalize = normalize
        self.authenticator = authenticator
        self.ssl_context = ssl_context
        self.record = record            # the request log and metrics (server/observe.py)
        self._numbers = itertools.count(1)
        self._runner: web.ServerRunner | None = None
        self._tasks: set[asyncio.Task] = set()
        self._open = 0
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = f"[{self.settings.host}]" if ":" in self.settings.host else self.settings.host
        return f"{'wss' if self.ssl_context else 'ws'}://{host}:{self.port}"

    @property
    def poa(self) -> list[str]:
        return [self.settings.public_url or self.url]

    @property
    def connections(self) -> int:
        """Open WebSockets (and handshakes in progress)."""
        return self._open

    async def start(self) -> None:
        # The connection cap of the HTTP layer is the WebSocket cap plus room for handshakes;
        # an open WebSocket counts as busy, so it is never evicted by it.
        server = onem2m_server(self._handle, max_connections=self.settings.max_connections + 64,
                               header_timeout=self.header_timeout, keepalive_timeout=self.header_timeout)
        self._runner = web.ServerRunner(server)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port,
                           ssl_context=self.ssl_context, reuse_address=True)
        await site.start()
        addresses = self._runner.addresses
        self.port = addresses[0][1] if addresses else self.settings.port

    async def stop(self) -> None:
        for connection in list(self.sender.connections.values()):
            await connection.socket.close(code=1001, message=b"the CSE is shutting down")
        await cancel_and_wait(set(self._tasks), grace=5)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the handshake -------------------------------------------------------------------
    async def _handle(self, http: web.BaseRequest) -> web.StreamResponse:
        offered = [p.strip() for p in http.headers.get("Sec-WebSocket-Protocol", "").split(",") if p.strip()]
        chosen = next((p for p in offered if ws_codec.serialization_of(p)), None)
        if http.headers.get("Upgrade", "").lower() != "websocket":
            return _refuse(400, "this is the oneM2M WebSocket binding (TS-0020): open a WebSocket with "
                                "the subprotocol oneM2M.json or oneM2M.cbor")
        if chosen is None:
            return _refuse(400, "the WebSocket handshake must offer the subprotocol oneM2M.json or "
                                f"oneM2M.cbor (offered: {', '.join(offered) or 'none'})")
        if self._open >= self.settings.max_connections:
            return _refuse(503, f"this CSE has {self._open} WebSockets open (ws.max_connections); "
                                "try again later")
        try:
            authorization = handshake_authorization(http.headers.get("Authorization"),
                                                    http.query.getall("access_token", []))
        except ValueError as error:
            return _refuse(400, str(error))
        self._open += 1             # counted from before the handshake: the cap is never overshot
        try:
            socket = web.WebSocketResponse(protocols=(chosen,), heartbeat=self.settings.heartbeat,
                                           max_msg_size=self.settings.max_message_bytes)
            await socket.prepare(http)
            serialization = ws_codec.serialization_of(chosen) or "json"
            connection = WsConnection(next(self._numbers), socket, serialization, self.settings, http.remote,
                                      authorization, tls_peer_name(http))
            self.sender.connections[connection.url] = connection
            try:
                with busy(http):
                    await self._serve(connection)
            finally:
                del self.sender.connections[connection.url]
                for originator in connection.originators:
                    self.outbound.detach(originator, connection.url)
                connection.closed()
        finally:
            self._open -= 1
        return socket

    # -- messages --------------------------------------------------------------------------
    async def _serve(self, connection: WsConnection) -> None:
        in_flight = asyncio.Semaphore(self.settings.max_pending_per_connection)
        async for message in connection.socket:
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                if message.type == WSMsgType.ERROR:
                    log.debug("WebSocket %s from %s: %s", connection.url, connection.remote,
                              connection.socket.exception())
                continue
            try:
                incoming = ws_codec.decode(message.data, connection.serialization,
                                           binary=message.type == WSMsgType.BINARY,
                                           max_bytes=self.settings.max_message_bytes)
            except ws_codec.UndecodableMessage as error:
                log.debug("undecodable WebSocket message on %s: %s", connection.url, error.message)
                answer = ws_codec.error_response(error, error.rqi)
                self.record(time.perf_counter(), None, answer, connection.url)
                await self._send(connection, answer)
                continue
            if incoming.response is not None:
                connection.answered(incoming.response)
                continue
            assert incoming.request is not None
            await in_flight.acquire()      # back-pressure: stop reading while the peer has too many
            task = asyncio.get_running_loop().create_task(self._answer(connection, incoming.request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            task.add_done_callback(lambda _: in_flight.release())

    async def _answer(self, connection: WsConnection, received: Request) -> None:
        started = time.perf_counter()
        request = ws_codec.with_transport(received, connection.serialization, connection.remote)
        try:
            if self.authenticator is not None:
                request = await self.authenticator.authenticate(request, connection.authorization,
                                                                connection.peer_name)
            response = await self.dispatcher.handle(request)
        except OneM2MError as error:
            response = ws_codec.error_response(error, request.rqi, request.rvi)
        except Exception:
            log.exception("WebSocket binding failed on %s", request.describe())
            response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=request.rqi,
                                pc={"m2m:dbg": "internal error in the WebSocket binding"})
        self.record(started, request, response, request.to)
        if response.ok:
            self._attach(connection, request, response)
        if request.rt == ResponseTypeValue.NO_RESPONSE and response.ok:
            return          # the originator asked for no response (rt 5)
        if response.fr is None:
            response.fr = self.cse_id
        if response.to is None and isinstance(request.fr, str):
            response.to = request.fr
        await self._send(connection, response)

    def _attach(self, connection: WsConnection, request: Request, response: Response) -> None:
        """After a successful request the originator is reachable over this connection; after
        a registration, the AE-ID (or CSE-ID) it was given."""
        names = [request.fr] if isinstance(request.fr, str) and request.fr else []
        if request.ty in (AE_TY, REMOTE_CSE_TY) and isinstance(response.pc, dict):
            created = response.pc.get("m2m:ae") or response.pc.get("m2m:csr") or {}
            identity = created.get("aei") or created.get("csi") if isinstance(created, dict) else None
            if isinstance(identity, str):
                names.append(identity)
        for name in names:
            entity = live_entity_id(self.normalize(name), self.cse_id)
            if entity in connection.originators:
                continue
            if len(connection.originators) >= self.settings.max_originators_per_connection:
                log.info("WebSocket %s already stands for %d originators; %s is not attached",
                         connection.url, len(connection.originators), entity)
                continue
            connection.originators.add(entity)
            self.outbound.attach(entity, connection.url)

    async def _send(self, connection: WsConnection, response: Response) -> None:
        try:
            await connection.send_message(ws_codec.encode_response(response, connection.serialization))
        except (ConnectionError, RuntimeError) as exc:   # closed meanwhile
            log.debug("could not answer rqi %r on %s: %s", response.rqi, connection.url, exc)


def handshake_authorization(header: str | None, tokens: list[str]) -> str | None:
    """The credential of a handshake: the Authorization header, or the RFC 6750 (2.3) query
    form `access_token=<token>`, taken as `Bearer <token>`.  RFC 6750 allows one method per
    request: both, or the parameter twice, is a bad request (ValueError), as is an empty one."""
    if not tokens:
        return header
    if header is not None:
        raise ValueError("the handshake carries both an Authorization header and an access_token "
                         "parameter; use one (RFC 6750 section 2)")
    if len(tokens) > 1:
        raise ValueError("the handshake carries the access_token parameter more than once")
    if not tokens[0].strip():
        raise ValueError("the access_token parameter of the handshake is empty")
    return f"Bearer {tokens[0]}"


def _refuse(status: int, message: str) -> web.Response:
    """A handshake refused with a oneM2M error body, as the HTTP binding answers its errors."""
    rsc = RSC.TARGET_NOT_REACHABLE if status == 503 else RSC.BAD_REQUEST
    _, headers, body = http_codec.encode_response(Response(rsc=rsc, rqi="", pc={"m2m:dbg": message}), media.JSON)
    return web.Response(status=status, headers=headers, body=body)
