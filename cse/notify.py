"""The notifier: turns committed changes into notifications for the matching subscriptions.

It is the CSE's `EventSink`.  `publish` runs on the request path, after the commit and
before the response is sent, so it only matches events against subscriptions (cached per
subscribed-to resource), renders the notification content and hands it to `Delivery`,
which sends it from its own tasks.  Batches (bn) wait in memory with a timer.

What it writes: the remaining expirationCounter (exc) of a subscription, the deletion of a
subscription whose exc ran out, and, at a clean shutdown, the notifications it could not
deliver (an internal key of the CSEBase, read back and resent at the next start).
It must never send or wait inside `publish`, and never let an error escape `publish`:
the change it reports has already been committed.
"""
from __future__ import annotations

import asyncio
import enum
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .access import Permission
from .clock import format_timestamp, parse_duration
from .context import Context
from .delivery import Delivery, Notification
from .errors import OneM2MError
from .events import Event, EventKind
from .filters import Criteria
from .notification_target import NotificationTarget, TargetResolver, parse_target
from .tree import visible

if TYPE_CHECKING:
    from .access import AccessControl
    from .clock import Clock
    from .config import Config
    from .outbound import Outbound
    from .storage import Storage
    from .tree import Tree

log = logging.getLogger(__name__)

SUBSCRIPTION_TY = 23
PENDING_KEY = "_pending_notifications"
# eventNotificationCriteria members with the meaning they have in filter criteria.
FILTER_MEMBERS = ("crb", "cra", "ms", "us", "sts", "stb", "exb", "exa", "sza", "szb")
UPDATE, DELETE, CHILD_CREATED, CHILD_DELETED = 1, 2, 3, 4
ALL_ATTRIBUTES, MODIFIED_ATTRIBUTES, RESOURCE_ID = 1, 2, 3


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
    exhausted: bool = False

    @classmethod
    def from_doc(cls, doc: dict, cse_id: str, settings) -> "Subscription":
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
            size = min(batch.get("num") or settings.max_batch_size, settings.max_batch_size)
            dur = batch.get("dur")
            seconds = parse_duration(dur, "bn/dur") if dur is not None else settings.default_batch_duration
        return cls(doc=doc, ri=doc["ri"], sur=f"{cse_id}/{doc['ri']}",
                   events=frozenset(enc.get("net") or (UPDATE,)),
                   child_types=frozenset(enc["chty"]) if enc.get("chty") else None,
                   attributes=frozenset(enc["atr"]) if enc.get("atr") else None,
                   conditions=Criteria(conditions) if conditions else None,
                   content_type=doc.get("nct") or ALL_ATTRIBUTES,
                   targets=targets, subscriber=subscriber, batch_size=size, batch_seconds=seconds,
                   latest_only=bool(doc.get("ln")), latest_when_failing=doc.get("pn") == 1,
                   ec=doc.get("nec"), creator=doc.get("cr"))

    def expired(self, now_ts: str) -> bool:
        et = self.doc.get("et")
        return et is not None and et <= now_ts

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


class NotificationStatistics:
    """nsi of subscriptions with nse=true: per target, notification events (noec), requests
    sent (rqs) and responses received (rsr).  Counted in memory and written to the
    subscription at most every WRITE_INTERVAL seconds (and at shutdown), so counting never
    adds a storage write per notification; a RETRIEVE may be that much behind."""

    WRITE_INTERVAL = 1.0

    def __init__(self, storage: "Storage", schedule_commit):
        self.storage = storage
        self.schedule_commit = schedule_commit
        self._counters: dict[str, dict[str, list[int]]] = {}
        self._dirty: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None

    def _targets(self, ri: str) -> dict[str, list[int]]:
        counters = self._counters.get(ri)
        if counters is None:
            # Continue from what is stored (e.g. before a restart).
            stored = (self.storage.get(ri) or {}).get("nsi") or []
            counters = self._counters[ri] = {
                s["tg"]: [s.get("noec", 0), s.get("rqs", 0), s.get("rsr", 0)] for s in stored if "tg" in s}
        return counters

    def event(self, ri: str, target: str) -> None:
        self._targets(ri).setdefault(target, [0, 0, 0])[0] += 1
        self._touch(ri)

    def attempted(self, notification: Notification, answered: bool) -> None:
        counters = self._targets(notification.subscription).setdefault(notification.target.entry, [0, 0, 0])
        counters[1] += 1
        counters[2] += answered
        self._touch(notification.subscription)

    def forget(self, ri: str) -> None:
        self._counters.pop(ri, None)
        self._dirty.discard(ri)

    def _touch(self, ri: str) -> None:
        self._dirty.add(ri)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.WRITE_INTERVAL, self.write)

    def write(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dirty, self._dirty = self._dirty, set()
        wrote = False
        for ri in dirty:
            current = self.storage.get(ri)
            if current is None or not current.get("nse"):
                # Gone, or no longer counting: late answers made these counters.
                self._counters.pop(ri, None)
                continue
            current["nsi"] = [{"tg": tg, "rqs": c[1], "rsr": c[2], "noec": c[0]}
                              for tg, c in self._counters.get(ri, {}).items()]
            with self.storage.transaction():
                self.storage.update(current, changed=("nsi",))
            wrote = True
        if wrote:
            self.schedule_commit()


@dataclass(slots=True, eq=False)
class Batch:
    subscription: Subscription
    items: list = field(default_factory=list)
    count: int = 0
    timer: asyncio.TimerHandle | None = None


class State(enum.Enum):
    RUNNING = 1
    CLOSING = 2      # drained: notifications are still queued, but no longer sent
    STOPPED = 3


class Notifier:
    def __init__(self, config: "Config", clock: "Clock", storage: "Storage", tree: "Tree",
                 access: "AccessControl", outbound: "Outbound"):
        self.config = config
        self.settings = config.notification
        self.cse_id = config.cse.cse_id
        self.clock = clock
        self.storage = storage
        self.tree = tree
        self.access = access
        self.outbound = outbound
        self.resolver = TargetResolver(config, storage, outbound)
        self.delivery = Delivery(self.settings, outbound, self.resolver, self.cse_id,
                                 list(config.cse.supported_releases))
        self._cache: dict[str, tuple[Subscription, ...]] = {}
        self._batches: dict[str, Batch] = {}
        self._exhausted: list[Subscription] = []
        self._commit_task: asyncio.Task | None = None
        self._now_ts: str | None = None
        self._access_ctx: Context | None = None     # for access decisions within one publish
        self._pending_at_close: list[Notification] = []
        self._restored = False      # what the last shutdown kept is queued (before anything new)
        self.statistics = NotificationStatistics(storage, self._schedule_commit)
        self.delivery.on_attempt = self.statistics.attempted
        self.state = State.RUNNING

    # -- EventSink ------------------------------------------------------------------------
    def publish(self, events: list[Event]) -> None:
        if self.state is State.STOPPED:
            log.warning("%d event(s) after the notifier stopped: not notified", len(events))
            return
        if not self._restored:
            self._restore()         # a request served before start(): the older ones go first
        self._now_ts = None
        self._access_ctx = None
        # The changes are committed: a failure here must neither fail the request nor keep
        # the other events from being notified.
        for event in events:
            try:
                self._handle(event)
            except Exception:
                log.exception("notifying %s of %s failed", event.kind.value, event.resource.get("ri"))
        while self._exhausted:
            subscription = self._exhausted.pop(0)
            try:
                self._delete_exhausted(subscription)
            except Exception:
                log.exception("deleting subscription %s after its last notification failed", subscription.ri)

    def _handle(self, event: Event) -> None:
        resource = event.resource
        kind = event.kind
        if kind is EventKind.CREATED:
            if resource["ty"] == SUBSCRIPTION_TY:
                self._cache.pop(resource["pi"], None)
            if event.parent is not None:
                for subscription in self._subscriptions_of(event.parent["ri"]):
                    # A new subscription is a new child too, but not news to itself.
                    if subscription.ri != resource["ri"] and subscription.wants(CHILD_CREATED, resource) \
                            and self._may_read(subscription, resource):
                        self._notify(subscription, CHILD_CREATED, resource)
        elif kind is EventKind.UPDATED:
            if resource["ty"] == SUBSCRIPTION_TY:
                self._cache.pop(resource["pi"], None)
                if event.modified and "nsi" in event.modified:     # nse switched on: start afresh
                    self.statistics.forget(resource["ri"])
                if event.modified and "bn" in event.modified and resource["ri"] in self._batches:
                    self._flush(resource["ri"])
            for subscription in self._subscriptions_of(resource["ri"]):
                if subscription.wants(UPDATE, resource, event.modified) and self._may_read(subscription, resource):
                    self._notify(subscription, UPDATE, resource, event.modified)
        elif kind is EventKind.DELETED:
            self._handle_deletion(event)

    def _handle_deletion(self, event: Event) -> None:
        resource = event.resource
        self._cache.pop(resource["ri"], None)
        for doc in event.removed_subscriptions:
            self._cache.pop(doc["pi"], None)
            self.statistics.forget(doc["ri"])
            subscription = self._compile(doc)
            if subscription is None:
                continue
            watched = resource if doc["pi"] == resource["ri"] else event.removed_subscribed.get(doc["pi"])
            if watched is not None and subscription.wants(DELETE, watched):
                self._notify(subscription, DELETE, watched)
            self._finish(subscription)
        parent = event.parent
        if parent is not None and event.notify_parent:
            for subscription in self._subscriptions_of(parent["ri"]):
                if subscription.wants(CHILD_DELETED, resource):
                    self._notify(subscription, CHILD_DELETED, resource)

    def _may_read(self, subscription: Subscription, resource: dict) -> bool:
        """Whether the subscription's originator may still RETRIEVE what the notification
        shows: a grant withdrawn after the subscription was made stops the readings at once
        (the subscription stays, and notifies again if the grant comes back)."""
        originator = subscription.doc.get("_org")
        if not originator:
            return True
        if self._access_ctx is None:
            self._access_ctx = Context(self.config, self.storage, self.tree, self.access, self.outbound,
                                       None, self.clock.now())
        return self.access.allowed(self._access_ctx, originator, Permission.RETRIEVE, resource)

    # -- subscriptions of a resource (cached) ---------------------------------------------
    def _subscriptions_of(self, ri: str) -> tuple[Subscription, ...]:
        found = self._cache.get(ri)
        if found is None:
            docs = self.storage.children(ri, SUBSCRIPTION_TY)
            found = tuple(s for s in map(self._compile, docs) if s is not None)
            if len(self._cache) >= self.settings.cache_size:
                del self._cache[next(iter(self._cache))]
            self._cache[ri] = found
        if not found:
            return found
        if self._now_ts is None:
            self._now_ts = format_timestamp(self.clock.now())
        return tuple(s for s in found if not s.expired(self._now_ts))

    def _compile(self, doc: dict) -> Subscription | None:
        try:
            return Subscription.from_doc(doc, self.cse_id, self.settings)
        except (OneM2MError, KeyError, TypeError, ValueError) as error:
            log.error("subscription %s cannot be used: %r", doc.get("ri"), error)
            return None

    # -- notifications --------------------------------------------------------------------
    def _notify(self, subscription: Subscription, event_type: int, resource: dict,
                modified: dict | None = None) -> None:
        sgn: dict = {"nev": {"rep": self._representation(subscription, resource, modified),
                             "net": event_type}, "sur": subscription.sur}
        if subscription.creator:
            sgn["cr"] = subscription.creator
        self._count(subscription)
        if subscription.doc.get("nse"):
            for target in subscription.targets:
                self.statistics.event(subscription.ri, target.entry)
        if subscription.batch_size is None:
            self._send(subscription, {"m2m:sgn": sgn})
            return
        batch = self._batches.get(subscription.ri)
        if batch is None:
            batch = self._batches[subscription.ri] = Batch(subscription)
            batch.timer = asyncio.get_running_loop().call_later(
                subscription.batch_seconds, self._flush, subscription.ri)
        batch.subscription = subscription
        batch.count += 1
        if subscription.latest_only:
            batch.items = [sgn]
        else:
            batch.items.append(sgn)
        if batch.count >= subscription.batch_size:
            self._flush(subscription.ri)

    def _representation(self, subscription: Subscription, resource: dict, modified: dict | None) -> dict:
        content_type = subscription.content_type
        if content_type == RESOURCE_ID:
            return {"m2m:uri": resource["ri"]}
        root = self.tree.types.of(resource).root_of(resource)
        if content_type == MODIFIED_ATTRIBUTES and modified is not None:
            return {root: {k: v for k, v in modified.items() if k[0] != "_"}}
        return {root: visible(resource)}

    def _flush(self, ri: str) -> None:
        batch = self._batches.pop(ri, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        subscription = batch.subscription
        if subscription.latest_only:
            self._send(subscription, {"m2m:sgn": batch.items[-1]})
        else:
            self._send(subscription, {"m2m:agn": {"m2m:sgn": batch.items}})

    def _send(self, subscription: Subscription, pc: dict) -> None:
        doc = subscription.doc
        counted = bool(doc.get("nse"))
        for target in subscription.targets:
            self.delivery.enqueue(
                Notification(target, subscription.ri, pc, subscription.ec, doc.get("_rvi"), doc.get("_ser"),
                             counted=counted),
                latest_only=subscription.latest_only, latest_when_failing=subscription.latest_when_failing)

    def _finish(self, subscription: Subscription) -> None:
        """The subscription is gone: send what it batched, then tell its subscriber (su)."""
        self._flush(subscription.ri)
        if subscription.subscriber is not None:
            doc = subscription.doc
            self.delivery.enqueue(Notification(
                subscription.subscriber, subscription.ri, {"m2m:sgn": {"sud": True, "sur": subscription.sur}},
                None, doc.get("_rvi"), doc.get("_ser")))

    # -- expirationCounter ----------------------------------------------------------------
    def _count(self, subscription: Subscription) -> None:
        """Count one notification against exc; at zero the subscription is deleted (after the
        events being handled, so its last notification is queued before the sud)."""
        if subscription.doc.get("exc") is None:
            return
        current = self.storage.get(subscription.ri)
        if current is None or current.get("exc") is None:
            return
        remaining = current["exc"] - 1
        subscription.doc["exc"] = remaining
        if remaining <= 0:
            subscription.exhausted = True
            self._exhausted.append(subscription)
            return
        current["exc"] = remaining
        with self.storage.transaction():
            self.storage.update(current, changed=("exc",))
        self._schedule_commit()

    def _delete_exhausted(self, subscription: Subscription) -> None:
        current = self.storage.get(subscription.ri)
        if current is None:
            return
        ctx = Context(self.config, self.storage, self.tree, self.access, self.outbound, None,
                      self.clock.now())
        with self.storage.transaction():
            self.tree.remove(ctx, current, self.storage.get(current["pi"]))
        log.info("subscription %s deleted: its expirationCounter (exc) reached 0", subscription.ri)
        self._schedule_commit()
        for event in ctx.events:
            self._handle(event)

    def _schedule_commit(self) -> None:
        if self._commit_task is None or self._commit_task.done():
            self._commit_task = asyncio.get_running_loop().create_task(self._commit())

    async def _commit(self) -> None:
        try:
            await self.storage.commit()
        except Exception:
            log.exception("committing a subscription change made by the notifier failed")

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Resend what a clean shutdown could not deliver."""
        if not self._restored:
            self._restore()
        if self._commit_task is not None:
            await asyncio.gather(self._commit_task, return_exceptions=True)

    def _restore(self) -> None:
        """Queue what the last clean shutdown kept, before any new notification (synchronous:
        the bindings may already serve requests when the notifier starts)."""
        self._restored = True
        base = self.storage.get(self.cse_id.lstrip("/"))
        if base is None or not base.get(PENDING_KEY):
            return
        records = base.pop(PENDING_KEY)
        with self.storage.transaction():
            self.storage.update(base, changed=(PENDING_KEY,))
        self._schedule_commit()
        restored = 0
        for record in records:
            try:
                notification = Notification.from_record(record)
            except (OneM2MError, KeyError, TypeError) as error:
                log.error("discarding an unreadable persisted notification: %r", error)
                continue
            self.delivery.enqueue(notification)
            restored += 1
        log.info("resending %d notification(s) left undelivered at the last shutdown", restored)

    async def drain(self) -> None:
        """Send what is batched and deliver what is queued, for at most shutdown_timeout
        seconds (targets in back-off are not waited for); afterwards nothing more is sent."""
        if self.state is not State.RUNNING:
            return
        for ri in list(self._batches):
            self._flush(ri)
        await self.delivery.drain(self.settings.shutdown_timeout)
        self.state = State.CLOSING
        self._pending_at_close = await self.delivery.close()

    async def stop(self) -> None:
        """Persist what was not delivered (bounded by max_persisted)."""
        if self.state is State.STOPPED:
            return
        if self.state is State.RUNNING:
            await self.drain()
        for ri in list(self._batches):
            self._flush(ri)
        left = self._pending_at_close + await self.delivery.close()
        self._pending_at_close = []
        self.state = State.STOPPED
        self.statistics.write()
        if self._commit_task is not None:
            await asyncio.gather(self._commit_task, return_exceptions=True)
        if left:
            self._persist(left)
            await self.storage.commit()

    def _persist(self, left: list[Notification]) -> None:
        limit = self.settings.max_persisted
        kept = left[:limit]
        if len(left) > limit:
            log.warning("shutdown: %d undelivered notification(s) beyond notification.max_persisted "
                        "(%d) are dropped", len(left) - limit, limit)
        base = self.storage.get(self.cse_id.lstrip("/"))
        if base is None:
            log.error("shutdown: no CSEBase to keep %d undelivered notification(s) in; dropped", len(kept))
            return
        base[PENDING_KEY] = (base.get(PENDING_KEY) or []) + [n.to_record() for n in kept]
        with self.storage.transaction():
            self.storage.update(base, changed=(PENDING_KEY,))
        log.info("shutdown: %d undelivered notification(s) kept for the next start", len(kept))

    def stats(self) -> dict:
        return {**self.delivery.stats(), "batched": sum(len(b.items) for b in self._batches.values())}

    def send_result(self, entry: str, content: dict, serialization: str | None) -> None:
        """Queue a NOTIFY that is not a subscription's: the result of a non-blocking request
        (cse/nonblocking.py), with the same delivery, retries and target resolution."""
        self.delivery.enqueue(Notification(parse_target(entry, "nu of rt"), "", content, None, None,
                                           serialization))
