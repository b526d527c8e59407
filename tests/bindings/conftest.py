"""Fixtures for the MQTT and CoAP binding tests.

CSEs on the shared broker get a unique CSE-ID per test, so runs sharing the broker (other
engineers, CI) never see each other's requests.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from cse.app import Cse, build_cse
from cse.cli import add_bindings
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
              "mqtt.connect_wait": 10.0}
    values.update(overrides)
    return make_config(**values)


async def start_mqtt_cse(host: str, port: int, **overrides: Any) -> MqttCse:
    cse_id = "/" + unique("t")
    cse = build_cse(mqtt_config(host, port, cse_id, **overrides))
    add_bindings(cse)
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
