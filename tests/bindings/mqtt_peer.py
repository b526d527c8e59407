"""A plain paho client playing a device or application in tests: publishes raw bytes on any
topic and queues every message it receives, so tests see exactly what went over the broker.

It deliberately does not reuse the binding's BrokerConnection: the CSE side is what is tested.
"""
from __future__ import annotations

import asyncio
import itertools
import os
import ssl
from typing import Any

import cbor2
import orjson
import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

_ids = itertools.count(1)


def encode(value: Any, fmt: str) -> bytes:
    return cbor2.dumps(value) if fmt == "cbor" else orjson.dumps(value)


def decode(payload: bytes, fmt: str) -> Any:
    return cbor2.loads(payload) if fmt == "cbor" else orjson.loads(payload)


class MqttPeer:
    def __init__(self, host: str, port: int, *, tls_ca: str | None = None):
        self.host, self.port = host, port
        self.messages: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        self._connected = asyncio.Event()
        self._subacks: dict[int, asyncio.Event] = {}
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"peer-{os.getpid()}-{next(_ids)}",
                                  clean_session=True, protocol=paho.MQTTv311)
        if tls_ca:
            self.client.tls_set(ca_certs=tls_ca, cert_reqs=ssl.CERT_REQUIRED)
        self.client.on_connect = lambda c, u, f, rc, p: self._loop.call_soon_threadsafe(self._connected.set)
        self.client.on_message = lambda c, u, m: self._loop.call_soon_threadsafe(
            self.messages.put_nowait, (m.topic, m.payload))
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self._loop.call_soon_threadsafe(self._suback, mid)

    def _suback(self, mid: int) -> None:
        self._subacks.setdefault(mid, asyncio.Event()).set()

    async def connect(self, timeout: float = 10) -> "MqttPeer":
        self.client.connect_async(self.host, self.port, 30)
        self.client.loop_start()
        await asyncio.wait_for(self._connected.wait(), timeout)
        return self

    async def close(self) -> None:
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)

    async def subscribe(self, *filters: str, timeout: float = 10) -> None:
        _, mid = self.client.subscribe([(f, 1) for f in filters])
        await asyncio.wait_for(self._subacks.setdefault(mid, asyncio.Event()).wait(), timeout)

    def publish(self, topic: str, payload: bytes) -> None:
        self.client.publish(topic, payload, qos=1)

    async def next_message(self, timeout: float = 10) -> tuple[str, bytes]:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def call(self, primitive: Any, *, originator: str, receiver: str, kind: str = "req",
                   fmt: str = "json", raw: bytes | None = None, timeout: float = 10) -> tuple[str, Any]:
        """Publish a request (or raw bytes) and return (topic, decoded payload) of the answer."""
        self.publish(f"/oneM2M/{kind}/{originator}/{receiver}/{fmt}",
                     raw if raw is not None else encode(primitive, fmt))
        topic, payload = await self.next_message(timeout)
        answer_fmt = fmt if fmt in ("json", "cbor") else "json"
        return topic, decode(payload, answer_fmt)
