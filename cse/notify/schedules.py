"""Notification schedules: what a subscription with a <schedule> child (its
notificationSchedule) does with a notification made outside the schedule's windows.

TS-0001 9.6.8/9.6.9 and TS-0004 7.5.1.2.2: notifications are sent only inside the windows;
what falls outside is "missed", and `pn` (pendingNotification) says what becomes of it:

    pn absent          dropped (counted in stats, logged)
    pn 1 sendLatest    the latest one per target is kept, sent with ec 4 (latest) when the
                       next window opens
    pn 2 sendAllPending all are kept, in order, and sent when the next window opens
    ln true            (latestNotify) with pn 1 or 2: only the latest one per target is kept

A subscription with `nec` 2 (immediate) is not held back by its schedule (ACME does the
same).  The notifier asks before it counts a notification (a dropped one costs no `exc`)
and again when it hands one to delivery (a batch flushed outside the windows is held or
dropped as a whole).  A timer on the injected clock releases what is held when the next
window opens; a schedule that is changed or removed, or a subscription that is updated or
deleted, releases or re-arms at once (a deleted subscription sends what it held, as it
sends its open batch).  At a clean shutdown what is held is persisted with the undelivered
notifications, and held again at the next start while its window is still closed.

Memory is bounded as delivery's queues are: for each target at most
`notification.queue_size` notifications are held (over all subscriptions); beyond that the
oldest held for that target is dropped, counted and logged.

This module never sends (it hands released notifications to `enqueue`) and never touches
storage.  Subscriptions without a schedule never reach it.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..delivery import LATEST_EC, Notification
from .matching import NOTIFICATION_SCHEDULE_KEY

if TYPE_CHECKING:
    from ..clock import Clock, Timer
    from .matching import Subscription

log = logging.getLogger(__name__)

SEND_LATEST, SEND_ALL_PENDING = 1, 2
DROP_LOG_INTERVAL = 10.0

# enqueue(notification, latest_only, latest_when_failing): Delivery.enqueue
Enqueue = Callable[[Notification, bool, bool], None]


@dataclass(slots=True, eq=False)
class Held:
    """What one subscription holds: per target key, its notifications in order."""

    subscription: "Subscription"
    items: dict[str, deque[Notification]] = field(default_factory=dict)
    timer: "Timer | None" = None

    def count(self) -> int:
        return sum(len(q) for q in self.items.values())


def is_open(subscription: "Subscription", now: float) -> bool:
    """Whether a notification of `subscription` may go out at `now`."""
    schedule = subscription.schedule
    return schedule is None or schedule.contains(now)


class NotificationSchedules:
    def __init__(self, clock: "Clock", queue_size: int, enqueue: Enqueue):
        self.clock = clock
        self.queue_size = queue_size
        self.enqueue = enqueue
        self._held: dict[str, Held] = {}
        # Per target key: the subscriptions' ri in the order they held a notification for it.
        self._by_target: dict[str, deque[str]] = {}
        self.dropped_outside = 0      # made outside the windows without pn
        self.dropped_full = 0         # held beyond queue_size for a target
        self._unlogged = 0
        self._last_log = 0.0

    # -- outside the windows -----------------------------------------------------------------
    def holds(self, subscription: "Subscription") -> bool:
        """Whether notifications made outside the windows are kept (pn 1 or 2)."""
        return subscription.pending in (SEND_LATEST, SEND_ALL_PENDING)

    def drop(self, subscription: "Subscription", count: int = 1) -> None:
        """A notification made outside the windows of a subscription without pn."""
        self.dropped_outside += count
        self._log_drop(subscription, "outside its notificationSchedule, without pendingNotification")

    def hold(self, subscription: "Subscription", pc: dict) -> None:
        """Keep `pc` for every target of the subscription until the next window opens (or
        drop it when the subscription has no pn)."""
        if not self.holds(subscription):
            batch = pc.get("m2m:agn")
            self.drop(subscription, len(batch["m2m:sgn"]) if batch else 1)
            return
        doc = subscription.doc
        for target in subscription.targets:
            self.hold_notification(subscription, Notification(
                target, subscription.ri, pc, subscription.ec, doc.get("_rvi"), doc.get("_ser"),
                counted=bool(doc.get("nse"))))

    def hold_notification(self, subscription: "Subscription", notification: Notification) -> None:
        held = self._held.get(subscription.ri)
        if held is None:
            held = self._held[subscription.ri] = Held(subscription)
            self._arm(held)
        held.subscription = subscription
        key = notification.target.key
        queue = held.items.get(key)
        if queue is None:
            queue = held.items[key] = deque()
        if subscription.latest_only or subscription.pending == SEND_LATEST:
            notification.ec = LATEST_EC
            if queue:
                queue[-1] = notification          # only the latest is kept; it keeps its place
                return
        queue.append(notification)
        order = self._by_target.get(key)
        if order is None:
            order = self._by_target[key] = deque()
        order.append(subscription.ri)
        if len(order) > self.queue_size:
            self._drop_oldest(key, order)

    def _drop_oldest(self, key: str, order: deque[str]) -> None:
        ri = order.popleft()
        held = self._held[ri]
        queue = held.items[key]
        queue.popleft()
        if not queue:
            del held.items[key]
        self.dropped_full += 1
        self._log_drop(held.subscription, f"more than {self.queue_size} held for {key}")

    def _log_drop(self, subscription: "Subscription", why: str) -> None:
        self._unlogged += 1
        now = time.monotonic()
        if self._last_log == 0.0 or now - self._last_log >= DROP_LOG_INTERVAL:
            log.warning("dropped %d notification(s) (subscription %s: %s); %d outside schedules and "
                        "%d over the bound so far", self._unlogged, subscription.ri, why,
                        self.dropped_outside, self.dropped_full)
            self._unlogged = 0
            self._last_log = now

    # -- windows open ------------------------------------------------------------------------
    def _arm(self, held: Held) -> None:
        if held.timer is not None:
            held.timer.cancel()
            held.timer = None
        schedule = held.subscription.schedule
        now = self.clock.now()
        opens = None if schedule is None else schedule.next_open(now)
        if schedule is not None and opens is None:
            log.warning("subscription %s: its notificationSchedule never opens again; what it holds waits "
                        "until the schedule changes or the subscription goes", held.subscription.ri)
            return
        held.timer = self.clock.call_later(max(0.0, (opens or now) - now), self.release, held.subscription.ri)

    def release(self, ri: str) -> None:
        """Hand what the subscription holds to delivery, oldest first per target."""
        held = self._held.pop(ri, None)
        if held is None:
            return
        if held.timer is not None:
            held.timer.cancel()
        subscription = held.subscription
        latest_only = subscription.latest_only
        latest_when_failing = subscription.pending == SEND_LATEST
        for key, queue in held.items.items():
            self._forget_order(key, ri)
            for notification in queue:
                self.enqueue(notification, latest_only, latest_when_failing)

    def _forget_order(self, key: str, ri: str) -> None:
        order = self._by_target.get(key)
        if order is None:
            return
        kept = deque(x for x in order if x != ri)
        if kept:
            self._by_target[key] = kept
        else:
            del self._by_target[key]

    def changed(self, subscription: "Subscription | None", ri: str, now: float) -> None:
        """The subscription `ri` was updated (its schedule, pn, nec, ...; None: it can no longer
        be used): release what it holds if its notifications may go now, drop it if pn is gone,
        else wait for the next window of its schedule as it is now."""
        held = self._held.get(ri)
        if held is None:
            return
        if subscription is None or is_open(subscription, now):
            if subscription is not None:
                held.subscription = subscription
            self.release(ri)
            return
        held.subscription = subscription
        if not self.holds(subscription):          # pn was removed: missed ones are not kept
            self._held.pop(ri)
            if held.timer is not None:
                held.timer.cancel()
            for key in held.items:
                self._forget_order(key, ri)
            self.drop(subscription, held.count())
            return
        self._arm(held)

    # -- lifecycle ---------------------------------------------------------------------------
    def take_all(self) -> list[Notification]:
        """Everything held, timers cancelled (a clean shutdown persists it)."""
        taken: list[Notification] = []
        for held in self._held.values():
            if held.timer is not None:
                held.timer.cancel()
            for queue in held.items.values():
                taken.extend(queue)
        self._held.clear()
        self._by_target.clear()
        return taken

    def __contains__(self, ri: str) -> bool:
        return ri in self._held

    def held(self) -> int:
        return sum(h.count() for h in self._held.values())

    def held_for(self, key: str) -> int:
        """Notifications held for one target key (at most queue_size)."""
        return len(self._by_target.get(key, ()))

    def stats(self) -> dict:
        return {"held": self.held(), "dropped_outside_schedule": self.dropped_outside,
                "dropped_held": self.dropped_full}


__all__ = ["NOTIFICATION_SCHEDULE_KEY", "NotificationSchedules", "is_open"]
