"""MQTT binding (TS-0010): requests published to this CSE's topics <-> primitives.

The CSE is a client of a broker.  It subscribes to /oneM2M/req/+/<own id>/+ and
/oneM2M/reg_req/+/<own id>/+, hands each request primitive to the dispatcher, and publishes
the response primitive on the matching /oneM2M/resp/... (reg_resp) topic, in the
serialization named by the topic's last level.  Every request that has a response topic gets
an answer, including undecodable ones (an error primitive); nothing here may raise into
paho's thread or stop the binding.  How topics and payloads map to primitives is
`mqtt_codec`/`mqtt_topics`; this module knows no resources.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Callable

from cse.errors import RSC, OneM2MError, bad_request
from cse.observe import RequestRecorder, not_recorded
from cse.primitives import Operation, Request, Response, ResponseTypeValue
from cse.tasks import cancel_and_wait

from . import mqtt_codec
from .mqtt_connection import BrokerAddress, BrokerConnection, TlsFiles
from .mqtt_topics import (REG_REQUEST, REQUEST, Topic, originator_forms, parse_topic, request_filters,
                          response_filters, topic_id)

if TYPE_CHECKING:
    from cse.auth import Authenticator
    from cse.config import Config, MqttSettings
    from cse.dispatcher import Dispatcher

log = logging.getLogger(__name__)

REGISTRATION_TYPES = (2, 16)   # AE, remoteCSE


def broker_connection(settings: "MqttSettings", client_id: str, filters: list[str],
                      on_message=None, address: BrokerAddress | None = None,
                      clean_session: bool | None = None) -> BrokerConnection:
    """A connection configured from [mqtt] (credentials, TLS files, backoff, QoS)."""
    return BrokerConnection(
        address or BrokerAddress(settings.host, settings.port, settings.tls), client_id, filters,
        on_message=on_message, qos=settings.qos, username=settings.username,
        password=settings.password, keepalive=settings.keepalive,
        clean_session=settings.clean_session if clean_session is None else clean_session,
        tls_files=TlsFiles(settings.ca_file, settings.cert_file, settings.key_file, settings.tls_insecure),
        reconnect_min=settings.reconnect_min, reconnect_max=settings.reconnect_max)


class MqttBinding:
    name = "mqtt"

    def __init__(self, config: "Config", dispatcher: "Dispatcher",
                 authenticator: "Authenticator | None" = None,
                 may_relay: Callable[[str, str], bool] = lambda neighbour, originator: False,
                 record: RequestRecorder = not_recorded):
        self.settings = config.mqtt
        self.dispatcher = dispatcher
        # Told about every answered request (the request log and metrics, cse/observe.py).
        self.record = record
        # MQTT carries no credential: with authentication on, the originators it protects
        # are refused here (the broker's login is not an originator's).
        self.authenticator = authenticator
        self.cse_id = config.cse.cse_id
        self.sp_id = config.cse.sp_id
        self.own_topic_id = topic_id(self.cse_id, self.cse_id)
        client_id = self.settings.client_id or f"C::{self.own_topic_id}"
        filters = request_filters(self.own_topic_id) + response_filters(self.own_topic_id)
        self.connection = broker_connection(self.settings, client_id, filters, self._received)
        # (CSE-ID, originator) -> whether that CSE (registered here, or our registrar) may relay
        # that originator's requests (cse/federation/routing.py); by default no CSE may.
        self.may_relay = may_relay
        self._tasks: set[asyncio.Task] = set()

    @property
    def poa(self) -> list[str]:
        return [self.settings.public_url or str(self.connection.address)]

    async def start(self) -> None:
        await self.connection.start()
        if self.settings.connect_wait > 0:
            try:
                await self.connection.wait_ready(self.settings.connect_wait)
            except asyncio.TimeoutError:
                log.warning("MQTT broker %s not reachable yet; the CSE serves its other bindings "
                            "and keeps trying", self.connection.address)

    async def stop(self) -> None:
        await cancel_and_wait(set(self._tasks), grace=5)
        await self.connection.stop()

    # -- requests (event-loop thread) ------------------------------------------------------
    def _received(self, topic: str, payload: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(topic, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, topic_name: str, payload: bytes) -> None:
        started = time.perf_counter()
        topic = parse_topic(topic_name)
        if topic is None or topic.kind not in (REQUEST, REG_REQUEST):
            log.warning("ignoring an MQTT message on %s: not a oneM2M request topic", topic_name)
            return
        request: Request | None = None
        try:
            request = mqtt_codec.decode_request(topic, payload, self.settings.max_payload_bytes)
            self._check_topic(topic, request)
            if self.authenticator is not None:
                request = await self.authenticator.authenticate(request, None)
            response = await self.dispatcher.handle(request)
        except OneM2MError as error:
            rqi = request.rqi if request is not None else getattr(error, "rqi", "")
            response = mqtt_codec.error_response(error, rqi)
        except Exception:
            log.exception("MQTT binding failed on a message on %s", topic_name)
            response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=request.rqi if request is not None else "",
                                rvi="3", pc={"m2m:dbg": "internal error in the MQTT binding"})
        self.record(started, request, response, topic_name)
        if request is not None and request.rt == ResponseTypeValue.NO_RESPONSE and response.ok:
            return  # the originator asked for no response (rt 5)
        self._respond(topic, request, response)

    def _check_topic(self, topic: Topic, request: Request) -> None:
        if topic.kind == REG_REQUEST:
            if request.op != Operation.CREATE or request.ty not in REGISTRATION_TYPES:
                raise bad_request("only registrations (CREATE of an AE or remoteCSE) may use the "
                                  "reg_req topic; send other requests on /oneM2M/req/...")
            return
        if self.settings.check_originator and request.fr and isinstance(request.fr, str):
            if topic.originator not in originator_forms(request.fr, self.cse_id, self.sp_id) \
                    and not self._relayed_by_neighbour(topic, request.fr):
                raise bad_request(f"the originator {request.fr!r} (fr) does not match the topic's "
                                  f"originator level {topic.originator!r}")

    def _relayed_by_neighbour(self, topic: Topic, originator: str) -> bool:
        """TS-0010 6.4: the topic names the hop's sender; a CSE connected with this one
        forwards requests of other (SP-relative) originators under its own CSE-ID."""
        return (originator.startswith("/")
                and ":" not in topic.originator and self.may_relay("/" + topic.originator, originator))

    def _respond(self, topic: Topic, request: Request | None, response: Response) -> None:
        if response.fr is None:
            response.fr = self.cse_id
        if response.to is None and request is not None and isinstance(request.fr, str):
            response.to = request.fr
        body = mqtt_codec.encode_response(response, mqtt_codec.answer_serialization(topic))
        try:
            self.connection.publish(str(topic.response()), body)
        except ConnectionError as exc:
            log.warning("could not answer rqi %r on %s: %s", response.rqi, topic.response(), exc)
