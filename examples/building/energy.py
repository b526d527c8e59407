"""The arithmetic of the building's energy applications, without I/O: a meter's series of
cumulative readings, energy over any span by interpolation, 15-minute demand intervals
aligned to the clock (as utilities bill maximum demand), and carbon from a grid factor.

A meter reports its cumulative energy index (kWh), its power and its demand register (the
mean power of the last closed 15-minute interval, as billing meters keep it) at irregular
times (each poll of the proxy).  The energy of [a, b] is index(b) - index(a), with the index
interpolated linearly between two readings.  The demand of an interval is the meter's own
register as read during the next interval (the last such reading wins: one taken just at the
boundary may still show the interval before); without a register it is interpolated from
the index.  So an interval is known once the interval after it has ended too (`add`), or at
`finish`.  Bounded: a series keeps at most `max_readings`.
"""
from __future__ import annotations

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

INTERVAL = timedelta(minutes=15)


@dataclass(frozen=True)
class Reading:
    t: datetime
    kw: float
    kwh: float
    demand_kw: float | None = None     # the meter's demand register (last closed interval)


@dataclass(frozen=True)
class DemandInterval:
    start: datetime
    kw: float            # mean power over the 15 minutes

    def label(self) -> str:
        return f"{self.start:%H:%M}"


def interval_start(t: datetime) -> datetime:
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


class MeterSeries:
    def __init__(self, name: str, max_readings: int = 10_000):
        self.name = name
        self.readings: deque[Reading] = deque(maxlen=max_readings)
        self._registers: dict[datetime, float] = {}     # interval start -> demand register seen
        self._done: datetime | None = None               # start of the newest interval handed out

    def add(self, reading: Reading) -> list[DemandInterval]:
        """Add a reading (out-of-order or duplicate ones are ignored); the 15-minute
        intervals it completes, in order."""
        if self.readings and reading.t <= self.readings[-1].t:
            return []
        self.readings.append(reading)
        if reading.demand_kw is not None:
            self._registers[interval_start(reading.t) - INTERVAL] = reading.demand_kw
        # Every interval that ended before the one before this reading's is complete.
        return self._complete(interval_start(reading.t) - INTERVAL)

    def finish(self) -> list[DemandInterval]:
        """At the end of the readings: the intervals still open up to the last reading."""
        last = self.readings[-1].t if self.readings else None
        return self._complete(interval_start(last) + INTERVAL) if last is not None else []

    def _complete(self, before: datetime) -> list[DemandInterval]:
        first = self.readings[0].t
        start = self._done + INTERVAL if self._done is not None else interval_start(first)
        if start < first:
            start += INTERVAL                              # began before the first reading
        out = []
        while start + INTERVAL <= before:
            end = start + INTERVAL
            register = self._registers.pop(start, None)
            if register is not None:
                out.append(DemandInterval(start, round(register, 3)))
            elif end <= self.readings[-1].t:
                out.append(DemandInterval(start, round(self.energy(start, end) * 4, 3)))
            self._done = start
            start = end
        return out

    def index_at(self, t: datetime) -> float | None:
        """The energy index at `t`, interpolated; None outside the readings."""
        readings = self.readings
        if not readings or t < readings[0].t or t > readings[-1].t:
            return None
        times = [r.t for r in readings]
        i = bisect_left(times, t)
        if times[i] == t:
            return readings[i].kwh
        a, b = readings[i - 1], readings[i]
        share = (t - a.t) / (b.t - a.t)
        return a.kwh + (b.kwh - a.kwh) * share

    def energy(self, start: datetime, end: datetime) -> float:
        a, b = self.index_at(start), self.index_at(end)
        if a is None or b is None:
            raise ValueError(f"{self.name}: no readings around {start:%H:%M}-{end:%H:%M}")
        return b - a

    def total(self) -> float:
        """Energy between the first and the last reading."""
        return self.readings[-1].kwh - self.readings[0].kwh if len(self.readings) > 1 else 0.0

    @property
    def latest(self) -> Reading | None:
        return self.readings[-1] if self.readings else None


def carbon_kg(kwh: float, factor_kg_per_kwh: float) -> float:
    return kwh * factor_kg_per_kwh
