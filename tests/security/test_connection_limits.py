"""Idle and slow HTTP connections (issue 18): a header-read timeout, an idle timeout and a cap
on open connections, so a crowd of idle or half-sent requests cannot lock a normal client out."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from tests.conftest import HttpClient

ROOT = Path(__file__).resolve().parents[2]


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float | None:
    """Seconds until the server closed the connection, or None if it stayed open."""
    started = time.monotonic()
    try:
        while await asyncio.wait_for(reader.read(4096), seconds):
            pass
    except asyncio.TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


async def open_partial(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /cse-in HTTP/1.1\r\nHost: cse\r\nX-M2M-Origin: CAdmin\r\n")   # never ends
    await writer.drain()
    return reader, writer


async def test_a_request_head_that_never_ends_is_cut_off(start_http_cse):
    async with start_http_cse(**{"http.header_timeout": 0.5, "http.idle_timeout": 60.0}) as (cse, url):
        host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
        reader, writer = await open_partial(host, int(port))
        took = await closed_within(reader, 10)
        writer.close()
    assert took is not None and took < 5, took


async def test_an_idle_connection_is_closed(start_http_cse):
    async with start_http_cse(**{"http.idle_timeout": 0.5}) as (cse, url):
        host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))   # says nothing
        took = await closed_within(reader, 10)
        writer.close()
    assert took is not None and took < 5, took


async def test_a_full_house_of_half_sent_requests_makes_room_for_a_normal_client(start_http_cse):
    async with start_http_cse(**{"http.max_connections": 20, "http.header_timeout": 60.0,
                                 "http.idle_timeout": 60.0}) as (cse, url):
        host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
        stuck = [await open_partial(host, int(port)) for _ in range(40)]
        await asyncio.sleep(0.2)
        http = next(b for b in cse.bindings if b.name == "http")
        assert len(http._server.live) <= 20
        async with aiohttp.ClientSession() as session:
            started = time.monotonic()
            response, _ = await asyncio.wait_for(HttpClient(url, session).call("GET", "/cse-in"), 5)
            took = time.monotonic() - started
        for _, writer in stuck:
            writer.close()
    assert response.status == 200 and took < 2, took


SERVER = """
import asyncio, resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (160, 160))
from server.compose import build_cse, configured_bindings
from tests.conftest import make_config

async def main():
    cse = build_cse(make_config(**{"storage.url": "memory:", "http.max_connections": 100,
                                   "http.header_timeout": 60.0, "http.idle_timeout": 60.0}),
                    bindings=configured_bindings)
    await cse.start()
    print(next(b for b in cse.bindings if b.name == "http").port, flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_with_few_file_descriptors_idle_connections_cannot_lock_out_a_client():
    """The CSE runs with 160 descriptors; 300 half-sent requests would take them all
    without the cap (100), and the normal client's connection would be refused."""
    process = subprocess.Popen([sys.executable, "-c", SERVER], cwd=ROOT, stdout=subprocess.PIPE,
                               env={**os.environ, "PYTHONPATH": str(ROOT)})
    stuck = []
    try:
        line = await asyncio.wait_for(asyncio.to_thread(process.stdout.readline), 60)
        port = int(line)
        for _ in range(300):
            try:
                stuck.append(await asyncio.wait_for(open_partial("127.0.0.1", port), 3))
            except (OSError, asyncio.TimeoutError):     # the backlog is full
                break
        await asyncio.sleep(0.5)
        async with aiohttp.ClientSession() as session:
            response, _ = await asyncio.wait_for(
                HttpClient(f"http://127.0.0.1:{port}", session).call("GET", "/cse-in"), 10)
        assert response.status == 200
    finally:
        for _, writer in stuck:
            writer.close()
        process.kill()
        process.wait()
