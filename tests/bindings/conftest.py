"""Fixtures for the MQTT and CoAP binding tests.

CSEs on the shared broker get a unique CSE-ID per test, so runs sharing the broker (other
engineers, CI) never see each other's requests.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from cse.app import Cse
from server.compose import build_cse, configured_bindings
from tests.conftest import make_config

from .brokers import shared_broker
from .mqtt_peer import MqttPeer


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass
class MqttCse:
    cse: Cse
    cse_id: str          # "/t1a2b..."
    topic_id: str        # "t1a2b..."
    peer: MqttPeer       # connected, subscribed to answers for originator `originator`
    originator: str      # an AE-ID stem unique to the test

    @property
    def binding(self):
        return next(b for b in self.cse.bindings if b.name == "mqtt")

    async def call(self, primitive: Any, **kw) -> tuple[str, Any]:
        kw.setdefault("originator", self.originator)
        kw.setdefault("receiver", self.topic_id)
        return await self.peer.call(primitive, **kw)


def mqtt_config(host: str, port: int, cse_id: str, **overrides: Any):
    values = {"cse.cse_id": cse_id, "mqtt.enabled": True, "mqtt.host": host, "mqtt.port": port,
              "mqtt.clean_session": True, "mqtt.reconnect_min": 0.1, "mqtt.reconnect_max": 0.5,
              "mqtt.connect_wait": 10.0,
              # The peers here read the CSEBase as unregistered originators to see the binding
              # serve; who may do that is tested in tests/core and tests/security.
              "cse.unregistered_retrieve_base": True}
    values.update(overrides)
    return make_config(**values)


async def start_mqtt_cse(host: str, port: int, **overrides: Any) -> MqttCse:
    cse_id = "/" + unique("t")
    cse = build_cse(mqtt_config(host, port, cse_id, **overrides), bindings=configured_bindings)
    await cse.start()
    originator = unique("C")
    peer = await MqttPeer(host, port).connect()
    await peer.subscribe(f"/oneM2M/resp/{originator}/+/+", f"/oneM2M/reg_resp/{originator}/+/+")
    return MqttCse(cse, cse_id, cse_id[1:], peer, originator)


@pytest.fixture
def mqtt_broker():
    return shared_broker()


@pytest.fixture
async def mqtt_cse(mqtt_broker):
    """A CSE serving MQTT on the shared broker (and HTTP), with a test peer ready."""
    running = await start_mqtt_cse(mqtt_broker.host, mqtt_broker.port)
    assert running.binding.connection.ready
    try:
        yield running
    finally:
        await running.peer.close()
        await running.cse.stop()


@dataclass
class CoapCse:
    cse: Cse
    url: str             # coap://127.0.0.1:PORT
    client: Any          # aiocoap client context

    async def call(self, method, path: str, *, fr: str | None = "CAdmin", rqi: str | None = "c-1",
                   rvi: str | None = "3", ty: int | None = None, body: Any = None, payload: bytes | None = None,
                   content_format: int | None = None, accept: int | None = None,
                   options: dict[int, Any] | None = None):
        """One CoAP request as a device would send it; returns aiocoap's response message.

        An option value may be bytes (sent as they are, e.g. not UTF-8) or a list (the
        option repeated).  An answer that does not come within 30 s fails the test."""
        import asyncio

        import aiocoap
        from aiocoap.numbers.optionnumbers import OptionNumber
        from aiocoap.optiontypes import OpaqueOption

        import orjson
        if body is not None:
            payload = orjson.dumps(body)
            content_format = 50 if content_format is None else content_format
        message = aiocoap.Message(code=method, uri=self.url + path, payload=payload or b"")
        if content_format is not None:
            message.opt.content_format = content_format
        if accept is not None:
            message.opt.accept = accept
        sent = {279: fr, 283: rqi, 271: rvi, 267: ty}
        sent.update(options or {})
        for number, value in sent.items():
            for one in value if isinstance(value, list) else [value]:
                if isinstance(one, bytes):
                    message.opt.add_option(OpaqueOption(OptionNumber(number), one))
                elif one is not None:
                    message.opt.add_option(OptionNumber(number).create_option(value=one))
        return await asyncio.wait_for(self.client.request(message).response, 30)


async def start_coap_cse(**overrides: Any) -> CoapCse:
    import aiocoap
    values = {"coap.enabled": True, "coap.port": 0}
    values.update(overrides)
    cse = build_cse(make_config(**values), bindings=configured_bindings)
    await cse.start()
    coap = next(b for b in cse.bindings if b.name == "coap")
    client = await aiocoap.Context.create_client_context(transports=["udp6"])
    return CoapCse(cse, coap.url, client)


@pytest.fixture
async def coap_cse():
    running = await start_coap_cse()
    try:
        yield running
    finally:
        await running.client.shutdown()
        await running.cse.stop()


def option(message, number: int):
    """The value of option `number` in an aiocoap message, or None."""
    from aiocoap.numbers.optionnumbers import OptionNumber
    found = message.opt.get_option(OptionNumber(number))
    return found[0].value if found else None
