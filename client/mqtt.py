"""oneM2M over MQTT (TS-0010) for an AE: `MqttTransport` for requests, and
`MqttNotificationReceiver` for the notifications the CSE publishes to the AE.

Topics (the AE is the originator, its registrar CSE the receiver):
    registration     /oneM2M/reg_req/<credential>/<cse>/<fmt>, answer on reg_resp/...
    other requests   /oneM2M/req/<ae>/<cse>/<fmt>, answer on /oneM2M/resp/<ae>/<cse>/<fmt>
    notifications    the CSE publishes on /oneM2M/req/<cse>/<ae>/<fmt>; answered on resp/...
<ae> is the SP-relative AE-ID with "/" -> ":" (id-in:Cmeter), as TS-0010 asks; for
notifications the bare stem (Cmeter, as ACME and Mobius use) is listened to as well.
The broker connection, the topics and the payload codec (`bindings.mqtt_codec`) are the CSE's
own MQTT pieces.
"""
from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from bindings import mqtt_codec
from bindings.mqtt_connection import BrokerAddress, BrokerConnection, TlsFiles
from bindings.mqtt_topics import REG_REQUEST, REQUEST, parse_topic, topic_id
from cse.errors import OneM2MError
from cse.primitives import Operation, Request, Response
from cse.resource_types import Ty
from cse.tasks import cancel_and_wait

from .receiver import NotificationInbox
from .transport import CseUnreachable

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


class MqttTransport:
    """`url`: the broker (mqtt://host:1883 or mqtts://host:8883).  `cse_id`: the CSE-ID of
    the registrar CSE (MQTT addresses entities by ID, not by URL)."""

    def __init__(self, url: str, *, cse_id: str, serialization: str = "json", client_id: str = "",
                 username: str = "", password: str = "", ca_file: str = "", qos: int = 1,
                 connect_timeout: float = 10.0):
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ValueError(f"{url!r} is not an mqtt(s) URL of a broker")
        if not cse_id.startswith("/") or cse_id.startswith("//") or len(cse_id) < 2:
            raise ValueError(f"cse_id must be an SP-relative CSE-ID such as /id-in, not {cse_id!r}")
        if serialization not in ("json", "cbor"):
            raise ValueError(f"serialization must be 'json' or 'cbor', not {serialization!r}")
        tls = parts.scheme == "mqtts"
        self.address = BrokerAddress(parts.hostname, parts.port or (8883 if tls else 1883), tls)
        self.url = str(self.address)
        self.cse_id = cse_id
        self.cse_topic = topic_id(cse_id, cse_id)
        self.serialization = serialization
        self.connect_timeout = connect_timeout
        self._credential = "C" + secrets.token_hex(6)    # originator level of registrations
        self._handlers: dict[str, Handler] = {}
        self._tasks: set[asyncio.Task] = set()
        self._connect = lambda filters: BrokerConnection(
            self.address, client_id or f"ae-{secrets.token_hex(6)}", filters, on_message=self._received,
            qos=qos, username=username, password=password, clean_session=True,
            tls_files=TlsFiles(ca_file=ca_file))
        self._connection: BrokerConnection | None = None

    async def open(self) -> None:
        await self._open_connection()

    async def _open_connection(self) -> BrokerConnection:
        """The connection to the broker, made now if there is none."""
        if self._connection is not None:
            return self._connection
        # A fresh session each time, listening again for the AEs already served.
        filters = [f"/oneM2M/{REQUEST}/+/{level}/+" for level in self._handlers]
        connection = self._connection = self._connect(filters)
        await connection.start()
        try:
            await connection.wait_ready(self.connect_timeout)
        except asyncio.TimeoutError:
            await self.close()      # stop paho's reconnect loop; the next call tries again
            raise CseUnreachable(f"the MQTT broker {self.url} is not reachable") from None
        return connection

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            await connection.stop()
        await cancel_and_wait(set(self._tasks))

    # -- requests ----------------------------------------------------------------------
    def _originator_level(self, request: Request) -> tuple[str, str]:
        """(topic kind, originator level) of a request."""
        if request.op == Operation.CREATE and request.ty == Ty.AE:
            fr = request.fr or ""
            stem = fr if fr[:1] in ("C", "S") and len(fr) > 1 and "/" not in fr else self._credential
            return REG_REQUEST, stem
        return REQUEST, topic_id(request.fr or self._credential, self.cse_id)

    async def send(self, request: Request, timeout: float) -> Response:
        connection = await self._open_connection()
        kind, originator = self._originator_level(request)
        response_kind = "reg_resp" if kind == REG_REQUEST else "resp"
        try:
            await connection.subscribe(f"/oneM2M/{response_kind}/{originator}/{self.cse_topic}/+", timeout)
            topic = f"/oneM2M/{kind}/{originator}/{self.cse_topic}/{self.serialization}"
            payload = mqtt_codec.encode_request(request, self.serialization)
            return await connection.request(topic, payload, request.rqi, timeout)
        except asyncio.TimeoutError:
            raise CseUnreachable(f"no answer from {self.cse_id} over {self.url} within {timeout} s") from None
        except ConnectionError as exc:
            raise CseUnreachable(str(exc)) from None

    # -- requests to the AE (notifications) --------------------------------------------
    async def serve(self, ae_id: str, handler: Handler) -> None:
        """Answer requests published to AE `ae_id` (both topic forms) with `handler`."""
        connection = await self._open_connection()
        for form in ("sp-relative", "stem"):
            level = topic_id(ae_id, self.cse_id, form)
            self._handlers[level] = handler
            await connection.subscribe(f"/oneM2M/{REQUEST}/+/{level}/+", self.connect_timeout)

    def _received(self, topic_name: str, payload: bytes) -> None:
        topic = parse_topic(topic_name)
        handler = self._handlers.get(topic.receiver) if topic is not None and topic.kind == REQUEST else None
        if handler is None:
            log.debug("ignoring an MQTT message on %s", topic_name)
            return
        task = asyncio.get_running_loop().create_task(self._answer(topic, payload, handler))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, topic, payload: bytes, handler: Handler) -> None:
        rqi = ""
        try:
            request = mqtt_codec.decode_request(topic, payload)
            rqi = request.rqi
            response = await handler(request)
        except OneM2MError as error:
            response = mqtt_codec.error_response(error, rqi or getattr(error, "rqi", ""))
        except Exception:
            log.exception("answering the MQTT request on %s failed", topic)
            response = Response(rsc=5000, rqi=rqi, rvi="3", pc={"m2m:dbg": "the receiving application failed"})
        try:
            answer = mqtt_codec.encode_response(response, mqtt_codec.answer_serialization(topic))
            connection = self._connection
            if connection is None:
                raise ConnectionError("the transport was closed")
            connection.publish(str(topic.response()), answer)
        except ConnectionError as exc:
            log.warning("could not answer on %s: %s", topic.response(), exc)


class MqttNotificationReceiver(NotificationInbox):
    """Notifications over MQTT through the AE's `MqttTransport`: the AE's poa is the broker
    URL, and the receiver listens on the AE's topics once `CseClient.register` knows its
    AE-ID.  Other arguments: see `NotificationInbox`."""

    def __init__(self, transport: MqttTransport, **inbox: Any):
        super().__init__(**inbox)
        self.transport = transport

    @property
    def url(self) -> str:
        return self.transport.url

    async def registered(self, client: Any) -> None:
        await self.transport.serve(client.originator, self.handle)
