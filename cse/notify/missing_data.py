"""Missing-data detection of timeSeries (TS-0001 10.2.4.29, TS-0004 7.4.38.2.1) and the
notifications it causes (net 8, `m2m:tsn`).

`MissingData` watches every timeSeries whose detection is on (mdd true, a pei, and a first
instance received since mdd was switched on, whose dgt is the t0 kept by the type as
`_mdt0`).  The expected readings lie on the grid E(n) = t0 + n*pei; a reading whose dgt is
within peid of E(n) counts for period n.  One timer per watched timeSeries, due at the
detection time E(n) + mdt of the period it waits for: when it fires and nothing came for
period n, E(n) is recorded as missing in the timeSeries' mdlt (newest first, at most mdn
entries) and mdc, and `report(series, point)` is called; then the timer moves to period
n+1.  Periods whose detection time had passed when watching began (old data, a restart)
are not reported.  Everything runs on the injected clock, off the request path: `publish`
(from the notifier's publish) only notes readings and starts or stops watches.

`Windows` applies a subscription's md (missingData: num, dur): the first missing point
opens a window of dur; when the count in it reaches num a notification goes out, and one
more for each further point in the same window (the TS rule; ACME resets after each).

Bounds: at most `max_watched` timeSeries are watched (more are logged and counted, not
watched); a watch remembers the readings of at most `AHEAD` future periods; a window keeps
at most `MAX_LISTED` points; at most `max_windows` subscriptions have a window.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from ..clock import format_timestamp, parse_duration
from ..events import Event, EventKind
from ..resource_types import Ty

if TYPE_CHECKING:
    from ..clock import Clock, Timer
    from ..storage import Storage
    from .commits import Commits
    from .matching import Subscription

log = logging.getLogger(__name__)

MISSING_DATA = 8                 # the net of these notifications
MONITOR_START = "_mdt0"          # kept by resources/time_series.py
AHEAD = 64                       # future periods whose readings a watch remembers
MAX_LISTED = 1000                # points one window lists at most (and mdlt without mdn)
DEFAULT_WATCHED = 10_000
_TS, _TSI = int(Ty.TS), int(Ty.TSI)
# The types whose events the notifier hands to `MissingData.publish`.
WATCHED_TYPES = frozenset({_TS, _TSI})


@dataclass(slots=True, eq=False)
class Watch:
    ri: str
    t0: float
    pei: float                   # seconds
    peid: float
    mdt: float
    next: int                    # the period whose detection time the timer waits for
    received: set[int] = field(default_factory=set)
    timer: "Timer | None" = None

    def expected(self, period: int) -> float:
        return self.t0 + period * self.pei

    def saw(self, instant: float) -> None:
        period = round((instant - self.t0) / self.pei)
        if self.next <= period < self.next + AHEAD and abs(instant - self.expected(period)) <= self.peid:
            self.received.add(period)


def watch_of(series: dict, now: float) -> Watch | None:
    """The watch a timeSeries needs now, or None when its detection is off."""
    t0 = series.get(MONITOR_START)
    if not series.get("mdd") or not series.get("pei") or t0 is None or series.get("mdt") is None:
        return None
    pei, mdt = series["pei"] / 1000.0, series["mdt"] / 1000.0
    # The first period whose detection time is still to come (at least period 1).
    period = max(1, int((now - t0 - mdt) // pei) + 1)
    return Watch(series["ri"], t0, pei, (series.get("peid") or 0) / 1000.0, mdt, period)


class MissingData:
    def __init__(self, clock: "Clock", storage: "Storage", commits: "Commits", root_path: str,
                 report: Callable[[dict, str], None], max_watched: int = DEFAULT_WATCHED):
        self.clock = clock
        self.storage = storage
        self.commits = commits
        self.root_path = root_path
        self.report = report
        self.max_watched = max_watched
        self.watches: dict[str, Watch] = {}
        self.unwatched = 0          # timeSeries refused for lack of room (each logged once)
        self.refused: dict[str, None] = {}
        self.detected = 0
        self.running = True

    # -- events (request path: no storage access, no sending) ------------------------------
    def publish(self, event: Event) -> None:
        resource = event.resource
        ty = resource["ty"]
        if ty == _TSI:
            if event.kind is EventKind.CREATED and event.parent is not None:
                watch = self.watches.get(event.parent["ri"])
                if watch is None:
                    watch = self._watch(event.parent)
                if watch is not None:
                    watch.saw(resource["_dgt"])
        elif ty == _TS:
            if event.kind is EventKind.DELETED or (event.modified is not None and "mdd" in event.modified):
                self._unwatch(resource["ri"])      # switched on again: it restarts with the next reading

    def _watch(self, series: dict) -> Watch | None:
        watch = watch_of(series, self.clock.now())
        if watch is None or not self.running:
            return None
        if len(self.watches) >= self.max_watched:
            if watch.ri in self.refused:
                return None
            if len(self.refused) >= self.max_watched:
                del self.refused[next(iter(self.refused))]
            self.refused[watch.ri] = None
            self.unwatched += 1
            log.warning("timeSeries %s: missing data is not detected, %d timeSeries are watched already",
                        series["ri"], self.max_watched)
            return None
        self.watches[watch.ri] = watch
        self._schedule(watch)
        return watch

    def _unwatch(self, ri: str) -> None:
        self.refused.pop(ri, None)
        watch = self.watches.pop(ri, None)
        if watch is not None and watch.timer is not None:
            watch.timer.cancel()

    def _schedule(self, watch: Watch) -> None:
        due = watch.expected(watch.next) + watch.mdt
        watch.timer = self.clock.call_later(due - self.clock.now(), self._detect, watch)

    # -- timers ---------------------------------------------------------------------------
    def _detect(self, watch: Watch) -> None:
        if self.watches.get(watch.ri) is not watch:
            return
        try:
            series = self.storage.get(watch.ri)
            if series is None or watch_of(series, self.clock.now()) is None or series[MONITOR_START] != watch.t0:
                self.watches.pop(watch.ri, None)    # deleted (perhaps with an ancestor), or switched off
                return
            period = watch.next
            watch.next += 1
            if period in watch.received:
                watch.received.discard(period)
            else:
                self._missing(series, format_timestamp(watch.expected(period)))
            self._schedule(watch)
        except Exception:
            log.exception("missing data detection of timeSeries %s failed; it is no longer watched", watch.ri)
            self.watches.pop(watch.ri, None)

    def _missing(self, series: dict, point: str) -> None:
        self.detected += 1
        listed = [point, *(series.get("mdlt") or ())][:series.get("mdn") or MAX_LISTED]
        series["mdlt"] = listed
        series["mdc"] = len(listed)
        with self.storage.transaction():
            self.storage.update(series, changed=("mdlt", "mdc"))
        self.commits.schedule()
        self.report(series, point)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Watch again what was watched before a restart (periods missed while the CSE was
        down are not reported)."""
        self.running = True
        for series in self.storage.descendants(self.root_path, types=(_TS,)):
            if series["ri"] not in self.watches and series.get("mdd") and series.get(MONITOR_START) is not None:
                self._watch(series)

    def stop(self) -> None:
        self.running = False
        for ri in list(self.watches):
            self._unwatch(ri)

    def stats(self) -> dict:
        return {"missing_data_watched": len(self.watches), "missing_data_unwatched": self.unwatched,
                "missing_data_detected": self.detected}


@dataclass(slots=True)
class Window:
    opened: float
    count: int = 0
    points: list[str] = field(default_factory=list)


class Windows:
    """The md windows of the subscriptions that have seen a missing point (at most
    `max_windows`, the oldest forgotten first)."""

    def __init__(self, max_windows: int):
        self.max_windows = max_windows
        self.windows: dict[str, Window] = {}

    def record(self, subscription: "Subscription", point: str, now: float) -> dict | None:
        """Count one missing point; the m2m:tsn to send, or None while num is not reached."""
        md = (subscription.doc.get("enc") or {}).get("md") or {}
        num = md.get("num") or 1
        duration = parse_duration(md["dur"], "md/dur") if md.get("dur") is not None else None
        window = self.windows.get(subscription.ri)
        if window is None or (duration is not None and now >= window.opened + duration):
            if window is None and len(self.windows) >= self.max_windows:
                del self.windows[next(iter(self.windows))]
            window = self.windows[subscription.ri] = Window(now)
        window.count += 1
        window.points = [point, *window.points][:MAX_LISTED]
        if window.count < num:
            return None
        tsn = {"mdlt": window.points, "mdc": window.count}
        window.points = []
        return tsn

    def forget(self, ri: str) -> None:
        self.windows.pop(ri, None)

    def __len__(self) -> int:
        return len(self.windows)
