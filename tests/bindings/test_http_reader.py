"""The sans-IO HTTP/1.x response reader as tables: bytes in, events out (no sockets).
Random splits and random bytes are in tests/security/test_fuzz_http_reader.py."""
from __future__ import annotations

import pytest

from bindings.http_reader import MAX_HEAD, Body, End, Error, Informational, ResponseHead, ResponseReader


def read(data: bytes, eof: bool = False) -> list:
    """All events of `data`, with adjacent Body pieces joined."""
    reader = ResponseReader()
    events = reader.feed(data) + (reader.eof() if eof else [])
    return merged(events)


def merged(events: list) -> list:
    out: list = []
    for event in events:
        if isinstance(event, Body) and out and isinstance(out[-1], Body):
            out[-1] = Body(out[-1].data + event.data)
        else:
            out.append(event)
    return out


def head(status: int, closes: bool = False, **headers: str) -> ResponseHead:
    return ResponseHead(status, {name.replace("_", "-"): value for name, value in headers.items()}, closes)


GOOD = [
    ("content-length", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-M2M-RSC: 2000\r\n\r\nok", False,
     [head(200, content_length="2", x_m2m_rsc="2000"), Body(b"ok"), End()]),
    ("empty", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", False, [head(200, content_length="0"), End()]),
    ("no length, keep-alive: no body", b"HTTP/1.1 200 OK\r\n\r\n", False, [head(200), End()]),
    ("204 ignores a length", b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", False,
     [head(204, content_length="5"), End()]),
    ("304", b"HTTP/1.1 304 Not Modified\r\n\r\n", False, [head(304), End()]),
    ("reason phrase optional", b"HTTP/1.1 201\r\nContent-Length: 0\r\n\r\n", False,
     [head(201, content_length="0"), End()]),
    ("chunked with extension and trailer",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;x=y\r\nabcd\r\n3\r\nefg\r\n0\r\nX-T: 1\r\n\r\n",
     False, [head(200, transfer_encoding="chunked"), Body(b"abcdefg"), End()]),
    ("chunk sizes in hex", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n",
     False, [head(200, transfer_encoding="chunked"), Body(b"0123456789"), End()]),
    ("interim responses are not the answer",
     b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
     False, [Informational(100), Informational(102), head(200, content_length="0"), End()]),
    ("repeated fields are joined, names lower-case", b"HTTP/1.1 200 OK\r\nVia: a\r\nVIA: b\r\nX:  sp  \r\n\r\n",
     False, [head(200, via="a, b", x="sp"), End()]),
    ("HTTP/1.0 runs until the close", b"HTTP/1.0 200 OK\r\n\r\nuntil close", True,
     [head(200, closes=True), Body(b"until close"), End()]),
    ("HTTP/1.0 keep-alive with a length", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
     False, [head(200, connection="keep-alive", content_length="1"), Body(b"x"), End()]),
    ("other coding runs until the close", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\nzz",
     True, [head(200, closes=True, transfer_encoding="gzip", connection="close"), Body(b"zz"), End()]),
    ("nothing is read after a closing response",
     b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", False,
     [head(200, closes=True, content_length="0", connection="close"), End()]),
    ("pipelined responses", b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 404 Not Found\r\n"
     b"Content-Length: 1\r\n\r\nb", False,
     [head(200, content_length="1"), Body(b"a"), End(), head(404, content_length="1"), Body(b"b"), End()]),
    ("a close between responses is no error", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True,
     [head(200, content_length="0"), End()]),
]


@pytest.mark.parametrize("name, data, eof, events", GOOD, ids=[row[0] for row in GOOD])
def test_responses_give_their_events(name, data, eof, events):
    assert read(data, eof) == events


def test_bytes_arriving_one_by_one_give_the_same_events():
    for name, data, eof, events in GOOD:
        reader = ResponseReader()
        pieces = [event for i in range(len(data)) for event in reader.feed(data[i:i + 1])]
        assert merged(pieces + (reader.eof() if eof else [])) == events, name


OK = b"HTTP/1.1 200 OK\r\n"
BAD = [
    ("not HTTP", b"SMTP ready\r\n", "not an HTTP/1.x status line: 'SMTP ready'"),
    ("refused at the first byte", b"<", "not an HTTP/1.x status line"),
    ("HTTP/2", b"HTTP/2 200\r\n\r\n", "status line"),
    ("HTTP/1.2", b"HTTP/1.2 200 OK\r\n\r\n", "status line"),
    ("four-digit status", b"HTTP/1.1 2000 OK\r\n\r\n", "status line"),
    ("non-ASCII digit", "HTTP/1.1 ²00 OK\r\n\r\n".encode("latin-1"), "status line"),
    ("negative length", OK + b"Content-Length: -1\r\n\r\n", "bad Content-Length '-1'"),
    ("two lengths", OK + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n", "bad Content-Length '1, 2'"),
    ("length with a sign", OK + b"Content-Length: +2\r\n\r\n", "Content-Length"),
    ("chunk size 0x2", OK + b"Transfer-Encoding: chunked\r\n\r\n0x2\r\nhi\r\n", "bad chunk size b'0x2'"),
    ("chunk size of 17 digits", OK + b"Transfer-Encoding: chunked\r\n\r\n" + b"1" * 17 + b"\r\n", "chunk size"),
    ("chunk without CRLF", OK + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhiXX", "not followed by CRLF"),
    ("head too large", OK + b"X: " + b"a" * MAX_HEAD, "response head too large"),
    ("chunk-size line too large", OK + b"Transfer-Encoding: chunked\r\n\r\n" + b"1" * (MAX_HEAD + 1),
     "chunk size line or trailer too large"),
    ("trailer too large", OK + b"Transfer-Encoding: chunked\r\n\r\n0\r\n" + b"X: y\r\n" * (MAX_HEAD // 6 + 1),
     "response trailer too large"),
]


@pytest.mark.parametrize("name, data, words", BAD, ids=[row[0] for row in BAD])
def test_malformed_responses_end_with_an_error_event(name, data, words):
    reader = ResponseReader()
    events = reader.feed(data)
    assert isinstance(events[-1], Error) and words in events[-1].message, events
    assert reader.failed and reader.pending == 0
    assert reader.feed(OK + b"\r\n") == [] and reader.eof() == []


@pytest.mark.parametrize("data", [OK, OK + b"Content-Length: 5\r\n\r\nab",
                                  OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nab"], ids=["in the head", "in a body",
                                                                                             "in a chunk"])
def test_a_close_in_the_middle_of_a_response_is_an_error(data):
    reader = ResponseReader()
    reader.feed(data)
    [error] = reader.eof()
    assert isinstance(error, Error) and "middle of a response" in error.message


def test_what_waits_for_more_bytes_is_bounded():
    reader = ResponseReader()
    assert reader.feed(OK + b"X: " + b"a" * (MAX_HEAD - 30)) == []
    assert 0 < reader.pending <= MAX_HEAD
