"""The simulated building's physics and ground truth, without sockets: what a building
manager would check on the day's curves (a peak in the working day, meters that add up,
setpoints and dimming that lower the demand) and what the later summary relies on (energy
= integral of power, 15-minute demand, determinism)."""
from __future__ import annotations

import math

import pytest

from examples.building.sim.layout import BuildingSpec, inventory
from examples.building.sim.model import BuildingModel
from examples.building.sim.profiles import DAY, DEFAULT_PROFILE, OccupancySchedule, SmoothNoise, WeatherDay
from examples.building.sim.truth import GroundTruth

HOUR = 3600.0


@pytest.fixture(scope="module")
def day():
    """One default day, simulated once for the read-only checks of this module."""
    model = BuildingModel()
    samples = []
    while model.t < 86400.0:
        model.step()
        samples.append((model.t, {name: m.active_power for name, m in model.meters.items()},
                        {name: m.energy for name, m in model.meters.items()}))
    return model, samples


def run_day(**changes) -> BuildingModel:
    model = BuildingModel(BuildingSpec(**changes.pop("spec", {})))
    for chiller in model.chillers:
        chiller.chw_setpoint += changes.get("chw_raise", 0.0)
    for light in model.lights.values():
        light.dimming_level = changes.get("dimming", 100)
    model.advance(86400.0)
    return model


def test_the_day_has_a_peak_in_the_afternoon_and_a_quiet_night(day):
    model, _ = day
    demand = model.truth.intervals("meter-main")
    assert len(demand) == 96
    peak = model.truth.peak()
    night = [i.demand_kw for i in demand if i.start < 5 * HOUR]
    assert 10 * HOUR <= peak.start < 17 * HOUR, peak.label()
    assert peak.demand_kw > 5 * max(night)
    assert 100 < peak.demand_kw < 400  # kW: a 3600 m2 office in summer


def test_ground_truth_energy_is_the_integral_of_the_meters_power(day):
    model, samples = day
    step_h = model.spec.step_s / HOUR
    for meter in ("meter-main", "meter-plant", "meter-floor-2", "meter-3-1"):
        integral = sum(power[meter] for _, power, _ in samples) * step_h
        assert model.truth.energy_kwh[meter] == pytest.approx(integral, rel=1e-9)
        register_delta = samples[-1][2][meter] - model._initial_register(meter)
        assert register_delta == pytest.approx(integral, rel=1e-9)
        intervals = model.truth.intervals(meter)
        assert sum(i.demand_kw * 0.25 for i in intervals) == pytest.approx(integral, rel=1e-9)


def test_meters_sum_the_loads_below_them():
    model = BuildingModel()
    for hour in (3, 9.5, 14, 18.25):
        model.advance_to(hour)
        m = {name: meter.active_power for name, meter in model.meters.items()}
        for f, ahu in model.ahus.items():
            zones = sum(m[f"meter-{f}-{z}"] for z in range(1, 4))
            assert m[f"meter-floor-{f}"] == pytest.approx(zones + ahu.fan_power)
            for z in range(1, 4):
                parts = (model.lights[(f, z)].power + model.acs[(f, z)].electrical_power + model.zones[(f, z)].plug_power)
                assert m[f"meter-{f}-{z}"] == pytest.approx(parts)
        assert m["meter-plant"] == pytest.approx(sum(c.electrical_power for c in model.chillers))
        floors = sum(m[f"meter-floor-{f}"] for f in model.ahus)
        assert m["meter-main"] == pytest.approx(m["meter-plant"] + m["meter-common"] + floors)


def test_a_meters_demand_register_is_the_last_completed_quarter_hour():
    model = BuildingModel()
    model.advance_to(14.5)
    last = model.truth.intervals("meter-main")[-1]
    assert last.label() == "14:15"
    assert model.meters["meter-main"].demand == pytest.approx(last.demand_kw)


def test_the_peak_moves_with_the_occupancy_schedule():
    evening = ((0.0, 0.0), (17.0, 0.0), (18.0, 0.9), (22.0, 0.9), (23.0, 0.0), (24.0, 0.0))
    model = run_day(spec={"schedule": OccupancySchedule(profile=evening)})
    peak = model.truth.peak()
    # in the HVAC period the schedule sets: from an hour before people arrive until they leave
    assert 16 * HOUR <= peak.start < 23 * HOUR, peak.label()
    at_noon = [i.demand_kw for i in model.truth.intervals("meter-main") if i.label() == "12:00"]
    assert at_noon[0] < 0.3 * peak.demand_kw


def test_the_same_seed_gives_the_same_day_and_another_seed_another(day):
    (first, _), second, other = day, run_day(), run_day(spec={"seed": 2})
    assert first.truth.summary() == second.truth.summary()
    assert first.truth.energy_kwh["meter-main"] != other.truth.energy_kwh["meter-main"]


def test_a_smaller_step_gives_nearly_the_same_day():
    coarse, fine = run_day(), run_day(spec={"step_s": 15.0})
    assert fine.truth.energy_kwh["meter-main"] == pytest.approx(coarse.truth.energy_kwh["meter-main"], rel=0.01)


def test_raising_the_chilled_water_setpoint_lowers_the_chillers_power_and_the_peak(day):
    base, _ = day
    raised = run_day(chw_raise=2.0)
    assert raised.truth.energy_kwh["meter-plant"] < 0.97 * base.truth.energy_kwh["meter-plant"]
    assert raised.truth.peak().demand_kw < base.truth.peak().demand_kw - 1.0
    # the zones stay comfortable: chilled-water reset within the coil's margin
    assert max(z.temperature for z in raised.zones.values()) < 26.0


def test_dimming_the_lights_lowers_lighting_cooling_and_the_peak(day):
    base, _ = day
    dimmed = run_day(dimming=70)
    lights = lambda m: sum(m.truth.energy_kwh[light.name] for light in m.lights.values())  # noqa: E731
    assert lights(dimmed) == pytest.approx(0.7 * lights(base), rel=1e-6)
    assert dimmed.truth.energy_kwh["meter-plant"] < base.truth.energy_kwh["meter-plant"]  # less heat to remove
    assert dimmed.truth.peak().demand_kw < base.truth.peak().demand_kw - 5.0


def test_the_chilled_water_follows_its_setpoint_with_first_order_dynamics():
    model = BuildingModel()
    model.advance_to(14.0)
    chiller = model.chillers[0]
    before = chiller.chw_supply_temp
    assert before == pytest.approx(7.0, abs=0.05)
    power_before = chiller.electrical_power
    chiller.chw_setpoint = 9.0
    model.advance(300.0)  # one time constant
    assert chiller.chw_supply_temp - before == pytest.approx(2.0 * (1 - math.exp(-1)), abs=0.05)
    model.advance(1500.0)
    assert chiller.chw_supply_temp == pytest.approx(9.0, abs=0.05)
    assert chiller.electrical_power < power_before


def test_chiller_power_rises_with_the_outdoor_temperature():
    cool, hot = run_day(spec={"weather": WeatherDay(mean_temp=22.0)}), run_day(spec={"weather": WeatherDay(mean_temp=30.0)})
    assert hot.truth.energy_kwh["meter-plant"] > 1.3 * cool.truth.energy_kwh["meter-plant"]
    assert hot.truth.peak().demand_kw > cool.truth.peak().demand_kw


def test_zone_temperatures_follow_the_hvac_and_the_outdoors():
    cooled, uncooled = BuildingModel(), BuildingModel()
    for ahu in uncooled.ahus.values():
        ahu.command = 0
    for ac in uncooled.acs.values():
        ac.command = 0
    cooled.advance_to(15.0)
    uncooled.advance_to(15.0)
    assert min(z.temperature for z in cooled.zones.values()) > 21.0
    assert max(z.temperature for z in cooled.zones.values()) < 25.0
    assert min(z.temperature for z in uncooled.zones.values()) > max(z.temperature for z in cooled.zones.values()) + 3.0
    assert all(c.cooling_load == 0.0 for c in uncooled.chillers)  # no coil load: the chillers only pump
    assert uncooled.meters["meter-plant"].active_power < 0.2 * cooled.meters["meter-plant"].active_power


def test_lighting_follows_occupancy_and_the_schedule():
    model = BuildingModel()
    model.advance_to(3.0)
    assert all(light.power == 0.0 and light.status == 0 for light in model.lights.values())
    model.advance_to(10.0)
    light, zone = model.lights[(1, 1)], model.zones[(1, 1)]
    assert light.power == pytest.approx(light.rated_kw * (0.2 + 0.8 * zone.occupancy / zone.seats))
    light.command = 0
    model.step()
    assert light.power == 0.0
    assert model.meters["meter-1-1"].active_power < model.meters["meter-1-2"].active_power


def test_co2_rises_with_people_and_the_weather_has_its_daily_shape(day):
    model = BuildingModel()
    model.advance_to(5.0)
    dawn_temp, night_co2 = model.weather_station.outdoor_temp, model.zones[(2, 2)].co2
    model.advance_to(15.0)
    assert model.weather_station.outdoor_temp > dawn_temp + 8.0
    assert model.weather_station.solar_irradiance > 300.0
    assert model.zones[(2, 2)].co2 > night_co2 + 200.0
    model.advance_to(23.0)
    assert model.weather_station.solar_irradiance == 0.0


def test_weekends_are_nearly_empty():
    saturday = run_day(spec={"day": BuildingSpec().day.replace(day=20)})
    monday = run_day()
    assert saturday.truth.energy_kwh["meter-main"] < 0.5 * monday.truth.energy_kwh["meter-main"]


@pytest.mark.parametrize("changes, message", [
    ({"floors": 0}, "floors"),
    ({"zones_per_floor": 10}, "floors"),
    ({"chillers": 0}, "chillers"),
    ({"zone_area_m2": -1}, "area"),
    ({"step_s": 7.0}, "step_s"),
    ({"step_s": 600.0}, "step_s"),
])
def test_bad_building_specs_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        BuildingSpec(**changes)


@pytest.mark.parametrize("profile", [
    ((0.0, 0.0), (12.0, 1.5), (24.0, 0.0)),
    ((1.0, 0.0), (24.0, 0.0)),
    ((0.0, 0.0), (14.0, 0.5), (12.0, 0.5), (24.0, 0.0)),
])
def test_bad_occupancy_profiles_are_refused(profile):
    with pytest.raises(ValueError, match="occupancy profile"):
        OccupancySchedule(profile=profile)


def test_bad_start_hours_and_truth_steps_are_refused():
    with pytest.raises(ValueError, match="quarter hour"):
        BuildingModel(start_hour=7.1)
    truth = GroundTruth(["m"])
    with pytest.raises(ValueError, match="15-minute boundary"):
        truth.add(880.0, 30.0, {"m": 1.0})


def test_override_names_a_real_point():
    model = BuildingModel()
    with pytest.raises(KeyError, match="nope"):
        model.override("sensor-1-1", "nope", 1.0)
    model.override("sensor-1-1", "temperature", -99.0)
    assert model.read_point("sensor-1-1", "temperature") == -99.0
    model.override("sensor-1-1", "temperature", None)
    assert model.read_point("sensor-1-1", "temperature") == model.zones[(1, 1)].temperature


def test_the_inventory_names_every_device_once_with_unique_units_per_group():
    devices = inventory(BuildingSpec())
    assert len({d.name for d in devices}) == len(devices)
    for group in {d.group for d in devices}:
        units = [d.unit for d in devices if d.group == group]
        assert len(units) == len(set(units)), group
    assert len([d for d in devices if d.type == "meter"]) == 3 + 3 + 9
    assert DEFAULT_PROFILE[0] == (0.0, 0.0)


def test_the_noise_cache_and_the_truth_are_bounded():
    noise = SmoothNoise(seed=1, what="x", sigma=1.0)
    first_day = [noise(t) for t in (0.0, 4000.0)]
    for day in range(30):
        noise(day * DAY + 100.0)
    assert len(noise._days) <= 9
    assert [noise(t) for t in (0.0, 4000.0)] == first_day  # a forgotten day comes back the same
    truth = GroundTruth(["m"], max_intervals=4)
    for i in range(10 * 30):
        truth.add(i * 30.0, 30.0, {"m": 1.0})
    assert len(truth.intervals("m")) == 4 and truth.energy_kwh["m"] == pytest.approx(2.5)
