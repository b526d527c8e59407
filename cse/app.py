"""Wiring: `build_cse(config)` is the one place where the parts of a CSE are put together.

No part looks another up through a global; each receives what it needs here.  Bindings are
added by whoever runs the CSE (the CLI, a test) and started and stopped with it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from resources import TypeRegistry, default_types
from resources.cse_base import provision

from .access import AccessControl
from .clock import Clock, format_timestamp
from .config import Config
from .discovery import Discovery
from .dispatcher import Dispatcher
from .events import EventSink
from .expiry import ExpiryReaper
from .federation import Federation
from .fanout import FanOut
from .nonblocking import NonBlockingRequests
from .notify import Notifier
from .outbound import Outbound
from .polling import POLLING_SCHEME, PollingChannels
from .representation import Renderer
from .storage import Storage, open_storage
from .tree import Tree

log = logging.getLogger(__name__)


class Binding(Protocol):
    """A transport: turns its wire format into requests for the dispatcher and back."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def poa(self) -> list[str]: ...


@dataclass
class Cse:
    config: Config
    clock: Clock
    storage: Storage
    types: TypeRegistry
    tree: Tree
    access: AccessControl
    dispatcher: Dispatcher
    events: EventSink
    reaper: ExpiryReaper
    outbound: Outbound
    bindings: list[Binding] = field(default_factory=list)
    cse_base: dict | None = None
    federation: Federation | None = None
    polling: PollingChannels | None = None

    async def start(self) -> None:
        self.storage.open()
        try:
            self._provision([])
            for binding in self.bindings:
                await binding.start()
            self._provision([url for b in self.bindings for url in b.poa])
            await self.storage.commit()
            start_events = getattr(self.events, "start", None)
            if start_events is not None:
                await start_events()
            self.reaper.start()
            if self.federation is not None:
                self.federation.start(self.cse_base.get("poa", []))
        except BaseException:
            await self.stop()
            raise

    def _provision(self, poa: list[str]) -> None:
        now_ts = format_timestamp(self.clock.now())
        self.cse_base = provision(self.config, self.storage, now_ts, self.types.supported, poa)

    async def stop(self) -> None:
        if self.federation is not None:
            await self.federation.stop()    # may still talk to the registrar: bindings are up
        await self.reaper.stop()
        if self.dispatcher.nonblocking is not None:
            await self.dispatcher.nonblocking.stop()   # their results become notifications
        # Deliver pending notifications while the bindings can still send them.
        drain_events = getattr(self.events, "drain", None)
        if drain_events is not None:
            await drain_events()
        if self.polling is not None:
            self.polling.close()            # answers waiting polls, so the bindings can stop
        for binding in reversed(self.bindings):
            try:
                await binding.stop()
            except Exception:
                log.exception("stopping binding %s failed", getattr(binding, "name", binding))
        stop_events = getattr(self.events, "stop", None)
        if stop_events is not None:
            await stop_events()
        self.storage.close()


def build_cse(config: Config, *, clock: Clock | None = None, storage: Storage | None = None,
              types: TypeRegistry | None = None, events: EventSink | None = None) -> Cse:
    clock = clock or Clock()
    storage = storage or open_storage(config.storage.resolved_url(), config.storage.durability)
    types = types or default_types()
    tree = Tree(config, storage, types)
    access = AccessControl(config)
    outbound = Outbound()
    events = events or Notifier(config, clock, storage, tree, access, outbound)
    dispatcher = Dispatcher(config, storage, tree, clock, access, Renderer(types), events, outbound)
    dispatcher.operations.discovery = Discovery(dispatcher.operations.render)
    dispatcher.fanout = FanOut(dispatcher)
    dispatcher.nonblocking = NonBlockingRequests(dispatcher, getattr(events, "send_result", None))
    reaper = ExpiryReaper(dispatcher, events)
    cse = Cse(config, clock, storage, types, tree, access, dispatcher, events, reaper, outbound)
    cse.federation = Federation(config, dispatcher, types, clock, outbound)
    # Requests for entities with rr=false wait in their <pollingChannel> (polling:// URLs).
    cse.polling = dispatcher.polling = PollingChannels(config.polling, tree, clock)
    outbound.register((POLLING_SCHEME,), cse.polling, internal=True)
    return cse
