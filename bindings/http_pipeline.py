"""HTTP/1.1 keep-alive connections that pipeline requests: how the CSE sends notifications.

Why not aiohttp's client: it sends the next request on a connection only after the previous
response, so a target could receive at most one notification per round trip, and a
receiver 2 ms away would cap a subscription at 500 notifications/s.  Here requests are
written in call order on one connection per destination URL, and responses are matched to
them in order (RFC 9112 9.3.2), so several notifications are in flight while the target
still receives them in the order they were sent.  It also costs a fraction of the CPU.

Requests left unanswered when the server closes the connection after a response marked
"Connection: close" were not processed (RFC 9112 9.6), so they are resent on a new
connection; any other loss of the connection fails them (the caller decides on retries).
This module serves small request/response exchanges only (no redirects, proxies, cookies,
upgrades) and never decides what to send.
"""
from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from urllib.parse import urlsplit

MAX_HEAD = 65_536
MAX_BODY = 1_048_576
IDLE_SECONDS = 15.0          # a connection idle this long is replaced, not reused


class HttpProtocolError(ConnectionError):
    """The peer sent something that is not an HTTP/1.x response."""


class PipelineResponse:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers      # lower-case names
        self.body = body


class _Pending:
    __slots__ = ("data", "future")

    def __init__(self, data: bytes, future: asyncio.Future):
        self.data = data
        self.future = future


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; requests are written and answered strictly in order."""

    def __init__(self, client: "PipelineClient", key: tuple):
        self.client = client
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.waiting: deque[_Pending] = deque()      # written (or to be written), unanswered
        self.unsent: list[bytes] = []
        self.closing = False       # no new requests: the server announced it closes
        self.closed = False
        self.last_used = time.monotonic()
        self._buffer = bytearray()
        self._head: tuple[int, dict[str, str]] | None = None
        self._chunks: bytearray | None = None

    # -- requests -------------------------------------------------------------------------
    @property
    def usable(self) -> bool:
        return not (self.closing or self.closed) and (
            self.waiting or time.monotonic() - self.last_used < IDLE_SECONDS)

    def submit(self, data: bytes, future: asyncio.Future) -> None:
        self.waiting.append(_Pending(data, future))
        self.last_used = time.monotonic()
        if self.transport is None:
            self.unsent.append(data)
        else:
            self.transport.write(data)

    def abort(self, error: BaseException) -> None:
        self.closed = True
        self.client._forget(self)
        self._fail_all(error)
        if self.transport is not None:
            self.transport.abort()

    # -- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.closed:
            transport.close()
            return
        if self.unsent:
            transport.write(b"".join(self.unsent))  # type: ignore[attr-defined]
            self.unsent = []

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client._forget(self)
        if self._head is not None and self._expects_until_close() and self.waiting:
            self._finish(bytes(self._buffer))
        if self.waiting:
            if self.closing:
                # Announced close: what is left was not processed; send it on a new connection.
                left, self.waiting = list(self.waiting), deque()
                self.client._resubmit(self.key, left)
            else:
                self._fail_all(exc or ConnectionResetError("the connection was closed by the peer"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            while self._parse_one():
                pass
        except HttpProtocolError as error:
            self.abort(error)

    # -- response parsing -----------------------------------------------------------------
    def _parse_one(self) -> bool:
        buffer = self._buffer
        if self._head is None:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise HttpProtocolError("response head too large")
                return False
            self._head = self._parse_head(bytes(buffer[:end]))
            del buffer[:end + 4]
            if 100 <= self._head[0] < 200:     # interim response (100 Continue): not the answer
                self._head = None
                return True
        status, headers = self._head
        if status in (204, 304) or "content-length" not in headers and "transfer-encoding" not in headers \
                and not self._expects_until_close():
            return self._finish(b"")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._parse_chunked()
        if "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise HttpProtocolError(f"bad Content-Length {headers['content-length']!r}") from None
            if length > MAX_BODY:
                raise HttpProtocolError("response body too large")
            if len(buffer) < length:
                return False
            body = bytes(buffer[:length])
            del buffer[:length]
            return self._finish(body)
        if len(buffer) > MAX_BODY:
            raise HttpProtocolError("response body too large")
        return False                                   # body runs until the connection closes

    def _expects_until_close(self) -> bool:
        headers = self._head[1] if self._head else {}
        return "content-length" not in headers and "transfer-encoding" not in headers and \
            headers.get("connection", "").lower() == "close"

    @staticmethod
    def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
        lines = raw.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if parts[0] == "HTTP/1.0" and headers.get("connection", "").lower() != "keep-alive":
            headers["connection"] = "close"
        return int(parts[1]), headers

    def _parse_chunked(self) -> bool:
        buffer = self._buffer
        if self._chunks is None:
            self._chunks = bytearray()
        while True:
            end = buffer.find(b"\r\n")
            if end < 0:
                return False
            try:
                size = int(bytes(buffer[:end]).split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise HttpProtocolError("bad chunk size") from None
            if size == 0:
                trailer_end = buffer.find(b"\r\n\r\n", end) if buffer[end + 2:end + 4] != b"\r\n" else end
                if trailer_end < 0:
                    return False
                del buffer[:trailer_end + 4]
                body, self._chunks = bytes(self._chunks), None
                return self._finish(body)
            if len(buffer) < end + 2 + size + 2:
                return False
            self._chunks += buffer[end + 2:end + 2 + size]
            if len(self._chunks) > MAX_BODY:
                raise HttpProtocolError("response body too large")
            del buffer[:end + 2 + size + 2]

    def _finish(self, body: bytes) -> bool:
        status, headers = self._head
        self._head = None
        if not self.waiting:
            raise HttpProtocolError("a response nobody asked for")
        pending = self.waiting.popleft()
        if not pending.future.done():
            pending.future.set_result(PipelineResponse(status, headers, body))
        self.last_used = time.monotonic()
        if headers.get("connection", "").lower() == "close":
            # The server processes nothing more on this connection.  What is behind moves to
            # a new one now, before any later request could get there first.
            self.closing = True
            self.client._forget(self)
            if self.waiting:
                left, self.waiting = list(self.waiting), deque()
                self.client._resubmit(self.key, left)
        return True

    def _fail_all(self, error: BaseException) -> None:
        while self.waiting:
            pending = self.waiting.popleft()
            if not pending.future.done():
                pending.future.set_exception(error)


class PipelineClient:
    """One pipelined connection per destination URL (scheme, host, port, path)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        self.ssl_context = ssl_context
        self._connections: dict[tuple, _Connection] = {}

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                      timeout: float) -> PipelineResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        key = (parts.scheme, parts.hostname, port, parts.path)
        host = parts.netloc.rsplit("@", 1)[-1]
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        lines.append(f"Content-Length: {len(body) if body else 0}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        future = asyncio.get_running_loop().create_future()
        # Synchronous up to here: concurrent callers are written in the order they called.
        self._submit(key, data, future)
        try:
            # On timeout or cancellation wait_for cancels `future`; its answer, if it still
            # comes, is then skipped.
            return await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:
            # Later requests on this connection wait behind the unanswered one: start afresh.
            connection = self._connections.get(key)
            if connection is not None and any(p.future is future for p in connection.waiting):
                connection.abort(asyncio.TimeoutError(f"{url} did not answer in time"))
            raise

    def _submit(self, key: tuple, data: bytes, future: asyncio.Future) -> None:
        connection = self._connections.get(key)
        if connection is None or not connection.usable:
            if connection is not None and not connection.waiting:
                connection.closing = True
                if connection.transport is not None:
                    connection.transport.close()
            connection = self._connections[key] = _Connection(self, key)
            asyncio.get_running_loop().create_task(self._connect(connection))
        connection.submit(data, future)

    def _resubmit(self, key: tuple, pending: list[_Pending]) -> None:
        for item in pending:
            if not item.future.done():
                self._submit(key, item.data, item.future)

    async def _connect(self, connection: _Connection) -> None:
        scheme, host, port, _ = connection.key
        try:
            await asyncio.get_running_loop().create_connection(
                lambda: connection, host, port,
                ssl=(self.ssl_context or ssl.create_default_context()) if scheme == "https" else None)
        except Exception as error:   # refused, unreachable, TLS: every waiter learns why
            connection.closed = True
            self._forget(connection)
            connection._fail_all(error)

    def _forget(self, connection: _Connection) -> None:
        if self._connections.get(connection.key) is connection:
            del self._connections[connection.key]

    async def close(self) -> None:
        for connection in list(self._connections.values()):
            connection.abort(ConnectionAbortedError("the client was closed"))
        self._connections.clear()
