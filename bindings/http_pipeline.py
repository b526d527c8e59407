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

Bounds: a response head is at most MAX_HEAD bytes; a body beyond MAX_BODY is read and
dropped (the response keeps its status and headers, with an empty body: the status is the
answer, and the connection stays in step); a connection idle for IDLE_SECONDS is closed.
This module serves small request/response exchanges only (no redirects, proxies, cookies,
upgrades) and never decides what to send.
"""
from __future__ import annotations

import asyncio
import enum
import re
import ssl
from collections import deque
from urllib.parse import quote, urlsplit

MAX_HEAD = 65_536
MAX_BODY = 1_048_576
IDLE_SECONDS = 15.0          # a connection idle this long is closed

_VERSIONS = frozenset({"HTTP/1.0", "HTTP/1.1"})
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
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


class _Framing(enum.Enum):
    """How the end of the body being read is found (RFC 9112 6.3)."""
    NONE = 0
    LENGTH = 1
    CHUNKED = 2
    UNTIL_CLOSE = 3


class _Chunk(enum.Enum):
    """Where a chunked body is: the size line, the data, the CRLF after it, the trailer."""
    SIZE = 0
    DATA = 1
    DATA_END = 2
    TRAILER = 3


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
        self._buffer = bytearray()
        self._head: tuple[int, dict[str, str]] | None = None
        self._framing = _Framing.NONE
        self._left = 0                 # LENGTH: body bytes to come; CHUNKED: of this chunk
        self._chunk = _Chunk.SIZE
        self._trailer = 0              # bytes of trailer fields so far
        self._body = bytearray()
        self._oversized = False

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
        if self._head is not None and self._framing is _Framing.UNTIL_CLOSE and self.waiting:
            self._finish()
        self._stop_watching()
        self._fail_all(exc or ConnectionResetError("the connection was closed by the peer"))

    def data_received(self, data: bytes) -> None:
        if self.closing or self.closed:
            return                     # nothing more is expected on this connection
        self._buffer += data
        try:
            while self._parse_one() and not self.closing:
                pass
        except HttpProtocolError as error:
            self.abort(error)

    # -- response parsing -----------------------------------------------------------------
    def _parse_one(self) -> bool:
        """Read what the buffer holds of the current response; True when one was completed."""
        if self._head is None:
            buffer = self._buffer
            end = buffer.find(b"\r\n\r\n")
            if end < 0 or end > MAX_HEAD:
                if len(buffer) > MAX_HEAD:
                    raise HttpProtocolError("response head too large")
                return False
            status, headers = self._parse_head(bytes(buffer[:end]))
            del buffer[:end + 4]
            if 100 <= status < 200:     # interim response (100 Continue): not the answer
                return True
            if not self.waiting:
                raise HttpProtocolError("a response nobody asked for")
            self._begin(status, headers)
        framing = self._framing
        if framing is _Framing.LENGTH:
            if self._left:
                self._left -= self._take(self._left)
            return self._left == 0 and self._finish()
        if framing is _Framing.CHUNKED:
            return self._parse_chunked()
        if framing is _Framing.UNTIL_CLOSE:
            self._take(len(self._buffer))
            return False
        return self._finish()

    @staticmethod
    def _parse_head(raw: bytes) -> tuple[int, dict[str, str]]:
        lines = raw.decode("latin-1").split("\r\n")
        version, _, rest = lines[0].partition(" ")
        code = rest[:3]
        if version not in _VERSIONS or not _is_number(code, 3, 3) or rest[3:4] not in ("", " "):
            raise HttpProtocolError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                name, value = name.strip().lower(), value.strip()
                headers[name] = f"{headers[name]}, {value}" if name in headers else value
        if version == "HTTP/1.0" and "keep-alive" not in _tokens(headers.get("connection")):
            headers["connection"] = "close"
        return int(code), headers

    def _begin(self, status: int, headers: dict[str, str]) -> None:
        """Decide how the body of this response ends (RFC 9112 6.3)."""
        self._head = (status, headers)
        self._oversized = False
        codings = headers.get("transfer-encoding")
        if status in (204, 304):
            self._framing = _Framing.NONE
        elif codings is not None:
            if _tokens(codings)[-1:] == ["chunked"]:
                self._framing, self._chunk, self._trailer = _Framing.CHUNKED, _Chunk.SIZE, 0
            else:
                self._framing = _Framing.UNTIL_CLOSE
        elif "content-length" in headers:
            length = headers["content-length"]
            if not _is_number(length, 1, 18):
                raise HttpProtocolError(f"bad Content-Length {length!r}")
            self._framing, self._left = _Framing.LENGTH, int(length)
        elif _closes(headers):
            self._framing = _Framing.UNTIL_CLOSE
        else:
            # RFC 9112 would read until the server closes; a server that neither says how
            # long the body is nor closes means "no body" (waiting would hang).
            self._framing = _Framing.NONE

    def _take(self, size: int) -> int:
        """Move up to `size` body bytes out of the buffer; beyond MAX_BODY they are dropped."""
        buffer = self._buffer
        taken = min(size, len(buffer))
        if taken and not self._oversized:
            if len(self._body) + taken > MAX_BODY:
                self._oversized = True
                self._body = bytearray()
            else:
                self._body += buffer[:taken]
        del buffer[:taken]
        return taken

    def _parse_chunked(self) -> bool:
        buffer = self._buffer
        while True:
            if self._chunk is _Chunk.DATA:
                self._left -= self._take(self._left)
                if self._left:
                    return False
                self._chunk = _Chunk.DATA_END
            if self._chunk is _Chunk.DATA_END:
                if len(buffer) < 2:
                    return False
                if buffer[:2] != b"\r\n":
                    raise HttpProtocolError("a chunk of the body is not followed by CRLF")
                del buffer[:2]
                self._chunk = _Chunk.SIZE
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise HttpProtocolError("chunk size line or trailer too large")
                return False
            line = bytes(buffer[:end])
            del buffer[:end + 2]
            if self._chunk is _Chunk.TRAILER:
                if not line:
                    return self._finish()
                self._trailer += end + 2
                if self._trailer > MAX_HEAD:
                    raise HttpProtocolError("response trailer too large")
                continue
            size = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size):
                raise HttpProtocolError(f"bad chunk size {size[:20]!r}")
            self._left = int(size, 16)
            self._chunk = _Chunk.DATA if self._left else _Chunk.TRAILER

    def _finish(self) -> bool:
        status, headers = self._head
        body = bytes(self._body) if self._body else b""
        self._head = None
        if body:
            self._body = bytearray()
        pending = self.waiting.popleft()
        if not pending.future.done():
            pending.future.set_result(PipelineResponse(status, headers, body))
        self._used_at = self._answered_at = self.loop.time()
        if _closes(headers):
            # The server processes nothing more on this connection (RFC 9112 9.6): what is
            # behind moves to a new one now, before any later request could get there first,
            # and this one is closed by us, whatever the server does.
            left, self.waiting = list(self.waiting), deque()
            self._close()
            self.client._resubmit(self.key, left)
        elif self.waiting:
            head = self.waiting[0]
            self._watch_by(max(head.sent_at, self._answered_at) + head.timeout)
        elif not self.closed:
            self._watch_by(self._used_at + IDLE_SECONDS)
        return True

    def _fail_all(self, error: BaseException) -> None:
        while self.waiting:
            pending = self.waiting.popleft()
            if not pending.future.done():
                pending.future.set_exception(error)


def _is_number(text: str, shortest: int, longest: int) -> bool:
    """ASCII digits only (no sign, space, '_' or other Unicode digits, which int() takes)."""
    return shortest <= len(text) <= longest and text.isascii() and text.isdigit()


def _closes(headers: dict[str, str]) -> bool:
    """Whether the server closes the connection after this response."""
    connection = headers.get("connection")
    return connection is not None and "close" in _tokens(connection)


def _tokens(value: str | None) -> list[str]:
    """The comma-separated tokens of a header such as Connection or Transfer-Encoding."""
    return [token.strip().lower() for token in value.split(",")] if value else []


class PipelineClient:
    """One pipelined connection per destination URL (scheme, host, port, path)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None):
        self.ssl_context = ssl_context
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
            connection = self._connections[key] = _Connection(self, key)
            connection.connecting = asyncio.get_running_loop().create_task(self._connect(connection))
        connection.submit(data, future, timeout)

    def _resubmit(self, key: tuple, pending: list[_Pending]) -> None:
        for item in pending:
            if not item.future.done():
                self._submit(key, item.data, item.future, item.timeout)

    async def _connect(self, connection: _Connection) -> None:
        scheme, host, port, _ = connection.key
        try:
            await asyncio.get_running_loop().create_connection(
                lambda: connection, host, port,
                ssl=(self.ssl_context or ssl.create_default_context()) if scheme == "https" else None)
        except Exception as error:   # refused, unreachable, TLS: every waiter learns why
            connection.connecting = None
            connection.abort(error)

    def _forget(self, connection: _Connection) -> None:
        if self._connections.get(connection.key) is connection:
            del self._connections[connection.key]

    async def close(self) -> None:
        for connection in list(self._connections.values()):
            connection.abort(ConnectionAbortedError("the client was closed"))
        self._connections.clear()
