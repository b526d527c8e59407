"""The physical side of the simulated home: time, the household's base load, what the
appliances draw, and the wiring through which the meter measures all of it.

This stands in for electricity, not for oneM2M: the meter "measures" the wiring, an
appliance "draws" by switching its load on the wiring.  Nothing here talks to a CSE, and
the energy application never reads it (it only knows what the devices report).

* `SimClock`: simulated time = start + (wall time - epoch) x speed.  Processes given the
  same start, speed and epoch agree on the time, so devices started separately share one
  simulated day.
* `LoadProfile`: the rest of the house (lights, fridge, cooking) by hour of day.
* `MemoryWiring` (devices in one process) and `FileWiring` (devices in separate
  processes, one small JSON file per load in a shared directory).
* `ApplianceModel`: when an appliance wants power, and whether commands let it run.
"""
from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

HOUR = 3600.0


class SimClock:
    """Simulated time running `speed` times faster than the wall clock from `epoch` (a
    `time.time()` value; default: now), when it was `start`."""

    def __init__(self, start: datetime, speed: float = 1.0, epoch: float | None = None):
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.start = start
        self.speed = speed
        self.epoch = time.time() if epoch is None else epoch

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.epoch) * self.speed)

    def real_seconds(self, simulated: float) -> float:
        return simulated / self.speed

    async def sleep_until(self, t: datetime) -> None:
        delay = self.epoch + (t - self.start).total_seconds() / self.speed - time.time()
        if delay > 0:
            await asyncio.sleep(delay)


# -- the rest of the house ---------------------------------------------------------------
# Watts by hour of day of a typical home without its big appliances: ~20 kWh a day.
TYPICAL_HOME = (300, 300, 300, 300, 300, 300, 600, 1500, 1500, 500, 500, 500,
                900, 900, 500, 500, 500, 1500, 1500, 1800, 1800, 1800, 600, 600)


@dataclass(frozen=True)
class LoadProfile:
    hourly_w: tuple[float, ...] = TYPICAL_HOME

    def __post_init__(self):
        if len(self.hourly_w) != 24 or any(w < 0 for w in self.hourly_w):
            raise ValueError("a load profile is 24 non-negative hourly values in watts")

    def watts(self, t: datetime) -> float:
        return float(self.hourly_w[t.hour])

    def energy_wh(self, start: datetime, end: datetime) -> float:
        """Exact energy between two times (the profile is constant within each hour)."""
        total = 0.0
        while start < end:
            next_hour = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            stop = min(end, next_hour)
            total += self.watts(start) * (stop - start).total_seconds() / HOUR
            start = stop
        return total


# -- the wiring --------------------------------------------------------------------------
@dataclass
class Load:
    watts: float
    since: datetime
    wh: float = 0.0             # energy drawn before `since`

    def energy_wh(self, t: datetime) -> float:
        return self.wh + self.watts * max(0.0, (t - self.since).total_seconds()) / HOUR


class Wiring:
    """The home's circuit: the loads switched on it, their power now and energy so far."""

    def _loads(self) -> dict[str, Load]:
        raise NotImplementedError

    def _store(self, name: str, load: Load) -> None:
        raise NotImplementedError

    def switch(self, name: str, watts: float, t: datetime) -> None:
        """Load `name` draws `watts` from `t` on."""
        load = self._loads().get(name)
        wh = load.energy_wh(t) if load is not None else 0.0
        self._store(name, Load(watts, t, wh))

    def total_w(self) -> float:
        return sum(load.watts for load in self._loads().values())

    def energy_wh(self, t: datetime, name: str | None = None) -> float:
        loads = self._loads()
        if name is not None:
            return loads[name].energy_wh(t) if name in loads else 0.0
        return sum(load.energy_wh(t) for load in loads.values())


class MemoryWiring(Wiring):
    """The wiring of devices in one process; it also remembers every switch, so the
    energy of any past interval can be told exactly (the demo's ground truth)."""

    def __init__(self):
        self.loads: dict[str, Load] = {}
        self.switches: dict[str, list[tuple[datetime, float]]] = {}

    def _loads(self) -> dict[str, Load]:
        return self.loads

    def _store(self, name: str, load: Load) -> None:
        self.loads[name] = load
        self.switches.setdefault(name, []).append((load.since, load.watts))

    def energy_between(self, start: datetime, end: datetime, name: str | None = None) -> float:
        names = [name] if name is not None else list(self.switches)
        total = 0.0
        for load in names:
            switches = self.switches.get(load, [])
            for i, (since, watts) in enumerate(switches):
                until = switches[i + 1][0] if i + 1 < len(switches) else end
                overlap = (min(until, end) - max(since, start)).total_seconds()
                if overlap > 0:
                    total += watts * overlap / HOUR
        return total


class FileWiring(Wiring):
    """The wiring shared by processes: `<directory>/<load>.json`, replaced atomically."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _loads(self) -> dict[str, Load]:
        loads = {}
        for path in self.directory.glob("*.json"):
            try:
                data = json.loads(path.read_text())
                loads[path.stem] = Load(float(data["w"]), datetime.fromisoformat(data["since"]), float(data["wh"]))
            except (OSError, ValueError, KeyError):
                continue            # being replaced right now, or not one of ours
        return loads

    def _store(self, name: str, load: Load) -> None:
        path = self.directory / f"{name}.json"
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_text(json.dumps({"w": load.watts, "since": load.since.isoformat(), "wh": load.wh}))
        os.replace(scratch, path)


# -- appliances --------------------------------------------------------------------------
@dataclass(frozen=True)
class ApplianceSpec:
    """An appliance of the simulation: `rated_w` while running, wanted in the daily
    `windows` (hours, e.g. (18.5, 24.0)), until `needs_wh` were drawn in the window
    (None: all the window, like a thermostat's duty)."""

    name: str
    rated_w: float
    windows: tuple[tuple[float, float], ...]
    needs_wh: float | None = None
    label: str = ""

    def window_at(self, t: datetime) -> tuple[float, float] | None:
        hour = t.hour + t.minute / 60 + t.second / 3600
        for window in self.windows:
            if window[0] <= hour < window[1]:
                return window
        return None


@dataclass
class ApplianceModel:
    """Whether an appliance draws power: it wants to in its windows, and runs when
    commands allow it (`enabled`, switched by "off"/"on")."""

    spec: ApplianceSpec
    enabled: bool = True
    drawn_in_window: float = 0.0
    _window: tuple | None = field(default=None, repr=False)
    _last: datetime | None = field(default=None, repr=False)
    watts: float = 0.0

    def advance(self, t: datetime) -> float:
        """The draw at `t` (after accounting what was drawn since the last call)."""
        if self._last is not None and t > self._last:
            self.drawn_in_window += self.watts * (t - self._last).total_seconds() / HOUR
        self._last = t
        window = self.spec.window_at(t)
        today = (t.date(), window) if window is not None else None     # the same hours tomorrow: a new window
        if today != self._window:
            self._window = today
            self.drawn_in_window = 0.0
        wants = window is not None and (self.spec.needs_wh is None or self.drawn_in_window < self.spec.needs_wh)
        self.watts = self.spec.rated_w if wants and self.enabled else 0.0
        return self.watts
