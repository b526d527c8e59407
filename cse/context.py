"""Per-request context handed to resource hooks: the parts a hook may use, nothing more."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Awaitable, Callable

from .clock import format_timestamp
from .events import Event, EventKind

if TYPE_CHECKING:
    from .access import AccessControl
    from .config import Config
    from .outbound import Outbound
    from .polling import PollingChannels
    from .primitives import Request, Response
    from .storage import Storage
    from .tree import Tree


@dataclass(slots=True)
class Context:
    config: "Config"
    storage: "Storage"
    tree: "Tree"
    access: "AccessControl"
    outbound: "Outbound"
    request: "Request | None"
    now: float
    # Sends a request through this CSE's dispatcher (access control, forwarding included),
    # for hooks that must look at other resources as the originator would (group members).
    dispatch: "Callable[[Request], Awaitable[Response]] | None" = None
    # The pollingChannels' queues (cse/polling.py), for the pollingChannel type's hooks.
    polling: "PollingChannels | None" = None
    events: list[Event] = field(default_factory=list)
    # In an UPDATE: what the changed attributes were before it (absent: None), for hooks
    # that react to a transition (a container's disr from true to false).
    previous: dict | None = None
    _now_ts: str | None = None

    @property
    def now_ts(self) -> str:
        if self._now_ts is None:
            self._now_ts = format_timestamp(self.now)
        return self._now_ts

    @property
    def originator(self) -> str | None:
        return self.request.fr if self.request is not None else None

    def emit(self, kind: EventKind, resource: dict, parent: dict | None = None, **extra) -> None:
        self.events.append(Event(kind, resource, parent, self.originator, **extra))
