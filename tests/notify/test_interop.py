"""Receivers that are not aiohttp: the standard library's http.server (HTTP/1.0, one request
per connection, and HTTP/1.1 keep-alive)."""
from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import free_port

from .conftest import READINGS, meter_with_container, post_reading, subscribe


class StdlibReceiver:
    def __init__(self, protocol: str):
        self.bodies: list[dict] = []
        self.enough = threading.Event()
        self.expected = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = protocol

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                receiver.bodies.append(body)
                if len([b for b in receiver.bodies if "vrq" not in b["m2m:sgn"]]) >= receiver.expected:
                    receiver.enough.set()
                self.send_response(200)
                self.send_header("X-M2M-RSC", "2000")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/notify"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("protocol", ["HTTP/1.0", "HTTP/1.1"])
async def test_a_standard_library_receiver_gets_every_notification_in_order(ncore, protocol):
    receiver = StdlibReceiver(protocol)
    try:
        receiver.expected = 40
        container = await meter_with_container(ncore)
        assert (await subscribe(ncore, container, receiver.url, enc=READINGS)).rsc == 2001
        await asyncio.gather(*(post_reading(ncore, container, i) for i in range(40)))
        assert await asyncio.to_thread(receiver.enough.wait, 10)
        states = [b["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["st"]
                  for b in receiver.bodies if "nev" in b["m2m:sgn"]]
        assert states == list(range(1, 41))
        assert ncore.cse.events.delivery.totals["retries"] == 0
    finally:
        receiver.close()
