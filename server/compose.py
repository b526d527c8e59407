"""The composition root: `build_cse(config)` makes every part of a CSE, once, in the order
in which each can be given everything it needs.

This is the only module that knows the core, the resource types and the bindings at
once; it sits above all three so that none of them imports another's wiring.  Nothing is
assigned to a part after its construction.  The one registry filled while composing is
`Outbound` (senders by URL scheme): a binding both receives requests (it needs the
dispatcher) and sends the CSE's own (the dispatcher's parts need its sender), so senders
are registered once they exist, all before the CSE starts.

Order of construction (each line uses only what is above it):
    storage, types, tree, access, outbound
    polling channels (a sender for polling://), notifier
    operations (with discovery), federation's routing (remote and NOTIFY handlers, the
        listener that keeps routes fresh), the event sinks (notifier, that listener)
    dispatcher (it builds fan-out and non-blocking requests, which call it back)
    federation's agents (send through the dispatcher), expiry reaper
    bindings and senders (receive through the dispatcher)
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from bindings.coap import CoapBinding
from bindings.coap_client import CoapSender
from bindings.http import HttpBinding, authenticator_hook, server_tls_context
from bindings.http_client import HttpSender
from bindings.mqtt import MqttBinding
from bindings.mqtt_client import MqttSender
from bindings.ws import SCHEME as WS_CONNECTION_SCHEME
from bindings.ws import WsBinding, WsSender
from cse.access import AccessControl
from cse.app import Binding, Cse
from cse.auth import Authenticator
from cse.certs import client_context
from cse.clock import Clock, format_timestamp
from cse.config import Config
from cse.discovery import Discovery
from cse.dispatcher import Dispatcher
from cse.events import EventSinks
from cse.expiry import ExpiryReaper
from cse.federation import AnnouncementQueue, AnnouncementRules, Announcer, Federation, Routing
from cse.federation.routing import Routes
from cse.notify import Notifier
from cse.operations import Operations
from cse.outbound import Outbound
from cse.polling import POLLING_SCHEME, PollingChannels
from cse.representation import Renderer
from cse.storage import Storage, open_storage
from cse.tree import Tree
from resources import TypeRegistry, default_types
from resources.cse_base import provision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoreParts:
    """What bindings and senders are made from."""

    config: Config
    dispatcher: Dispatcher
    outbound: Outbound
    access: AccessControl
    routes: Routes


# Makes the bindings and senders of a CSE (registering the senders with `parts.outbound`),
# in start order.
BindingFactory = Callable[[CoreParts], list[Binding]]


def no_bindings(parts: CoreParts) -> list[Binding]:
    """A core without transports (tests, tools that fill a database)."""
    return []


def build_cse(config: Config, *, clock: Clock | None = None, storage: Storage | None = None,
              types: TypeRegistry | None = None, bindings: BindingFactory = no_bindings) -> Cse:
    """A CSE, not started.  `bindings=configured_bindings` gives it the transports the
    configuration enables (what the `cse` command runs); the default gives it none."""
    clock = clock or Clock()
    storage = storage or open_storage(config.storage.resolved_url(), config.storage.durability)
    types = types or default_types()
    tree = Tree(config, storage, types)
    access = AccessControl(config)
    outbound = Outbound()
    # Requests for entities with rr=false wait in their <pollingChannel> (polling:// URLs).
    polling = PollingChannels(config.polling, tree, clock)
    outbound.register((POLLING_SCHEME,), polling, internal=True)
    notifier = Notifier(config, clock, storage, tree, access, outbound)
    renderer = Renderer(types)
    operations = Operations(config, storage, tree, access, renderer, Discovery(renderer),
                            blocking=notifier.blocking,
                            announcement=AnnouncementRules(config, storage, types))
    routing = Routing(config, storage, tree, operations, clock, outbound)
    # Originals whose announced copies must be synced (worked off by federation's Announcer).
    announcements = AnnouncementQueue(config.announcement.queue_size, types)
    events = EventSinks(notifier, routing.watch, announcements)
    dispatcher = Dispatcher(config, storage, tree, clock, access, operations, events, outbound, polling,
                            remote_handler=routing.forwarder.handle, notify_handler=routing.relay.handle,
                            send_result=notifier.send_result)
    federation = Federation(config, routing, dispatcher.handle, clock, storage, outbound,
                            announcer=Announcer(config, storage, types, dispatcher.handle, announcements))
    reaper = ExpiryReaper(config, tree, events, dispatcher.context)

    def provision_base(poa: list[str]) -> dict:
        return provision(config, storage, format_timestamp(clock.now()), types.supported, poa)

    made = bindings(CoreParts(config, dispatcher, outbound, access, routing.routes))
    return Cse(config, clock, storage, tree, access, outbound, dispatcher, notifier, polling, reaper,
               federation, made, provision_base)


def configured_bindings(parts: CoreParts) -> list[Binding]:
    """The senders, then the servers the configuration enables, in start order."""
    config, dispatcher, outbound = parts.config, parts.dispatcher, parts.outbound
    http = config.http
    made: list[Binding] = []
    outbound_tls = None
    if http.tls_outbound_ca or http.tls_outbound_cert:
        outbound_tls = client_context(http.tls_outbound_ca or None, http.tls_outbound_cert or None,
                                      http.tls_outbound_key or None)
    sender = HttpSender(ssl_context=outbound_tls)
    outbound.register(("http", "https"), sender)
    made.append(sender)
    checking = _authenticator(config, parts.access)
    mqtt = None
    if config.mqtt.enabled:
        mqtt = MqttBinding(config, dispatcher, authenticator=checking, may_relay=parts.routes.may_relay)
    mqtt_sender = MqttSender(config, mqtt)
    outbound.register(("mqtt", "mqtts"), mqtt_sender)
    made.append(mqtt_sender)
    coap_sender = CoapSender()
    outbound.register(("coap",), coap_sender)
    made.append(coap_sender)
    if http.enabled:
        hook = authenticator_hook(checking) if checking is not None else None
        made.append(HttpBinding(http, dispatcher, ssl_context=server_tls_context(http), authenticator=hook))
    if mqtt is not None:
        made.append(mqtt)
    if config.coap.enabled:
        made.append(CoapBinding(config, dispatcher, authenticator=checking))
    if config.ws.enabled:
        # Requests to entities that opened a WebSocket go over it (wsconn://, never given by peers).
        ws_sender = WsSender()
        outbound.register((WS_CONNECTION_SCHEME,), ws_sender, internal=True)
        made.append(WsBinding(config, dispatcher, outbound, ws_sender, parts.access.normalize,
                              authenticator=checking,
                              ssl_context=server_tls_context(http) if config.ws.tls else None))
    return made


def _authenticator(config: Config, access: AccessControl) -> Authenticator | None:
    """One authenticator for every binding, or None when nothing is checked.  MQTT and CoAP
    carry no credential, so over them the originators it protects cannot be claimed at all
    (docs/security.md)."""
    own_id = config.cse.cse_id
    authenticator = Authenticator(config.auth, access.normalize, protected=(own_id, config.cse.sp_id + own_id))
    if not (config.auth.required or access.normalize(config.cse.admin_originator) in authenticator.credentials):
        log.warning("no credentials for the admin originator %s: any client may act as it "
                    "(see docs/security.md)", config.cse.admin_originator)
    if config.auth.required and (config.mqtt.enabled or config.coap.enabled):
        log.warning("auth.required: requests over MQTT and CoAP carry no credential and are refused")
    # Checks are on when credentials exist, `required` is set, or client certificates are used.
    return authenticator if authenticator.active or config.http.tls_client_cert != "none" else None
