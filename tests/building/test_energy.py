"""The energy applications' arithmetic: interpolated energy, 15-minute demand intervals."""
from datetime import datetime, timedelta

import pytest

from examples.building.energy import MeterSeries, Reading, carbon_kg, interval_start

T0 = datetime(2024, 7, 15, 10, 0)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_without_a_register_the_demand_is_interpolated_and_known_one_interval_later():
    series = MeterSeries("m")
    closed = []
    for minute in range(0, 46, 3):                # 120 kW: 6 kWh every 3 minutes
        closed += series.add(Reading(at(minute), 120.0, 1000.0 + 6.0 * minute / 3))
    assert [(i.label(), i.kw) for i in closed] == [("10:00", 120.0), ("10:15", 120.0)]
    assert [(i.label(), i.kw) for i in series.finish()] == [("10:30", 120.0)]
    assert series.energy(at(5), at(20)) == pytest.approx(30.0)
    assert series.total() == pytest.approx(90.0)


def test_readings_that_do_not_fall_on_boundaries_are_interpolated():
    series = MeterSeries("m")
    series.add(Reading(at(-2), 0, 0.0))
    series.add(Reading(at(10), 0, 12.0))           # 1 kWh per minute
    assert series.add(Reading(at(17), 0, 19.0)) == []
    closed = series.finish()
    assert len(closed) == 1 and closed[0].kw == pytest.approx(60.0)
    assert series.index_at(at(15)) == pytest.approx(17.0)


def test_an_interval_before_the_first_reading_is_not_invented():
    series = MeterSeries("m")
    series.add(Reading(at(5), 0, 0.0))
    series.add(Reading(at(31), 0, 26.0))
    assert [i.start for i in series.finish()] == [at(15)]


def test_old_and_duplicate_readings_are_ignored_and_the_series_is_bounded():
    series = MeterSeries("m", max_readings=3)
    for minute in range(6):
        series.add(Reading(at(minute), 0, float(minute)))
    assert series.add(Reading(at(2), 0, 99.0)) == [] and series.latest.kwh == 5.0
    assert len(series.readings) == 3
    with pytest.raises(ValueError):
        series.energy(at(0), at(5))              # no longer held


def test_helpers():
    assert interval_start(datetime(2024, 7, 15, 10, 29, 59)) == datetime(2024, 7, 15, 10, 15)
    assert carbon_kg(1000, 0.45) == 450


def test_the_meters_demand_register_wins_and_the_last_reading_of_the_next_interval_counts():
    series = MeterSeries("m")
    series.add(Reading(at(0), 0, 0.0, demand_kw=50.0))       # the register still shows 09:45
    series.add(Reading(at(14), 0, 10.0, demand_kw=50.0))
    series.add(Reading(at(15.2), 0, 11.0, demand_kw=50.0))   # just at 10:15: not updated yet
    series.add(Reading(at(18), 0, 13.0, demand_kw=44.0))     # 10:00-10:15 really was 44 kW
    closed = series.add(Reading(at(31), 0, 20.0, demand_kw=30.0))
    assert [(i.label(), i.kw) for i in closed] == [("10:00", 44.0)]
    assert [(i.label(), i.kw) for i in series.finish()] == [("10:15", 30.0)]
