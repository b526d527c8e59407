"""Property-based fuzzing of the sans-IO HTTP response reader (bindings/http_reader.py), which
parses every answer to a notification: whatever a notification target sends back, the CSE
must neither crash, nor hang, nor misframe the answers behind it.

* Valid response streams (interim responses, Content-Length, chunked bodies with extensions
  and trailers, 204/304, bodies that run until the close, pipelined responses) give exactly
  the events their model says, however the bytes are split into pieces.
* Random bytes, and valid streams with bytes flipped, inserted or cut, never raise: the
  events stay well-formed (heads, bodies and ends in order, at most one Error and nothing
  after it), bytes that cannot start a status line give an Error at once, and what the
  reader keeps waiting for more is bounded by MAX_HEAD.

CSE_FUZZ_EXAMPLES / CSE_FUZZ_SEED work as for the other fuzzers.
"""
from __future__ import annotations

import os

from hypothesis import given, seed
from hypothesis import strategies as st

from bindings.http_reader import MAX_HEAD, Body, End, Error, Informational, ResponseHead, ResponseReader

from tests.bindings.test_http_reader import merged

from .test_fuzz_http import _fuzz_settings

EXAMPLES = int(os.environ.get("CSE_FUZZ_EXAMPLES", "300"))

FIELD_NAMES = ["X-M2M-RSC", "X-M2M-RI", "Content-Type", "Server", "Date", "X-Custom", "Content-Location"]
FIELD_VALUES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=20)
BODIES = st.binary(max_size=300)


@st.composite
def chunked(draw, body: bytes) -> bytes:
    cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
    pieces = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)]) if b > a]
    out = b""
    for piece in pieces:
        size = draw(st.sampled_from(["%x", "%X", "%04x"])) % len(piece)
        extension = draw(st.sampled_from(["", ";a=b", ";x", " ; q=\"1\""]))
        out += f"{size}{extension}\r\n".encode() + piece + b"\r\n"
    trailer = draw(st.sampled_from([b"", b"X-Trailer: 1\r\n", b"A: 1\r\nB: 2\r\n"]))
    return out + b"0\r\n" + trailer + b"\r\n"


@st.composite
def responses(draw, last: bool):
    """(bytes, expected events, closes) of one response; only the last may run until the close."""
    interim = draw(st.lists(st.sampled_from([100, 102, 103]), max_size=2))
    out = b"".join(b"HTTP/1.1 %d Info\r\n\r\n" % code for code in interim)
    events: list = [Informational(code) for code in interim]
    status = draw(st.sampled_from([200, 201, 202, 204, 304, 400, 403, 404, 409, 500, 503]))
    names = draw(st.lists(st.sampled_from(FIELD_NAMES), unique=True, max_size=4))
    fields = {name: draw(FIELD_VALUES) for name in names}
    framing = draw(st.sampled_from(["length", "chunked", "none"] + (["close"] if last else [])))
    body = b"" if status in (204, 304) or framing == "none" else draw(BODIES)
    closes = framing == "close" or (last and draw(st.booleans()))
    version = "HTTP/1.0" if framing == "close" and draw(st.booleans()) else "HTTP/1.1"
    if framing == "length":
        fields["Content-Length"] = str(len(body))
    elif framing == "chunked":
        fields["Transfer-Encoding"] = "chunked"
    if closes and version == "HTTP/1.1":
        fields["Connection"] = "close"
    reason = draw(st.sampled_from([" OK", " Whatever It Says", ""]))
    out += f"{version} {status}{reason}\r\n".encode() + b"".join(
        f"{name}:{draw(st.sampled_from(['', ' ']))}{value}\r\n".encode() for name, value in fields.items()) + b"\r\n"
    if framing == "chunked" and status not in (204, 304):
        out += draw(chunked(body))
    elif framing in ("length", "close") and status not in (204, 304):
        out += body
    events.append(ResponseHead(status, {name.lower(): value for name, value in fields.items()}, closes))
    if body:
        events.append(Body(body))
    events.append(End())
    return out, events, closes or framing == "close"


@st.composite
def streams(draw):
    """A pipelined stream of responses on one connection, with its expected events."""
    count = draw(st.integers(1, 4))
    data, events, until_close = b"", [], False
    for index in range(count):
        raw, expected, closes = draw(responses(last=index == count - 1))
        data += raw
        events += expected
        until_close = closes
    return data, events, until_close


@st.composite
def splits(draw, data: bytes) -> list[bytes]:
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=12))))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


def check_well_formed(events: list) -> None:
    """(Informational* ResponseHead Body* End)* then maybe a partial response, then maybe Error."""
    in_body = False
    for index, event in enumerate(events):
        if isinstance(event, Error):
            assert index == len(events) - 1, events
            assert isinstance(event.message, str) and event.message
        elif isinstance(event, ResponseHead):
            # Three digits; outside 100..599 a client processes it as a server error (RFC 9110 15).
            assert not in_body and 0 <= event.status <= 999 and not 100 <= event.status < 200, events
            in_body = True
        elif isinstance(event, Informational):
            assert not in_body and 100 <= event.status < 200, events
        elif isinstance(event, Body):
            assert in_body and event.data, events
        else:
            assert isinstance(event, End) and in_body, events
            in_body = False


def feed_all(pieces: list[bytes], eof: bool) -> list:
    reader = ResponseReader()
    events: list = []
    for piece in pieces:
        events += reader.feed(piece)
        assert reader.pending <= MAX_HEAD
    if eof:
        events += reader.eof()
    return events


def run(test):
    test = _fuzz_settings()(test)
    if "CSE_FUZZ_SEED" in os.environ:
        test = seed(int(os.environ["CSE_FUZZ_SEED"]))(test)
    test()


def test_valid_responses_give_the_same_events_however_they_are_split():
    @given(st.data())
    def one_stream(data):
        raw, expected, until_close = data.draw(streams())
        assert merged(feed_all([raw], eof=until_close)) == expected
        assert merged(feed_all(data.draw(splits(raw)), eof=until_close)) == expected

    run(one_stream)


def test_random_bytes_give_an_error_never_an_exception():
    @given(st.binary(max_size=400), st.data())
    def garbage(raw, data):
        events = feed_all(data.draw(splits(raw)), eof=data.draw(st.booleans()))
        check_well_formed(events)
        if raw and not b"HTTP/1.".startswith(raw[:7]):
            assert len(events) == 1 and isinstance(events[0], Error), events

    run(garbage)


def test_damaged_responses_never_raise_and_stay_well_formed():
    @given(st.data())
    def damaged(data):
        raw, _, _ = data.draw(streams())
        raw = bytearray(raw)
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(raw)))
            action = data.draw(st.sampled_from(["flip", "insert", "cut"]))
            if action == "flip" and position < len(raw):
                raw[position] ^= 1 << data.draw(st.integers(0, 7))
            elif action == "insert":
                raw[position:position] = data.draw(st.sampled_from([b"\r\n", b":", b";", b"0", b"\x00", b"HTTP/1.1 "]))
            else:
                del raw[position:position + data.draw(st.integers(1, 8))]
        check_well_formed(feed_all(data.draw(splits(bytes(raw))), eof=data.draw(st.booleans())))

    run(damaged)


def test_an_endless_head_is_refused_not_waited_for():
    reader = ResponseReader()
    events: list = []
    piece = b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 4093
    for _ in range(MAX_HEAD // len(piece) + 2):
        events += reader.feed(piece)
        assert reader.pending <= MAX_HEAD
    assert [type(event) for event in events] == [Error] and "too large" in events[0].message
