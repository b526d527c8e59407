"""Subscription bookkeeping: what the notifier writes about subscriptions, and the word to
their subscriber when one goes away.

* `ExpirationCounter` (exc): one notification generated is one off the stored `exc`; the one
  that reaches 0 is the last, and the subscription is deleted right after the events being
  handled (`delete`), which reports its deletion like any other (net 2, su).
* `deletion_notice`: `{"m2m:sgn": {"sud": true, "sur": ..., "cr": ...}}` for `su` when a subscription
  disappears (DELETE, `et` through the reaper, `exc`, or with its parent).
* `NotificationStatistics` (nse/nsi): written to the subscription with every count, so they
  are current when the response to the triggering request is sent.

Expiry (`et`) itself is not decided here: the reaper (cse/expiry.py) deletes an expired
subscription, and matching ignores one that expired before the reaper came.  Writes happen
in their own transactions and are committed through `Commits`, never awaited on the
request path.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Callable

from ..delivery import Notification

if TYPE_CHECKING:
    from ..clock import Clock
    from ..context import Context
    from ..events import Event
    from ..storage import Storage
    from ..tree import Tree
    from .commits import Commits
    from .matching import Subscription

log = logging.getLogger(__name__)


def deletion_notice(subscription: "Subscription") -> Notification | None:
    """The notification telling the subscriber (su) that the subscription is gone."""
    if subscription.subscriber is None:
        return None
    doc = subscription.doc
    sgn: dict = {"sud": True, "sur": subscription.sur}
    creator = doc.get("cr") or doc.get("_org")
    if creator:
        sgn["cr"] = creator         # like the verification request (TS-0004 7.4.8.2.1; ACME)
    return Notification(subscription.subscriber, subscription.ri, {"m2m:sgn": sgn}, None,
                        doc.get("_rvi"), doc.get("_ser"))


class ExpirationCounter:
    """exc: counted when a notification is generated, so no more than exc are ever made."""

    def __init__(self, storage: "Storage", tree: "Tree", commits: "Commits"):
        self.storage = storage
        self.tree = tree
        self.commits = commits
        # Used up during the events being handled, to be deleted after them (at most one
        # entry per subscription that had an exc; the same publish empties it).
        self.exhausted: list[Subscription] = []

    def count(self, subscription: "Subscription") -> None:
        """Count one notification against exc; at zero the subscription is marked exhausted
        (it wants nothing more) and waits in `exhausted` for its deletion."""
        if subscription.doc.get("exc") is None:
            return
        current = self.storage.get(subscription.ri)
        if current is None or current.get("exc") is None:
            return
        remaining = current["exc"] - 1
        subscription.doc["exc"] = remaining
        if remaining <= 0:
            subscription.exhausted = True
            self.exhausted.append(subscription)
            return
        current["exc"] = remaining
        with self.storage.transaction():
            self.storage.update(current, changed=("exc",))
        self.commits.schedule()

    def delete(self, subscription: "Subscription", ctx: "Context") -> list["Event"]:
        """Delete a subscription whose exc ran out; returns the events of the deletion (for
        the notifier to handle like those of a request)."""
        current = self.storage.get(subscription.ri)
        if current is None:
            return []
        with self.storage.transaction():
            self.tree.remove(ctx, current, self.storage.get(current["pi"]))
        log.info("subscription %s deleted: its expirationCounter (exc) reached 0", subscription.ri)
        self.commits.schedule()
        return ctx.events


class NotificationStatistics:
    """nsi of subscriptions with nse=true: per target, notification events (noec), requests
    sent (rqs) and responses received (rsr).  Each change is written to the subscription at
    once, in its own transaction (committed through `Commits`, never awaited): an event is
    counted while the triggering request's events are handled, so a RETRIEVE right after
    that request's response shows it.  Only subscriptions with nse=true pay these writes.
    `nsi` appears with the first count (TS-0004 R4; ACME), never as an empty list.
    Counters exist only for subscriptions that count (or did until a late answer came):
    those of a subscription that is gone or stopped counting are dropped at the write."""

    def __init__(self, storage: "Storage", clock: "Clock", schedule_commit: Callable[[], None]):
        self.storage = storage
        self.clock = clock
        self.schedule_commit = schedule_commit
        self._counters: dict[str, dict[str, list[int]]] = {}

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
        self._write(ri)

    def attempted(self, notification: Notification, answered: bool) -> None:
        counters = self._targets(notification.subscription).setdefault(notification.target.entry, [0, 0, 0])
        counters[1] += 1
        counters[2] += answered
        self._write(notification.subscription)

    def forget(self, ri: str) -> None:
        self._counters.pop(ri, None)

    def _write(self, ri: str) -> None:
        current = self.storage.get(ri)
        if current is None or not current.get("nse"):
            # Gone, or no longer counting: late answers made these counters.
            self._counters.pop(ri, None)
            return
        current["nsi"] = [{"tg": tg, "rqs": c[1], "rsr": c[2], "noec": c[0]}
                          for tg, c in self._counters.get(ri, {}).items()]
        try:
            with self.storage.transaction():
                self.storage.update(current, changed=("nsi",))
        except Exception:
            log.exception("writing the statistics (nsi) of subscription %s failed", ri)
            return
        self.schedule_commit()

    def write(self) -> None:
        """Nothing is held back any more (kept for the shutdown sequence)."""

    def __len__(self) -> int:
        """Subscriptions with counters in memory."""
        return len(self._counters)
