"""The schedule-entry evaluator (cse/schedule_entries.py): parsing as tables (good strings and
every kind of bad one), the TS examples, month/year boundaries, leap years, day-of-week
combinations, and random schedules against a brute-force evaluator that knows nothing of the
parser (it reads the field specifications the strings are made from)."""
from __future__ import annotations

import calendar
import datetime
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cse.errors import OneM2MError
from cse.schedule_entries import Schedule, ScheduleEntry


def at(text: str) -> float:
    """'2025-03-01 08:00:00' (UTC) as seconds since the epoch."""
    return float(calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S")))


def shown(t: float | None) -> str | None:
    return None if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


# -- parsing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text,field,values", [
    ("* * * * * * *", "hours", None),
    ("* 0-5 2,6,10 * * * *", "hours", {2, 6, 10}),
    ("* 0-5 2,6,10 * * * *", "minutes", {0, 1, 2, 3, 4, 5}),
    ("* * 0-23/2 * * * *", "hours", set(range(0, 24, 2))),
    ("* * */6 * * * *", "hours", {0, 6, 12, 18}),
    ("* * * */10 * * *", "days", {1, 11, 21, 31}),           # a step counts from the first value
    ("* * * * */3 * *", "months", {1, 4, 7, 10}),
    ("* * * * * */2 *", "weekdays", {0, 2, 4, 6}),              # Sun, Tue, Thu, Sat (TS example)
    ("* * * * * 1-5 *", "weekdays", {1, 2, 3, 4, 5}),
    ("* * * * * 7 *", "weekdays", {0}),                         # 7 is Sunday, as in crontab
    ("* * * * * 5-7 *", "weekdays", {5, 6, 0}),
    ("* * * * * 0-6 *", "weekdays", None),                      # every day: the same as *
    ("* * * * * * 2024-2030/2", "years", {2024, 2026, 2028, 2030}),
    ("* * * * * * */500", "years", {2000, 2500, 3000, 3500, 4000, 4500, 5000, 5500, 6000, 6500, 7000,
                                    7500, 8000, 8500, 9000, 9500}),
    ("00 05 09 01 01 0 2025", "minutes", {5}),                  # leading zeros are numbers
    ("1,1,1 * * * * * *", "seconds", {1}),
    ("0-59 * * * * * *", "seconds", None),
    ("\t*  *\t8-20 * * * * ", "hours", set(range(8, 21))),      # any blanks separate fields
])
def test_good_entries_parse_to_the_values_they_name(text, field, values):
    entry = ScheduleEntry(text)
    got = getattr(entry, field)
    assert (None if got is None else set(got)) == values


BAD_ENTRIES = [
    # (entry, words the message must contain)
    ("", "0 field(s); it must have 7 fields (second minute hour day-of-month month day-of-week year)"),
    ("* * * * *", "5 field(s); it must have 7 fields"),
    ("* * * * * * * *", "8 field(s)"),
    ("60 * * * * * *", "second field '60': 60 is outside 0..59"),
    ("* 60 * * * * *", "minute field '60': 60 is outside 0..59"),
    ("* * 24 * * * *", "hour field '24': 24 is outside 0..23"),
    ("* * * 0 * * *", "day of month field '0': 0 is outside 1..31"),
    ("* * * 32 * * *", "day of month field '32': 32 is outside 1..31"),
    ("* * * * 0 * *", "month field '0': 0 is outside 1..12"),
    ("* * * * 13 * *", "month field '13': 13 is outside 1..12"),
    ("* * * * * 8 *", "day of week field '8': 8 is outside 0..6"),
    ("* * * * * * 1999", "year field '1999': 1999 is outside 2000..9999"),
    ("* * * * * * 10000", "year field '10000': 10000 is outside 2000..9999"),
    ("* * 20-8 * * * *", "hour field '20-8': the range 20-8 ends before it starts"),
    ("* * */0 * * * *", "hour field '*/0': a step must be at least 1"),
    ("* * 1-5/0 * * * *", "hour field '1-5/0': a step must be at least 1"),
    ("* * 5/15 * * * *", "hour field '5/15': a step needs a range or '*' before it"),
    ("* * 1,,2 * * * *", "hour field '1,,2' has an empty list item"),
    ("* * 1, * * * *", "hour field '1,' has an empty list item"),
    ("* * x * * * *", "hour field 'x': 'x' is not '*', a number, a range a-b"),
    ("* * -1 * * * *", "hour field '-1': '-1' is not '*', a number"),
    ("* * 1-2-3 * * * *", "hour field '1-2-3': '1-2-3' is not"),
    ("* * 1.5 * * * *", "hour field '1.5'"),
    ("* * *,1 * * * *", "hour field '*,1': '*' means every value and stands alone"),  # ACME too
    ("* * ** * * * *", "hour field '**'"),
    ("* * MON * * * *", "hour field 'MON'"),
    ("* * * * * MON *", "day of week field 'MON'"),             # no names: the TS has numbers
    ("* * * * JAN * *", "month field 'JAN'"),
    ("* * ８ * * * *", "hour field"),                           # digits of other scripts are not digits
    ("* * 1234567890 * * * *", "hour field '1234567890'"),      # at most 9 digits
]


@pytest.mark.parametrize("text,words", BAD_ENTRIES)
def test_bad_entries_are_refused_naming_the_field_and_the_fault(text, words):
    with pytest.raises(OneM2MError) as caught:
        ScheduleEntry(text, "se.sce[0]")
    assert caught.value.rsc == 4000
    assert words in caught.value.message, caught.value.message
    assert caught.value.message.startswith("se.sce[0]")


@pytest.mark.parametrize("value", [None, 7, ["* * * * * * *"], {"sce": "x"}])
def test_an_entry_that_is_not_a_string_is_refused(value):
    with pytest.raises(OneM2MError) as caught:
        ScheduleEntry(value, "sce[0]")
    assert caught.value.rsc == 4000 and "is not a string" in caught.value.message


def test_the_message_names_which_entry_of_a_schedule_is_bad():
    with pytest.raises(OneM2MError) as caught:
        Schedule(["* * 8-20 * * * *", "* * 25 * * * *"], "se.sce")
    assert caught.value.message.startswith("se.sce[1] '* * 25 * * * *': hour field '25'")


# -- the TS examples and the calendar --------------------------------------------------------
def test_ts_example_three_five_minute_windows_a_day():
    schedule = Schedule(["* 0-5 2,6,10 * * * *"])
    assert schedule.contains(at("2025-03-01 02:00:00")) and schedule.contains(at("2025-03-01 06:05:59"))
    assert not schedule.contains(at("2025-03-01 06:06:00")) and not schedule.contains(at("2025-03-01 03:00:00"))
    assert shown(schedule.next_open(at("2025-03-01 06:06:00"))) == "2025-03-01 10:00:00"
    assert shown(schedule.next_open(at("2025-03-01 10:06:00"))) == "2025-03-02 02:00:00"
    assert schedule.next_window(at("2025-03-01 01:00:00")) == (at("2025-03-01 02:00:00"), at("2025-03-01 02:06:00"))


def test_ts_example_notifications_only_between_8_and_21():
    schedule = Schedule(["* * 8-20 * * * *"])
    assert not schedule.contains(at("2025-03-01 07:59:59")) and schedule.contains(at("2025-03-01 08:00:00"))
    assert schedule.contains(at("2025-03-01 20:59:59")) and not schedule.contains(at("2025-03-01 21:00:00"))
    assert shown(schedule.next_close(at("2025-03-01 12:00:00"))) == "2025-03-01 21:00:00"
    assert shown(schedule.next_open(at("2025-03-01 21:00:00"))) == "2025-03-02 08:00:00"


def test_an_instant_inside_is_its_own_next_open_and_an_instant_outside_its_own_next_close():
    schedule = Schedule(["* * 8-20 * * * *"])
    inside, outside = at("2025-03-01 09:00:00") + 0.25, at("2025-03-01 22:00:00") + 0.75
    assert schedule.next_open(inside) == inside and schedule.next_close(outside) == outside
    assert schedule.next_close(inside) == at("2025-03-01 21:00:00")       # whole seconds beyond t
    assert schedule.next_open(outside) == at("2025-03-02 08:00:00")


@pytest.mark.parametrize("entries,start,window", [
    # the year changes inside a search
    (["* * * * 1 * *"], "2025-12-31 23:59:59", ("2026-01-01 00:00:00", "2026-02-01 00:00:00")),
    (["* * * * 1 * *"], "2026-01-31 23:59:59", ("2026-01-31 23:59:59", "2026-02-01 00:00:00")),
    (["0 0 0 1 1 * *"], "2025-01-01 00:00:01", ("2026-01-01 00:00:00", "2026-01-01 00:00:01")),
    (["* * * 31 12 * *"], "2025-01-05 10:00:00", ("2025-12-31 00:00:00", "2026-01-01 00:00:00")),
    # month ends: the 31st is skipped by the months that have none
    (["0 0 12 31 * * *"], "2025-04-01 00:00:00", ("2025-05-31 12:00:00", "2025-05-31 12:00:01")),
    (["* * * 30 * * *"], "2025-01-31 00:00:00", ("2025-03-30 00:00:00", "2025-03-31 00:00:00")),
    (["* * * 28-31 2 * *"], "2025-02-01 00:00:00", ("2025-02-28 00:00:00", "2025-03-01 00:00:00")),
    (["* * * 28-31 2 * *"], "2024-02-01 00:00:00", ("2024-02-28 00:00:00", "2024-03-01 00:00:00")),
    # leap years: 2024 and 2000 are, 2100 is not
    (["0 0 0 29 2 * *"], "2025-03-01 00:00:00", ("2028-02-29 00:00:00", "2028-02-29 00:00:01")),
    (["0 0 0 29 2 * *"], "2097-03-01 00:00:00", ("2104-02-29 00:00:00", "2104-02-29 00:00:01")),
    (["* * * 29 2 * 2000"], "2000-01-01 00:00:00", ("2000-02-29 00:00:00", "2000-03-01 00:00:00")),
    (["* * * 29 2 * 2100-2103"], "2000-01-01 00:00:00", None),
    (["* * * 31 2 * *"], "2025-01-01 00:00:00", None),
    # day of month AND day of week (not cron's OR): Friday the 13th
    (["* * * 13 * 5 *"], "2025-03-01 00:00:00", ("2025-06-13 00:00:00", "2025-06-14 00:00:00")),
    (["* * * 29 2 1 *"], "2025-01-01 00:00:00", ("2044-02-29 00:00:00", "2044-03-01 00:00:00")),
    (["* * 9-17 * * 1-5 *"], "2025-03-01 10:00:00", ("2025-03-03 09:00:00", "2025-03-03 18:00:00")),  # a Sat
    (["* * * * * 0,6 *"], "2025-03-03 10:00:00", ("2025-03-08 00:00:00", "2025-03-10 00:00:00")),   # weekend
    (["* * * * * 7 *"], "2025-03-03 10:00:00", ("2025-03-09 00:00:00", "2025-03-10 00:00:00")),     # 7 = Sun
    # windows of several entries that touch make one window
    (["* * 22-23 * * * *", "* * 0-5 * * * *"], "2025-03-01 12:00:00",
     ("2025-03-01 22:00:00", "2025-03-02 06:00:00")),
    (["0-29 * * * * * *", "30-59 * * * * * *"], "2025-03-01 12:00:00", ("2025-03-01 12:00:00", None)),
    (["* * * * * * *"], "2025-03-01 12:00:00", ("2025-03-01 12:00:00", None)),
    # years: the calendar ends with 9999
    (["* * * * * * 2030"], "2025-03-01 12:00:00", ("2030-01-01 00:00:00", "2031-01-01 00:00:00")),
    (["* * * * * * 2020"], "2025-03-01 12:00:00", None),
    (["59 59 23 31 12 * 9999"], "9999-12-31 23:59:58", ("9999-12-31 23:59:59", None)),
])
def test_windows_across_the_calendar(entries, start, window):
    found = Schedule(entries).next_window(at(start))
    assert (None if found is None else (shown(found[0]), shown(found[1]))) == window


def test_the_window_after_a_window_is_the_next_one():
    schedule = Schedule(["* * * 13 * 5 *"])
    first = schedule.next_window(at("2025-01-01 00:00:00"))
    assert first == (at("2025-06-13 00:00:00"), at("2025-06-14 00:00:00"))
    assert schedule.next_window(first[1])[0] == at("2026-02-13 00:00:00")


def test_never_is_found_quickly():
    """A schedule that never opens (or never closes) is answered without walking every second
    until 9999: the search skips whole units and stops after a 400-year cycle."""
    started = time.perf_counter()
    assert Schedule(["* * * 31 2 * *"]).next_open(at("2025-01-01 00:00:00")) is None
    assert Schedule(["* * * 30,31 2 * *", "* * * 31 4,6,9,11 * *"]).next_open(at("2025-01-01 00:00:00")) is None
    assert Schedule(["* * * * * * *"]).next_close(at("2025-01-01 00:00:00")) is None
    assert Schedule(["0-29 * * * * * *", "30-59 * * * * * *"]).next_close(at("2025-01-01 00:00:00")) is None
    assert Schedule(["* * * * * * 2000-9999"]).next_close(at("2025-01-01 00:00:00")) is None
    assert time.perf_counter() - started < 5.0     # generous on a loaded machine; ~50 ms alone


def test_contains_answers_the_same_for_the_same_second_and_changes_with_it():
    schedule = Schedule(["0 * * * * * *"])
    t = at("2025-03-01 12:00:00")
    assert schedule.contains(t) and schedule.contains(t + 0.999)
    assert not schedule.contains(t + 1) and schedule.contains(t + 60)


# -- random schedules against brute force ----------------------------------------------------
# A field is "*" or a list of items: ("n", v), ("range", a, b), ("step", a, b, s), ("every", s).
LIMITS = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6), (2000, 9999))


def item_strategy(index: int, low: int | None = None, high: int | None = None):
    lo, hi = LIMITS[index]
    lo, hi = (lo if low is None else low), (hi if high is None else high)
    if index == 5:
        hi = 7                     # 7 stands for Sunday too
    number = st.integers(lo, hi)
    ranged = st.tuples(number, number).map(lambda p: tuple(sorted(p)))
    return st.one_of(
        number.map(lambda v: ("n", v)),
        ranged.map(lambda p: ("range", *p)),
        st.tuples(ranged, st.integers(1, 12)).map(lambda p: ("step", *p[0], p[1])),
        st.integers(1, 12).map(lambda s: ("every", s)),
    )


def field_strategy(index: int, *, star_weight: int = 1, **bounds):
    return st.one_of(*([st.just("*")] * star_weight),
                     st.lists(item_strategy(index, **bounds), min_size=1, max_size=3))


def render(field) -> str:
    if field == "*":
        return "*"
    parts = []
    for item in field:
        kind = item[0]
        parts.append({"n": lambda: str(item[1]), "range": lambda: f"{item[1]}-{item[2]}",
                      "step": lambda: f"{item[1]}-{item[2]}/{item[3]}", "every": lambda: f"*/{item[1]}"}[kind]())
    return ",".join(parts)


def allows(field, index: int, value: int) -> bool:
    """Brute force: does the field specification allow `value`?  (Independent of the parser.)"""
    if field == "*":
        return True
    low = LIMITS[index][0]
    candidates = (value, 7) if index == 5 and value == 0 else (value,)
    for v in candidates:
        for item in field:
            kind = item[0]
            if kind == "n" and v == item[1]:
                return True
            if kind == "range" and item[1] <= v <= item[2]:
                return True
            if kind == "step" and item[1] <= v <= item[2] and (v - item[1]) % item[3] == 0:
                return True
            if kind == "every" and v <= (7 if index == 5 else LIMITS[index][1]) and (v - low) % item[1] == 0:
                return True
    return False


def brute_contains(specs, t: int) -> bool:
    moment = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
    values = (moment.second, moment.minute, moment.hour, moment.day, moment.month,
              moment.isoweekday() % 7, moment.year)
    return any(all(allows(spec[i], i, values[i]) for i in range(7)) for spec in specs)


def brute_first(specs, start: int, inside: bool, horizon: int, unit: int) -> int | None:
    """The first second >= start whose membership is `inside`, looking `horizon` seconds ahead
    in steps of `unit` (valid when nothing finer than `unit` varies: the finer fields are *)."""
    if brute_contains(specs, start) == inside:
        return start
    t = start - start % unit + unit
    while t <= start + horizon:
        if brute_contains(specs, t) == inside:
            return t
        t += unit
    return None


def check_against_brute_force(specs, start: int, horizon: int, unit: int) -> None:
    schedule = Schedule([" ".join(render(f) for f in spec) for spec in specs])
    assert schedule.contains(start) == brute_contains(specs, start)
    for inside, answer in ((True, schedule.next_open(start)), (False, schedule.next_close(start))):
        expected = brute_first(specs, start, inside, horizon, unit)
        if expected is not None:
            assert answer == expected, (schedule, shown(start), inside, shown(answer), shown(expected))
        else:
            assert answer is None or answer > start + horizon, (schedule, shown(start), inside, shown(answer))
            if answer is not None:          # beyond the horizon: still right where it points
                assert brute_contains(specs, int(answer)) == inside
                assert brute_contains(specs, int(answer) - 1) != inside


BOUNDARIES = [at(s) for s in ("2023-12-31 22:30:00", "2024-02-28 23:00:00", "2024-02-29 23:30:00",
                              "2025-02-28 23:00:00", "2025-06-30 23:00:00", "2025-03-01 07:55:00",
                              "2026-01-01 00:00:00", "2100-02-28 23:30:00")]
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, database=None,
                             suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(specs=st.lists(st.tuples(field_strategy(0), field_strategy(1), field_strategy(2, star_weight=3),
                                st.just("*"), st.just("*"), st.just("*"), st.just("*")),
                      min_size=1, max_size=3),
       base=st.sampled_from(BOUNDARIES), offset=st.integers(0, 3600))
def test_seconds_minutes_and_hours_against_brute_force(specs, base, offset):
    """Fine fields, second by second over an hour."""
    check_against_brute_force(specs, int(base) + offset, horizon=3600, unit=1)


@PROPERTY_SETTINGS
@given(specs=st.lists(st.tuples(st.just("*"), field_strategy(1, star_weight=2), field_strategy(2),
                                field_strategy(3, star_weight=2), st.just("*"), field_strategy(5, star_weight=2),
                                st.just("*")),
                      min_size=1, max_size=3),
       base=st.sampled_from(BOUNDARIES), offset=st.integers(0, 86400 * 3))
def test_minutes_hours_and_days_against_brute_force(specs, base, offset):
    """Minute by minute over three days, across month and year ends."""
    check_against_brute_force(specs, int(base) + offset, horizon=86400 * 3, unit=60)


@PROPERTY_SETTINGS
@given(specs=st.lists(st.tuples(st.just("*"), st.just("*"), st.just("*"), field_strategy(3),
                                field_strategy(4), field_strategy(5),
                                field_strategy(6, star_weight=2, low=2023, high=2031)),
                      min_size=1, max_size=3),
       base=st.sampled_from(BOUNDARIES[:7]), offset=st.integers(0, 86400 * 400))
def test_days_months_weekdays_and_years_against_brute_force(specs, base, offset):
    """Day by day over four years, leap years and 2100 included."""
    check_against_brute_force(specs, int(base) + offset - int(base) % 86400, horizon=86400 * 366 * 4,
                              unit=86400)


@PROPERTY_SETTINGS
@given(specs=st.lists(st.tuples(*(field_strategy(i) for i in range(6)),
                                field_strategy(6, star_weight=3, low=2024, high=2030)),
                      min_size=1, max_size=4),
       start=st.integers(int(at("2024-01-01 00:00:00")), int(at("2030-12-31 00:00:00"))))
def test_a_window_opens_inside_and_closes_outside(specs, start):
    """Any schedule: next_window's ends are where membership changes."""
    schedule = Schedule([" ".join(render(f) for f in spec) for spec in specs])
    window = schedule.next_window(start)
    if window is None:
        assert not schedule.contains(start)
        return
    opens, closes = window
    assert opens >= start and brute_contains(specs, int(opens))
    assert opens == start or not brute_contains(specs, int(opens) - 1)
    if closes is not None:
        assert closes > opens and not brute_contains(specs, int(closes))
        assert brute_contains(specs, int(closes) - 1)
