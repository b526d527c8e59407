"""One paho-mqtt client connected to one broker, bridged to the asyncio event loop.

paho runs its network loop in its own thread (`loop_start`); every callback from that
thread only hands data to the event loop with `call_soon_threadsafe`, so no core code ever
runs outside the loop thread, and nothing here blocks the loop.  paho reconnects by itself
with exponential backoff; on every (re)connect this class subscribes its topic filters
again, because a restarted broker has forgotten them.  Answers to requests sent through
`request()` are matched by rqi and by the entity that answers (the receiver level of the
response topic, which a broker ACL can reserve for that entity), so another client that
knows an rqi cannot answer in the target's name.  It must never let an exception escape into paho's thread
(that would silently end the network loop), and never call into the dispatcher itself.
"""
from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from cse.primitives import Response

from . import mqtt_codec
from .mqtt_topics import REG_RESPONSE, RESPONSE, Topic, parse_topic

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, bytes], None]


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    tls: bool = False

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


@dataclass(frozen=True)
class TlsFiles:
    ca_file: str = ""
    cert_file: str = ""
    key_file: str = ""
    insecure: bool = False


def _no_delay(client, userdata, sock) -> None:
    """Primitives are small and answered at once: without TCP_NODELAY, Nagle's algorithm
    meeting the peer's delayed ACK adds ~40 ms to a response (paho does not set it)."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # not a TCP socket (e.g. a proxy or WebSocket wrapper)
        pass


class BrokerConnection:
    """A client session with one broker: (re)connect, (re)subscribe, publish, correlate."""

    def __init__(self, address: BrokerAddress, client_id: str, filters: list[str], *,
                 on_message: MessageHandler | None = None, qos: int = 1, username: str = "",
                 password: str = "", keepalive: int = 60, clean_session: bool = True,
                 tls_files: TlsFiles | None = None, reconnect_min: float = 1.0,
                 reconnect_max: float = 30.0):
        self.address = address
        self.client_id = client_id
        self.filters = list(filters)
        self.qos = qos
        self._on_message = on_message
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()
        self._down = asyncio.Event()
        self._down.set()
        self._failed = asyncio.Event()     # set when a connection attempt failed
        self._pending: dict[tuple[str, str], asyncio.Future] = {}   # (receiver level, rqi)
        self._suback_waiters: dict[int, asyncio.Future] = {}
        self._stopping = False
        self._subscribe_mid: int | None = None   # touched only in paho's thread
        self._connects = 0                        # touched only in paho's thread
        self._failures = 0                        # touched only in paho's thread
        self.connected_count = 0                  # successful (re)subscriptions, loop thread
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                             clean_session=clean_session, protocol=paho.MQTTv311)
        client.suppress_exceptions = True
        if username:
            client.username_pw_set(username, password or None)
        if address.tls:
            files = tls_files or TlsFiles()
            client.tls_set(ca_certs=files.ca_file or None, certfile=files.cert_file or None,
                           keyfile=files.key_file or None, cert_reqs=ssl.CERT_REQUIRED)
            client.tls_insecure_set(files.insecure)
        # paho annotates int seconds; its back-off arithmetic takes fractions (tests use 0.1 s).
        client.reconnect_delay_set(reconnect_min, reconnect_max)  # type: ignore[arg-type]
        client.on_connect = self._paho_connected
        client.on_connect_fail = self._paho_connect_failed
        client.on_disconnect = self._paho_disconnected
        client.on_subscribe = self._paho_subscribed
        client.on_message = self._paho_message
        client.on_socket_open = _no_delay
        self._client = client
        self._keepalive = keepalive

    # -- lifecycle (event-loop thread) -------------------------------------------------
    @property
    def _started_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise ConnectionError(f"the connection to {self.address} is not started")
        return self._loop

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self.address.host, self.address.port, self._keepalive)
        self._client.loop_start()

    async def stop(self) -> None:
        self._stopping = True
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
        self._ready.clear()
        self._down.set()
        for future in [*self._pending.values(), *self._suback_waiters.values()]:
            if not future.done():
                future.set_exception(ConnectionError(f"connection to {self.address} closed"))
        self._pending.clear()
        self._suback_waiters.clear()

    @property
    def ready(self) -> bool:
        """Connected and subscribed: requests published to us now reach us."""
        return self._ready.is_set()

    async def wait_ready(self, timeout: float) -> None:
        await asyncio.wait_for(self._ready.wait(), timeout)

    async def wait_down(self, timeout: float) -> None:
        await asyncio.wait_for(self._down.wait(), timeout)

    async def wait_failure(self, timeout: float) -> None:
        """Until a connection attempt failed (refused, TLS not trusted, bad credentials)."""
        await asyncio.wait_for(self._failed.wait(), timeout)

    # -- sending (event-loop thread) -----------------------------------------------------
    def publish(self, topic: str, payload: bytes) -> None:
        info = self._client.publish(topic, payload, qos=self.qos)
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"cannot publish to {self.address}: {paho.error_string(info.rc)}")

    async def request(self, topic: str, payload: bytes, rqi: str, timeout: float) -> Response:
        """Publish a request primitive and wait for the response with the same rqi."""
        if not self.ready:
            raise ConnectionError(f"not connected to the MQTT broker {self.address}")
        parsed = parse_topic(topic)
        if parsed is None:
            raise ValueError(f"{topic!r} is not a oneM2M request topic; nothing would answer")
        key = (parsed.receiver, rqi)
        if key in self._pending:
            raise ValueError(f"a request with rqi {rqi!r} is already waiting for its response")
        future = self._started_loop.create_future()
        self._pending[key] = future
        try:
            self.publish(topic, payload)
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(key, None)

    async def subscribe(self, topic_filter: str, timeout: float) -> None:
        """Add a filter now and on every later reconnect; returns once the broker granted it."""
        if topic_filter in self.filters:
            return
        self.filters.append(topic_filter)
        if not self.ready:
            return  # subscribed with the others on the next connect
        rc, mid = self._client.subscribe(topic_filter, qos=self.qos)
        if rc != paho.MQTT_ERR_SUCCESS or mid is None:
            raise ConnectionError(f"cannot subscribe at {self.address}: {paho.error_string(rc)}")
        future = self._started_loop.create_future()
        self._suback_waiters[mid] = future  # the SUBACK is handled on this thread, later
        try:
            await asyncio.wait_for(future, timeout)
        finally:
            self._suback_waiters.pop(mid, None)

    # -- paho's thread: hand everything to the loop, never raise --------------------------
    def _to_loop(self, callback, *args) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def _paho_connected(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if reason_code.is_failure:
                log.warning("MQTT broker %s refused the connection: %s", self.address, reason_code)
                self._to_loop(self._failed.set)
                return
            self._connects += 1
            self._failures = 0
            if self._connects == 1:
                log.info("connected to MQTT broker %s as %s", self.address, self.client_id)
            else:
                log.warning("reconnected to MQTT broker %s; subscribing again", self.address)
            if self.filters:
                _, self._subscribe_mid = client.subscribe([(f, self.qos) for f in self.filters])
            else:
                self._to_loop(self._became_ready)
        except Exception:
            log.exception("MQTT on_connect failed")

    def _paho_connect_failed(self, client, userdata) -> None:
        self._failures += 1
        level = logging.WARNING if self._failures == 1 else logging.INFO
        log.log(level, "cannot connect to MQTT broker %s (attempt %d); retrying with backoff",
                self.address, self._failures)
        self._to_loop(self._failed.set)

    def _paho_disconnected(self, client, userdata, flags, reason_code, properties) -> None:
        try:
            if not self._stopping:
                log.warning("lost the connection to MQTT broker %s (%s); reconnecting with backoff",
                            self.address, reason_code)
            self._to_loop(self._became_down)
        except Exception:
            log.exception("MQTT on_disconnect failed")

    def _paho_subscribed(self, client, userdata, mid, reason_codes, properties) -> None:
        try:
            refused = [str(code) for code in reason_codes if code.is_failure]
            if refused:
                log.error("MQTT broker %s refused a subscription: %s", self.address, ", ".join(refused))
            if mid == self._subscribe_mid:
                self._to_loop(self._became_ready)
            else:
                self._to_loop(self._suback, mid, not refused)
        except Exception:
            log.exception("MQTT on_subscribe failed")

    def _paho_message(self, client, userdata, message) -> None:
        try:
            self._to_loop(self._received, message.topic, message.payload)
        except Exception:
            log.exception("MQTT on_message failed")

    # -- event-loop thread -----------------------------------------------------------------
    def _became_ready(self) -> None:
        self.connected_count += 1
        self._down.clear()
        self._ready.set()

    def _became_down(self) -> None:
        self._ready.clear()
        self._down.set()
        # A response can no longer arrive on this session: say so now, not at the timeout.
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(ConnectionError(
                    f"lost the connection to the MQTT broker {self.address} before the response"))

    def _suback(self, mid: int, granted: bool) -> None:
        future = self._suback_waiters.get(mid)
        if future is not None and not future.done():
            if granted:
                future.set_result(None)
            else:
                future.set_exception(ConnectionError(f"{self.address} refused the subscription"))

    def _received(self, topic: str, payload: bytes) -> None:
        parsed = parse_topic(topic)
        if parsed is not None and parsed.kind in (RESPONSE, REG_RESPONSE):
            self._response_received(topic, parsed, payload)
        elif self._on_message is not None:
            try:
                self._on_message(topic, payload)
            except Exception:
                log.exception("handling the MQTT message on %s failed", topic)
        else:
            log.debug("ignoring an MQTT message on %s", topic)

    def _response_received(self, topic: str, parsed: Topic, payload: bytes) -> None:
        try:
            response = mqtt_codec.decode_response(parsed, payload)
        except Exception as exc:
            log.warning("ignoring an unreadable response on %s: %s", topic, exc)
            return
        future = self._pending.get((parsed.receiver, response.rqi))
        if future is None or future.done():
            log.debug("no request is waiting for the response %r on %s", response.rqi, topic)
            return
        future.set_result(response)
