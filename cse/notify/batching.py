"""Batching: bn (batchNotify) and, within a batch, ln (latestNotify).

A subscription with bn collects its notifications here and sends them as one
`{"m2m:agn": {"m2m:sgn": [...]}}` when `num` are collected or `dur` seconds after the
first one (a timer on the injected clock); with ln the batch keeps and sends only its
latest `m2m:sgn`.  A batch holds at most `Subscription.batch_size` notifications, which
`from_doc` caps at `max_batch_size`; there is at most one batch per subscription.

Memory only: open batches are lost in a crash, and sent (`flush_all`) at a clean shutdown.
This module never sends itself and never touches storage: `send(subscription, pc)` does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from ..clock import Clock, Timer
    from .matching import Subscription


@dataclass(slots=True, eq=False)
class Batch:
    subscription: "Subscription"
    items: list = field(default_factory=list)
    count: int = 0              # notifications made for this batch (ln keeps only the last)
    timer: "Timer | None" = None


class Batches:
    def __init__(self, clock: "Clock", send: Callable[["Subscription", dict], None]):
        self.clock = clock
        self.send = send
        self._open: dict[str, Batch] = {}

    def add(self, subscription: "Subscription", sgn: dict) -> None:
        """Put one notification (the m2m:sgn content) in the subscription's batch; send the
        batch when it is full."""
        batch = self._open.get(subscription.ri)
        if batch is None:
            batch = self._open[subscription.ri] = Batch(subscription)
            batch.timer = self.clock.call_later(subscription.batch_seconds or 0.0, self.flush, subscription.ri)
        batch.subscription = subscription
        batch.count += 1
        if subscription.latest_only:
            batch.items = [sgn]
        else:
            batch.items.append(sgn)
        if batch.count >= (subscription.batch_size or 1):
            self.flush(subscription.ri)

    def flush(self, ri: str, send: Callable[["Subscription", dict], None] | None = None) -> None:
        """Send what the subscription's batch holds now (nothing when it has none), through
        `send` when given instead of the usual way."""
        batch = self._open.pop(ri, None)
        if batch is None:
            return
        if batch.timer is not None:
            batch.timer.cancel()
        subscription = batch.subscription
        send = send or self.send
        if subscription.latest_only:
            send(subscription, {"m2m:sgn": batch.items[-1]})
        else:
            send(subscription, {"m2m:agn": {"m2m:sgn": batch.items}})

    def flush_all(self) -> None:
        for ri in list(self._open):
            self.flush(ri)

    def __contains__(self, ri: str) -> bool:
        return ri in self._open

    def __len__(self) -> int:
        return len(self._open)

    def held(self) -> int:
        """Notifications waiting in batches."""
        return sum(len(b.items) for b in self._open.values())
