"""A sans-IO reader of HTTP/1.x responses: bytes in, events out (in the style of h11).

`ResponseReader.feed(data)` returns the events that the bytes complete, in order:
`Informational` (a 1xx interim response), `ResponseHead`, `Body` (any number of pieces),
`End`; or `Error` when the bytes are not an HTTP/1.x response, after which the reader stays
failed and returns nothing more.  `eof()` tells it the peer closed the connection: a body
that runs until the close ends there.  Responses may follow each other on one connection
(pipelining); after one that closes the connection (Connection: close, or HTTP/1.0 without
keep-alive) nothing more is read (RFC 9112 9.6).  Framing follows RFC 9112 6.3: a length
that cannot be known for sure is an error, never a guess.

Why its own module: the pipelined notification client (`http_pipeline`) owns sockets,
timers and request matching; the parsing of what comes back is pure, and is driven directly
by the fuzz tests (random splits of valid responses give the same events, random bytes an
Error, never an exception or a hang).  It must never do I/O and never raise on any input;
it keeps at most about MAX_HEAD bytes waiting (a head, a chunk-size line, a trailer), and
hands body bytes on instead of keeping them (bounding a body is the caller's business).
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass

MAX_HEAD = 65_536

_VERSIONS = frozenset({"HTTP/1.0", "HTTP/1.1"})
_STATUS_LINE_START = b"HTTP/1."
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


@dataclass(slots=True)
class Informational:
    """A 1xx interim response (100 Continue...): not the answer, which follows."""
    status: int


@dataclass(slots=True)
class ResponseHead:
    status: int
    headers: dict[str, str]     # lower-case names; repeated fields joined with ", "
    closes: bool                # the server closes the connection after this response


@dataclass(slots=True)
class Body:
    data: bytes


@dataclass(slots=True)
class End:
    """The response is complete."""


@dataclass(slots=True)
class Error:
    message: str


Event = Informational | ResponseHead | Body | End | Error


class _State(enum.Enum):
    HEAD = 0            # waiting for a status line and header fields
    LENGTH = 1          # Content-Length body
    CHUNKED = 2         # chunked body
    UNTIL_CLOSE = 3     # body that ends when the connection does
    CLOSED = 4          # the server closes after the last response: nothing more is read
    FAILED = 5


class _Chunk(enum.Enum):
    """Where a chunked body is: the size line, the data, the CRLF after it, the trailer."""
    SIZE = 0
    DATA = 1
    DATA_END = 2
    TRAILER = 3


class _Malformed(Exception):
    pass


class ResponseReader:
    """Reads the responses of one connection, one after the other."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._state = _State.HEAD
        self._closes = False           # of the response being read
        self._left = 0                 # LENGTH: body bytes to come; CHUNKED: of this chunk
        self._chunk = _Chunk.SIZE
        self._trailer = 0              # bytes of trailer fields so far
        self._scanned = 0              # HEAD: the buffer holds no end of head before this

    @property
    def failed(self) -> bool:
        return self._state is _State.FAILED

    @property
    def pending(self) -> int:
        """Bytes received and kept, waiting for the rest of a head, size line or trailer
        (never more than MAX_HEAD)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Event]:
        """The events `data` (the next bytes from the server) completes."""
        state = self._state
        if state is _State.CLOSED or state is _State.FAILED:
            return []
        events: list[Event] = []
        if state is _State.UNTIL_CLOSE and not self._buffer:
            if data:
                events.append(Body(bytes(data)))
            return events
        self._buffer += data
        try:
            while self._step(events):
                pass
        except _Malformed as error:
            self._state = _State.FAILED
            self._buffer = bytearray()
            events.append(Error(str(error)))
        return events

    def eof(self) -> list[Event]:
        """The server closed the connection: End of a body that ran until the close, an
        Error in the middle of any other response, nothing between responses."""
        state = self._state
        if state is _State.CLOSED or state is _State.FAILED:
            return []
        self._state = _State.CLOSED
        if state is _State.UNTIL_CLOSE:
            return [End()]
        if state is _State.HEAD and not self._buffer:
            return []
        self._state = _State.FAILED
        return [Error("the connection closed in the middle of a response")]

    # -- the state machine ----------------------------------------------------------------
    def _step(self, events: list[Event]) -> bool:
        """Consume what the buffer holds for the current state; True to go on."""
        state = self._state
        if state is _State.HEAD:
            return self._head(events)
        if state is _State.LENGTH:
            if self._left:
                self._left -= self._take(self._left, events)
            if self._left:
                return False
            return self._end(events)
        if state is _State.CHUNKED:
            return self._chunked(events)
        if state is _State.UNTIL_CLOSE:
            self._take(len(self._buffer), events)
        return False

    def _head(self, events: list[Event]) -> bool:
        buffer = self._buffer
        if not buffer:
            return False
        if not _STATUS_LINE_START.startswith(bytes(buffer[:len(_STATUS_LINE_START)])):
            raise _Malformed(f"not an HTTP/1.x status line: {_first_line(buffer)!r}")
        end = buffer.find(b"\r\n\r\n", self._scanned)
        if end < 0 or end > MAX_HEAD:
            if len(buffer) > MAX_HEAD:
                raise _Malformed("response head too large")
            self._scanned = max(0, len(buffer) - 3)     # a head that comes byte by byte
            return False
        self._scanned = 0
        status, headers, closes = _parse_head(bytes(buffer[:end]))
        del buffer[:end + 4]
        if 100 <= status < 200:
            events.append(Informational(status))
            return True
        self._closes = closes
        self._begin(status, headers)            # a framing error comes before the head
        events.append(ResponseHead(status, headers, closes))
        if self._state is _State.HEAD:          # no body
            return self._end(events)
        return True

    def _begin(self, status: int, headers: dict[str, str]) -> None:
        """Decide how the body of this response ends (RFC 9112 6.3)."""
        codings = headers.get("transfer-encoding")
        if status in (204, 304):
            return
        if codings is not None:
            if _tokens(codings)[-1:] == ["chunked"]:
                self._state, self._chunk, self._trailer = _State.CHUNKED, _Chunk.SIZE, 0
            else:
                self._state = _State.UNTIL_CLOSE
        elif "content-length" in headers:
            length = headers["content-length"]
            if not _is_number(length, 1, 18):
                raise _Malformed(f"bad Content-Length {length!r}")
            self._state, self._left = _State.LENGTH, int(length)
        elif self._closes:
            self._state = _State.UNTIL_CLOSE
        # else RFC 9112 would read until the server closes; a server that neither says how
        # long the body is nor closes means "no body" (waiting would hang).

    def _end(self, events: list[Event]) -> bool:
        events.append(End())
        if self._closes:
            self._state = _State.CLOSED
            self._buffer = bytearray()
            return False
        self._state = _State.HEAD
        return True

    def _take(self, size: int, events: list[Event]) -> int:
        """Hand on up to `size` body bytes from the buffer."""
        buffer = self._buffer
        taken = min(size, len(buffer))
        if taken:
            events.append(Body(bytes(buffer[:taken])))
            del buffer[:taken]
        return taken

    def _chunked(self, events: list[Event]) -> bool:
        buffer = self._buffer
        while True:
            if self._chunk is _Chunk.DATA:
                self._left -= self._take(self._left, events)
                if self._left:
                    return False
                self._chunk = _Chunk.DATA_END
            if self._chunk is _Chunk.DATA_END:
                if len(buffer) < 2:
                    return False
                if buffer[:2] != b"\r\n":
                    raise _Malformed("a chunk of the body is not followed by CRLF")
                del buffer[:2]
                self._chunk = _Chunk.SIZE
            end = buffer.find(b"\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD:
                    raise _Malformed("chunk size line or trailer too large")
                return False
            line = bytes(buffer[:end])
            del buffer[:end + 2]
            if self._chunk is _Chunk.TRAILER:
                if not line:
                    return self._end(events)
                self._trailer += end + 2
                if self._trailer > MAX_HEAD:
                    raise _Malformed("response trailer too large")
                continue
            size = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE.fullmatch(size):
                raise _Malformed(f"bad chunk size {size[:20]!r}")
            self._left = int(size, 16)
            self._chunk = _Chunk.DATA if self._left else _Chunk.TRAILER


def _parse_head(raw: bytes) -> tuple[int, dict[str, str], bool]:
    lines = raw.decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code = rest[:3]
    if version not in _VERSIONS or not _is_number(code, 3, 3) or rest[3:4] not in ("", " "):
        raise _Malformed(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
    connection = _tokens(headers.get("connection"))
    closes = "close" in connection or (version == "HTTP/1.0" and "keep-alive" not in connection)
    return int(code), headers, closes


def _first_line(buffer: bytearray) -> str:
    return bytes(buffer[:80]).split(b"\r\n", 1)[0].decode("latin-1")


def _is_number(text: str, shortest: int, longest: int) -> bool:
    """ASCII digits only (no sign, space, '_' or other Unicode digits, which int() takes)."""
    return shortest <= len(text) <= longest and text.isascii() and text.isdigit()


def _tokens(value: str | None) -> list[str]:
    """The comma-separated tokens of a header such as Connection or Transfer-Encoding."""
    return [token.strip().lower() for token in value.split(",")] if value else []
