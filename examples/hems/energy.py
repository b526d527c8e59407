"""The energy application's arithmetic: daily consumption, peaks, the appliance responsible
for a peak, and when a switched-off appliance may run again.

Pure on purpose: no sockets, no clock, no printing.  Everything takes the (simulated) time
of the readings as an argument, so it is unit-tested on its own and gives the same answers
whether a day lasts 24 hours or 12 seconds.  It must never send a request: the application
(`energy_app.py`) asks the CSE for what a decision needs and acts on the decision.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

HOUR = 3600.0


def split_by_day(start: datetime, end: datetime) -> list[tuple[date, float]]:
    """The seconds of [start, end) that fall on each calendar day, in order."""
    parts: list[tuple[date, float]] = []
    while start < end:
        midnight = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), start.tzinfo)
        stop = min(end, midnight)
        parts.append((start.date(), (stop - start).total_seconds()))
        start = stop
    return parts


class DailyEnergy:
    """Watt-hours per key (a home, an appliance) and calendar day.

    Two sources:
    * `add_power(key, t, watts)`: each reading's power is taken to hold until the next
      one, for at most `max_hold` seconds (longer silence counts as unknown, not as the
      last value).  Exact for appliances, which report every change of their draw.
    * `add_register(key, t, wh)`: a meter's energy register; the difference between two
      readings is shared between the days they span in proportion of time.
    Readings older than the key's last one are ignored (and counted in `ignored`)."""

    def __init__(self, max_hold: float = 2 * HOUR):
        self.max_hold = max_hold
        self._power: dict[str, tuple[datetime, float]] = {}
        self._register: dict[str, tuple[datetime, float]] = {}
        self._wh: dict[tuple[str, date], float] = {}
        self._last_day: dict[str, date] = {}
        self._last_time: dict[str, datetime] = {}
        self.ignored = 0

    def add_power(self, key: str, t: datetime, watts: float) -> None:
        last = self._power.get(key)
        if last is not None:
            since, held = last
            if t < since:
                self.ignored += 1
                return
            end = min(t, since + timedelta(seconds=self.max_hold))
            for day, seconds in split_by_day(since, end):
                self._add(key, day, held * seconds / HOUR)
        self._power[key] = (t, watts)
        self._seen(key, t)

    def add_register(self, key: str, t: datetime, wh: float) -> None:
        last = self._register.get(key)
        if last is not None:
            since, before = last
            if t < since or wh < before:
                self.ignored += 1
                return
            total = (t - since).total_seconds()
            if total > 0:
                for day, seconds in split_by_day(since, t):
                    self._add(key, day, (wh - before) * seconds / total)
        self._register[key] = (t, wh)
        self._seen(key, t)

    def _add(self, key: str, day: date, wh: float) -> None:
        self._wh[key, day] = self._wh.get((key, day), 0.0) + wh

    def _seen(self, key: str, t: datetime) -> None:
        self._last_day[key] = max(self._last_day.get(key, t.date()), t.date())
        self._last_time[key] = max(self._last_time.get(key, t), t)
        self._wh.setdefault((key, t.date()), 0.0)

    def last_reading(self, key: str) -> datetime | None:
        """The time of the newest reading of `key` (None before the first)."""
        return self._last_time.get(key)

    def wh(self, key: str, day: date) -> float:
        return self._wh.get((key, day), 0.0)

    def days(self) -> list[date]:
        return sorted({day for _, day in self._wh})

    def complete_days(self, keys: list[str]) -> list[date]:
        """Days that every one of `keys` has reported past (a reading on a later day), so
        their totals will not change any more."""
        if not keys or any(key not in self._last_day for key in keys):
            return []
        horizon = min(self._last_day[key] for key in keys)
        return [day for day in self.days() if day < horizon]


class DrawHistory:
    """The recent power readings of one appliance, to answer "what did it draw at t?"
    whatever order the readings arrived in."""

    def __init__(self, size: int = 64):
        self._readings: deque[tuple[datetime, float]] = deque(maxlen=size)

    def add(self, t: datetime, watts: float) -> None:
        readings = self._readings
        if not readings or t >= readings[-1][0]:
            readings.append((t, watts))
            return
        ordered = sorted([*readings, (t, watts)], key=lambda r: r[0])
        readings.clear()
        readings.extend(ordered[-readings.maxlen:])

    def at(self, t: datetime) -> float:
        """The draw reported last at or before `t` (0 before the first reading)."""
        for when, watts in reversed(self._readings):
            if when <= t:
                return watts
        return 0.0

    @property
    def latest(self) -> float:
        return self._readings[-1][1] if self._readings else 0.0


def responsible(before: dict[str, float], now: dict[str, float], exclude: set[str] | frozenset = frozenset()
                ) -> str | None:
    """The appliance that caused a peak: among those drawing power now (and not in
    `exclude`), the one whose draw rose most since the last reading under the threshold
    (`before`); when no draw rose (the rest of the house did), the largest draw.  Ties go
    to the larger draw, then to the name, so the answer never depends on dict order."""
    running = {name: watts for name, watts in now.items() if watts > 0 and name not in exclude}
    if not running:
        return None
    rises = {name: watts - before.get(name, 0.0) for name, watts in running.items()}
    if max(rises.values()) > 0:
        return max(running, key=lambda name: (rises[name], running[name], name))
    return max(running, key=lambda name: (running[name], name))


@dataclass
class SwitchedOff:
    """An appliance the application switched off: when, and what it drew then."""

    t: datetime
    watts: float


def resumable(total_w: float, switched_off: dict[str, SwitchedOff], t: datetime, *, threshold_w: float,
              margin_w: float, min_off: float) -> str | None:
    """The appliance that may be switched on again now: off for at least `min_off`
    seconds, and whose draw fits under the threshold with `margin_w` to spare.  The one
    switched off first goes first (it has waited longest)."""
    for name, off in sorted(switched_off.items(), key=lambda item: (item[1].t, item[0])):
        if (t - off.t).total_seconds() >= min_off and total_w + off.watts <= threshold_w - margin_w:
            return name
    return None


@dataclass
class Decision:
    """What the application should do after a whole-home reading."""

    action: str                 # "shed" (switch off), "resume" (switch on), "unresolved"
    appliance: str | None
    total_w: float
    appliance_w: float = 0.0


@dataclass
class HomeLoad:
    """Load management of one home: a peak is a whole-home reading over `threshold_w`.

    In a peak, one appliance at a time is switched off (the responsible one), and the next
    only after the previous command was acknowledged and the load is still too high.  An
    appliance switched off comes back when the load leaves room for it (see `resumable`).
    The application feeds it readings and acknowledgements and acts on its decisions."""

    threshold_w: float
    margin_w: float = 200.0
    min_off: float = HOUR
    draws: dict[str, DrawHistory] = field(default_factory=dict)
    switched_off: dict[str, SwitchedOff] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)       # appliance -> command sent
    refused: set[str] = field(default_factory=set)              # would not switch off (this peak)
    last_normal: datetime | None = None
    in_peak: bool = False
    reported_unresolved: bool = False

    def appliance_reading(self, name: str, t: datetime, watts: float) -> None:
        self.draws.setdefault(name, DrawHistory()).add(t, watts)

    def over(self, total_w: float) -> bool:
        return total_w > self.threshold_w

    def busy(self) -> bool:
        """A command is still waiting for its acknowledgement: decide nothing meanwhile."""
        return bool(self.pending)

    def on_peak(self, t: datetime, total_w: float, draws_now: dict[str, float]) -> Decision | None:
        """A reading over the threshold, with the appliances' draws read just now."""
        first = not self.in_peak
        self.in_peak = True
        if self.busy():
            return None
        before = {name: history.at(self.last_normal) for name, history in self.draws.items()} \
            if self.last_normal is not None else {}
        name = responsible(before, draws_now, exclude=set(self.switched_off) | self.refused)
        if name is None:
            if first or not self.reported_unresolved:
                self.reported_unresolved = True
                return Decision("unresolved", None, total_w)
            return None
        return Decision("shed", name, total_w, draws_now[name])

    def on_normal(self, t: datetime, total_w: float) -> Decision | None:
        """A reading at or under the threshold."""
        self.in_peak = False
        self.reported_unresolved = False
        self.refused.clear()
        self.last_normal = t
        if self.busy():
            return None
        name = resumable(total_w, self.switched_off, t, threshold_w=self.threshold_w,
                         margin_w=self.margin_w, min_off=self.min_off)
        if name is None:
            return None
        return Decision("resume", name, total_w, self.switched_off[name].watts)

    def sent(self, decision: Decision, t: datetime) -> None:
        """The command for `decision` was written."""
        command = "off" if decision.action == "shed" else "on"
        self.pending[decision.appliance] = command
        if command == "off":
            self.switched_off[decision.appliance] = SwitchedOff(t, decision.appliance_w)

    def acknowledged(self, appliance: str, command: str, done: bool) -> None:
        """The appliance answered (or the application gave up waiting: `done` False).  An
        "off" not done means it keeps running: it is not chosen again during this peak."""
        self.pending.pop(appliance, None)
        if command == "on" and done:
            self.switched_off.pop(appliance, None)
        elif command == "off" and not done:
            self.switched_off.pop(appliance, None)
            self.refused.add(appliance)
