"""Time: one clock object passed to whoever needs "now", and the oneM2M time formats.

Expiry, batching and timestamps read time only through `Clock`, so tests can move time
forward with `ManualClock` instead of sleeping.
"""
from __future__ import annotations

import calendar
import math
import re
import time

from .errors import bad_request

_TIMESTAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:[,.](\d{1,6}))?Z?$")
_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


# The latest time a m2m:timestamp can spell (its year has four digits).  Later times, such
# as now + a maxInstanceAge of 10**15 s, are written as this one: "never" in practice.
LATEST = float(calendar.timegm((9999, 12, 31, 23, 59, 59)))
# Longest digit string read as a relative time in ms: longer ones are beyond any float
# (and beyond what int() converts at all from about 4300 digits on).
_MAX_DIGITS = 300


class Clock:
    """Wall-clock time in seconds since the epoch."""

    def now(self) -> float:
        return time.time()


class ManualClock(Clock):
    """A clock that only moves when told to (tests)."""

    def __init__(self, start: float | None = None):
        self._now = time.time() if start is None else start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds


def format_timestamp(epoch: float) -> str:
    """m2m:timestamp, basic ISO 8601 in UTC with microseconds: 20250301T101500,123456."""
    epoch = min(epoch, LATEST)
    seconds = int(epoch)
    micros = int(round((epoch - seconds) * 1_000_000))
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f",{micros:06d}"


def parse_timestamp(text: str, name: str = "timestamp") -> float:
    match = _TIMESTAMP.match(text) if isinstance(text, str) else None
    if not match:
        raise bad_request(f"{name}: {text!r} is not a oneM2M timestamp (YYYYMMDDThhmmss[,ffffff])")
    year, month, day, hour, minute, second, fraction = match.groups()
    try:
        base = calendar.timegm((int(year), int(month), int(day), int(hour), int(minute), int(second)))
        time.strptime(f"{year}{month}{day}{hour}{minute}{second}", "%Y%m%d%H%M%S")
    except (ValueError, OverflowError):
        raise bad_request(f"{name}: {text!r} is not a valid date and time") from None
    return base + (int(fraction.ljust(6, "0")) / 1_000_000 if fraction else 0.0)


def parse_abs_rel(value: object, now: float, name: str) -> float:
    """m2m:absRelTimestamp: an absolute timestamp, or an offset from now in milliseconds."""
    if isinstance(value, bool):
        raise bad_request(f"{name}: {value!r} is neither a timestamp nor a relative time in ms")
    if isinstance(value, (int, float)):
        return now + _from_milliseconds(value, name)
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.lstrip("-").isdigit():
            if len(stripped.lstrip("-")) > _MAX_DIGITS:
                raise bad_request(f"{name}: {_shorten(value)} ms is out of range")
            return now + int(stripped) / 1000.0
        return parse_timestamp(stripped, name)
    raise bad_request(f"{name}: {value!r} is neither a timestamp nor a relative time in ms")


def _from_milliseconds(value: int | float, name: str) -> float:
    """A number of milliseconds as finite seconds, else 4000."""
    try:
        seconds = float(value) / 1000.0
    except OverflowError:       # an int beyond any float (CBOR carries such integers)
        seconds = math.inf
    if not math.isfinite(seconds):
        raise bad_request(f"{name}: {_shorten(value)} is out of range")
    return seconds


def _shorten(value: object) -> str:
    text = repr(value) if not isinstance(value, int) or abs(value) < 10 ** 30 else "a huge number"
    return text if len(text) <= 40 else text[:37] + "..."


def parse_duration(value: object, name: str) -> float:
    """xs:duration (PT30S, P1DT2H) in seconds; a bare number is taken as milliseconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise bad_request(f"{name}: a duration cannot be negative")
        return _from_milliseconds(value, name)
    if isinstance(value, str):
        match = _DURATION.match(value.strip())
        if match and value.strip() not in ("P", "PT"):
            parts = {k: float(v) for k, v in match.groupdict().items() if v}
            seconds = (parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600
                       + parts.get("m", 0) * 60 + parts.get("s", 0))
            if not math.isfinite(seconds):
                raise bad_request(f"{name}: {_shorten(value)} is out of range")
            return seconds
        if value.strip().isdigit():
            if len(value.strip()) > _MAX_DIGITS:
                raise bad_request(f"{name}: {_shorten(value)} ms is out of range")
            return int(value.strip()) / 1000.0
    raise bad_request(f"{name}: {value!r} is not a duration (e.g. PT30S)")
