"""Changes to the resource tree, as facts handed to whoever reacts to them after commit.

The dispatcher collects `Event`s while it handles a request and passes them to the
`EventSink` only after the storage commit succeeded, so nobody is ever told about a change
that was rolled back.  The sink is `EventSinks`: the notifier, and federation's watch of
the remoteCSE records.  Every sink must return quickly: sending happens off the request
path.
"""
from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger(__name__)


class EventKind(enum.Enum):
    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"


@dataclass(slots=True)
class Event:
    kind: EventKind
    resource: dict
    parent: dict | None = None
    originator: str | None = None
    # UPDATED: the attributes the request changed, with their new values (None = removed).
    modified: dict | None = None
    # DELETED: subscriptions removed with the resource (itself included when it is one).
    removed_subscriptions: list[dict] = field(default_factory=list)
    # DELETED: resources below the deleted one that had subscriptions, by ri, so that those
    # subscriptions can still report the deletion of what they watched (net 2).
    removed_subscribed: dict[str, dict] = field(default_factory=dict)
    # False when the deletion must not be reported to the parent's subscribers
    # (instances pruned by mni/mbs/mia, TS-0004 7.4.7.2.1).
    notify_parent: bool = True


class EventSink(Protocol):
    def publish(self, events: list[Event]) -> None:
        """Take events of one committed request; must not block."""


class DiscardEvents:
    """Sink for a CSE without subscriptions support (and for tests of the bare core)."""

    def publish(self, events: list[Event]) -> None:
        return None


class EventSinks:
    """Hands every batch of committed events to several sinks, in the order given (the
    notifier, federation's routes).  A sink that raises is logged and skipped: the
    change is committed, so it must neither fail the request nor starve the other sinks."""

    def __init__(self, *sinks: EventSink):
        self.sinks = sinks

    def publish(self, events: list[Event]) -> None:
        for sink in self.sinks:
            try:
                sink.publish(events)
            except Exception:
                log.exception("%s failed on %d event(s)", type(sink).__name__, len(events))
