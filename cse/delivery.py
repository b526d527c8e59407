"""Delivery of notifications: one bounded FIFO queue and at most one sender task per target.

Why per target: a slow or dead receiver must only delay itself.  Each target's queue is
served by one task, so notifications reach a target in the order they were queued (per
subscription order follows).  Over a binding that transmits concurrent requests to one URL
in order (HTTP pipelining) up to `pipeline` notifications are in flight at once, so a
target's throughput is not capped at one notification per round trip.  A target that does not
answer is retried with exponential back-off; meanwhile its queue keeps at most
`queue_size` notifications and drops the oldest beyond that, counted and logged, so memory
stays bounded whatever the receivers do.

`enqueue` is synchronous and O(1): it is called from `EventSink.publish` on the request
path.  This module never touches storage except to read a target's poa/csz at send time.
The back-off waits on the injected clock (`Clock.sleep`), so tests move it with
`ManualClock.advance`; how long a shutdown waits for receivers (`drain`, `wait_until`) is
real time on the event loop, because it bounds a wait for the outside world.
"""
from __future__ import annotations

import asyncio
import enum
import heapq
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import orjson

from .errors import RSC
from .notification_target import NotificationTarget, TargetResolver, parse_target
from .primitives import Operation, Request
from .tree import random_suffix

if TYPE_CHECKING:
    from .clock import Clock
    from .config import NotificationSettings
    from .outbound import Outbound

log = logging.getLogger(__name__)

LATEST_EC = 4   # event category "latest" (TS-0004 6.3.3): what ln/pn=1 notifications carry
# Answers that mean "nobody took it": try again later.  Any other answer is final.
RETRYABLE = frozenset({RSC.TARGET_NOT_REACHABLE, RSC.REMOTE_ENTITY_NOT_REACHABLE, RSC.REQUEST_TIMEOUT,
                       RSC.INTERNAL_SERVER_ERROR})
DROP_LOG_INTERVAL = 10.0


@dataclass(slots=True, eq=False)
class Notification:
    """One NOTIFY to one target, as queued."""

    target: NotificationTarget
    subscription: str              # ri of the subscription (for coalescing and logs)
    pc: dict
    ec: int | None = None
    rvi: str | None = None
    serialization: str | None = None   # the subscriber's, used when the target states none
    attempts: int = 0
    queued: bool = False
    counted: bool = False          # the subscription keeps statistics (nse)
    size: int = 0                  # bytes it counts for against max_pending_bytes (0: not counted)

    def to_record(self) -> dict:
        return {"t": self.target.entry, "s": self.subscription, "pc": self.pc, "ec": self.ec,
                "rvi": self.rvi, "ser": self.serialization, "a": self.attempts, "c": self.counted}

    @classmethod
    def from_record(cls, record: dict) -> "Notification":
        return cls(parse_target(record["t"]), record["s"], record["pc"], record.get("ec"),
                   record.get("rvi"), record.get("ser"), record.get("a", 0), counted=record.get("c", False))


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    REJECTED = "rejected"          # the target answered with an error: not retried
    UNREACHABLE = "unreachable"    # no answer (refused, timeout, no poa): retried


@dataclass(slots=True, eq=False)
class TargetQueue:
    key: str
    items: deque[Notification] = field(default_factory=deque)
    # The newest queued notification per subscription that wants only the latest one.
    latest: dict[str, Notification] = field(default_factory=dict)
    # (notification, task) in the order they were sent
    inflight: deque[tuple[Notification, asyncio.Task]] = field(default_factory=deque)
    window: int = 1
    worker: asyncio.Task | None = None
    failing: bool = False
    backoff: float = 0.0
    delivered: int = 0
    rejected: int = 0
    dropped: int = 0
    retries: int = 0
    drops_unlogged: int = 0
    last_drop_log: float = 0.0
    bytes: int = 0                 # of its notifications not yet settled (queued or in flight)

    @property
    def pending(self) -> int:
        return len(self.items) + len(self.inflight)

    def stats(self) -> dict:
        return {"queued": len(self.items), "inflight": len(self.inflight), "failing": self.failing,
                "delivered": self.delivered, "rejected": self.rejected, "dropped": self.dropped,
                "retries": self.retries, "bytes": self.bytes}


class Delivery:
    def __init__(self, settings: "NotificationSettings", outbound: "Outbound", resolver: TargetResolver,
                 cse_id: str, releases: list[str], *, clock: "Clock",
                 on_attempt: Callable[[Notification, bool], None] | None = None):
        self.settings = settings
        self.outbound = outbound
        self.resolver = resolver
        self.cse_id = cse_id
        self.clock = clock
        self.releases = frozenset(releases)
        self.default_rvi = max(releases, key=_release_order)
        self.queues: dict[str, TargetQueue] = {}
        self.totals = {"delivered": 0, "rejected": 0, "dropped": 0, "retries": 0}
        # Bytes (JSON size of the content) of every notification not yet settled, all targets
        # together: bounded by settings.max_pending_bytes, whatever the number of targets.
        self.pending_bytes = 0
        # Notifications in flight to all targets: each costs a task and its request bytes.
        self.in_flight = 0
        self._by_size: list[tuple[int, int, TargetQueue]] = []   # see _largest
        self._order = itertools.count()
        self._closing = False
        self._progress = asyncio.Event()
        # Told about every attempt of a `counted` notification: (notification, answered).
        self.on_attempt = on_attempt
        self._rqi = (f"n{random_suffix(6)}-{n}" for n in itertools.count(1))

    # -- queueing (synchronous, on the request path) --------------------------------------
    def enqueue(self, notification: Notification, *, latest_only: bool = False,
                latest_when_failing: bool = False) -> None:
        """Queue for the target; `latest_only` (ln) replaces a still-queued notification of the
        same subscription, and `latest_when_failing` (pn=1) does so while the target fails."""
        queue = self.queues.get(notification.target.key)
        if queue is None:
            queue = self.queues[notification.target.key] = TargetQueue(notification.target.key)
        if latest_only or (latest_when_failing and queue.failing):
            notification.ec = LATEST_EC
            previous = queue.latest.get(notification.subscription)
            if previous is not None and previous.queued:
                self._release(queue, previous)
                previous.pc, previous.ec = notification.pc, LATEST_EC
                self._hold(queue, previous)
                return
        if len(queue.items) >= self.settings.queue_size:
            self._drop_oldest(queue)
        notification.queued = True
        queue.items.append(notification)
        self._hold(queue, notification)
        if latest_only or latest_when_failing:
            queue.latest[notification.subscription] = notification
        if queue.worker is None:
            if not self._closing:
                queue.worker = asyncio.get_running_loop().create_task(self._serve(queue),
                                                                      name=f"notify {queue.key}")
        elif not (queue.failing or self._closing) and self._room(queue) \
                and len(queue.items) == 1 and queue.items[-1] is notification:
            # The window has room: send at once rather than after the next answer.
            queue.items.pop()
            notification.queued = False
            if latest_only or latest_when_failing:
                del queue.latest[notification.subscription]
            self._start(queue, notification)

    # -- the memory bound across targets --------------------------------------------------
    def _hold(self, queue: TargetQueue, notification: Notification) -> None:
        """Count `notification` against the bound; past it, drop the oldest queued
        notifications of the targets that hold the most, so one AE's silent targets cannot
        take the memory of everyone's notifications."""
        size = notification.size = _size_of(notification.pc)
        queue.bytes += size
        self.pending_bytes += size
        heapq.heappush(self._by_size, (-queue.bytes, next(self._order), queue))
        limit = self.settings.max_pending_bytes
        if self.pending_bytes > limit:
            why = f"the notifications pending for all targets passed notification.max_pending_bytes ({limit})"
            while self.pending_bytes > limit:
                victim = self._largest()
                if victim is None:
                    break
                self._drop_oldest(victim, why)
                if victim.items:
                    heapq.heappush(self._by_size, (-victim.bytes, next(self._order), victim))
        if len(self._by_size) > 4 * len(self.queues) + 1024:
            self._rebuild_sizes()

    def _largest(self) -> TargetQueue | None:
        """The queue holding the most queued bytes, from a heap with lazy deletion: an entry
        counts only while it still records its queue's current size (O(log n) per drop;
        one push per queued notification, compacted when it outgrows the queues)."""
        for attempt in range(2):
            while self._by_size:
                size, _, queue = self._by_size[0]
                if -size == queue.bytes and queue.items and self.queues.get(queue.key) is queue:
                    heapq.heappop(self._by_size)
                    return queue
                heapq.heappop(self._by_size)
            if attempt == 0:
                self._rebuild_sizes()    # sizes that shrank (answers, drops) were never pushed
        return None

    def _rebuild_sizes(self) -> None:
        self._by_size = [(-q.bytes, next(self._order), q) for q in self.queues.values() if q.items]
        heapq.heapify(self._by_size)

    def _release(self, queue: TargetQueue, notification: Notification) -> None:
        queue.bytes -= notification.size
        self.pending_bytes -= notification.size
        notification.size = 0

    def _drop_oldest(self, queue: TargetQueue, why: str = "the queue is full") -> None:
        oldest = queue.items.popleft()
        oldest.queued = False
        if queue.latest.get(oldest.subscription) is oldest:
            del queue.latest[oldest.subscription]
        self._count_drop(queue, oldest, why)

    def _count_drop(self, queue: TargetQueue, notification: Notification, why: str) -> None:
        self._release(queue, notification)
        self._progress.set()
        queue.dropped += 1
        self.totals["dropped"] += 1
        queue.drops_unlogged += 1
        now = time.monotonic()
        if queue.dropped == 1 or now - queue.last_drop_log >= DROP_LOG_INTERVAL:
            log.warning("dropped %d notification(s) for %s (%s; subscription %s); %d dropped so far",
                        queue.drops_unlogged, queue.key, why, notification.subscription, queue.dropped)
            queue.drops_unlogged = 0
            queue.last_drop_log = now

    # -- sending (one task per target with pending notifications) -------------------------
    def _start(self, queue: TargetQueue, notification: Notification) -> None:
        """Send now.  Tasks run in creation order, so an order-keeping sender transmits them
        in the order they were started."""
        notification.attempts += 1
        task = asyncio.get_running_loop().create_task(self._send_once(notification))
        queue.inflight.append((notification, task))
        self.in_flight += 1

    async def _serve(self, queue: TargetQueue) -> None:
        """Keep up to `window` notifications in flight; settle their answers in order."""
        try:
            while not self._closing:
                queue.window = 1 if queue.failing else self._window(queue)
                while queue.items and self._room(queue):
                    notification = queue.items.popleft()
                    notification.queued = False
                    if queue.latest.get(notification.subscription) is notification:
                        del queue.latest[notification.subscription]
                    self._start(queue, notification)
                if not queue.inflight:
                    break
                notification, task = queue.inflight[0]
                outcome, detail = await task
                if outcome is not Outcome.UNREACHABLE:
                    queue.inflight.popleft()
                    self.in_flight -= 1
                    self._settle(queue, notification, outcome, detail)
                    self._progress.set()
                    continue
                # Unanswered: nothing new is started (failing), the rest in flight is awaited,
                # then what failed is retried in order.  Until then they all stay in
                # `inflight`, where a shutdown meanwhile finds them (`close`).
                if not queue.failing:
                    log.warning("notification target %s is unreachable (%s); retrying with back-off",
                                queue.key, detail)
                    queue.failing = True
                    self._progress.set()
                for _, unfinished in list(queue.inflight):
                    await unfinished
                retry = []
                for later, answered in queue.inflight:
                    later_outcome, later_detail = answered.result()
                    if later_outcome is Outcome.UNREACHABLE:
                        retry.append((later, later_detail))
                    else:
                        self._settle(queue, later, later_outcome, later_detail)
                self.in_flight -= len(queue.inflight)
                queue.inflight.clear()
                await self._back_off(queue, retry)
        finally:
            queue.worker = None
            self._progress.set()
            if not queue.items and not queue.inflight and not self._closing:
                # Nothing left for this target: forget it (a target that failed starts afresh
                # with its next notification), so targets that went away take no memory.
                self.queues.pop(queue.key, None)

    def _room(self, queue: TargetQueue) -> bool:
        """Whether another notification may be started for `queue`: within its window, and
        beyond its first one only while all targets together have fewer than
        `max_in_flight` in flight (a thousand silent targets with a window of 64 each would
        otherwise hold 64,000 unanswered requests)."""
        if len(queue.inflight) >= queue.window:
            return False
        return not queue.inflight or self.in_flight < self.settings.max_in_flight

    def _window(self, queue: TargetQueue) -> int:
        """How many notifications may be in flight: more than one only over a binding that
        transmits concurrent requests to one URL in order (HTTP pipelining)."""
        if self.settings.pipeline <= 1 or not queue.items:
            return max(1, queue.window)
        target = queue.items[0].target
        try:
            url = target.url or self.resolver.url_of(target, self.resolver.entity(target))
        except Exception:     # reported by the attempt, which meets the same trouble
            return 1
        return self.settings.pipeline if url is not None and self.outbound.keeps_order(url) else 1

    def _settle(self, queue: TargetQueue, notification: Notification, outcome: Outcome, detail: str) -> None:
        self._release(queue, notification)
        if outcome is Outcome.DELIVERED:
            queue.delivered += 1
            self.totals["delivered"] += 1
            queue.failing, queue.backoff = False, 0.0
        else:
            queue.rejected += 1
            self.totals["rejected"] += 1
            log.warning("notification for subscription %s refused by %s: %s",
                        notification.subscription, queue.key, detail)

    async def _back_off(self, queue: TargetQueue, retry: list[tuple[Notification, str]]) -> None:
        """Put unanswered notifications back at the head (in order) and wait before the next try."""
        settings = self.settings
        queue.failing = True           # even if a later one in the window was answered
        kept = []
        for notification, _ in retry:
            if settings.max_attempts and notification.attempts >= settings.max_attempts:
                self._count_drop(queue, notification, f"unreachable after {notification.attempts} attempts")
            else:
                kept.append(notification)
        for notification in reversed(kept):
            notification.queued = True
            queue.items.appendleft(notification)
        while len(queue.items) > settings.queue_size:
            self._drop_oldest(queue)
        self._progress.set()
        if kept:
            doubled = queue.backoff * 2 if queue.backoff else settings.retry_initial
            queue.backoff = min(settings.retry_max, doubled)
            queue.retries += 1
            self.totals["retries"] += 1
            await self.clock.sleep(queue.backoff)

    async def _send_once(self, notification: Notification) -> tuple[Outcome, str]:
        """Never raises: an unexpected error (a bug, storage trouble while resolving the
        target) counts as unreachable, so it is retried and the target's worker goes on."""
        try:
            return await self._attempt(notification)
        except Exception as error:
            log.exception("sending a notification of subscription %s to %s failed",
                          notification.subscription, notification.target.key)
            return Outcome.UNREACHABLE, f"internal error: {error!r}"

    async def _attempt(self, notification: Notification) -> tuple[Outcome, str]:
        resolver = self.resolver
        target = notification.target
        entity = resolver.entity(target)
        url = resolver.url_of(target, entity)
        if url is None:
            return Outcome.UNREACHABLE, resolver.describe_unreachable(target, entity)
        request = Request(op=Operation.NOTIFY, to=resolver.to_of(target), fr=self.cse_id,
                          rqi=next(self._rqi), rvi=self._release_for(entity, notification.rvi),
                          pc=notification.pc, ec=notification.ec)
        serialization = resolver.serialization_of(target, entity, notification.serialization)
        response = await self.outbound.send(url, request, serialization=serialization,
                                            timeout=self.settings.timeout)
        outcome = Outcome.DELIVERED if 2000 <= response.rsc < 3000 else \
            Outcome.UNREACHABLE if response.rsc in RETRYABLE else Outcome.REJECTED
        if notification.counted and self.on_attempt is not None:
            self.on_attempt(notification, outcome is not Outcome.UNREACHABLE)
        if outcome is Outcome.DELIVERED:
            return outcome, ""
        detail = f"rsc {response.rsc}"
        if isinstance(response.pc, dict) and "m2m:dbg" in response.pc:
            detail += f": {response.pc['m2m:dbg']}"
        return outcome, detail

    def _release_for(self, entity: dict | None, subscriber_rvi: str | None) -> str:
        """The newest release both sides speak: the entity's srv when known, else the release
        the subscriber used, else ours."""
        common = self.releases.intersection((entity or {}).get("srv") or ())
        if common:
            return max(common, key=_release_order)
        return subscriber_rvi or self.default_rvi

    # -- shutdown -------------------------------------------------------------------------
    async def wait_until(self, condition, timeout: float) -> bool:
        """Wait until `condition()` holds (re-checked whenever a notification is delivered,
        dropped or a target starts failing); False if `timeout` passed first."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._progress.clear()
            try:
                await asyncio.wait_for(self._progress.wait(), remaining)
            except asyncio.TimeoutError:
                return condition()
        return True

    async def drain(self, timeout: float) -> None:
        """Keep sending until every reachable target's queue is empty, or `timeout` passes."""
        await self.wait_until(
            lambda: not any(q.pending and not q.failing for q in self.queues.values()), timeout)

    async def close(self) -> list[Notification]:
        """Stop sending; return every notification not yet delivered, oldest first per target."""
        self._closing = True
        tasks = [q.worker for q in self.queues.values() if q.worker is not None]
        tasks += [task for q in self.queues.values() for _, task in q.inflight]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        left: list[Notification] = []
        self.pending_bytes = 0
        self.in_flight = 0
        for queue in self.queues.values():
            queue.bytes = 0
            left.extend(notification for notification, task in queue.inflight if not _answered(task))
            queue.inflight.clear()
            left.extend(queue.items)
            queue.items.clear()
            queue.latest.clear()
        return left

    def stats(self) -> dict:
        return {**self.totals, "queued": sum(q.pending for q in self.queues.values()),
                "pending_bytes": self.pending_bytes,
                "targets": {key: q.stats() for key, q in self.queues.items()}}


# Bytes counted per notification on top of its JSON size: the Python objects of the content
# and of the queued Notification take about that much more.
OVERHEAD = 1024


def _size_of(pc: object) -> int:
    """What a notification counts for: the JSON size of its content plus OVERHEAD."""
    try:
        return len(orjson.dumps(pc, default=str)) + OVERHEAD
    except (TypeError, orjson.JSONEncodeError):
        return 4096


def _answered(task: asyncio.Task) -> bool:
    """Whether a send in flight got a final answer (delivered or refused): not to be resent."""
    return task.done() and not task.cancelled() and task.result()[0] is not Outcome.UNREACHABLE


def _release_order(release: str) -> tuple[int, str]:
    digits = "".join(c for c in str(release) if c.isdigit())
    return int(digits or 0), str(release)
