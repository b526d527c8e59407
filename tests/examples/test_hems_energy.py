"""The home energy example's pure logic, without sockets: consumption integration, peak
detection and load management, choosing the responsible appliance, and the simulated
house the demo's ground truth comes from."""
from datetime import date, datetime, timedelta

import pytest

from examples.hems.energy import (DailyEnergy, Decision, DrawHistory, HomeLoad, SwitchedOff, resumable, responsible,
                                  split_by_day)
from examples.hems.house import (ApplianceModel, ApplianceSpec, FileWiring, LoadProfile, MemoryWiring, SimClock)
from examples.hems.timestamps import parse_stamp, stamp

DAY = datetime(2024, 6, 1)


def at(hours: float, day: datetime = DAY) -> datetime:
    return day + timedelta(hours=hours)


# -- splitting and integrating -----------------------------------------------------------
def test_split_by_day_cuts_at_midnight():
    assert split_by_day(at(23), at(25.5)) == [(date(2024, 6, 1), 3600.0), (date(2024, 6, 2), 5400.0)]
    assert split_by_day(at(1), at(2)) == [(date(2024, 6, 1), 3600.0)]
    assert split_by_day(at(2), at(2)) == []
    assert [d for d, _ in split_by_day(at(0), at(72))] == [date(2024, 6, 1), date(2024, 6, 2), date(2024, 6, 3)]


def test_power_is_held_until_the_next_reading():
    energy = DailyEnergy()
    energy.add_power("ev", at(18.5), 7200)
    energy.add_power("ev", at(19), 0)          # half an hour at 7.2 kW
    energy.add_power("ev", at(22), 7200)
    energy.add_power("ev", at(23.5), 7200)     # a periodic reading changes nothing
    energy.add_power("ev", at(25), 0)          # 1.5 h today, 1 h tomorrow
    assert energy.wh("ev", date(2024, 6, 1)) == pytest.approx(3600 + 2 * 7200)
    assert energy.wh("ev", date(2024, 6, 2)) == pytest.approx(7200)


def test_a_long_silence_is_not_counted_as_the_last_value():
    energy = DailyEnergy(max_hold=3600)
    energy.add_power("heater", at(1), 3000)
    energy.add_power("heater", at(6), 3000)    # 5 h without news: only 1 h counted
    assert energy.wh("heater", date(2024, 6, 1)) == pytest.approx(3000)


def test_register_differences_are_shared_between_days_by_time():
    energy = DailyEnergy()
    energy.add_register("home", at(23.5), 1_000_000)
    energy.add_register("home", at(24.5), 1_002_000)     # 2 kWh over an hour across midnight
    assert energy.wh("home", date(2024, 6, 1)) == pytest.approx(1000)
    assert energy.wh("home", date(2024, 6, 2)) == pytest.approx(1000)


@pytest.mark.parametrize("feed", [
    lambda e: (e.add_power("k", at(2), 100), e.add_power("k", at(1), 100)),            # older time
    lambda e: (e.add_register("k", at(1), 500), e.add_register("k", at(0.5), 600)),    # older time
    lambda e: (e.add_register("k", at(1), 500), e.add_register("k", at(2), 400)),      # register went back
])
def test_readings_out_of_order_are_ignored_and_counted(feed):
    energy = DailyEnergy()
    feed(energy)
    assert energy.ignored == 1
    assert energy.wh("k", date(2024, 6, 1)) == 0


def test_a_day_is_complete_when_every_source_reported_past_it():
    energy = DailyEnergy()
    energy.add_register("home", at(23.75), 10)
    energy.add_power("home/ev", at(23.75), 0)
    energy.add_register("home", at(24), 20)
    assert energy.complete_days(["home", "home/ev"]) == []          # the EV has not yet
    energy.add_power("home/ev", at(24), 0)
    assert energy.complete_days(["home", "home/ev"]) == [date(2024, 6, 1)]
    assert energy.complete_days(["home", "home/unknown"]) == []
    assert energy.complete_days([]) == []


# -- who is responsible --------------------------------------------------------------------
@pytest.mark.parametrize("before, now, exclude, expected", [
    # The EV started: its rise explains the peak, although the heater draws too.
    ({"ev": 0, "heater": 3000}, {"ev": 7200, "heater": 3000}, set(), "ev"),
    # Both rose: the larger rise.
    ({}, {"ev": 7200, "heater": 3000}, set(), "ev"),
    ({"ev": 7200}, {"ev": 7200, "heater": 3000}, set(), "heater"),
    # Nothing rose (the rest of the house did): the largest draw.
    ({"ev": 7200, "heater": 3000}, {"ev": 7200, "heater": 3000}, set(), "ev"),
    # Already switched off by us: the next one.
    ({}, {"ev": 7200, "heater": 3000}, {"ev"}, "heater"),
    # Nothing running: nobody.
    ({}, {"ev": 0, "heater": 0}, set(), None),
    ({}, {}, set(), None),
    # Equal rises: the larger draw, then the name (never dict order).
    ({"a": 1000, "b": 0}, {"a": 3000, "b": 2000}, set(), "a"),
    ({}, {"b": 2000, "a": 2000}, set(), "b"),
])
def test_responsible_appliance(before, now, exclude, expected):
    assert responsible(before, now, exclude) == expected


@pytest.mark.parametrize("total, since_hours, expected", [
    (600, 3.5, "ev"),         # 0.6 + 7.2 <= 8.0 - 0.2, off long enough
    (601, 3.5, None),         # 1 W too many
    (600, 0.5, None),         # off for only half an hour
])
def test_resumable(total, since_hours, expected):
    off = {"ev": SwitchedOff(at(18.5), 7200)}
    assert resumable(total, off, at(18.5 + since_hours), threshold_w=8000, margin_w=200, min_off=3600) == expected


def test_resumable_takes_the_appliance_switched_off_first():
    off = {"b": SwitchedOff(at(18), 1000), "a": SwitchedOff(at(19), 1000)}
    assert resumable(0, off, at(22), threshold_w=8000, margin_w=0, min_off=0) == "b"


def test_draw_history_answers_by_time_whatever_the_arrival_order():
    history = DrawHistory(size=3)
    assert history.at(at(1)) == 0 and history.latest == 0
    history.add(at(2), 100)
    history.add(at(1), 50)         # late
    history.add(at(3), 300)
    assert [history.at(at(h)) for h in (0.5, 1, 1.5, 2, 5)] == [0, 50, 50, 100, 300]
    history.add(at(4), 400)        # the oldest goes
    assert history.at(at(1.5)) == 0 and history.latest == 400


# -- the load manager's state machine ------------------------------------------------------
def test_a_peak_sheds_the_responsible_appliance_once_and_resumes_it_later():
    home = HomeLoad(threshold_w=8000, margin_w=200, min_off=3600)
    home.appliance_reading("ev", at(18), 0)
    home.appliance_reading("heater", at(18), 0)
    assert home.on_normal(at(18.25), 1500) is None
    home.appliance_reading("ev", at(18.5), 7200)
    assert home.over(8700) and not home.over(8000)
    decision = home.on_peak(at(18.5), 8700, {"ev": 7200, "heater": 0})
    assert decision == Decision("shed", "ev", 8700, 7200)
    home.sent(decision, at(18.5))
    # Until the acknowledgement, nothing else is decided, peak or not.
    assert home.busy()
    assert home.on_peak(at(18.75), 8700, {"ev": 7200}) is None
    home.acknowledged("ev", "off", done=True)
    assert home.on_normal(at(19), 1800) is None          # no room for 7.2 kW yet
    decision = home.on_normal(at(22), 600)
    assert decision == Decision("resume", "ev", 600, 7200)
    home.sent(decision, at(22))
    home.acknowledged("ev", "on", done=True)
    assert home.switched_off == {} and not home.busy()


def test_a_peak_nobody_can_be_switched_off_for_is_reported_once():
    home = HomeLoad(threshold_w=8000)
    assert home.on_peak(at(19), 9000, {}) == Decision("unresolved", None, 9000)
    assert home.on_peak(at(19.25), 9100, {}) is None
    home.on_normal(at(19.5), 2000)
    assert home.on_peak(at(20), 9000, {}).action == "unresolved"


def test_an_appliance_that_refused_is_not_chosen_again_during_the_peak():
    home = HomeLoad(threshold_w=8000)
    first = home.on_peak(at(19), 10_000, {"ev": 7200, "heater": 3000})
    home.sent(first, at(19))
    home.acknowledged("ev", "off", done=False)
    assert "ev" not in home.switched_off
    second = home.on_peak(at(19.25), 10_000, {"ev": 7200, "heater": 3000})
    assert second.appliance == "heater"
    home.sent(second, at(19.25))
    home.acknowledged("heater", "off", done=True)
    assert home.on_peak(at(19.5), 8100, {"ev": 7200}).action == "unresolved"
    home.on_normal(at(20), 7000)
    assert home.refused == set()


# -- the simulated house -------------------------------------------------------------------
def test_load_profile_energy_is_exact_across_hours():
    profile = LoadProfile()
    assert profile.energy_wh(at(0), at(24)) == pytest.approx(sum(profile.hourly_w))
    assert profile.energy_wh(at(6.5), at(7.5)) == pytest.approx(600 / 2 + 1500 / 2)
    with pytest.raises(ValueError, match="24 non-negative"):
        LoadProfile((100,) * 23)


def test_memory_wiring_tells_the_energy_of_any_interval():
    wiring = MemoryWiring()
    wiring.switch("ev", 7200, at(18.5))
    wiring.switch("heater", 3000, at(17))
    wiring.switch("heater", 0, at(18))
    wiring.switch("ev", 0, at(24.5))
    assert wiring.total_w() == 0
    assert wiring.energy_between(at(0), at(24), "ev") == pytest.approx(7200 * 5.5)
    assert wiring.energy_between(at(0), at(24)) == pytest.approx(7200 * 5.5 + 3000)
    assert wiring.energy_wh(at(25)) == pytest.approx(7200 * 6 + 3000)


def test_file_wiring_is_shared_between_instances(tmp_path):
    meter_side, ev_side = FileWiring(tmp_path), FileWiring(tmp_path)
    ev_side.switch("ev", 7200, at(18.5))
    (tmp_path / "stray.json").write_text("not json")          # ignored
    assert meter_side.total_w() == 7200
    assert meter_side.energy_wh(at(19)) == pytest.approx(3600)
    ev_side.switch("ev", 0, at(19))
    assert meter_side.total_w() == 0
    assert meter_side.energy_wh(at(23)) == pytest.approx(3600)


def test_appliance_model_follows_its_windows_energy_and_commands():
    ev = ApplianceModel(ApplianceSpec("ev", 7200, ((18.5, 24.0),), needs_wh=7200))
    assert ev.advance(at(18)) == 0
    assert ev.advance(at(18.5)) == 7200
    ev.enabled = False                                      # "off"
    assert ev.advance(at(18.75)) == 0                       # 1.8 kWh drawn so far
    ev.enabled = True                                       # "on"
    assert ev.advance(at(20)) == 7200
    assert ev.advance(at(20.75)) == 0                       # 1.8 + 5.4 = 7.2 kWh: full
    assert ev.advance(at(24.0 + 18.5)) == 7200              # the next evening: a new window


def test_sim_clock_runs_faster_than_the_wall_clock():
    clock = SimClock(DAY, speed=3600, epoch=1000.0)
    assert clock.real_seconds(7200) == 2
    with pytest.raises(ValueError):
        SimClock(DAY, speed=0)


def test_timestamps_round_trip_and_refuse_garbage():
    assert parse_stamp(stamp(at(18.5))) == at(18.5)
    for bad in ("2024-06-01 18:30", "", None, 20240601):
        with pytest.raises(ValueError):
            parse_stamp(bad)


def test_last_reading_is_the_newest_whatever_the_order():
    energy = DailyEnergy()
    assert energy.last_reading("k") is None
    energy.add_power("k", at(2), 100)
    energy.add_power("k", at(1), 100)          # ignored as out of order
    energy.add_register("r", at(3), 10)
    assert (energy.last_reading("k"), energy.last_reading("r")) == (at(2), at(3))
