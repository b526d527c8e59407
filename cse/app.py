"""A running CSE: its parts, and the one order in which they start and stop.

`Cse` is built whole, bindings included, by the composition root (`server/compose.py`);
nothing is added to it afterwards.  It knows the parts only through the small protocols
below, never a binding or a resource type by name.  This module must never import a
binding, a resource type or the composition root.
"""
from __future__ import annotations

import logging
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Protocol

if TYPE_CHECKING:
    from .access import AccessControl
    from .clock import Clock
    from .config import Config
    from .dispatcher import Dispatcher
    from .expiry import ExpiryReaper
    from .federation import Federation
    from .outbound import Outbound
    from .polling import PollingChannels
    from .storage import Storage
    from .tree import Tree

log = logging.getLogger(__name__)


class Service(Protocol):
    """A part with work of its own (a server, a background task): started, later stopped.

    `stop` is called only after `start` returned, and must end everything `start` began."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Binding(Service, Protocol):
    """A transport: turns its wire format into requests for the dispatcher and back, or
    sends the CSE's own requests (a sender has no point of access)."""

    name: str

    @property
    def poa(self) -> list[str]: ...


class Notifications(Protocol):
    """The notifier's lifecycle: it stops in two steps, around the bindings' stop."""

    async def start(self) -> None:
        """Resend what the last clean shutdown could not deliver."""

    async def drain(self) -> None:
        """Deliver what is pending, then send nothing more (later events are kept)."""

    async def stop(self) -> None:
        """Write what was not delivered (and the notification statistics) to storage."""


# Creates or refreshes the CSEBase with these points of access; returns it.
Provision = Callable[[list[str]], dict]


@dataclass
class Cse:
    """All parts of one CSE.

    `start` brings them up in this order, and `stop` (or a `start` that fails halfway)
    takes down the ones that were up in the reverse order:

    1. storage opened, the CSEBase provisioned (without poa yet: bindings may serve at once);
    2. the notifier's final step registered: what it could not deliver is written to
       storage after the bindings stopped (a request finishing during their stop still
       has its notifications kept) and before storage closes;
    3. the bindings, in the order given (senders first, so the servers' first requests can
       already notify); a binding that fails to stop is logged and the others still stop;
    4. the CSEBase provisioned again with the bindings' points of access, committed;
    5. the polling channels: closed (waiting polls and senders answered) before the
       bindings stop, so no binding waits for a long poll;
    6. the notifier: it resends what the last shutdown kept, and at stop delivers what is
       pending while the bindings can still send it;
    7. non-blocking requests: at stop the running ones may finish (their results become
       notifications, delivered by step 6);
    8. the expiry reaper, then the action runner (cse/automation.py);
    9. federation (registration, polling agent): it stops first, while the bindings can
       still talk to the registrar (e.g. to deregister).
    """

    config: "Config"
    clock: "Clock"
    storage: "Storage"
    tree: "Tree"
    access: "AccessControl"
    outbound: "Outbound"
    dispatcher: "Dispatcher"
    # The notifier (it is also the first of the event sinks the dispatcher publishes to).
    events: Notifications
    polling: "PollingChannels"
    reaper: "ExpiryReaper"
    federation: "Federation"
    bindings: list[Binding]
    provision: Provision
    # Evaluates <action>s off the request path (cse/automation.py); None: no automation.
    automation: Service | None = None
    # The CSEBase as provisioned at the last start (empty before).
    cse_base: dict = field(default_factory=dict, init=False)
    _running: AsyncExitStack | None = field(default=None, init=False, repr=False)

    @property
    def types(self):
        """The resource types this CSE serves."""
        return self.tree.types

    async def start(self) -> None:
        if self._running is not None:
            raise RuntimeError("the CSE is already running")
        async with AsyncExitStack() as stack:
            self.storage.open()
            stack.callback(self.storage.close)
            self.cse_base = self.provision([])
            stack.push_async_callback(self.events.stop)
            for binding in self.bindings:
                await binding.start()
                stack.push_async_callback(_stop_binding, binding)
            self.cse_base = self.provision([url for binding in self.bindings for url in binding.poa])
            await self.storage.commit()
            stack.callback(self.polling.close)
            await self.events.start()
            stack.push_async_callback(self.events.drain)
            services: list[Service] = [self.dispatcher.nonblocking, self.reaper]
            if self.automation is not None:
                services.append(self.automation)
            for service in (*services, self.federation):
                await service.start()
                stack.push_async_callback(service.stop)
            self._running = stack.pop_all()

    async def stop(self) -> None:
        """Stop what `start` started, in reverse order (nothing when it is not running)."""
        running, self._running = self._running, None
        if running is not None:
            await running.aclose()


async def _stop_binding(binding: Binding) -> None:
    try:
        await binding.stop()
    except Exception:
        log.exception("stopping binding %s failed", binding.name)
