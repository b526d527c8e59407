"""Requests the HTTP fuzzer (test_fuzz_http.py) found mishandled, kept as regression tests.

Each was answered wrongly before its fix (no oneM2M response, 5000, or a crash)."""
from __future__ import annotations

import asyncio

import pytest


async def raw_exchange(url: str, data: bytes) -> bytes:
    host, port = url.split("://")[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


@pytest.mark.parametrize("request_bytes,words", [
    (b"FOO / HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: Cx\r\n\r\n", b"Invalid method"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad\x01Header: 1\r\n\r\n", b"malformed HTTP request"),
    (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", b"malformed HTTP request"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n", b"malformed HTTP request"),
])
async def test_unparsable_http_gets_a_onem2m_error(http_cse, request_bytes, words):
    _, client = http_cse
    answer = await raw_exchange(client.base, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ", 2)[1] == b"400"
    assert b"X-M2M-RSC: 4000" in head and b"application/json" in head
    assert b'"m2m:dbg"' in body and words in body


@pytest.mark.parametrize("query", ["da=1", "sqi=true", "tqi=0", "asi=false"])
async def test_boolean_query_parameters_are_accepted(http_cse, query):
    _, client = http_cse
    response, body = await client.call("GET", f"/cse-in?{query}")
    assert response.headers["X-M2M-RSC"] == "2000", body


async def test_boolean_query_parameter_with_a_bad_value(http_cse):
    _, client = http_cse
    response, body = await client.call("GET", "/cse-in?da=maybe")
    assert response.headers["X-M2M-RSC"] == "4000" and b"'da'" in body
