"""Matching: which subscriptions an event concerns, and what each of them is told.

For every committed change the notifier asks `Matcher.match(event)`.  The answer lists, in
the order they must be notified, one `Match` per notification to make (subscription, net,
the resource its `rep` shows, the modified attributes) and, for a subscription that was
deleted, a `Match` with `ENDED` after its own net 2, so its batch is sent and its subscriber
told in that order.  The subscriptions of a resource come from `SubscriptionCache`, a
bounded cache per subscribed-to resource ("none" is cached too) filled with one
`storage.children(ri, 23)` query and emptied by the events that create, update or delete a
subscription; `Subscription.from_doc` compiles a stored subscription once per fill.

Runs on the request path: no storage query when the cache holds the resource, no
allocation when nothing is subscribed.  This module never writes to storage and never sends.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol

from ..access import Permission
from ..clock import format_timestamp, parse_duration
from ..errors import OneM2MError
from ..events import Event, EventKind
from ..filters import Criteria
from ..notification_target import NotificationTarget, parse_target
from ..schedule_entries import Schedule

if TYPE_CHECKING:
    from ..access import AccessControl
    from ..clock import Clock
    from ..config import NotificationSettings
    from ..context import Context
    from ..storage import Storage

log = logging.getLogger(__name__)

SUBSCRIPTION_TY = 23
# eventNotificationCriteria members with the meaning they have in filter criteria.
FILTER_MEMBERS = ("crb", "cra", "ms", "us", "sts", "stb", "exb", "exa", "sza", "szb")
UPDATE, DELETE, CHILD_CREATED, CHILD_DELETED = 1, 2, 3, 4
BLOCKING_UPDATE = 7     # sent before the UPDATE is written (cse/notify/blocking.py), never matched here
ENDED = 0       # not a net: the subscription itself went away (send its batch, tell its su)
# Not a net: an operation an operationMonitor (enc om) watches; the Match's `modified` slot
# carries {"ops": operation, "org": originator}, what the notification's nev.om says.
MONITORED = -1
OP_CREATE, OP_UPDATE, OP_DELETE = 1, 3, 4
ALL_ATTRIBUTES, MODIFIED_ATTRIBUTES, RESOURCE_ID = 1, 2, 3
# The internal key of a <subscription> with the entries of its notificationSchedule (kept
# there by resources/schedule.py, so the schedule comes with the cached subscription).
NOTIFICATION_SCHEDULE_KEY = "_nsch"
IMMEDIATE_EC = 2    # nec "immediate": not held back by the notificationSchedule (as ACME)
# The event kinds as plain names: an Enum attribute lookup costs ~70 ns on Python 3.11, and
# these are compared for every event on the request path.
CREATED, UPDATED, DELETED = EventKind.CREATED, EventKind.UPDATED, EventKind.DELETED


@dataclass(slots=True, eq=False)
class Subscription:
    """A stored <subscription>, prepared for matching (built once per cache fill)."""

    doc: dict
    ri: str
    sur: str
    events: frozenset[int]
    child_types: frozenset[int] | None
    attributes: frozenset[str] | None
    conditions: Criteria | None      # the filter-like enc members, compiled once
    content_type: int
    targets: list[NotificationTarget]
    subscriber: NotificationTarget | None
    batch_size: int | None
    batch_seconds: float | None
    latest_only: bool
    latest_when_failing: bool
    ec: int | None
    creator: str | None
    et: str | None = None            # expirationTime (m2m:timestamp, compared as a string)
    exhausted: bool = False          # its exc is used up: no further notification
    schedule: Schedule | None = None     # its notificationSchedule (cse/notify/schedules.py)
    pending: int | None = None       # pn: what becomes of notifications outside the schedule
    # enc om: (operation or None, originator or None) pairs; None when it has no om.
    monitors: tuple[tuple[int | None, str | None], ...] | None = None
    event_originator: bool = False   # eeno: cr names who caused the event (when cr is not set)

    @classmethod
    def from_doc(cls, doc: dict, cse_id: str, settings: "NotificationSettings") -> "Subscription":
        enc = doc.get("enc") or {}
        conditions = {k: enc[k] for k in FILTER_MEMBERS if k in enc}
        if conditions and "fo" in enc:
            conditions["fo"] = enc["fo"]
        targets = []
        for entry in doc.get("nu") or ():
            try:
                targets.append(parse_target(entry))
            except OneM2MError as error:
                log.error("subscription %s: skipping notification target: %s", doc["ri"], error.message)
        subscriber = None
        if doc.get("su"):
            try:
                subscriber = parse_target(doc["su"], "su")
            except OneM2MError as error:
                log.error("subscription %s: ignoring su: %s", doc["ri"], error.message)
        batch = doc.get("bn")
        size = seconds = None
        if batch:
            # The bound of every batch: num, but never more than max_batch_size.
            size = min(batch.get("num") or settings.max_batch_size, settings.max_batch_size)
            dur = batch.get("dur")
            seconds = parse_duration(dur, "bn/dur") if dur is not None else settings.default_batch_duration
        entries = doc.get(NOTIFICATION_SCHEDULE_KEY)
        schedule = None
        if entries and doc.get("nec") != IMMEDIATE_EC:
            schedule = Schedule(entries, "notificationSchedule")
        return cls(doc=doc, ri=doc["ri"], sur=f"{cse_id}/{doc['ri']}",
                   events=frozenset(enc.get("net") or (() if enc.get("om") else (UPDATE,))),
                   child_types=frozenset(enc["chty"]) if enc.get("chty") else None,
                   attributes=frozenset(enc["atr"]) if enc.get("atr") else None,
                   conditions=Criteria(conditions) if conditions else None,
                   content_type=doc.get("nct") or ALL_ATTRIBUTES,
                   targets=targets, subscriber=subscriber, batch_size=size, batch_seconds=seconds,
                   latest_only=bool(doc.get("ln")), latest_when_failing=doc.get("pn") == 1,
                   ec=doc.get("nec"), creator=doc.get("cr"), et=doc.get("et"),
                   schedule=schedule, pending=doc.get("pn"),
                   monitors=tuple((m.get("ops"), _cse_relative(m.get("org"), cse_id)) for m in enc["om"])
                   if enc.get("om") else None,
                   event_originator=bool(doc.get("eeno")))

    def monitored(self, operation: int, originator: str | None, cse_id: str) -> dict | None:
        """nev.om for an operation its operationMonitor watches, else None."""
        if self.monitors is None or self.exhausted:
            return None
        who = _cse_relative(originator, cse_id)
        for ops, org in self.monitors:
            if (ops is None or ops == operation) and (org is None or org == who):
                return {"ops": operation, "org": originator}
        return None

    def expired(self, now_ts: str) -> bool:
        return self.et is not None and self.et <= now_ts

    def wants(self, event_type: int, resource: dict, modified: dict | None = None) -> bool:
        if event_type not in self.events or self.exhausted:
            return False
        if event_type in (CHILD_CREATED, CHILD_DELETED):
            if self.child_types is not None and resource["ty"] not in self.child_types:
                return False
        elif event_type == UPDATE and self.attributes is not None and modified is not None:
            if self.attributes.isdisjoint(modified):
                return False
        return self.conditions is None or self.conditions.matches(resource)


def _cse_relative(originator: str | None, cse_id: str) -> str | None:
    """'/id-in/Cm' and 'Cm' are the same originator of this CSE."""
    if originator and originator.startswith(cse_id + "/"):
        return originator[len(cse_id) + 1:]
    return originator


# One notification to make: (subscription, event type = its net, the resource `rep` shows,
# the modified attributes or None); with ENDED as event type: the subscription is gone.
# A plain tuple: made per matching subscription on the request path, where a NamedTuple's
# constructor costs a Python call more.
Match = tuple["Subscription", int, dict, "dict | None"]


NOTHING: tuple[Match, ...] = ()


class SubscriptionCache:
    """The usable subscriptions of each resource, for at most `size` resources (the oldest
    entry is evicted first).  A subscription that cannot be compiled is logged and left out."""

    def __init__(self, storage: "Storage", size: int, compile: Callable[[dict], Subscription | None]):
        self.storage = storage
        self.size = size
        self.compile = compile
        # Read directly by Matcher on the request path (one dict lookup, no call).
        self.entries: dict[str, tuple[Subscription, ...]] = {}

    def get(self, ri: str) -> tuple[Subscription, ...]:
        found = self.entries.get(ri)
        return self.fill(ri) if found is None else found

    def fill(self, ri: str) -> tuple[Subscription, ...]:
        docs = self.storage.children(ri, SUBSCRIPTION_TY)
        found = tuple(s for s in map(self.compile, docs) if s is not None)
        if len(self.entries) >= self.size:
            del self.entries[next(iter(self.entries))]
        self.entries[ri] = found
        return found

    def forget(self, ri: str) -> None:
        self.entries.pop(ri, None)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, ri: str) -> bool:
        return ri in self.entries


class ReadCheck(Protocol):
    """Whether a creation or update may be shown to the subscription's originator;
    `begin` is called once per event, before its first question."""

    def begin(self) -> None: ...

    def __call__(self, subscription: Subscription, resource: dict) -> bool: ...


class ReadAccess:
    """Whether the subscription's originator may still RETRIEVE what the notification
    shows: a grant withdrawn after the subscription was made stops the readings at once
    (the subscription stays, and notifies again if the grant comes back).  One access
    context (made only when a subscription has an originator) serves all the decisions
    about one event."""

    def __init__(self, access: "AccessControl", new_context: Callable[[], "Context"]):
        self.access = access
        self.new_context = new_context
        self._ctx: Context | None = None

    def begin(self) -> None:
        self._ctx = None

    def __call__(self, subscription: Subscription, resource: dict) -> bool:
        originator = subscription.doc.get("_org")
        if not originator:
            return True
        if self._ctx is None:
            self._ctx = self.new_context()
        return self.access.allowed(self._ctx, originator, Permission.RETRIEVE, resource)


class Matcher:
    """Events in, matches out.  `may_read(subscription, resource)` decides whether a
    creation or update may be shown to the subscription's originator (`ReadAccess`)."""

    def __init__(self, storage: "Storage", clock: "Clock", settings: "NotificationSettings", cse_id: str,
                 may_read: ReadCheck):
        self.clock = clock
        self.settings = settings
        self.cse_id = cse_id
        self.may_read = may_read
        self.cache = SubscriptionCache(storage, settings.cache_size, self.compile)
        self._entries = self.cache.entries

    def compile(self, doc: dict) -> Subscription | None:
        try:
            return Subscription.from_doc(doc, self.cse_id, self.settings)
        except (OneM2MError, KeyError, TypeError, ValueError) as error:
            log.error("subscription %s cannot be used: %r", doc.get("ri"), error)
            return None

    def subscriptions_of(self, ri: str) -> tuple[Subscription, ...]:
        """The cached subscriptions of a resource that have not expired (the reaper may not
        have removed an expired one yet: it notifies nothing more)."""
        found = self._entries.get(ri)
        if found is None:
            found = self.cache.fill(ri)
        return self._live(found) if found else found

    def _live(self, found: tuple[Subscription, ...]) -> tuple[Subscription, ...]:
        now_ts = format_timestamp(self.clock.now())
        return tuple(s for s in found if s.et is None or s.et > now_ts)     # not s.expired(now_ts)

    def match(self, event: Event) -> list[Match] | tuple[Match, ...]:
        resource = event.resource
        kind = event.kind
        if kind is CREATED:
            if resource["ty"] == SUBSCRIPTION_TY:
                self.cache.forget(resource["pi"])
            if event.parent is None:
                return NOTHING
            # Inlined subscriptions_of: most events concern no subscription at all.
            found = self._entries.get(event.parent["ri"])
            if found is None:
                found = self.cache.fill(event.parent["ri"])
            if not found or not (found := self._live(found)):
                return NOTHING
            self.may_read.begin()
            # A new subscription is a new child too, but not news to itself.
            matches: list[Match] = [(s, CHILD_CREATED, resource, None) for s in found
                                    if s.ri != resource["ri"] and s.wants(CHILD_CREATED, resource)
                                    and self.may_read(s, resource)]
            return self._monitored(found, OP_CREATE, event, resource, matches)
        if kind is UPDATED:
            if resource["ty"] == SUBSCRIPTION_TY:
                self.cache.forget(resource["pi"])
            found = self._entries.get(resource["ri"])
            if found is None:
                found = self.cache.fill(resource["ri"])
            if not found or not (found := self._live(found)):
                return NOTHING
            self.may_read.begin()
            modified = event.modified
            matches = [(s, UPDATE, resource, modified) for s in found
                       if s.wants(UPDATE, resource, modified) and self.may_read(s, resource)]
            return self._monitored(found, OP_UPDATE, event, resource, matches)
        if kind is DELETED:
            return self._deletion(event)
        return NOTHING

    def _monitored(self, found: tuple[Subscription, ...], operation: int, event: Event, resource: dict,
                   matches: list[Match]) -> list[Match]:
        """Add the operationMonitor matches (subscriptions without om cost one attribute test)."""
        for s in found:
            if s.monitors is not None and s.ri != resource["ri"]:
                om = s.monitored(operation, event.originator, self.cse_id)
                if om is not None and self.may_read(s, resource):
                    matches.append((s, MONITORED, resource, om))
        return matches

    def _deletion(self, event: Event) -> list[Match]:
        resource = event.resource
        self.cache.forget(resource["ri"])
        matches: list[Match] = []
        for doc in event.removed_subscriptions:
            self.cache.forget(doc["pi"])
            subscription = self.compile(doc)
            if subscription is None:
                continue
            watched = resource if doc["pi"] == resource["ri"] else event.removed_subscribed.get(doc["pi"])
            if watched is not None and subscription.wants(DELETE, watched):
                matches.append((subscription, DELETE, watched, None))
            if watched is resource:
                om = subscription.monitored(OP_DELETE, event.originator, self.cse_id)
                if om is not None:
                    matches.append((subscription, MONITORED, watched, om))
            matches.append((subscription, ENDED, doc, None))
        parent = event.parent
        if parent is not None and event.notify_parent:
            matches.extend((s, CHILD_DELETED, resource, None) for s in self.subscriptions_of(parent["ri"])
                           if s.wants(CHILD_DELETED, resource))
        return matches
