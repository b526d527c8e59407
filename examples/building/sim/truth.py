"""Ground truth of the simulated day: what the meters really measured, to check the
drivers, the proxy and the energy applications against.

The physics holds every power constant over a step, so the energy of a step is exactly
power x step and the day's energy is the sum: this is the integral of the simulated power,
not an estimate.  Demand is the mean power of each 15-minute interval (energy / 0.25 h),
aligned to the clock (00:00, 00:15, ...); the peak is the largest such interval of a meter.
Bounded: one float per meter per interval (96 a day), kept for `max_intervals` intervals.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

INTERVAL_S = 900.0


@dataclass(frozen=True)
class Interval:
    start: float  # simulated seconds since the first midnight
    demand_kw: float  # mean power over the interval

    def label(self) -> str:
        minutes = int(self.start % 86400 // 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"


class GroundTruth:
    def __init__(self, loads: list[str], start: float = 0.0, max_intervals: int = 96 * 7):
        if start % INTERVAL_S:
            raise ValueError("ground truth must start on a 15-minute boundary")
        self.start = start
        self.energy_kwh = {name: 0.0 for name in loads}
        self.max_power_kw = {name: 0.0 for name in loads}
        self._open = {name: 0.0 for name in loads}  # kWh in the current interval
        self._open_start = start
        self._closed: dict[str, deque[Interval]] = {name: deque(maxlen=max_intervals) for name in loads}
        self.elapsed_s = 0.0

    def add(self, t: float, dt: float, power_kw: dict[str, float]) -> None:
        """Account the step [t, t + dt) during which each load drew `power_kw`."""
        if int(t // INTERVAL_S) != int((t + dt - 1e-9) // INTERVAL_S):
            raise ValueError("a step must not cross a 15-minute boundary")
        for name, kw in power_kw.items():
            kwh = kw * dt / 3600.0
            self.energy_kwh[name] += kwh
            self._open[name] += kwh
            if kw > self.max_power_kw[name]:
                self.max_power_kw[name] = kw
        self.elapsed_s += dt
        if (t + dt) % INTERVAL_S < 1e-6 or INTERVAL_S - (t + dt) % INTERVAL_S < 1e-6:
            for name, kwh in self._open.items():
                self._closed[name].append(Interval(self._open_start, kwh * 3600.0 / INTERVAL_S))
                self._open[name] = 0.0
            self._open_start = round(t + dt)

    def intervals(self, load: str) -> list[Interval]:
        return list(self._closed[load])

    def last_demand_kw(self, load: str) -> float:
        closed = self._closed[load]
        return closed[-1].demand_kw if closed else 0.0

    def peak(self, load: str = "meter-main") -> Interval | None:
        closed = self._closed[load]
        return max(closed, key=lambda i: i.demand_kw) if closed else None

    def summary(self, loads: list[str] | None = None) -> dict:
        names = loads if loads is not None else list(self.energy_kwh)
        out = {"hours": round(self.elapsed_s / 3600.0, 3), "energy_kwh": {}, "peak": {}}
        for name in names:
            out["energy_kwh"][name] = round(self.energy_kwh[name], 3)
            peak = self.peak(name)
            if peak is not None:
                out["peak"][name] = {"start": peak.label(), "demand_kw": round(peak.demand_kw, 3)}
        return out
