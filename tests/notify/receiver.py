"""A notification target for tests: an HTTP server on a free loopback port that records
every NOTIFY it receives and answers as the test tells it (accept, refuse, hang)."""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import cbor2
import orjson
from aiohttp import web

from tests.conftest import free_port


@dataclass
class Received:
    path: str
    headers: dict
    body: dict
    serialization: str
    at: float

    @property
    def sgn(self) -> dict:
        return self.body.get("m2m:sgn", {})

    @property
    def is_verification(self) -> bool:
        return self.sgn.get("vrq") is True


class Receiver:
    def __init__(self, *, rsc: int = 2000, verification_rsc: int = 2000, hang: bool = False,
                 delay: float = 0.0, port: int | None = None, body: bytes = b"",
                 answers: list[int] | None = None, gate: asyncio.Event | None = None):
        self.rsc = rsc                           # answer to notifications
        self.answers = list(answers or ())       # rsc for the first notifications, then the above
        self.gate = gate                         # notifications are answered once it is set
        self.verification_rsc = verification_rsc  # answer to verification requests
        self.hang = hang                         # never answer notifications (a dead receiver)
        self.delay = delay                       # seconds before answering a notification (slow)
        self.body = body                         # body of a successful answer
        self.received: list[Received] = []
        self._notifications: list[Received] = []
        self.port = port or free_port()
        self._changed = asyncio.Condition()
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    def url(self, path: str = "/notify", query: str = "") -> str:
        return f"http://127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def notifications(self) -> list[Received]:
        return self._notifications

    @property
    def verifications(self) -> list[Received]:
        return [r for r in self.received if r.is_verification]

    async def start(self) -> "Receiver":
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        raw = await request.read()
        content_type = request.headers.get("Content-Type", "")
        serialization = "cbor" if "cbor" in content_type else "json"
        body = cbor2.loads(raw) if serialization == "cbor" else orjson.loads(raw)
        record = Received(request.path_qs, dict(request.headers), body, serialization, time.monotonic())
        async with self._changed:
            self.received.append(record)
            if not record.is_verification:
                self._notifications.append(record)
            self._changed.notify_all()
        if record.is_verification:
            rsc = self.verification_rsc
        elif self.answers or self.gate is not None:
            if self.gate is not None:
                await self.gate.wait()
            rsc = self.answers.pop(0) if self.answers else self.rsc
            if rsc == self.rsc and self.hang:
                await self._release.wait()
        else:
            if self.hang:
                await self._release.wait()
            elif self.delay:
                await asyncio.sleep(self.delay)   # simulates a slow receiver, not a test wait
            rsc = self.rsc
        status = 200 if 2000 <= rsc < 3000 else (403 if rsc in (4101, 4103, 5205) else 500)
        headers = {"X-M2M-RSC": str(rsc), "X-M2M-RI": request.headers.get("X-M2M-RI", "")}
        if status == 200:
            return web.Response(status=status, headers=headers, body=self.body)
        return web.json_response({"m2m:dbg": "refused by the test receiver"}, status=status, headers=headers)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """The first `count` notifications (verifications excluded), once they have arrived."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(self.notifications) >= count), timeout)
        return self.notifications[:count]

    async def wait_until(self, predicate, timeout: float = 10.0) -> None:
        """Until `predicate(received)` holds for the list of everything received so far."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.received)), timeout)

    async def barrier(self, core, container: str, fr: str = "Cmeter") -> None:
        """Wait until every notification queued so far for this receiver's /notify target has
        arrived: a marker subscription on the same target shares its FIFO queue."""
        marker = await core.create(container, 23, {"m2m:sub": {"nu": [self.url()], "enc": {"net": [3]}}},
                                   fr=fr)
        assert marker.rsc == 2001, marker.pc
        sur = f"/id-in/{marker.pc['m2m:sub']['ri']}"
        await core.create(container, 4, {"m2m:cin": {"con": "barrier"}}, fr=fr)
        await self.wait_until(lambda got: any(r.sgn.get("sur") == sur for r in got))

