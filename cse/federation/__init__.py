"""Connecting CSEs: registration with a registrar, request forwarding, NOTIFY relay.

Two objects, because the dispatcher needs part of federation and the rest needs the
dispatcher; so neither is completed after construction:
- `Routing`, made before the dispatcher: where requests for other CSEs go (the
  dispatcher's remote handler), NOTIFYs for our AEs (its notify handler), and the event
  sink that tells routes and registration that remoteCSE records changed;
- `Federation`, made after it: the agents that keep this CSE registered (and, behind NAT,
  fetch its requests), which send through the dispatcher.  It is a service of the CSE.
See docs/federation.md.  Nothing here imports a binding: every message to another entity
goes through `Outbound`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.primitives import Handler

from .announcement import AnnouncementQueue, AnnouncementRules, Announcer
from .forwarding import ROUTED_SCHEME, Forwarder, RoutedSender
from .notify_relay import NotifyRelay
from .polling_agent import PollingAgent
from .registration import RegistrationAgent
from .routing import RegistreeWatch, Routes

if TYPE_CHECKING:
    from cse.clock import Clock
    from cse.config import Config
    from cse.operations import Operations
    from cse.outbound import Outbound
    from cse.storage import Storage
    from cse.tree import Tree


class Routing:
    """What the dispatcher is given by federation (made before it)."""

    def __init__(self, config: "Config", storage: "Storage", tree: "Tree", operations: "Operations",
                 clock: "Clock", outbound: "Outbound"):
        # One of the CSE's event sinks: remoteCSE records changed -> rebuild routes, re-report dcse.
        self.watch = RegistreeWatch()
        self.routes = Routes(config, storage, tree, self.watch, clock)
        self.forwarder = Forwarder(config, self.routes, clock, outbound)
        self.relay = NotifyRelay(config, operations, tree, self.routes)


class Federation:
    """The running side of federation; `registration` and `polling` exist only when the
    configuration asks for them (a registrar; a registrar that cannot reach us)."""

    def __init__(self, config: "Config", routing: Routing, dispatch: Handler, clock: "Clock",
                 storage: "Storage", outbound: "Outbound", announcer: Announcer | None = None):
        self.routes = routing.routes
        self.announcer = announcer      # announcement to other CSEs (at), off the request path
        self.forwarder = routing.forwarder
        self.relay = routing.relay
        self._storage = storage
        self._cse_ri = config.cse.cse_id.lstrip("/")
        self.registration: RegistrationAgent | None = None
        self.polling: PollingAgent | None = None
        if config.registrar.url:
            self.registration = RegistrationAgent(config, dispatch, clock, self.routes, routing.watch, outbound,
                                                  on_new_record=announcer.resync if announcer else None)
            if not config.registrar.request_reachable:
                self.polling = PollingAgent(config, dispatch, outbound, self.registration)
        # Notifications for IDs on CSEs that are not our neighbours travel the forwarding path.
        outbound.register((ROUTED_SCHEME,), RoutedSender(dispatch), internal=True)

    async def start(self) -> None:
        """Begin registering (in the background) with the poa the CSEBase announces: the
        bindings have started, so they know their addresses."""
        if self.announcer is not None:
            await self.announcer.start()
        if self.registration is not None:
            base = self._storage.get(self._cse_ri) or {}
            self.registration.start(list(base.get("poa") or []))
        if self.polling is not None:
            self.polling.start()

    async def stop(self) -> None:
        if self.polling is not None:
            await self.polling.stop()
        if self.registration is not None:
            await self.registration.stop()
        if self.announcer is not None:
            await self.announcer.stop()


__all__ = ["AnnouncementQueue", "AnnouncementRules", "Announcer", "Federation", "Forwarder", "NotifyRelay", "PollingAgent", "RegistrationAgent", "RegistreeWatch",
           "Routes", "Routing"]
