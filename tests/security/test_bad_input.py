"""Bad input that used to end in a 500, a traceback or a silent drop (issue 18): each answers
a clear oneM2M error, and a client's fault is never logged as an ERROR."""
from __future__ import annotations

import asyncio
import json
import logging
import socket

import pytest

from tests.bindings.conftest import start_coap_cse

AE = json.dumps({"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}).encode()


async def exchange(url: str, data: bytes) -> bytes:
    """Send raw bytes to the HTTP binding; everything it answers until it closes (or 5 s)."""
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    await writer.drain()
    chunks = []
    try:
        while chunk := await asyncio.wait_for(reader.read(65536), 5):
            chunks.append(chunk)
    except asyncio.TimeoutError:
        pass
    writer.close()
    return b"".join(chunks)


def post(body: bytes, *extra: str, originator: str = "Cmeter") -> bytes:
    head = ["POST /cse-in HTTP/1.1", "Host: cse", f"X-M2M-Origin: {originator}", "X-M2M-RI: r1",
            "X-M2M-RVI: 3", "Content-Type: application/json;ty=2", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_a_body_that_is_not_what_its_content_encoding_says_is_4000(start_http_cse, caplog, encoding):
    caplog.set_level(logging.DEBUG)
    async with start_http_cse() as (cse, url):
        answer = await exchange(url, post(AE, f"Content-Encoding: {encoding}"))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer
    assert b"X-M2M-RSC: 4000" in head and b"Connection: close" in head
    assert encoding in json.loads(body)["m2m:dbg"]
    # The connection was closed after the answer (the rest of the body cannot be trusted).
    assert answer.count(b"HTTP/1.1") == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], \
        [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_compressed_body_is_read(start_http_cse):
    import gzip
    async with start_http_cse() as (cse, url):
        answer = await exchange(url, post(gzip.compress(AE), "Content-Encoding: gzip", "Connection: close"))
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]


async def test_an_unparsable_request_says_connection_close(start_http_cse):
    async with start_http_cse() as (cse, url):
        answer = await exchange(url, b"GET /cse-in HTTP/1.1\r\nHost: cse\r\nBad Header\r\n\r\n")
    head = answer.partition(b"\r\n\r\n")[0]
    assert b" 400 " in head.split(b"\r\n")[0] and b"X-M2M-RSC: 4000" in head
    assert b"Connection: close" in head


async def test_a_body_beyond_the_limit_says_connection_close(start_http_cse):
    async with start_http_cse(**{"http.max_body_bytes": 100}) as (cse, url):
        answer = await exchange(url, post(AE + b" " * 200))
    head = answer.partition(b"\r\n\r\n")[0]
    assert b"X-M2M-RSC: 4000" in head and b"Connection: close" in head


@pytest.mark.parametrize("rn, bad", [("a/b", "/"), ("a%2Fb", "%"), ("a%20b", "%"), ("a b", " "),
                                     ("a?b", "?"), ("a#b", "#"), ("a\\b", "\\"), ("a\u0007b", "\u0007")])
async def test_a_name_no_address_can_carry_is_refused_at_create(core, rn, bad):
    shown = repr(bad)
    await core.register_ae("Cm", rn="m")
    response = await core.create("cse-in/m", 3, {"m2m:cnt": {"rn": rn}}, fr="Cm")
    assert response.rsc == 4000, response.pc
    assert "no address can carry" in response.pc["m2m:dbg"] and shown in response.pc["m2m:dbg"]
    assert (await core.retrieve("cse-in/m", fr="Cm", rcn=4)).pc["m2m:ae"].get("m2m:cnt") is None


@pytest.mark.parametrize("originator", ["Xother", "Cm/x", "C%2F", "/id-in/Cm"])
async def test_a_bad_ae_id_answers_what_the_readme_says(core, originator):
    readme = open("README.md", encoding="utf-8").read()
    row = next(line for line in readme.splitlines() if line.startswith("| `allowed_ae_originators`"))
    documented = int(row.rsplit("else ", 1)[1][:4])
    response = await core.create("cse-in", 2, {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"]}},
                                 fr=originator)
    assert response.rsc == documented == 4126, response.pc
    assert "cannot register" in response.pc["m2m:dbg"]


async def test_a_coap_path_that_is_not_utf8_gets_4_00(caplog):
    caplog.set_level(logging.DEBUG)
    running = await start_coap_cse(**{"http.enabled": False})
    try:
        port = int(running.url.rsplit(":", 1)[1])
        # CON GET, message ID 0x1234, a one-byte token, Uri-Path (option 11) = ff fe.
        datagram = bytes([0x41, 0x01, 0x12, 0x34, 0xAA, 0xB2, 0xFF, 0xFE])
        loop = asyncio.get_running_loop()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", port))
            await loop.sock_sendall(sock, datagram)
            answer = await asyncio.wait_for(loop.sock_recv(sock, 2048), 10)
    finally:
        await running.client.shutdown()
        await running.cse.stop()
    assert answer[1] == 0x80, answer                       # code 4.00 Bad Request
    assert answer[2:4] == b"\x12\x34" and answer[4] == 0xAA   # same message ID and token
    assert b"Uri-Path" in answer and b"UTF-8" in answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
