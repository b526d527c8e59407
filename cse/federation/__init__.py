"""Connecting CSEs: registration with a registrar, request forwarding, NOTIFY relay.

`Federation` puts the pieces together for `build_cse`; see docs/federation.md.
Nothing here imports a binding: every message to another entity goes through `Outbound`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .forwarding import ROUTED_SCHEME, Forwarder, RoutedSender
from .notify_relay import NotifyRelay
from .polling_agent import PollingAgent
from .registration import RegistrationAgent
from .routing import Routes

if TYPE_CHECKING:
    from cse.clock import Clock
    from cse.config import Config
    from cse.dispatcher import Dispatcher
    from cse.outbound import Outbound
    from cse.type_registry import TypeRegistry

REMOTE_CSE_TY = 16


class Federation:
    def __init__(self, config: "Config", dispatcher: "Dispatcher", types: "TypeRegistry", clock: "Clock",
                 outbound: "Outbound"):
        remote_cse_type = types.get(REMOTE_CSE_TY)
        self.routes = Routes(config, dispatcher.storage, dispatcher.tree, remote_cse_type, clock)
        self.forwarder = Forwarder(config, self.routes, clock, outbound)
        self.relay = NotifyRelay(dispatcher)
        self.registration: RegistrationAgent | None = None
        self.polling: PollingAgent | None = None
        if config.registrar.url:
            self.registration = RegistrationAgent(config, dispatcher, self.routes, outbound)
            if remote_cse_type is not None:
                remote_cse_type.on_change = self.registration.wake
            if not config.registrar.request_reachable:
                self.polling = PollingAgent(config, dispatcher, outbound, self.registration)
        dispatcher.remote_handler = self.forwarder.handle
        dispatcher.notify_handler = self.relay.handle
        # Notifications for IDs on CSEs that are not our neighbours travel the forwarding path.
        outbound.register((ROUTED_SCHEME,), RoutedSender(dispatcher.handle), internal=True)

    def start(self, poa: list[str]) -> None:
        """Begin registering (in the background) once the bindings know their poa."""
        if self.registration is not None:
            self.registration.start(poa)
        if self.polling is not None:
            self.polling.start()

    async def stop(self) -> None:
        if self.polling is not None:
            await self.polling.stop()
        if self.registration is not None:
            await self.registration.stop()


__all__ = ["Federation", "Forwarder", "NotifyRelay", "PollingAgent", "RegistrationAgent", "Routes"]
