"""MQTT sender (TS-0010): primitives this CSE originates (notifications, forwarding).

Registered with `cse.outbound.Outbound` for mqtt and mqtts.  The URL names the broker; its
path, when present, is the exact topic (a notification URI such as
mqtt://broker:1883/oneM2M/req/id-in/Capp/json, leading "/" included).  A bare point of access
(mqtt://broker:1883) means the entity itself: the request goes to
/oneM2M/req/<this CSE>/<topic id of request.to>/<serialization>.  A request sent to a
oneM2M request topic waits (with the caller's timeout) for the response with the same rqi
on the matching response topic; a free-form topic has no response, so delivery to the
broker is all that can be reported.  The binding's own broker connection is reused when the
URL names the same broker; other brokers get a connection of their own, kept until stop
(at most MAX_OTHER_BROKERS at once).  A connection that is not ready within a sender's
timeout is closed at once: URLs come from anybody's poa and nu, and every connection is a
paho thread that would otherwise keep reconnecting to an unreachable broker forever.
It never retries or queues: what to do with a failed delivery is the caller's decision.
"""
from __future__ import annotations

import asyncio
import itertools
import os
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from cse.errors import RSC
from cse.primitives import Request, Response

from . import mqtt_codec
from .mqtt import broker_connection
from .mqtt_connection import BrokerAddress, BrokerConnection
from .mqtt_topics import REQUEST, SERIALIZATIONS, Topic, parse_topic, response_filters, topic_id

if TYPE_CHECKING:
    from cse.outbound_policy import OutboundPolicy
    from cse.config import Config

    from .mqtt import MqttBinding

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
MAX_OTHER_BROKERS = 32


class MqttSender:
    name = "mqtt-client"

    def __init__(self, config: "Config", binding: "MqttBinding | None" = None,
                 policy: "OutboundPolicy | None" = None):
        self.settings = config.mqtt
        self.policy = policy          # where brokers named in poa/nu may be (checked per send)
        self.cse_id = config.cse.cse_id
        self.own_topic_id = topic_id(self.cse_id, self.cse_id)
        self.binding = binding
        self._connections: dict[BrokerAddress, BrokerConnection] = {}
        self._opening = asyncio.Lock()    # held only while a connection is made (not while it connects)
        self._closing: set[asyncio.Task] = set()
        # Client IDs of extra connections must differ from the binding's (a broker drops
        # the older session of a client ID), also when two spellings name one broker.
        base = self.settings.client_id or f"C::{self.own_topic_id}"
        self._client_ids = (f"{base}:out{os.getpid()}-{n}" for n in itertools.count(1))

    @property
    def poa(self) -> list[str]:
        return []

    async def start(self) -> None:
        """Connections are opened on first use."""

    async def stop(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        for connection in connections:
            await connection.stop()
        if self._closing:
            await asyncio.wait(self._closing)

    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if not parts.hostname:
            return Response(rsc=RSC.TARGET_NOT_REACHABLE, rqi=request.rqi,
                            pc={"m2m:dbg": f"{url!r} names no MQTT broker"})
        address = BrokerAddress(parts.hostname, parts.port or DEFAULT_PORTS[scheme], scheme == "mqtts")
        own_broker = (address.host, address.port) == (self.settings.host, self.settings.port)
        if self.policy is not None and not own_broker and self._connections.get(address) is None:
            await self.policy.addresses(address.host, address.port)   # OutboundRefused
        connection = await self._connection(address, timeout)
        path = unquote(parts.path)
        if path in ("", "/"):
            target = topic_id(request.to, self.cse_id, self.settings.ae_topic_form)
            topic: Topic | None = Topic(REQUEST, self.own_topic_id, target, serialization)
        else:
            topic = parse_topic(path)
            if topic is None or topic.kind != REQUEST:
                connection.publish(path, mqtt_codec.encode_request(request, serialization))
                return Response(rsc=RSC.OK, rqi=request.rqi,
                                pc={"m2m:dbg": f"published on {path}; a topic outside /oneM2M/req/ "
                                               "has no response"})
            if topic.serialization in SERIALIZATIONS:
                serialization = topic.serialization
            if topic.originator != self.own_topic_id:  # not covered by the standing subscription
                await connection.subscribe(str(topic.response()), timeout)
        payload = mqtt_codec.encode_request(request, serialization)
        return await connection.request(str(topic), payload, request.rqi, timeout)

    async def _connection(self, address: BrokerAddress, timeout: float) -> BrokerConnection:
        binding = self.binding
        if binding is not None and binding.connection.address == address:
            return binding.connection
        async with self._opening:
            connection = self._connections.get(address)
            if connection is None:
                if len(self._connections) >= MAX_OTHER_BROKERS:
                    raise ConnectionError(f"this CSE already keeps connections to {MAX_OTHER_BROKERS} "
                                          f"other MQTT brokers; not opening one to {address}")
                connection = broker_connection(self.settings, next(self._client_ids),
                                               response_filters(self.own_topic_id), address=address,
                                               clean_session=True)
                self._connections[address] = connection
                await connection.start()
        if not connection.ready:
            try:
                await connection.wait_ready(timeout)
            except asyncio.TimeoutError:
                self._close(address, connection)
                raise ConnectionError(f"MQTT broker {address} is not reachable") from None
        return connection

    def _close(self, address: BrokerAddress, connection: BrokerConnection) -> None:
        """Forget a connection that is not up, and stop its reconnecting in the background
        (stopping waits for paho's thread, which may be inside a connect attempt)."""
        if self._connections.get(address) is not connection:
            return  # another sender already closed it
        del self._connections[address]
        task = asyncio.get_running_loop().create_task(connection.stop())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
