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
    federation's agents (send through the dispatcher), expiry reaper, the action runner
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
from cse.automation import ActionRunner, ActionWatch
from cse.certs import client_context
from cse.clock import Clock, format_timestamp
from cse.config import Config
from cse.crossresource import CrossResourceWatch
from cse.discovery import Discovery
from cse.dispatcher import Dispatcher
from cse.events import EventSinks
from cse.expiry import ExpiryReaper
from cse.federation import AnnouncementQueue, AnnouncementRules, Announcer, Federation, Routing
from cse.federation.routing import Routes
from cse.notify import Notifier
from cse.operations import Operations
from cse.outbound import Outbound
from cse.outbound_policy import OutboundPolicy
from cse.polling import POLLING_SCHEME, PollingChannels
from cse.representation import Renderer
from cse.search import Walks
from cse.storage import Storage, open_storage
from cse.tree import Tree
from resources import TypeRegistry, default_types
from resources.cse_base import provision

from .admin import AdminListener, Check
from .metrics import Metrics
from .observe import Observer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CoreParts:
    """What bindings and senders are made from."""

    config: Config
    dispatcher: Dispatcher
    outbound: Outbound
    access: AccessControl
    routes: Routes
    storage: Storage
    federation: Federation
    # The request log and metrics: each binding gets `observer.recorder(its name)`.
    observer: Observer


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
    storage = storage or open_storage(config.storage.resolved_url(), config.storage.durability,
                                      wal_limit_bytes=config.storage.wal_max_bytes)
    types = types or default_types()
    tree = Tree(config, storage, types)
    access = AccessControl(config)
    outbound = Outbound(policy=OutboundPolicy.from_settings(config.outbound))
    # Requests for entities with rr=false wait in their <pollingChannel> (polling:// URLs).
    polling = PollingChannels(config.polling, tree, clock)
    outbound.register((POLLING_SCHEME,), polling, internal=True)
    notifier = Notifier(config, clock, storage, tree, access, outbound)
    renderer = Renderer(types)
    walks = Walks()         # discovery and child lists: one heavy walk at a time
    operations = Operations(config, storage, tree, access, renderer, Discovery(renderer, walks),
                            blocking=notifier.blocking, walks=walks,
                            announcement=AnnouncementRules(config, storage, types))
    routing = Routing(config, storage, tree, operations, clock, outbound)
    # <action>s: the watch hears the changes, the runner (after the dispatcher) acts on them.
    actions = ActionWatch(clock, config.automation.queue_size)
    # <crossResourceSubscription>s watch their targets' events and notify through the notifier.
    crossing = CrossResourceWatch(clock, storage, notifier.send_result, config.cse.cse_id, config.cse.rn,
                                  config.notification)
    # Originals whose announced copies must be synced (worked off by federation's Announcer).
    announcements = AnnouncementQueue(config.announcement.queue_size, types)
    events = EventSinks(notifier, routing.watch, actions, crossing, announcements)
    dispatcher = Dispatcher(config, storage, tree, clock, access, operations, events, outbound, polling,
                            remote_handler=routing.forwarder.handle, notify_handler=routing.relay.handle,
                            send_result=notifier.send_result)
    federation = Federation(config, routing, dispatcher.handle, clock, storage, outbound,
                            announcer=Announcer(config, storage, types, dispatcher.handle, announcements))
    observer = Observer(Metrics(config.cse.cse_id.lstrip("/"), storage, notifier), log_requests=config.log.requests)
    reaper = ExpiryReaper(config, tree, events, dispatcher.context)
    automation = ActionRunner(actions, storage, dispatcher.handle, config.cse.rn)

    def provision_base(poa: list[str]) -> dict:
        return provision(config, storage, format_timestamp(clock.now()), types.supported, poa)

    made = bindings(CoreParts(config, dispatcher, outbound, access, routing.routes, storage, federation, observer))
    return Cse(config, clock, storage, tree, access, outbound, dispatcher, notifier, polling, reaper,
               federation, made, provision_base, automation)


def configured_bindings(parts: CoreParts) -> list[Binding]:
    """The senders, then the servers the configuration enables, in start order."""
    config, dispatcher, outbound, observer = parts.config, parts.dispatcher, parts.outbound, parts.observer
    http = config.http
    made: list[Binding] = []
    outbound_tls = None
    if http.tls_outbound_ca or http.tls_outbound_cert:
        outbound_tls = client_context(http.tls_outbound_ca or None, http.tls_outbound_cert or None,
                                      http.tls_outbound_key or None)
    sender = HttpSender(ssl_context=outbound_tls, vendor_notify_type=http.notify_vendor_media_type,
                        policy=parts.outbound.policy, max_connections=config.notification.max_connections,
                        connect_timeout=config.notification.connect_timeout)
    outbound.register(("http", "https"), sender)
    made.append(sender)
    checking = _authenticator(config, parts.access)
    mqtt = None
    if config.mqtt.enabled:
        mqtt = MqttBinding(config, dispatcher, authenticator=checking, may_relay=parts.routes.may_relay,
                           record=observer.recorder("mqtt"))
    mqtt_sender = MqttSender(config, mqtt, policy=parts.outbound.policy)
    outbound.register(("mqtt", "mqtts"), mqtt_sender)
    made.append(mqtt_sender)
    coap_sender = CoapSender(policy=parts.outbound.policy)
    outbound.register(("coap",), coap_sender)
    made.append(coap_sender)
    if http.enabled:
        hook = authenticator_hook(checking) if checking is not None else None
        server = HttpBinding(http, dispatcher, ssl_context=server_tls_context(http), authenticator=hook,
                             record=observer.recorder("http"))
        observer.metrics.add_connections("http", lambda: server.open_connections)
        made.append(server)
    if mqtt is not None:
        observer.metrics.add_connections("mqtt", lambda: int(mqtt.connection.ready))
        made.append(mqtt)
    if config.coap.enabled:
        made.append(CoapBinding(config, dispatcher, authenticator=checking, record=observer.recorder("coap")))
    if config.ws.enabled:
        # Requests to entities that opened a WebSocket go over it (wsconn://, never given by peers).
        ws_sender = WsSender()
        outbound.register((WS_CONNECTION_SCHEME,), ws_sender, internal=True)
        ws = WsBinding(config, dispatcher, outbound, ws_sender, parts.access.normalize, authenticator=checking,
                       ssl_context=server_tls_context(http) if config.ws.tls else None, record=observer.recorder("ws"))
        observer.metrics.add_connections("ws", lambda: ws.connections)
        made.append(ws)
    if config.admin.enabled:
        made.append(AdminListener(config.admin, observer.metrics, health_checks(parts, mqtt)))
    return made


def health_checks(parts: CoreParts, mqtt: MqttBinding | None) -> list[Check]:
    """What /health/ready asks: storage answers, the broker is connected (when MQTT is on),
    this CSE is registered with its registrar (when it has one)."""
    config, storage = parts.config, parts.storage
    base_ri = config.cse.cse_id.lstrip("/")

    def storage_state() -> tuple[bool, str]:
        found = storage.get(base_ri) is not None
        return found, f"{storage.url or 'storage'} answers" if found else "the CSEBase cannot be read"

    checks = [Check("storage", storage_state)]
    if mqtt is not None:
        connection = mqtt.connection
        checks.append(Check("broker", lambda: (connection.ready, f"{'connected to' if connection.ready else 'not connected to'} "
                                                                  f"{connection.address}")))
    agent = parts.federation.registration
    if agent is not None:
        def registrar_state() -> tuple[bool, str]:
            if agent.registered:
                return True, f"registered with {config.registrar.cse_id} at {config.registrar.url}"
            return False, f"not registered with {config.registrar.cse_id}: {agent.last_error or 'trying'}"
        checks.append(Check("registrar", registrar_state))
    return checks


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
