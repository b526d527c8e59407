"""Which transport and which notification receiver fit a CSE's URL.

The one module that knows every kind: transports and receivers know none of each other,
so `client.mqtt` can build on both without either importing it back.
"""
from __future__ import annotations

from typing import Any, Callable

from .coap import CoapTransport
from .mqtt import MqttNotificationReceiver, MqttTransport
from .receiver import NotificationInbox, NotificationReceiver
from .transport import HttpTransport, Transport
from .ws import WsNotificationReceiver, WsTransport


def _mqtt(url: str, serialization: str, cse_id: str | None) -> Transport:
    if cse_id is None:
        raise ValueError("an MQTT transport needs the CSE-ID of the CSE (cse_id='/id-in')")
    return MqttTransport(url, cse_id=cse_id, serialization=serialization)


# URL scheme -> (url, serialization, CSE-ID) -> transport.  A new transport (WebSocket) is
# one more line here; `m2m` and `CseClient` pick it up from the scheme.
TRANSPORTS: dict[str, Callable[[str, str, "str | None"], Transport]] = {
    "http": lambda url, serialization, cse_id: HttpTransport(url, serialization=serialization),
    "https": lambda url, serialization, cse_id: HttpTransport(url, serialization=serialization),
    "mqtt": _mqtt,
    "mqtts": _mqtt,
    "coap": lambda url, serialization, cse_id: CoapTransport(url, serialization=serialization),
    "ws": lambda url, serialization, cse_id: WsTransport(url, serialization=serialization),
    "wss": lambda url, serialization, cse_id: WsTransport(url, serialization=serialization),
}


def transport_for(url: str, serialization: str = "json", cse_id: str | None = None) -> Transport:
    """The transport for a CSE URL's scheme (MQTT needs the CSE's CSE-ID as well)."""
    scheme = url.split("://", 1)[0].lower()
    make = TRANSPORTS.get(scheme)
    if make is None:
        raise ValueError(f"no client transport for {scheme!r} URLs (supported: {', '.join(TRANSPORTS)})")
    return make(url, serialization, cse_id)


def receiver_for(client: Any, **inbox: Any) -> NotificationInbox:
    """The receiver that fits `client`'s transport: an HTTP `NotificationReceiver` on a
    free loopback port, or an `MqttNotificationReceiver` on the client's broker
    connection.  Start it (`async with`) before `client.register(..., receiver=it)`.
    `inbox`: see `NotificationInbox` (HTTP ones also take host, port, public_url)."""
    if isinstance(client.transport, MqttTransport):
        return MqttNotificationReceiver(client.transport, **inbox)
    if isinstance(client.transport, WsTransport):
        return WsNotificationReceiver(client.transport, **inbox)
    return NotificationReceiver(**inbox)
