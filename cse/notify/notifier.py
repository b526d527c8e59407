"""The notifier: turns committed changes into notifications for the matching subscriptions.

It is the CSE's `EventSink`, and composes the parts of this package: `Matcher` says which
subscriptions an event concerns, the notifier renders the `m2m:sgn` per nct, counts it
(`ExpirationCounter`, `NotificationStatistics`), and either hands it to `Delivery` (which
sends from its own tasks) or to `Batches` (bn).  A deleted subscription's batch is sent,
then its subscriber is told (`deletion_notice`).  `PendingStore` keeps what a clean shutdown
could not deliver and gives it back at the next start.

`publish` runs on the request path, after the commit and before the response is sent.  It
must never send or wait, and never let an error escape: the change it reports has already
been committed.
"""
from __future__ import annotations

import enum
import logging
from typing import TYPE_CHECKING, Any

from ..context import Context
from ..delivery import Delivery, Notification
from ..events import Event
from ..notification_target import TargetResolver, parse_target
from ..tree import visible
from .batching import Batches
from .bookkeeping import ExpirationCounter, NotificationStatistics, deletion_notice
from .commits import Commits
from .blocking import BlockingUpdates
from .matching import (DELETED, ENDED, MODIFIED_ATTRIBUTES, MONITORED, RESOURCE_ID, SUBSCRIPTION_TY, UPDATED,
                       Matcher, ReadAccess, Subscription)
from .missing_data import MISSING_DATA, WATCHED_TYPES, MissingData, Windows
from .pending import PendingStore
from .schedules import NOTIFICATION_SCHEDULE_KEY, NotificationSchedules

if TYPE_CHECKING:
    from ..access import AccessControl
    from ..clock import Clock
    from ..config import Config
    from ..outbound import Outbound
    from ..storage import Storage
    from ..tree import Tree

log = logging.getLogger(__name__)


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
        self.commits = Commits(storage)
        self.statistics = NotificationStatistics(storage, clock, self.commits.schedule)
        self.resolver = TargetResolver(config, storage, outbound)
        self.delivery = Delivery(self.settings, outbound, self.resolver, self.cse_id,
                                 list(config.cse.supported_releases), clock=clock,
                                 on_attempt=self.statistics.attempted)
        self.read_access = ReadAccess(access, self._context)
        self.matcher = Matcher(storage, clock, self.settings, self.cse_id, self.read_access)
        # net 7: asked by Operations before an UPDATE is written (the one blocking notification).
        self.blocking = BlockingUpdates(self.matcher, self.resolver, outbound, self.settings, self.cse_id,
                                        ReadAccess(access, self._context))
        self.batches = Batches(clock, self._send)
        self.schedules = NotificationSchedules(clock, self.settings.queue_size, self._enqueue)
        self.expiration = ExpirationCounter(storage, tree, self.commits)
        self.pending = PendingStore(storage, self.cse_id, self.settings.max_persisted, self.commits)
        # Missing-data detection of timeSeries, and the md windows of net 8 subscriptions.
        self.missing_data = MissingData(clock, storage, self.commits, config.cse.rn, self._missing_data)
        self.windows = Windows(self.settings.cache_size)
        self._pending_at_close: list[Notification] = []
        self._restored = False      # what the last shutdown kept is queued (before anything new)
        self.state = State.RUNNING

    def _context(self) -> Context:
        return Context(self.config, self.storage, self.tree, self.access, self.outbound, None, self.clock.now())

    # -- EventSink ------------------------------------------------------------------------
    def publish(self, events: list[Event]) -> None:
        if self.state is State.STOPPED:
            log.warning("%d event(s) after the notifier stopped: not notified", len(events))
            return
        if not self._restored:
            self._restore()         # a request served before start(): the older ones go first
        # The changes are committed: a failure here must neither fail the request nor keep
        # the other events from being notified.
        for event in events:
            try:
                self._handle(event)
            except Exception:
                log.exception("notifying %s of %s failed", event.kind.value, event.resource.get("ri"))
        # Subscriptions whose exc ran out go after the events that used it up, so their last
        # notification is queued before the sud.
        exhausted = self.expiration.exhausted
        while exhausted:
            subscription = exhausted.pop(0)
            try:
                for event in self.expiration.delete(subscription, self._context()):
                    self._handle(event)
            except Exception:
                log.exception("deleting subscription %s after its last notification failed", subscription.ri)

    def _handle(self, event: Event) -> None:
        kind = event.kind
        if event.resource["ty"] in WATCHED_TYPES:
            self.missing_data.publish(event)
        if kind is UPDATED:
            resource = event.resource
            if resource["ty"] == SUBSCRIPTION_TY and event.modified:
                if "nsi" in event.modified:        # nse switched on: start afresh
                    self.statistics.forget(resource["ri"])
                if "enc" in event.modified:        # a new md restarts its window
                    self.windows.forget(resource["ri"])
                if "bn" in event.modified and resource["ri"] in self.batches:
                    self.batches.flush(resource["ri"])
                if resource["ri"] in self.schedules:   # its schedule, pn or nec may have changed
                    self.schedules.changed(self.matcher.compile(resource), resource["ri"], self.clock.now())
        elif kind is DELETED:
            for doc in event.removed_subscriptions:
                self.statistics.forget(doc["ri"])
        for subscription, event_type, resource, modified in self.matcher.match(event):
            if event_type == ENDED:
                self._finish(subscription)
            else:
                self._notify(subscription, event_type, resource, modified, event.originator)

    # -- notifications --------------------------------------------------------------------
    def _notify(self, subscription: Subscription, event_type: int, resource: dict,
                modified: dict | None = None, originator: str | None = None, rep: dict | None = None) -> None:
        if subscription.schedule is not None and subscription.pending is None \
                and not subscription.schedule.contains(self.clock.now()):
            self.schedules.drop(subscription)     # missed, and not to be kept: not counted either
            return
        nev: dict[str, Any]
        if event_type == MONITORED:      # operationMonitor: nev names the operation, not a net
            nev = {"rep": self._representation(subscription, resource, None), "om": modified}
        else:
            if rep is None:
                rep = self._representation(subscription, resource, modified)
            nev = {"rep": rep, "net": event_type}
        sgn: dict = {"nev": nev, "sur": subscription.sur}
        if subscription.creator:
            sgn["cr"] = subscription.creator
        elif subscription.event_originator and originator:
            sgn["cr"] = originator      # eeno: who caused the event (R4; ACME, SDS-2023-0096)
        self.expiration.count(subscription)
        if subscription.doc.get("nse"):
            for target in subscription.targets:
                self.statistics.event(subscription.ri, target.entry)
        if subscription.batch_size is None:
            self._send(subscription, {"m2m:sgn": sgn})
        else:
            self.batches.add(subscription, sgn)

    def _missing_data(self, series: dict, point: str) -> None:
        """A reading of `series` expected at `point` did not come (a timer of MissingData):
        net 8 to the subscriptions whose md count is reached."""
        if self.state is not State.RUNNING:
            return
        found = [s for s in self.matcher.subscriptions_of(series["ri"]) if s.wants(MISSING_DATA, series)]
        if not found:
            return
        self.read_access.begin()
        now = self.clock.now()
        for subscription in found:
            if self.read_access(subscription, series):
                tsn = self.windows.record(subscription, point, now)
                if tsn is not None:
                    self._notify(subscription, MISSING_DATA, series, rep={"m2m:tsn": tsn})

    def _representation(self, subscription: Subscription, resource: dict, modified: dict | None) -> dict:
        content_type = subscription.content_type
        if content_type == RESOURCE_ID:
            return {"m2m:uri": resource["ri"]}
        root = self.tree.types.of(resource).root_of(resource)
        if content_type == MODIFIED_ATTRIBUTES and modified is not None:
            return {root: {k: v for k, v in modified.items() if k[0] != "_"}}
        return {root: visible(resource)}

    def _send(self, subscription: Subscription, pc: dict) -> None:
        if subscription.schedule is not None and not subscription.schedule.contains(self.clock.now()):
            self.schedules.hold(subscription, pc)
            return
        self._send_now(subscription, pc)

    def _send_now(self, subscription: Subscription, pc: dict) -> None:
        doc = subscription.doc
        counted = bool(doc.get("nse"))
        for target in subscription.targets:
            self.delivery.enqueue(
                Notification(target, subscription.ri, pc, subscription.ec, doc.get("_rvi"), doc.get("_ser"),
                             counted=counted),
                latest_only=subscription.latest_only, latest_when_failing=subscription.latest_when_failing)

    def _enqueue(self, notification: Notification, latest_only: bool, latest_when_failing: bool) -> None:
        self.delivery.enqueue(notification, latest_only=latest_only, latest_when_failing=latest_when_failing)

    def _finish(self, subscription: Subscription) -> None:
        """The subscription is gone: send what its schedule held and what it batched (its
        schedule goes with it), then tell its subscriber (su)."""
        self.schedules.release(subscription.ri)
        self.windows.forget(subscription.ri)
        self.batches.flush(subscription.ri, send=self._send_now)
        notice = deletion_notice(subscription)
        if notice is not None:
            self.delivery.enqueue(notice)

    # -- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        """Resend what a clean shutdown could not deliver."""
        if not self._restored:
            self._restore()
        self.missing_data.start()
        await self.commits.wait()

    def _restore(self) -> None:
        """Queue what the last clean shutdown kept, before any new notification (synchronous:
        the bindings may already serve requests when the notifier starts)."""
        self._restored = True
        now = self.clock.now()
        for notification in self.pending.take():
            subscription = self._scheduled(notification.subscription)
            if subscription is not None and subscription.schedule is not None \
                    and not subscription.schedule.contains(now):
                self.schedules.hold_notification(subscription, notification)   # its window is still shut
            else:
                self.delivery.enqueue(notification)

    def _scheduled(self, ri: str) -> Subscription | None:
        """The subscription `ri` if it still exists and has a notificationSchedule."""
        doc = self.storage.get(ri) if ri else None
        if doc is None or not doc.get(NOTIFICATION_SCHEDULE_KEY):
            return None
        subscription = self.matcher.compile(doc)
        return subscription if subscription is not None and subscription.schedule is not None else None

    async def drain(self) -> None:
        """Send what is batched and deliver what is queued, for at most shutdown_timeout
        seconds (targets in back-off are not waited for); afterwards nothing more is sent."""
        if self.state is not State.RUNNING:
            return
        self.missing_data.stop()
        self.batches.flush_all()
        await self.delivery.drain(self.settings.shutdown_timeout)
        self.state = State.CLOSING
        self._pending_at_close = await self.delivery.close()

    async def stop(self) -> None:
        """Persist what was not delivered (bounded by max_persisted)."""
        if self.state is State.STOPPED:
            return
        if self.state is State.RUNNING:
            await self.drain()
        self.batches.flush_all()
        left = self._pending_at_close + await self.delivery.close() + self.schedules.take_all()
        self._pending_at_close = []
        self.state = State.STOPPED
        self.statistics.write()
        await self.commits.wait()
        if left:
            self.pending.keep(left)
            await self.storage.commit()

    def stats(self) -> dict:
        return {**self.delivery.stats(), "batched": self.batches.held(), **self.schedules.stats(),
                **self.missing_data.stats()}

    def send_result(self, entry: str, content: dict, serialization: str | None) -> None:
        """Queue a NOTIFY that is not a subscription's: the result of a non-blocking request
        (cse/nonblocking.py), with the same delivery, retries and target resolution."""
        self.delivery.enqueue(Notification(parse_target(entry, "nu of rt"), "", content, None, None,
                                           serialization))
