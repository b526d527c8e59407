"""A CSE serving HTTP, MQTT (shared broker) and CoAP, with its admin listener, for the
request log and metrics tests; requests are sent with the AE-side client library."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from client import CseClient
from cse.app import Cse
from server.compose import build_cse, configured_bindings
from tests.bindings.brokers import shared_broker
from tests.conftest import make_config


@dataclass
class ObservedCse:
    cse: Cse
    cse_id: str
    urls: dict[str, str]        # binding name -> point of access
    admin: str                  # http://127.0.0.1:PORT of the admin listener

    def client(self, binding: str, originator: str = "CAdmin", **kw: Any) -> CseClient:
        return CseClient(self.urls[binding], originator=originator, cse_rn="cse-in", cse_id=self.cse_id, **kw)

    async def admin_get(self, path: str, headers: dict | None = None) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session:
            async with session.get(self.admin + path, headers=headers or {}) as response:
                return response.status, await response.text()


async def start_observed(tmp_path, **overrides: Any) -> ObservedCse:
    broker = shared_broker()
    cse_id = "/o" + uuid.uuid4().hex[:10]
    values = {"cse.cse_id": cse_id, "storage.url": f"sqlite://{tmp_path / 'cse.sqlite'}",
              "mqtt.enabled": True, "mqtt.host": broker.host, "mqtt.port": broker.port,
              "mqtt.clean_session": True, "mqtt.connect_wait": 10.0,
              "coap.enabled": True, "coap.port": 0, "admin.enabled": True, "admin.port": 0}
    values.update(overrides)
    cse = build_cse(make_config(**values), bindings=configured_bindings)
    await cse.start()
    urls = {b.name: b.poa[0] for b in cse.bindings if b.poa}
    admin = next(b for b in cse.bindings if b.name == "admin")
    return ObservedCse(cse, cse_id, urls, admin.url)


@pytest.fixture
async def observed(tmp_path):
    running = await start_observed(tmp_path)
    try:
        yield running
    finally:
        await running.cse.stop()
