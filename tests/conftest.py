"""Shared fixtures: a CSE core without sockets, and a CSE behind a real HTTP server."""
from __future__ import annotations

import itertools
import os
import socket
from typing import Any

import aiohttp
import pytest

from cse.app import Cse, build_cse
from cse.clock import ManualClock
from cse.config import load_config
from cse.primitives import Request, Response

ADMIN = "CAdmin"
_rqi = itertools.count(1)


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CoreClient:
    """Sends request primitives straight to the dispatcher (no transport)."""

    def __init__(self, cse: Cse):
        self.cse = cse

    async def request(self, op: int, to: str, fr: str | None = ADMIN, **fields: Any) -> Response:
        fields.setdefault("rvi", "3")
        fields.setdefault("rqi", f"rq{next(_rqi)}")
        return await self.cse.dispatcher.handle(Request(op=op, to=to, fr=fr, **fields))

    async def create(self, to: str, ty: int, pc: dict, fr: str | None = ADMIN, **fields: Any) -> Response:
        return await self.request(1, to, fr, ty=ty, pc=pc, **fields)

    async def retrieve(self, to: str, fr: str | None = ADMIN, **fields: Any) -> Response:
        return await self.request(2, to, fr, **fields)

    async def update(self, to: str, pc: dict, fr: str | None = ADMIN, **fields: Any) -> Response:
        return await self.request(3, to, fr, pc=pc, **fields)

    async def delete(self, to: str, fr: str | None = ADMIN, **fields: Any) -> Response:
        return await self.request(4, to, fr, **fields)

    async def register_ae(self, originator: str = "Cmeter", rn: str | None = None, **attributes: Any) -> Response:
        # Reachable through its poa when it has one; rr=false means "only through a pollingChannel".
        ae = {"api": "Nmeter", "rr": "poa" in attributes, "srv": ["3"], **attributes}
        if rn:
            ae["rn"] = rn
        return await self.create("cse-in", 2, {"m2m:ae": ae}, fr=originator)


def default_storage_url() -> str:
    """SQLite in memory; with CSE_TEST_STORAGE=postgresql a fresh schema on the PostgreSQL
    test server (tests/postgres.py) for each CSE, so that the core tests run on PostgreSQL
    (tests/storage/test_core_on_postgresql.py does that for a subset)."""
    if os.environ.get("CSE_TEST_STORAGE") == "postgresql":
        from tests.postgres import TestSchema
        return TestSchema().url
    return "memory:"


@pytest.fixture(autouse=True, scope="session")
def _drop_postgres_schemas_of_this_run():
    yield
    if os.environ.get("CSE_TEST_STORAGE") == "postgresql":
        from tests.postgres import drop_run_schemas
        drop_run_schemas()


def make_config(**overrides: Any):
    values = {"storage.url": default_storage_url(), "http.port": 0, "cse.expiry_interval": 3600.0}
    values.update(overrides)
    return load_config(None, values)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def core(clock):
    """A started CSE (in-memory storage, manual clock) and a client for it."""
    cse = build_cse(make_config(), clock=clock)
    await cse.start()
    try:
        yield CoreClient(cse)
    finally:
        await cse.stop()


class HttpClient:
    def __init__(self, base: str, session: aiohttp.ClientSession):
        self.base = base
        self.session = session

    async def call(self, method: str, path: str, *, originator: str | None = ADMIN, ty: int | None = None,
                   body: Any = None, headers: dict | None = None, raw: bytes | None = None,
                   content_type: str = "application/json", params: Any = None):
        sent = {"X-M2M-RI": f"h{next(_rqi)}", "X-M2M-RVI": "3"}
        if originator is not None:
            sent["X-M2M-Origin"] = originator
        data = raw
        if body is not None:
            import json
            data = json.dumps(body).encode()
        if data is not None:
            sent["Content-Type"] = content_type + (f";ty={ty}" if ty is not None else "")
        sent.update(headers or {})
        async with self.session.request(method, self.base + path, data=data, headers=sent,
                                        params=params) as response:
            payload = await response.read()
            return response, payload


@pytest.fixture
async def http_cse(tmp_path):
    """A CSE with its HTTP binding on a free loopback port."""
    from cse.cli import add_bindings

    cse = build_cse(make_config(**{"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}"}))
    add_bindings(cse)
    await cse.start()
    http = next(b for b in cse.bindings if b.name == "http")
    async with aiohttp.ClientSession() as session:
        try:
            yield cse, HttpClient(http.url, session)
        finally:
            await cse.stop()
