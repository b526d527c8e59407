"""HTTP/1.1 keep-alive connections that pipeline requests: how the CSE sends notifications.

Why not aiohttp's client: it sends the next request on a connection only after the previous
response, so a target could receive at most one notification per round trip, and a
receiver 2 ms away would cap a subscription at 500 notifications/s.  Here requests are
written in call order on one connection per destination URL, and responses are matched to
them in order (RFC 9112 9.3.2), so several notifications are in flight while the target
still receives them in the order they were sent.  It also costs a fraction of the CPU.

Failures: requests left unanswered when the server closes the connection after a response
marked "Connection: close" were not processed (RFC 9112 9.6), so they are resent on a new
connection; any other loss of the connection fails them (the caller decides on retries).
A response whose framing is malformed (RFC 9112 6.3) ends the connection the same way.
Timeout: a request fails when its answer has not come `timeout` seconds after it was sent
or after the answer before it arrived, whichever is later, so a slow but working server is
not timed out for the depth of the pipeline; the whole connection is then given up,
because the answers behind can only come after the missing one.

Responses are parsed by the sans-IO `http_reader.ResponseReader` (one per connection); this
module does the I/O, the timers and the matching of answers to requests.

Bounds: a response head is at most MAX_HEAD bytes; a body beyond MAX_BODY is read and
dropped (the response keeps its status and headers, with an empty body: the status is the
answer, and the connection stays in step); a connection idle for IDLE_SECONDS is closed.
This module serves small request/response exchanges only (no redirects, proxies, cookies,
upgrades) and never decides what to send.
"""
from __future__ import annotations

import asyncio
import ssl
from collections import deque
from urllib.parse import quote, urlsplit

from .http_reader import MAX_HEAD, Body, End, Error, ResponseHead, ResponseReader

__all__ = ["MAX_HEAD", "MAX_BODY", "IDLE_SECONDS", "HttpProtocolError", "PipelineClient", "PipelineResponse"]

MAX_BODY = 1_048_576
IDLE_SECONDS = 15.0          # a connection idle this long is closed

_TARGET_SAFE = "/?:@!$&'()*+,;=-._~%"     # what may stay as it is in a request target


class HttpProtocolError(ConnectionError):
    """The peer sent something that is not an HTTP/1.x response."""


class PipelineResponse:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers      # lower-case names; repeated fields joined with ", "
        self.body = body


class _Pending:
    __slots__ = ("data", "future", "timeout", "sent_at")

    def __init__(self, data: bytes, future: asyncio.Future, timeout: float, sent_at: float):
        self.data = data
        self.future = future
        self.timeout = timeout
        self.sent_at = sent_at


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; requests are written and answered strictly in order."""

    def __init__(self, client: "PipelineClient", key: tuple):
        self.client = client
        self.key = key
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.connecting: asyncio.Task | None = None
        self.waiting: deque[_Pending] = deque()      # written (or to be written), unanswered
        self.unsent: list[bytes] = []
        self.closing = False       # no new requests: the server announced it closes, or idle
        self.closed = False
        self._used_at = self._answered_at = self.loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        # The response being read.
        self._reader = ResponseReader()
        self._head: ResponseHead | None = None
        self._body: list[bytes] = []
        self._body_size = 0            # beyond MAX_BODY the body is dropped

    # -- requests -------------------------------------------------------------------------
    def submit(self, data: bytes, future: asyncio.Future, timeout: float) -> None:
        now = self._used_at = self.loop.time()
        self.waiting.append(_Pending(data, future, timeout, now))
        if len(self.waiting) == 1:
            self._watch_by(max(now, self._answered_at) + timeout)
        if self.transport is None:
            self.unsent.append(data)
        else:
            self.transport.write(data)

    def abort(self, error: BaseException) -> None:
        """Give the connection up: every request waiting on it fails with `error`."""
        self.closed = True
        self._stop_watching()
        self.client._forget(self)
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()
        self._fail_all(error)
        if self.transport is not None:
            self.transport.abort()

    # -- the one timer: answer deadline of the oldest request, or idle time ---------------
    def _watch_by(self, deadline: float) -> None:
        """Make sure the timer fires no later than `deadline` (it is re-armed lazily: one
        timer per timeout period, not one per request)."""
        if self._timer is None or deadline < self._timer_at:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_at(deadline, self._watch)
            self._timer_at = deadline

    def _stop_watching(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _watch(self) -> None:
        self._timer = None
        if self.closed:
            return
        now = self.loop.time()
        if self.waiting:
            head = self.waiting[0]
            deadline = max(head.sent_at, self._answered_at) + head.timeout
            if now >= deadline:
                scheme, host, port, path = self.key
                self.abort(asyncio.TimeoutError(
                    f"{scheme}://{host}:{port}{path} did not answer within {head.timeout:g} s"))
                return
        else:
            deadline = self._used_at + IDLE_SECONDS
            if now >= deadline:
                self._close()
                return
        self._watch_by(deadline)

    def _close(self) -> None:
        """Close after the last answer (nothing is waiting: what was behind it moved on)."""
        self.closing = True
        self.client._forget(self)
        self._stop_watching()
        if self.transport is not None:
            self.transport.close()

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
        if self.waiting and any(isinstance(event, End) for event in self._reader.eof()):
            self._finish()             # a body that ran until the close
        self._stop_watching()
        self._fail_all(exc or ConnectionResetError("the connection was closed by the peer"))

    def data_received(self, data: bytes) -> None:
        if self.closing or self.closed:
            return                     # nothing more is expected on this connection
        for event in self._reader.feed(data):
            if isinstance(event, Body):
                self._add_body(event.data)
            elif isinstance(event, ResponseHead):
                if not self.waiting:
                    self.abort(HttpProtocolError("a response nobody asked for"))
                    return
                self._head, self._body, self._body_size = event, [], 0
            elif isinstance(event, End):
                self._finish()
                if self.closing:
                    return
            elif isinstance(event, Error):
                self.abort(HttpProtocolError(event.message))
                return
            # Informational (100 Continue): not the answer, which follows.

    def _add_body(self, data: bytes) -> None:
        size = self._body_size = self._body_size + len(data)
        if size <= MAX_BODY:
            self._body.append(data)
        elif self._body:
            self._body = []            # the status is the answer; the body is dropped

    def _finish(self) -> None:
        head = self._head
        assert head is not None, "the reader ends only responses it began"
        body = b"".join(self._body)
        self._head, self._body = None, []
        pending = self.waiting.popleft()
        if not pending.future.done():
            pending.future.set_result(PipelineResponse(head.status, head.headers, body))
        self._used_at = self._answered_at = self.loop.time()
        if head.closes:
            # The server processes nothing more on this connection (RFC 9112 9.6): what is
            # behind moves to a new one now, before any later request could get there first,
            # and this one is closed by us, whatever the server does.
            left, self.waiting = list(self.waiting), deque()
            self._close()
            self.client._resubmit(self.key, left)
        elif self.waiting:
            first = self.waiting[0]
            self._watch_by(max(first.sent_at, self._answered_at) + first.timeout)
        elif not self.closed:
            self._watch_by(self._used_at + IDLE_SECONDS)

    def _fail_all(self, error: BaseException) -> None:
        while self.waiting:
            pending = self.waiting.popleft()
            if not pending.future.done():
                pending.future.set_exception(error)


class TooManyConnections(ConnectionError):
    """Every allowed connection is busy: the request is not sent (the caller retries later)."""


class PipelineClient:
    """One pipelined connection per destination URL (scheme, host, port, path).

    Bounds: at most `max_connections` connections at once (past it idle ones are closed
    first; when all are busy a request for a new destination fails at once with
    TooManyConnections), and a connection must be established within `connect_timeout`.
    `resolve(host, port)` may pick the address to connect to (the outbound policy, checked
    at connect time so that a name that changes its address after a check is still caught);
    it raises to refuse."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None, *, max_connections: int = 1000,
                 connect_timeout: float = 5.0, resolve=None):
        self.ssl_context = ssl_context
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self.resolve = resolve
        self._connections: dict[tuple, _Connection] = {}

    async def request(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                      timeout: float) -> PipelineResponse:
        """Send and wait for the answer; `timeout` counts from when the request was sent or
        the answer before it came, whichever is later (asyncio.TimeoutError)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not target.isascii():
            target = quote(target, safe=_TARGET_SAFE)     # an IRI: UTF-8, percent-encoded
        key = (parts.scheme, parts.hostname, port, parts.path)
        host = parts.netloc.rsplit("@", 1)[-1]
        if not host.isascii():
            host = host.encode("idna").decode("ascii")
        lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        lines.append(f"Content-Length: {len(body) if body else 0}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")
        future = asyncio.get_running_loop().create_future()
        # Synchronous up to here: concurrent callers are written in the order they called.
        # The connection settles `future` (answer, failure or timeout); a caller that is
        # cancelled cancels it, and its answer, if it still comes, is skipped.
        self._submit(key, data, future, timeout)
        return await future

    def _submit(self, key: tuple, data: bytes, future: asyncio.Future, timeout: float) -> None:
        connection = self._connections.get(key)
        if connection is None:
            if len(self._connections) >= self.max_connections:
                self._make_room()
            connection = self._connections[key] = _Connection(self, key)
            connection.connecting = asyncio.get_running_loop().create_task(self._connect(connection))
        connection.submit(data, future, timeout)

    def _resubmit(self, key: tuple, pending: list[_Pending]) -> None:
        for item in pending:
            if not item.future.done():
                try:
                    self._submit(key, item.data, item.future, item.timeout)
                except TooManyConnections as error:
                    item.future.set_exception(error)

    def _make_room(self) -> None:
        idle = [c for c in self._connections.values() if not c.waiting]
        if not idle:
            raise TooManyConnections(f"all {self.max_connections} outbound connections are busy "
                                     "(notification.max_connections)")
        idle[0]._close()

    async def _connect(self, connection: _Connection) -> None:
        scheme, host, port, _ = connection.key
        tls = (self.ssl_context or ssl.create_default_context()) if scheme == "https" else None
        try:
            address = host
            if self.resolve is not None:
                address = await asyncio.wait_for(self.resolve(host, port), self.connect_timeout)
            await asyncio.wait_for(asyncio.get_running_loop().create_connection(
                lambda: connection, address, port, ssl=tls,
                server_hostname=host if tls is not None else None), self.connect_timeout)
        except asyncio.TimeoutError:
            connection.connecting = None
            connection.abort(ConnectionError(f"{scheme}://{host}:{port} did not accept a connection "
                                             f"within {self.connect_timeout:g} s"))
        except Exception as error:   # refused, unreachable, TLS, policy: every waiter learns why
            connection.connecting = None
            connection.abort(error)

    def _forget(self, connection: _Connection) -> None:
        if self._connections.get(connection.key) is connection:
            del self._connections[connection.key]

    async def close(self) -> None:
        for connection in list(self._connections.values()):
            connection.abort(ConnectionAbortedError("the client was closed"))
        self._connections.clear()
