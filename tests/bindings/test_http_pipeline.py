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
    (None = close the connection without answering)."""

    def __init__(self, answers: list[bytes | None]):
        self.answers = list(answers)
        self.requests: list[bytes] = []
        self.connections = 0
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
                if b"Connection: close" in answer or answer.startswith(b"HTTP/1.0"):
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
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
