"""oneM2M over WebSocket (TS-0020) for an AE: `WsTransport` sends requests over one
WebSocket, and `WsNotificationReceiver` answers the requests the CSE sends back over it
(notifications), so an AE behind NAT or in a browser needs no poa and no listener.

Messages are whole primitives (`bindings.ws_codec`, the CSE's own mapping), in the
subprotocol `oneM2M.json` (text frames) or `oneM2M.cbor` (binary frames).  Credentials go in
the handshake (`authorization="Bearer ..."`), as the CSE checks them for every request.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

import aiohttp

from bindings import ws_codec
from cse.errors import OneM2MError
from cse.primitives import Request, Response
from cse.tasks import cancel_and_wait

from .receiver import NotificationInbox
from .transport import CseUnreachable

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


class WsTransport:
    """`url`: the CSE's WebSocket point of access (ws://host:8180 or wss://...)."""

    def __init__(self, url: str, *, serialization: str = "json", authorization: str | None = None,
                 connect_timeout: float = 10.0, max_pending: int = 256):
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(f"{url!r} is not a ws(s) URL of a CSE")
        if serialization not in ws_codec.SUBPROTOCOL_OF:
            raise ValueError(f"serialization must be 'json' or 'cbor', not {serialization!r}")
        self.url = url
        self.serialization = serialization
        self.authorization = authorization
        self.connect_timeout = connect_timeout
        self.max_pending = max_pending
        self._session: aiohttp.ClientSession | None = None
        self._socket: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._pending: dict[str, asyncio.Future[Response]] = {}
        self._handler: Handler | None = None
        self._tasks: set[asyncio.Task] = set()
        self._lock = asyncio.Lock()

    @property
    def connected(self) -> bool:
        return self._socket is not None and not self._socket.closed

    async def open(self) -> None:
        async with self._lock:
            if self.connected:
                return
            if self._session is None:
                self._session = aiohttp.ClientSession()
            headers = {"Authorization": self.authorization} if self.authorization else {}
            try:
                self._socket = await self._session.ws_connect(
                    self.url, protocols=(ws_codec.SUBPROTOCOL_OF[self.serialization],), headers=headers,
                    timeout=aiohttp.ClientWSTimeout(ws_close=self.connect_timeout), autoping=True)
            except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
                raise CseUnreachable(f"{self.url} is not reachable over WebSocket: {exc}") from None
            if ws_codec.serialization_of(self._socket.protocol) != self.serialization:
                await self._socket.close()
                raise CseUnreachable(f"{self.url} did not accept the subprotocol "
                                     f"{ws_codec.SUBPROTOCOL_OF[self.serialization]}")
            self._reader = asyncio.get_running_loop().create_task(self._read(self._socket))

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            await cancel_and_wait({self._reader})
            self._reader = None
        await cancel_and_wait(set(self._tasks))
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, request: Request, timeout: float) -> Response:
        await self.open()
        if len(self._pending) >= self.max_pending:
            raise CseUnreachable(f"{len(self._pending)} requests already wait for answers on {self.url}")
        future: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._pending[request.rqi] = future
        try:
            await self._write(ws_codec.encode_request(request, self.serialization))
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            raise CseUnreachable(f"no answer from {self.url} within {timeout} s") from None
        except (ConnectionError, RuntimeError) as exc:
            raise CseUnreachable(f"the WebSocket to {self.url} closed: {exc}") from None
        finally:
            self._pending.pop(request.rqi, None)

    def serve(self, handler: Handler) -> None:
        """Answer the CSE's requests (notifications) on this connection with `handler`."""
        self._handler = handler

    async def _write(self, message: bytes | str) -> None:
        socket = self._socket
        if socket is None or socket.closed:
            raise ConnectionError("not connected")
        if isinstance(message, str):
            await socket.send_str(message)
        else:
            await socket.send_bytes(message)

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for message in socket:
                if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                    continue
                try:
                    incoming = ws_codec.decode(message.data, self.serialization,
                                               binary=message.type == aiohttp.WSMsgType.BINARY)
                except OneM2MError as error:
                    log.warning("undecodable message from %s: %s", self.url, error.message)
                    continue
                if incoming.response is not None:
                    future = self._pending.get(incoming.response.rqi)
                    if future is not None and not future.done():
                        future.set_result(incoming.response)
                elif incoming.request is not None:
                    task = asyncio.get_running_loop().create_task(self._answer(incoming.request))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("the WebSocket closed"))

    async def _answer(self, request: Request) -> None:
        if self._handler is None:
            response = Response(rsc=5103, rqi=request.rqi, pc={"m2m:dbg": "this client takes no requests"})
        else:
            try:
                response = await self._handler(request)
            except Exception:
                log.exception("answering the CSE's request %s failed", request.describe())
                response = Response(rsc=5000, rqi=request.rqi, pc={"m2m:dbg": "the receiving application failed"})
        try:
            await self._write(ws_codec.encode_response(response, self.serialization))
        except (ConnectionError, RuntimeError) as exc:
            log.warning("could not answer rqi %r: %s", request.rqi, exc)


class WsNotificationReceiver(NotificationInbox):
    """Notifications over the AE's own WebSocket: no poa is needed, the CSE sends them over
    the connection the AE's requests use.  Other arguments: see `NotificationInbox`."""

    def __init__(self, transport: WsTransport, **inbox: Any):
        super().__init__(**inbox)
        self.transport = transport
        transport.serve(self.handle)

    @property
    def url(self) -> str | None:
        return None          # the AE registers without a poa

    async def registered(self, client: Any) -> None:
        await self.transport.open()
