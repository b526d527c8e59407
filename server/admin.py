"""The admin listener: `/metrics` (Prometheus text format) and `/health`, on a port of its
own, apart from the oneM2M bindings (docs/operations.md).

It is a separate aiohttp server so that what operators scrape is never reachable through the
oneM2M port, and the oneM2M access rules never have to know about it.  By default it listens
on loopback only; on any other address `admin.token` is required (config check), and every
request must then carry `Authorization: Bearer <token>`.

Health: `/health/live` answers 200 while the event loop serves requests (liveness);
`/health/ready` and `/health` answer 200 when every check passes and 503 otherwise, with
the state of each check (storage readable, MQTT broker connected, registered with the
registrar) as JSON.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from aiohttp import web

from cse.auth import StoredSecret

from .metrics import CONTENT_TYPE, Metrics

if TYPE_CHECKING:
    from cse.config import AdminSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One readiness condition: `probe()` returns (passes, what it found)."""

    name: str
    probe: Callable[[], tuple[bool, str]]

    def run(self) -> tuple[bool, str]:
        try:
            return self.probe()
        except Exception as exc:      # a failing probe is a failed check, never a 500
            return False, f"check failed: {exc}"


class AdminListener:
    """A `cse.app.Binding` without a point of access (it serves no oneM2M)."""

    name = "admin"

    def __init__(self, settings: "AdminSettings", metrics: Metrics, checks: list[Check]):
        self.settings = settings
        self.metrics = metrics
        self.checks = checks
        self._token = StoredSecret.parse(settings.token) if settings.token else None
        # SHA-256 of tokens that matched once: PBKDF2 is slow on purpose, a scrape every few
        # seconds must not pay it each time.  Bounded: a wrong token is never remembered.
        self._accepted: set[bytes] = set()
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def poa(self) -> list[str]:
        return []

    @property
    def url(self) -> str:
        host = self.settings.host
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(middlewares=[self._authorize])
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/health", self._ready)
        app.router.add_get("/health/ready", self._ready)
        app.router.add_get("/health/live", self._live)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port, reuse_address=True)
        await site.start()
        addresses = self._runner.addresses
        self.port = addresses[0][1] if addresses else self.settings.port
        log.info("admin listener (metrics, health) on %s", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @web.middleware
    async def _authorize(self, request: web.Request, handler) -> web.StreamResponse:
        if self._token is not None and not await self._authorized(request.headers.get("Authorization", "")):
            return web.json_response({"error": "send Authorization: Bearer <admin token>"}, status=401,
                                     headers={"WWW-Authenticate": "Bearer"})
        return await handler(request)

    async def _authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        if any(hmac.compare_digest(digest, known) for known in self._accepted):
            return True
        # PBKDF2 in a worker thread: a flood of wrong tokens must not stall the event loop.
        if self._token is not None and await asyncio.to_thread(self._token.matches, token):
            if len(self._accepted) < 8:
                self._accepted.add(digest)
            return True
        return False

    async def _metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self.metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def _live(self, request: web.Request) -> web.Response:
        return web.json_response({"live": True})

    async def _ready(self, request: web.Request) -> web.Response:
        checks = {}
        for check in self.checks:
            ok, detail = check.run()
            checks[check.name] = {"ok": ok, "detail": detail}
        ready = all(entry["ok"] for entry in checks.values())
        body = {"live": True, "ready": ready, "checks": checks}
        return web.Response(status=200 if ready else 503, text=json.dumps(body),
                            content_type="application/json")
