"""What drives the building from outside: the weather over the day and the people in it.

Both are deterministic functions of simulated time given a seed: noise is drawn once per
day at fixed knots (every 15 minutes) from a generator seeded with (seed, day, what) and
interpolated linearly, so a value does not depend on the simulation step, on the order of
calls, or on how fast the day runs.  Two buildings with the same seed see the same day.

* `WeatherDay`: outdoor temperature as a daily cosine (minimum near 05:00, maximum at
  15:00) plus slow noise; clear-sky solar irradiance between sunrise and sunset, dimmed by
  passing clouds; relative humidity falling as the air warms.
* `OccupancySchedule`: the share of a zone's seats taken, by hour of a working day
  (arrival, lunch dip, departure), with per-zone noise; weekends are nearly empty.

Nothing here knows about devices or protocols.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

DAY = 86400.0
KNOT = 900.0  # seconds between noise knots
KNOTS = int(DAY / KNOT) + 1


def _knots(seed: int, day: int, what: str, sigma: float, keep: float) -> list[float]:
    """An AR(1) series (persistence `keep`, stationary deviation `sigma`) at the day's knots."""
    rng = random.Random(f"{seed}:{day}:{what}")
    values = [rng.gauss(0.0, sigma)]
    innovation = sigma * math.sqrt(1.0 - keep * keep)
    for _ in range(KNOTS - 1):
        values.append(keep * values[-1] + rng.gauss(0.0, innovation))
    return values


class SmoothNoise:
    """Interpolated noise as a function of time (seconds since the first day's midnight).
    The knots of a day are generated when that day is first asked for and kept (a few
    hundred floats per day)."""

    def __init__(self, seed: int, what: str, sigma: float, keep: float = 0.8):
        self.seed, self.what, self.sigma, self.keep = seed, what, sigma, keep
        self._days: dict[int, list[float]] = {}

    def __call__(self, t: float) -> float:
        day = int(t // DAY)
        knots = self._days.get(day)
        if knots is None:
            if len(self._days) > 8:  # a long run: forget old days
                self._days.pop(min(self._days))
            knots = self._days[day] = _knots(self.seed, day, self.what, self.sigma, self.keep)
        x = (t - day * DAY) / KNOT
        i = min(int(x), KNOTS - 2)
        return knots[i] + (knots[i + 1] - knots[i]) * (x - i)


def hour_of_day(t: float) -> float:
    return (t % DAY) / 3600.0


@dataclass(frozen=True)
class WeatherDay:
    """A summer day by default: 21 degC before dawn, 33 degC at 15:00."""

    mean_temp: float = 27.0  # degC
    amplitude: float = 6.0  # degC, half the day's swing
    warmest_hour: float = 15.0
    sunrise: float = 5.5  # hours
    sunset: float = 20.5
    peak_irradiance: float = 850.0  # W/m2 at solar noon on a clear day
    temp_noise: float = 0.4  # degC
    cloudiness: float = 0.1  # mean share of sunlight lost to clouds


class Weather:
    def __init__(self, day: WeatherDay, seed: int):
        self.day = day
        self._temp_noise = SmoothNoise(seed, "temp", day.temp_noise)
        self._cloud_noise = SmoothNoise(seed, "cloud", 0.08, keep=0.6)

    def outdoor_temp(self, t: float) -> float:
        d = self.day
        phase = 2 * math.pi * (hour_of_day(t) - d.warmest_hour) / 24.0
        return d.mean_temp + d.amplitude * math.cos(phase) + self._temp_noise(t)

    def solar_irradiance(self, t: float) -> float:
        d = self.day
        h = hour_of_day(t)
        if not d.sunrise < h < d.sunset:
            return 0.0
        clear = d.peak_irradiance * math.sin(math.pi * (h - d.sunrise) / (d.sunset - d.sunrise)) ** 1.3
        clouds = min(0.9, max(0.0, d.cloudiness + self._cloud_noise(t)))
        return clear * (1.0 - clouds)

    def relative_humidity(self, t: float) -> float:
        return min(100.0, max(5.0, 75.0 - 2.2 * (self.outdoor_temp(t) - 20.0)))


DEFAULT_PROFILE = (  # (hour, share of seats taken) on a working day, linear in between
    (0.0, 0.0), (6.5, 0.0), (7.0, 0.1), (8.0, 0.6), (9.0, 0.9), (12.0, 0.95), (12.25, 0.6),
    (13.25, 0.6), (13.5, 0.95), (17.0, 0.9), (18.0, 0.4), (19.0, 0.1), (20.0, 0.03), (21.0, 0.0),
    (24.0, 0.0),
)


@dataclass(frozen=True)
class OccupancySchedule:
    profile: tuple[tuple[float, float], ...] = DEFAULT_PROFILE
    weekend_share: float = 0.05  # of the working-day profile
    zone_noise: float = 0.06  # relative, per zone

    def __post_init__(self):
        hours = [h for h, _ in self.profile]
        if hours != sorted(hours) or hours[0] != 0.0 or hours[-1] != 24.0:
            raise ValueError("occupancy profile: hours must rise from 0 to 24")
        if any(not 0.0 <= share <= 1.0 for _, share in self.profile):
            raise ValueError("occupancy profile: shares must lie in [0, 1]")

    def share(self, hour: float, weekend: bool = False) -> float:
        """The scheduled share of seats taken at `hour` (0-24)."""
        profile = self.profile
        for (h0, s0), (h1, s1) in zip(profile, profile[1:]):
            if h0 <= hour <= h1:
                value = s0 if h1 == h0 else s0 + (s1 - s0) * (hour - h0) / (h1 - h0)
                return value * (self.weekend_share if weekend else 1.0)
        return 0.0


@dataclass
class Occupancy:
    """People in each zone: seats x scheduled share x (1 + zone noise), rounded."""

    schedule: OccupancySchedule
    seed: int
    weekday_of_day0: int  # 0 Monday
    _noise: dict[str, SmoothNoise] = field(default_factory=dict)

    def share(self, t: float) -> float:
        weekend = (self.weekday_of_day0 + int(t // DAY)) % 7 >= 5
        return self.schedule.share(hour_of_day(t), weekend)

    def people(self, zone: str, seats: int, t: float) -> int:
        noise = self._noise.get(zone)
        if noise is None:
            noise = self._noise[zone] = SmoothNoise(self.seed, f"occupancy:{zone}", self.schedule.zone_noise)
        share = self.share(t)
        if share <= 0.0:
            return 0
        return max(0, min(seats, round(seats * share * (1.0 + noise(t)))))
