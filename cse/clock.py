"""Time: one clock object passed to whoever needs "now" or a timer, and the oneM2M time formats.

Expiry, batching, timestamps, retry back-off and periodic writes read time and wait only
through `Clock` (`now`, `call_later`, `sleep`), so tests move time forward with
`ManualClock.advance` instead of sleeping.  The real clock's timers are the event loop's;
this module never starts a task or a thread of its own.
"""
from __future__ import annotations

import asyncio
import calendar
import functools
import heapq
import itertools
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

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


class Timer(Protocol):
    """What `Clock.call_later` returns: the callback does not run once it is cancelled."""

    def cancel(self) -> None: ...


class Clock:
    """Wall-clock time in seconds since the epoch; timers on the running event loop."""

    def now(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> Timer:
        """Run `callback(*args)` on the event loop after `delay` seconds (from a coroutine or
        callback running on that loop)."""
        return asyncio.get_running_loop().call_later(delay, callback, *args)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)


@dataclass(order=True, slots=True)
class ManualTimer:
    when: float
    seq: int
    callback: Callable[..., object] = field(compare=False)
    args: tuple = field(compare=False, default=())
    _cancelled: bool = field(compare=False, default=False)

    def cancel(self) -> None:
        self._cancelled = True

    def cancelled(self) -> bool:
        return self._cancelled


class ManualClock(Clock):
    """A clock that only moves when told to (tests): `now()` stays put and timers never fire
    by themselves.  `advance(seconds)` runs, in order of their due time, the callbacks that fall
    due (with `now()` at each one's due time) and wakes the sleepers whose time came; a woken
    `sleep` returns the next time the event loop runs the sleeping task.  An exception in a
    callback propagates out of `advance` (a test should see it), leaving the later timers due."""

    def __init__(self, start: float | None = None):
        self._now = time.time() if start is None else start
        self._timers: list[ManualTimer] = []      # a heap by (due time, order of scheduling)
        self._seq = itertools.count()
        self._compact_at = 1024                   # cancelled timers are swept when the heap grows

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[..., object], *args: Any) -> ManualTimer:
        """Due `delay` seconds from now(); a delay of 0 or less is due at the next `advance`."""
        if len(self._timers) >= self._compact_at:
            self._timers = [t for t in self._timers if not t._cancelled]
            heapq.heapify(self._timers)
            self._compact_at = max(1024, 2 * len(self._timers))
        timer = ManualTimer(self._now + max(0.0, delay), next(self._seq), callback, args)
        heapq.heappush(self._timers, timer)
        return timer

    async def sleep(self, delay: float) -> None:
        """Return once `advance` has moved time `delay` seconds on (at once for 0 or less,
        after one turn of the event loop)."""
        if delay <= 0:
            await asyncio.sleep(0)
            return
        woken = asyncio.get_running_loop().create_future()
        timer = self.call_later(delay, _wake, woken)
        try:
            await woken
        finally:
            timer.cancel()

    def advance(self, seconds: float) -> None:
        until = self._now + seconds
        while self._timers and self._timers[0].when <= until:
            timer = heapq.heappop(self._timers)
            if timer._cancelled:
                continue
            self._now = max(self._now, timer.when)
            timer.callback(*timer.args)
        self._now = until

    def due_times(self) -> list[float]:
        """When the timers that are neither run nor cancelled are due, soonest first (tests
        check what is scheduled, and that nothing is left behind)."""
        return sorted(t.when for t in self._timers if not t._cancelled)


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def format_timestamp(epoch: float) -> str:
    """m2m:timestamp, basic ISO 8601 in UTC with microseconds: 20250301T101500,123456."""
    epoch = min(epoch, LATEST)
    seconds = int(epoch)
    micros = int(round((epoch - seconds) * 1_000_000))
    if micros >= 1_000_000:
        seconds, micros = seconds + 1, micros - 1_000_000
    return f"{_whole_seconds(seconds)},{micros:06d}"


# Seconds formatted lately: every request formats its time (ct, lt) and, since every
# resource gets an et, now + the default lifetime; within one second these repeat, and
# gmtime + strftime were 4 us of a CREATE.  Bounded (a pure function's memo).
SECONDS_CACHE_SIZE = 64


@functools.lru_cache(maxsize=SECONDS_CACHE_SIZE)
def _whole_seconds(seconds: int) -> str:
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds))


def parse_timestamp(text: str, name: str = "timestamp") -> float:
    match = _TIMESTAMP.match(text) if isinstance(text, str) else None
    if not match:
        raise bad_request(f"{name}: {text!r} is not a oneM2M timestamp (YYYYMMDDThhmmss[,ffffff])")
    year, month, day, hour, minute, second, fraction = match.groups()
    fields = (int(year), int(month), int(day), int(hour), int(minute))
    try:
        # Valid when timegm did not have to normalise it (Feb 30 -> Mar 2, hour 24 -> the
        # next day); seconds 60 and 61 pass, as with strptime's %S.  A fifth of strptime's cost.
        minute_start = calendar.timegm((*fields, 0))
        valid = time.gmtime(minute_start)[:5] == fields and int(second) <= 61 and fields[0] >= 1
    except (ValueError, OverflowError):
        valid = False
    if not valid:
        raise bad_request(f"{name}: {text!r} is not a valid date and time")
    base = minute_start + int(second)
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
