"""Schedule entries (m2m:scheduleEntry, TS-0004): the cron-like strings of a <schedule>'s
`se/sce` and of an ACP's `actw`, parsed once and evaluated many times, always in UTC.

An entry has 7 fields separated by blanks:

    second minute hour day-of-month month day-of-week year
    0-59   0-59   0-23 1-31         1-12  0-6 (0=Sun) 2000-9999

Each field is `*` (every value) or a comma list of items; an item is a number `n`, a range
`a-b` (a <= b), a range with a step `a-b/s`, or `*/s`.  As in crontab, a step counts from
the first value of the range (`*/2` in day-of-month is 1,3,5,...; in hour 0,2,4,...;
in year 2000,2002,...).  Day of week 7 is taken as Sunday, as crontab does.  An instant
matches an entry when every field matches (day-of-month AND day-of-week, unlike Unix cron
which ORs those two when both are restricted); a schedule is the union of its entries.

`Schedule` answers, for an instant t (seconds since the epoch):
    contains(t)        is t inside the schedule?
    next_open(t)       the first instant >= t inside it (t itself when t is inside)
    next_close(t)      the first instant >= t outside it (t itself when t is outside)
    next_window(t)     (open, close) of the window containing t, or of the next one
None means "never" (the calendar ends with 9999).  Matching is per whole second: an
instant is inside when the second it falls in is.

The searches walk the calendar from the coarse fields to the fine ones (year, day, hour,
minute, second), skip what no entry can match, and remember per call which combination of
entries was already found to cover (or to miss) a whole unit, so even "never" is answered
after at most one pass over the years, in milliseconds.

What this module must never do: read a clock, storage or configuration (it is pure: the
same question always gets the same answer), or accept a string it cannot evaluate.
"""
from __future__ import annotations

import calendar
import datetime
import math
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from .errors import bad_request


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    low: int
    high: int


FIELDS = (Field("second", 0, 59), Field("minute", 0, 59), Field("hour", 0, 23),
          Field("day of month", 1, 31), Field("month", 1, 12), Field("day of week", 0, 6),
          Field("year", 2000, 9999))
FORMAT = "second minute hour day-of-month month day-of-week year"
SUNDAY_ALIAS = 7
LAST_YEAR = 9999
_ITEM = re.compile(r"(\*|[0-9]{1,9}(?:-[0-9]{1,9})?)(?:/([0-9]{1,9}))?")
_EPOCH_ORDINAL = datetime.date(1970, 1, 1).toordinal()
_DAY = 86400
# Per day of the year: (month, day of month), for common and for leap years.
_DAYS_OF_YEAR = {
    leap: tuple((month, day) for month in range(1, 13)
                for day in range(1, calendar.monthrange(2000 if leap else 2001, month)[1] + 1))
    for leap in (False, True)
}


def _parse_field(text: str, field: Field, where: str) -> frozenset[int] | None:
    """None for `*`, else the values the field allows."""
    if text == "*":
        return None
    values: set[int] = set()
    for item in text.split(","):
        match = _ITEM.fullmatch(item)
        if match is None:
            if item == "":
                raise bad_request(f"{where}: {field.name} field {text!r} has an empty list item (two "
                                  "commas, or a comma at an end)")
            raise bad_request(f"{where}: {field.name} field {text!r}: {item!r} is not '*', a number, a "
                              "range a-b, a range with a step a-b/n, or */n")
        span, step_text = match.groups()
        if item == "*":
            raise bad_request(f"{where}: {field.name} field {text!r}: '*' means every value and stands "
                              "alone, not in a list")
        if span == "*":
            start, end = field.low, field.high
        else:
            first, dash, last = span.partition("-")
            if step_text is not None and not dash:
                raise bad_request(f"{where}: {field.name} field {text!r}: a step needs a range or '*' "
                                  f"before it ({first}-{field.high}/{step_text} or */{step_text}, not "
                                  f"{item})")
            start, end = int(first), int(last or first)
            for value in (start, end):
                if not field.low <= value <= max(field.high, SUNDAY_ALIAS if field is FIELDS[5] else 0):
                    raise bad_request(f"{where}: {field.name} field {text!r}: {value} is outside "
                                      f"{field.low}..{field.high}")
            if start > end:
                raise bad_request(f"{where}: {field.name} field {text!r}: the range {span} ends before it "
                                  "starts (a range cannot wrap around; list two ranges instead)")
        step = int(step_text) if step_text is not None else 1
        if step < 1:
            raise bad_request(f"{where}: {field.name} field {text!r}: a step must be at least 1")
        values.update(range(start, end + 1, step))
    if field is FIELDS[5] and SUNDAY_ALIAS in values:
        values.discard(SUNDAY_ALIAS)
        values.add(0)
    if len(values) == field.high - field.low + 1:
        return None          # every value: the same as '*'
    return frozenset(values)


class ScheduleEntry:
    """One 7-field string, parsed.  A field is None when it allows every value."""

    __slots__ = ("text", "seconds", "minutes", "hours", "days", "months", "weekdays", "years")

    def __init__(self, text: str, where: str = "schedule entry"):
        if not isinstance(text, str):
            raise bad_request(f"{where}: {text!r} is not a string")
        parts = text.split()
        if len(parts) != len(FIELDS):
            raise bad_request(f"{where} {text!r} has {len(parts)} field(s); it must have 7 fields "
                              f"({FORMAT})")
        where = f"{where} {text!r}"    # every message names the entry, then the field
        self.text = text
        (self.seconds, self.minutes, self.hours, self.days, self.months, self.weekdays,
         self.years) = (_parse_field(part, field, where) for part, field in zip(parts, FIELDS))

    def __repr__(self) -> str:
        return f"ScheduleEntry({self.text!r})"

    def matches(self, t: float) -> bool:
        """Whether the second t falls in matches every field."""
        return self._matches(_fields_of(math.floor(t)))

    def _matches(self, fields: tuple[int, int, int, int, int, int, int]) -> bool:
        second, minute, hour, day, month, weekday, year = fields
        return ((self.years is None or year in self.years)
                and (self.months is None or month in self.months)
                and (self.days is None or day in self.days)
                and (self.weekdays is None or weekday in self.weekdays)
                and (self.hours is None or hour in self.hours)
                and (self.minutes is None or minute in self.minutes)
                and (self.seconds is None or second in self.seconds))

    def day_matches(self, month: int, day: int, weekday: int) -> bool:
        return ((self.months is None or month in self.months)
                and (self.days is None or day in self.days)
                and (self.weekdays is None or weekday in self.weekdays))


def _fields_of(second: int) -> tuple[int, int, int, int, int, int, int]:
    """(second, minute, hour, day of month, month, day of week with 0 = Sunday, year)."""
    days, in_day = divmod(second, _DAY)
    date = datetime.date.fromordinal(_EPOCH_ORDINAL + days)
    hour, rest = divmod(in_day, 3600)
    return rest % 60, rest // 60, hour, date.day, date.month, (_EPOCH_ORDINAL + days) % 7, date.year


class Schedule:
    """The union of schedule entries (a <schedule>'s sce, an ACP context's actw)."""

    __slots__ = ("entries", "_last_second", "_last_answer")

    def __init__(self, entries: Iterable[str | ScheduleEntry], where: str = "schedule"):
        self.entries: tuple[ScheduleEntry, ...] = tuple(
            e if isinstance(e, ScheduleEntry) else ScheduleEntry(e, f"{where}[{i}]")
            for i, e in enumerate(entries))
        # contains() is asked once per notification: the answer for the last second asked.
        self._last_second: int | None = None
        self._last_answer = False

    @property
    def texts(self) -> list[str]:
        return [e.text for e in self.entries]

    def __repr__(self) -> str:
        return f"Schedule({self.texts!r})"

    # -- questions ---------------------------------------------------------------------------
    def contains(self, t: float) -> bool:
        second = math.floor(t)
        if second == self._last_second:
            return self._last_answer
        fields = _fields_of(second)
        answer = any(e._matches(fields) for e in self.entries)
        self._last_second, self._last_answer = second, answer
        return answer

    def next_open(self, t: float) -> float | None:
        """The first instant >= t inside the schedule; None if there is none."""
        return self._first(t, True)

    def next_close(self, t: float) -> float | None:
        """The first instant >= t outside the schedule; None if it never closes."""
        return self._first(t, False)

    def next_window(self, t: float) -> tuple[float, float | None] | None:
        """(open, close) of the window t is in, or of the next one after t; close None: it
        never closes; None: no window opens any more.  A window that is open at t is
        reported from t on (where it began before t is not searched)."""
        opens = self.next_open(t)
        if opens is None:
            return None
        return opens, self.next_close(opens)

    # -- the search ------------------------------------------------------------------------
    def _first(self, t: float, inside: bool) -> float | None:
        start = math.floor(t)
        found = _Search(self.entries, inside).first(start)
        if found is None:
            return None
        return t if found == start else float(found)


class _Search:
    """One search for the first second >= start whose membership is `inside`.  The memo
    maps (level, entries still possible, ...) to what a whole unit gave, so a unit whose
    combination of entries was seen before is not walked again."""

    def __init__(self, entries: Sequence[ScheduleEntry], inside: bool):
        self.entries = tuple(entries)
        self.inside = inside
        self.memo: dict[tuple, int | None] = {}

    def first(self, start: int) -> int | None:
        days, in_day = divmod(start, _DAY)
        ordinal = _EPOCH_ORDINAL + days
        if ordinal < 1:
            ordinal, in_day = 1, 0      # before year 1: start with it
        first_year = datetime.date.fromordinal(ordinal).year
        new_year = datetime.date(first_year, 1, 1).toordinal()
        entries = self.entries
        every_year = tuple(range(len(entries)))
        restricted = any(e.years is not None for e in entries)
        # Without a year field the calendar repeats every 400 years (146097 days, whole
        # weeks): what is not found within 400 years after the first is never found.
        last_year = LAST_YEAR if restricted else min(LAST_YEAR, first_year + 400)
        for year in range(first_year, last_year + 1):
            leap = calendar.isleap(year)
            year_start = (new_year - _EPOCH_ORDINAL) * _DAY
            possible = tuple(i for i in every_year if (years := entries[i].years) is None or year in years) \
                if restricted else every_year
            if year == first_year:
                found = self._in_year(leap, new_year, possible, ordinal - new_year, in_day)
            elif not possible and self.inside:
                found = None
            else:
                key = ("year", leap, new_year % 7, possible)
                if key in self.memo:
                    found = self.memo[key]
                else:
                    found = self.memo[key] = self._in_year(leap, new_year, possible, 0, 0)
            if found is not None:
                return year_start + found
            new_year += 366 if leap else 365
        return None

    def _in_year(self, leap: bool, new_year: int, possible: tuple[int, ...], first_day: int,
                 in_day: int) -> int | None:
        """Seconds from the start of the year to the first hit on or after second `in_day` of
        day `first_day` (0 = 1 January)."""
        if not possible:
            return None if self.inside else first_day * _DAY + in_day
        entries = self.entries
        days_of_year = _DAYS_OF_YEAR[leap]
        for index in range(first_day, len(days_of_year)):
            month, day = days_of_year[index]
            weekday = (new_year + index) % 7
            today = tuple(i for i in possible if entries[i].day_matches(month, day, weekday))
            offset = in_day if index == first_day else 0
            found = self._in_day(today, offset)
            if found is not None:
                return index * _DAY + found
        return None

    def _in_day(self, possible: tuple[int, ...], offset: int) -> int | None:
        if not possible:
            return None if self.inside else offset
        return self._level(possible, offset, 0)

    # Levels below the day: hour (3600 s of 24), minute (60 s of 60), second (1 s of 60).
    _UNITS = ((3600, 24, "hours"), (60, 60, "minutes"), (1, 60, "seconds"))

    def _level(self, possible: tuple[int, ...], offset: int, level: int) -> int | None:
        """First hit within one unit of the level above (a day, an hour, a minute), at or after
        `offset` seconds into it."""
        if offset == 0:
            key = (level, possible)
            if key in self.memo:
                return self.memo[key]
        size, count, name = self._UNITS[level]
        entries = self.entries
        found = None
        for value in range(offset // size, count):
            here = tuple(i for i in possible
                         if getattr(entries[i], name) is None or value in getattr(entries[i], name))
            inner = offset - value * size if value == offset // size else 0
            if not here:
                if not self.inside:
                    found = value * size + inner
                    break
                continue
            if level == 2:
                if self.inside:
                    found = value
                    break
                continue
            below = self._level(here, inner, level + 1)
            if below is not None:
                found = value * size + below
                break
        if offset == 0:
            self.memo[(level, possible)] = found
        return found


def parse_entries(value: object, where: str) -> Schedule:
    """A list of schedule strings (sce, actw) as a Schedule; 4000 naming the entry and field
    for anything that is not one."""
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a list of schedule strings ({FORMAT})")
    return Schedule(value, where)


__all__ = ["FIELDS", "FORMAT", "Schedule", "ScheduleEntry", "parse_entries"]
