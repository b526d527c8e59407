"""The pipelined HTTP/1.1 client notifications are sent with: order, framing, failures."""
from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bindings.http_pipeline import HttpProtocolError, PipelineClient
from tests.conftest import free_port


@pytest.fixture
async def client():
    pipeline = PipelineClient()
    try:
        yield pipeline
    finally:
        await pipeline.close()


async def test_concurrent_requests_arrive_in_call_order_and_get_their_own_answer(client):
    arrived = []

    async def handle(request: web.Request) -> web.Response:
        number = int(request.headers["X-Number"])
        arrived.append(number)
        await asyncio.sleep(0.001 * (number % 3))   # uneven handling time, not a test wait
        return web.Response(text=str(number), headers={"X-M2M-RSC": "2000"})

    app = web.Application()
    app.router.add_post("/n", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        answers = await asyncio.gather(*(
            client.request("POST", f"http://127.0.0.1:{port}/n", {"X-Number": str(i)}, b"{}", 5)
            for i in range(100)))
    finally:
        await runner.cleanup()
    assert arrived == list(range(100))
    assert [int(a.body) for a in answers] == list(range(100))
    assert all(a.status == 200 and a.headers["x-m2m-rsc"] == "2000" for a in answers)


EMPTY_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


class ScriptedServer:
    """A raw TCP server answering each request with the next scripted chunk of bytes
    (None = close the connection without answering).  `keep_open`: never close a
    connection, even after answering "Connection: close" (a sloppy server)."""

    def __init__(self, answers: list[bytes | None], keep_open: bool = False):
        self.answers = list(answers)
        self.keep_open = keep_open
        self.requests: list[bytes] = []
        self.connections = 0
        self.client_closed = asyncio.Event()     # the client closed a connection
        self._writers: list[asyncio.StreamWriter] = []
        self.port = free_port()
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> "ScriptedServer":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        return self

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        for writer in self._writers:
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                answer = self.answers.pop(0) if self.answers else EMPTY_OK
                if answer is None:
                    writer.transport.abort()
                    return
                writer.write(answer)
                await writer.drain()
                if not self.keep_open and (b"Connection: close" in answer or answer.startswith(b"HTTP/1.0")):
                    writer.close()
                    return
        except asyncio.IncompleteReadError as eof:
            if not eof.partial:
                self.client_closed.set()
            writer.close()
        except ConnectionError:
            writer.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/x"


async def test_chunked_and_interim_responses_are_framed(client):
    chunked = (b"HTTP/1.1 100 Continue\r\n\r\n"
               b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n")
    with_trailer = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX-T: 1\r\n\r\n"
    async with ScriptedServer([chunked, with_trailer]) as server:
        first, second = await asyncio.gather(client.request("POST", server.url, {}, b"1", 5),
                                             client.request("POST", server.url, {}, b"2", 5))
    assert (first.status, first.body) == (200, b"abcdefg")
    assert (second.status, second.body) == (201, b"hi")


async def test_requests_behind_a_connection_close_are_resent_on_a_new_connection(client):
    closing = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\na"
    async with ScriptedServer([closing, closing]) as server:
        answers = await asyncio.gather(*(client.request("POST", server.url, {"X-N": str(i)}, b"", 5)
                                         for i in range(4)))
        assert [a.status for a in answers] == [200] * 4
        assert server.connections >= 3
        assert [r.split(b"X-N: ")[1][:1] for r in server.requests] == [b"0", b"1", b"2", b"3"]


async def test_http_1_0_body_runs_until_the_connection_closes(client):
    async with ScriptedServer([b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close"]) as server:
        answer = await client.request("POST", server.url, {}, b"", 5)
    assert answer.body == b"until close"


async def test_a_reset_fails_every_request_in_flight(client):
    async with ScriptedServer([None]) as server:
        results = await asyncio.gather(*(client.request("POST", server.url, {}, b"", 5) for _ in range(3)),
                                       return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results), results


async def test_garbage_is_a_protocol_error(client):
    async with ScriptedServer([b"SMTP ready\r\n\r\n"]) as server:
        with pytest.raises(HttpProtocolError):
            await client.request("POST", server.url, {}, b"", 5)


async def test_refused_connection_raises(client):
    with pytest.raises(OSError):
        await client.request("POST", f"http://127.0.0.1:{free_port()}/x", {}, b"", 5)


async def test_a_timeout_abandons_the_connection_and_the_next_request_uses_a_new_one(client):
    async with ScriptedServer([b""]) as server:      # first request: accepted, never answered
        with pytest.raises(asyncio.TimeoutError):
            await client.request("POST", server.url, {}, b"", 0.2)
        answer = await client.request("POST", server.url, {}, b"", 5)
    assert answer.status == 200 and server.connections == 2


HEAD_OK = b"HTTP/1.1 200 OK\r\n"


@pytest.mark.parametrize("answer, words", [
    (HEAD_OK + b"Content-Length: -1\r\n\r\nab", "Content-Length"),
    (HEAD_OK + b"Content-Length: +2\r\n\r\nab", "Content-Length"),
    (HEAD_OK + b"Content-Length: 1_0\r\n\r\n0123456789", "Content-Length"),
    (HEAD_OK + b"Content-Length: 1, 2\r\n\r\nab", "Content-Length"),
    ("HTTP/1.1 ²00 OK\r\nContent-Length: 0\r\n\r\n".encode("latin-1"), "status line"),
    (b"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", "status line"),
    (HEAD_OK + b"Transfer-Encoding: chunked\r\n\r\n0x2\r\nhi\r\n0\r\n\r\n", "chunk size"),
    (HEAD_OK + b"Transfer-Encoding: chunked\r\n\r\n-2\r\nhi\r\n0\r\n\r\n", "chunk size"),
    (HEAD_OK + b"Transfer-Encoding: chunked\r\n\r\n" + b"1" * 17 + b"\r\nhi\r\n0\r\n\r\n", "chunk size"),
    (HEAD_OK + b"Transfer-Encoding: chunked\r\n\r\n2\r\nhiXX0\r\n\r\n", "chunk"),
], ids=["length -1", "length +2", "length 1_0", "two lengths", "status non-ascii digit", "status 2000",
        "chunk 0x2", "chunk -2", "chunk 17 digits", "chunk without CRLF"])
async def test_malformed_framing_is_a_protocol_error(client, answer, words):
    """RFC 9112 6.3: a response whose length cannot be known for sure ends the connection."""
    async with ScriptedServer([answer]) as server:
        with pytest.raises(HttpProtocolError, match=words):
            await client.request("POST", server.url, {}, b"", 5)


BIG = 2 * 1_048_576


@pytest.mark.parametrize("big", [
    HEAD_OK + b"X-M2M-RSC: 2000\r\nContent-Length: %d\r\n\r\n" % BIG + b"a" * BIG,
    HEAD_OK + b"X-M2M-RSC: 2000\r\nTransfer-Encoding: chunked\r\n\r\n"
    + b"".join(b"%x\r\n" % 65_536 + b"a" * 65_536 + b"\r\n" for _ in range(BIG // 65_536)) + b"0\r\n\r\n",
], ids=["content-length", "chunked"])
async def test_a_huge_body_is_read_and_dropped_and_the_answer_counts(client, big):
    """The status is the answer; a body beyond MAX_BODY is not kept, and the next response on
    the connection is read as usual (no error, so the request is not sent again)."""
    async with ScriptedServer([big, HEAD_OK + b"Content-Length: 2\r\n\r\nok"]) as server:
        first, second = await asyncio.gather(client.request("POST", server.url, {}, b"1", 10),
                                             client.request("POST", server.url, {}, b"2", 10))
        assert (first.status, first.headers["x-m2m-rsc"], first.body) == (200, "2000", b"")
        assert (second.status, second.body) == (200, b"ok")
        assert server.connections == 1


async def test_a_transfer_coding_other_than_chunked_runs_until_the_connection_closes(client):
    answer = HEAD_OK + b"Transfer-Encoding: gzip\r\nConnection: close\r\n\r\nnot really gzip"
    async with ScriptedServer([answer]) as server:
        response = await client.request("POST", server.url, {}, b"", 5)
    assert (response.status, response.body) == (200, b"not really gzip")


class FakeTransport(asyncio.Transport):
    def __init__(self):
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


PIPELINED = (b"HTTP/1.1 100 Continue\r\n\r\n"
             b"HTTP/1.1 200 OK\r\nX-M2M-RSC: 2000\r\nContent-Length: 5\r\n\r\nfirst"
             b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"3;x=y\r\nsec\r\n3\r\nond\r\n0\r\nX-Trailer: 1\r\n\r\n"
             b"HTTP/1.1 204 No Content\r\n\r\n"
             b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 6\r\n\r\nfourth")


def _parse(pieces: list[bytes]) -> list[tuple[int, bytes]]:
    """Feed `pieces` to a connection waiting for four answers; what each request got."""
    from bindings.http_pipeline import _Connection
    loop = asyncio.get_running_loop()
    connection = _Connection(PipelineClient(), ("http", "127.0.0.1", 1, "/"))
    connection.connection_made(FakeTransport())
    futures = [loop.create_future() for _ in range(4)]
    for future in futures:
        connection.submit(b"request", future, 5.0)
    for piece in pieces:
        connection.data_received(piece)
    return [(f.result().status, f.result().body) if f.done() else None for f in futures]


async def test_pipelined_responses_are_framed_alike_however_the_bytes_arrive():
    expected = [(200, b"first"), (201, b"second"), (204, b""), (200, b"fourth")]
    assert _parse([PIPELINED]) == expected
    assert _parse([PIPELINED[i:i + 1] for i in range(len(PIPELINED))]) == expected
    for cut in range(1, len(PIPELINED)):
        assert _parse([PIPELINED[:cut], PIPELINED[cut:]]) == expected, cut


async def test_the_client_closes_a_connection_the_server_announced_it_closes(client):
    """RFC 9112 9.6: after a response with "Connection: close" the client closes, even if
    the server does not (else the socket would stay open for ever)."""
    closing = HEAD_OK + b"Content-Length: 0\r\nConnection: close\r\n\r\n"
    async with ScriptedServer([closing], keep_open=True) as server:
        answer = await client.request("POST", server.url, {}, b"", 5)
        assert answer.status == 200
        await asyncio.wait_for(server.client_closed.wait(), 5)


async def test_an_idle_connection_is_closed(client, monkeypatch):
    from bindings import http_pipeline
    monkeypatch.setattr(http_pipeline, "IDLE_SECONDS", 0.05)
    async with ScriptedServer([EMPTY_OK], keep_open=True) as server:
        assert (await client.request("POST", server.url, {}, b"", 5)).status == 200
        await asyncio.wait_for(server.client_closed.wait(), 5)
        assert client._connections == {}


async def test_a_slow_server_is_given_the_timeout_per_answer_not_for_the_whole_pipeline(client):
    """Six requests in flight to a server taking 0.1 s each: the last one waits 0.6 s in
    all, but never more than 0.1 s for its own answer, so a 0.35 s timeout is not hit."""
    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)                   # a slow receiver, not a test wait
        return web.Response(text=request.headers["X-N"])

    app = web.Application()
    app.router.add_post("/n", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        answers = await asyncio.gather(*(
            client.request("POST", f"http://127.0.0.1:{port}/n", {"X-N": str(i)}, b"", 0.35)
            for i in range(6)))
    finally:
        await runner.cleanup()
    assert [a.body for a in answers] == [str(i).encode() for i in range(6)]


async def test_a_connection_attempt_that_hangs_ends_with_the_timeout_and_is_cancelled(client, monkeypatch):
    attempts: list[asyncio.Future] = []

    async def never_connects(*args, **kwargs):
        attempt = asyncio.get_running_loop().create_future()
        attempts.append(attempt)
        await attempt                              # like a SYN sent into a black hole

    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", never_connects)
    with pytest.raises(asyncio.TimeoutError):
        await client.request("POST", "http://127.0.0.1:9/x", {}, b"", 0.1)
    [attempt] = attempts
    assert attempt.cancelled()


async def test_a_path_with_non_ascii_characters_is_sent_percent_encoded(client):
    """As any HTTP client does with an IRI (RFC 3987 3.1): UTF-8, percent-encoded; what is
    already encoded stays as it is."""
    async with ScriptedServer([EMPTY_OK]) as server:
        url = server.url.replace("/x", "/zähler/€uro%20?q=ä")
        assert (await client.request("POST", url, {}, b"", 5)).status == 200
    [request] = server.requests
    assert request.startswith(b"POST /z%C3%A4hler/%E2%82%ACuro%20?q=%C3%A4 HTTP/1.1\r\n")
