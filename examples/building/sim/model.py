"""The physics of the simulated public building: simple, but every number has a cause.

One `BuildingModel.step()` advances `spec.step_s` simulated seconds (explicit Euler for the
zone temperatures, exact first-order updates for the equipment) and holds every power
constant over the step, which the ground truth integrates exactly.

* Zones (one air node each): dT/dt = (envelope UA x (T_out - T) + people + lights + plug
  loads + sun through the windows + AHU supply air + split AC) / C.  CO2 rises with people
  and falls with outdoor air.
* AHU (one per floor): the supply fan speed follows a P controller on the return air
  (the zones' mean) against the zone setpoint; the supply air temperature approaches its
  setpoint with a time constant, but can get no colder than the chilled water plus the
  coil approach, and no colder than the mixed air without chilled water.  Fan power ~
  speed cubed.  The coil load (mixed air down to supply air, with 20 % outdoor air while
  the building is in use) is what the chillers must take away.
* Chillers: share the coils' load; the supply water approaches the setpoint (or rises
  when the load exceeds the capacity); electrical power = load / COP + pumps, the COP
  rising ~3 %/K with warmer chilled water, falling ~2 %/K with warmer outdoor air and at
  part load.  In auto, the lead chiller runs with the HVAC schedule, the others are staged
  on and off by load (with hysteresis).
* Split ACs (one per zone): modulate their output on the room temperature above their
  setpoint; COP falls with the outdoor temperature.
* Lighting: rated power x dimming level x (20 % + 80 % x share of seats taken).
* Meters sum what is wired below them: zone = lighting + AC + plug loads; floor = its
  zones + its AHU; plant = the chillers; common = lifts, IT room, stairwells; main = plant +
  floors + common.

"auto" (command 2, the default) follows the building schedule derived from the occupancy
schedule: HVAC from one hour before people arrive until they have left, lighting while
anybody is scheduled in.  Device attributes are named like the points of the point lists,
so the protocol servers read and write them by name (`read_point`, `write_point`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .layout import BuildingSpec, inventory
from .profiles import DAY, Occupancy, Weather, hour_of_day
from .truth import GroundTruth

AIR_CP = 1.005  # kJ/(kg K)
AIR_DENSITY = 1.2  # kg/m3
OFF, ON, AUTO = 0, 1, 2


def _relax(value: float, target: float, dt: float, tau: float) -> float:
    """Exact step of dx/dt = (target - x) / tau."""
    return target + (value - target) * math.exp(-dt / tau)


def _running(command: int, scheduled: bool) -> bool:
    return command == ON or (command == AUTO and scheduled)


@dataclass
class Zone:
    name: str
    floor: int
    index: int
    area: float
    seats: int
    window_kw_per_wm2: float  # kW of solar gain per W/m2 of irradiance, at best orientation
    sun_hour: float  # hour at which the windows get most sun (east 9, south 12, west 16)
    temperature: float = 26.0
    co2: float = 420.0
    occupancy: int = 0
    plug_power: float = 0.0  # kW, not a device: on the zone meter only

    @property
    def heat_capacity(self) -> float:  # kJ/K: air, furniture, light partitions
        return 50.0 * self.area

    @property
    def envelope_ua(self) -> float:  # kW/K: facade, roof share, infiltration
        return 0.0011 * self.area


@dataclass
class Chiller:
    name: str
    capacity_kw: float = 180.0
    command: int = AUTO
    chw_setpoint: float = 7.0
    status: int = 0
    chw_supply_temp: float = 14.0
    chw_return_temp: float = 14.0
    cooling_load: float = 0.0
    electrical_power: float = 0.0
    cop: float = 0.0
    staged: bool = False  # auto staging state of a lag chiller


@dataclass
class Ahu:
    name: str
    floor: int
    design_airflow_m3s: float
    fan_rated_kw: float
    command: int = AUTO
    supply_air_setpoint: float = 13.0
    zone_setpoint: float = 23.0
    min_fan_speed: int = 30
    status: int = 0
    supply_air_temp: float = 24.0
    return_air_temp: float = 24.0
    fan_speed: float = 0.0  # %
    fan_power: float = 0.0
    coil_load: float = 0.0
    outdoor_air_fraction: float = 0.0  # %


@dataclass
class AirConditioner:
    name: str
    zone: Zone
    capacity_kw: float = 8.0
    command: int = AUTO
    setpoint: float = 24.0
    status: int = 0
    room_temp: float = 26.0
    cooling_output: float = 0.0
    electrical_power: float = 0.0


@dataclass
class Lighting:
    name: str
    rated_kw: float
    command: int = AUTO
    dimming_level: int = 100
    status: int = 0
    power: float = 0.0


@dataclass
class Meter:
    name: str
    energy: float  # kWh register
    active_power: float = 0.0
    demand: float = 0.0
    voltage: float = 400.0
    current: float = 0.0
    power_factor: float = 0.95


@dataclass
class Sensor:
    name: str
    zone: Zone

    @property
    def temperature(self) -> float:
        return self.zone.temperature

    @property
    def co2(self) -> float:
        return self.zone.co2

    @property
    def occupancy(self) -> float:
        return float(self.zone.occupancy)


@dataclass
class WeatherStation:
    name: str
    outdoor_temp: float = 0.0
    solar_irradiance: float = 0.0
    relative_humidity: float = 50.0


class BuildingModel:
    """The building's state and its step.  `t` counts simulated seconds from midnight of
    `spec.day`; `truth` is the ground truth of everything the meters measured."""

    def __init__(self, spec: BuildingSpec = BuildingSpec(), start_hour: float = 0.0):
        if not 0.0 <= start_hour < 24.0 or (start_hour * 3600.0) % 900.0:
            raise ValueError("start_hour must be a quarter hour in [0, 24)")
        self.spec = spec
        self.devices_info = inventory(spec)
        self.weather = Weather(spec.weather, spec.seed)
        self.occupancy = Occupancy(spec.schedule, spec.seed, spec.day.weekday())
        self.t0 = start_hour * 3600.0
        self.steps = 0
        self.zones: dict[tuple[int, int], Zone] = {}
        sun_hours = (9.0, 12.0, 16.0)
        for f, z in spec.zones():
            self.zones[(f, z)] = Zone(
                f"zone-{f}-{z}", f, z, spec.zone_area_m2, seats=int(spec.zone_area_m2 / 10.0),
                window_kw_per_wm2=0.0075 * spec.zone_area_m2 / 400.0, sun_hour=sun_hours[(z - 1) % 3])
        self.chillers = [Chiller(f"chiller-{i}") for i in range(1, spec.chillers + 1)]
        per_floor = spec.zones_per_floor * spec.zone_area_m2
        self.ahus = {f: Ahu(f"ahu-{f}", f, design_airflow_m3s=per_floor / 200.0, fan_rated_kw=per_floor / 133.0)
                     for f in range(1, spec.floors + 1)}
        self.acs = {k: AirConditioner(f"ac-{k[0]}-{k[1]}", zone) for k, zone in self.zones.items()}
        self.lights = {k: Lighting(f"light-{k[0]}-{k[1]}", rated_kw=0.008 * spec.zone_area_m2) for k in self.zones}
        self.sensors = {k: Sensor(f"sensor-{k[0]}-{k[1]}", zone) for k, zone in self.zones.items()}
        self.weather_station = WeatherStation("weather")
        meter_names = (["meter-main", "meter-plant", "meter-common"]
                       + [f"meter-floor-{f}" for f in range(1, spec.floors + 1)]
                       + [f"meter-{f}-{z}" for f, z in spec.zones()])
        self.meters = {name: Meter(name, energy=self._initial_register(name)) for name in meter_names}
        self.devices: dict[str, object] = {d.name: d for d in (
            *self.chillers, *self.ahus.values(), *self.acs.values(), *self.lights.values(),
            *self.sensors.values(), *self.meters.values(), self.weather_station)}
        loads = meter_names + [c.name for c in self.chillers] + [a.name for a in self.ahus.values()] \
            + [a.name for a in self.acs.values()] + [lt.name for lt in self.lights.values()]
        self.truth = GroundTruth(loads, start=self.t0)
        self.overrides: dict[tuple[str, str], float] = {}
        self._measure()

    # ---- time -------------------------------------------------------------------------
    @property
    def t(self) -> float:
        return self.t0 + self.steps * self.spec.step_s

    def clock(self) -> str:
        """Simulated time of day, HH:MM (with the day number after the first day)."""
        t = self.t
        minutes = int(t % DAY // 60)
        day = int(t // DAY)
        return f"{'+%dd ' % day if day else ''}{minutes // 60:02d}:{minutes % 60:02d}"

    def advance(self, seconds: float) -> None:
        """Step until `seconds` more simulated seconds have passed (rounded down to steps)."""
        for _ in range(int(round(seconds / self.spec.step_s, 6))):
            self.step()

    def advance_to(self, hour: float, day: int = 0) -> None:
        target = day * DAY + hour * 3600.0
        while self.t + 1e-6 < target:
            self.step()

    # ---- points, by name ----------------------------------------------------------------
    def read_point(self, device: str, point: str) -> float:
        override = self.overrides.get((device, point))
        if override is not None:
            return override
        return float(getattr(self.devices[device], point))

    def write_point(self, device: str, point: str, value: float) -> None:
        """Apply a command or setpoint (already checked against the point list)."""
        target = self.devices[device]
        current = getattr(target, point)
        setattr(target, point, int(value) if isinstance(current, int) else float(value))

    def override(self, device: str, point: str, value: float | None) -> None:
        """Fault injection: `point` of `device` reads `value` (None: the real value again)."""
        if device not in self.devices or not hasattr(self.devices[device], point):
            raise KeyError(f"no point {point!r} on device {device!r}")
        if value is None:
            self.overrides.pop((device, point), None)
        else:
            self.overrides[(device, point)] = float(value)

    # ---- schedule -----------------------------------------------------------------------
    def hvac_scheduled(self, t: float) -> bool:
        """HVAC runs from an hour before 5 % of the seats are taken until fewer are (so not
        on a weekend, when the schedule's share stays lower)."""
        return self.occupancy.share(t) > 0.05 or self.occupancy.share(t + 3600.0) > 0.05

    def lighting_scheduled(self, t: float) -> bool:
        return self.occupancy.share(t) > 0.0

    # ---- the step -------------------------------------------------------------------------
    def step(self) -> None:
        dt, t = self.spec.step_s, self.t
        t_out = self.weather.outdoor_temp(t)
        irradiance = self.weather.solar_irradiance(t)
        hvac = self.hvac_scheduled(t)
        occupied = self.occupancy.share(t) > 0.0
        for zone in self.zones.values():
            zone.occupancy = self.occupancy.people(zone.name, zone.seats, t)
            zone.plug_power = zone.area * (0.002 + 0.008 * zone.occupancy / zone.seats)

        # chilled water available to the coils: the running chillers' mean supply temperature
        running = [c for c in self.chillers if c.status]
        chw = sum(c.chw_supply_temp for c in running) / len(running) if running else None

        plant_load = 0.0
        zone_supply: dict[tuple[int, int], tuple[float, float]] = {}  # airflow kg/s, supply temp
        for f, ahu in self.ahus.items():
            zones = [self.zones[(f, z)] for z in range(1, self.spec.zones_per_floor + 1)]
            ahu.return_air_temp = sum(zone.temperature for zone in zones) / len(zones)
            on = _running(ahu.command, hvac)
            ahu.status = int(on)
            if on:
                error = ahu.return_air_temp - ahu.zone_setpoint
                low = ahu.min_fan_speed / 100.0
                target_speed = low + (1.0 - low) * min(1.0, max(0.0, (error + 0.5) / 2.0))
            else:
                target_speed = 0.0
            speed = _relax(ahu.fan_speed / 100.0, target_speed, dt, 60.0)
            ahu.fan_speed = speed * 100.0
            airflow = AIR_DENSITY * ahu.design_airflow_m3s * speed  # kg/s
            oa = 0.2 if (on and occupied) else 0.0
            ahu.outdoor_air_fraction = oa * 100.0
            mixed = (1.0 - oa) * ahu.return_air_temp + oa * t_out
            if on and chw is not None:
                sat_target = min(mixed, max(ahu.supply_air_setpoint, chw + 4.0))
            else:
                sat_target = mixed
            ahu.supply_air_temp = _relax(ahu.supply_air_temp, sat_target, dt, 180.0)
            ahu.coil_load = max(0.0, airflow * AIR_CP * (mixed - ahu.supply_air_temp)) if on and chw is not None else 0.0
            ahu.fan_power = ahu.fan_rated_kw * speed ** 3 + (0.2 if on else 0.0)
            plant_load += ahu.coil_load
            for zone in zones:
                zone_supply[(zone.floor, zone.index)] = (airflow / len(zones), ahu.supply_air_temp)

        self._chillers(plant_load, hvac, t_out, dt)

        for key, zone in self.zones.items():
            light = self.lights[key]
            light.status = int(_running(light.command, self.lighting_scheduled(t)))
            share = zone.occupancy / zone.seats
            light.power = light.status * light.rated_kw * light.dimming_level / 100.0 * (0.2 + 0.8 * share)
            ac = self.acs[key]
            if _running(ac.command, hvac):
                demand = min(1.0, max(0.0, (zone.temperature - ac.setpoint + 0.5) / 1.5))
                ac.cooling_output = ac.capacity_kw * demand
                cop = max(1.5, 3.2 * (1.0 - 0.02 * (t_out - 30.0)))
                ac.electrical_power = ac.cooling_output / cop + 0.03
                ac.status = 2 if demand > 0 else 1
            else:
                ac.cooling_output = ac.electrical_power = 0.0
                ac.status = 0
            airflow, supply_temp = zone_supply[key]
            sun = max(0.0, math.cos((hour_of_day(t) - zone.sun_hour) / 7.0 * math.pi / 2.0))
            gains = (zone.envelope_ua * (t_out - zone.temperature) + 0.09 * zone.occupancy
                     + light.power + zone.plug_power + zone.window_kw_per_wm2 * irradiance * (0.3 + 0.7 * sun)
                     + airflow * AIR_CP * (supply_temp - zone.temperature) - ac.cooling_output)
            zone.temperature += gains * dt / zone.heat_capacity
            outdoor_air = airflow * self.ahus[zone.floor].outdoor_air_fraction / 100.0 / AIR_DENSITY + 0.05  # m3/s
            volume = zone.area * 3.0
            co2_target = 420.0 + zone.occupancy * 5e-6 * 1e6 / outdoor_air
            zone.co2 = _relax(zone.co2, co2_target, dt, volume / outdoor_air)
            ac.room_temp = zone.temperature

        self.steps += 1
        self._meter(t, dt, t_out, irradiance)

    def _chillers(self, load: float, hvac: bool, t_out: float, dt: float) -> None:
        lead_capacity = self.chillers[0].capacity_kw
        for i, chiller in enumerate(self.chillers):
            if i == 0:
                chiller.staged = hvac
            elif not chiller.staged and load > 0.85 * i * lead_capacity:
                chiller.staged = True
            elif chiller.staged and (load < 0.6 * i * lead_capacity or not hvac):
                chiller.staged = False
            chiller.status = int(_running(chiller.command, chiller.staged))
        running = [c for c in self.chillers if c.status]
        share = load / len(running) if running else 0.0
        for chiller in self.chillers:
            water_kw_per_k = chiller.capacity_kw / 5.0  # design: 5 K across the evaporator at full load
            if chiller.status:
                excess = max(0.0, share - chiller.capacity_kw)
                target = chiller.chw_setpoint + excess / water_kw_per_k
                chiller.chw_supply_temp = _relax(chiller.chw_supply_temp, target, dt, 300.0)
                chiller.cooling_load = share
                plr = min(1.0, share / chiller.capacity_kw)
                cop = 4.0 * (1.0 + 0.03 * (chiller.chw_supply_temp - 7.0)) * (1.0 - 0.02 * (t_out - 30.0)) \
                    * (0.6 + 0.8 * plr - 0.4 * plr * plr)
                chiller.cop = min(8.0, max(1.0, cop))
                chiller.electrical_power = share / chiller.cop + 4.0  # + pump and condenser fans
                chiller.chw_return_temp = chiller.chw_supply_temp + share / water_kw_per_k
            else:
                idle = 0.5 * (t_out + 22.0)
                chiller.chw_supply_temp = _relax(chiller.chw_supply_temp, idle, dt, 1800.0)
                chiller.chw_return_temp = chiller.chw_supply_temp
                chiller.cooling_load = chiller.electrical_power = chiller.cop = 0.0

    def _meter(self, t: float, dt: float, t_out: float, irradiance: float) -> None:
        power: dict[str, float] = {}
        floors = {f: self.ahus[f].fan_power for f in self.ahus}
        for (f, z), zone in self.zones.items():
            kw = self.lights[(f, z)].power + self.acs[(f, z)].electrical_power + zone.plug_power
            power[f"meter-{f}-{z}"] = kw
            floors[f] += kw
        for f, kw in floors.items():
            power[f"meter-floor-{f}"] = kw
        power["meter-plant"] = sum(c.electrical_power for c in self.chillers)
        people = sum(zone.occupancy for zone in self.zones.values())
        seats = sum(zone.seats for zone in self.zones.values())
        power["meter-common"] = 0.0035 * self.spec.zone_area_m2 * len(self.zones) * (1.0 + people / seats)
        power["meter-main"] = power["meter-plant"] + power["meter-common"] + sum(floors.values())
        for device in (*self.chillers, *self.acs.values()):
            power[device.name] = device.electrical_power
        for ahu in self.ahus.values():
            power[ahu.name] = ahu.fan_power
        for light in self.lights.values():
            power[light.name] = light.power
        self.truth.add(t, dt, power)
        self._measure(power)

    def _measure(self, power: dict[str, float] | None = None) -> None:
        """Bring the meters' and the weather station's readings to the end of the step."""
        t = self.t
        station = self.weather_station
        station.outdoor_temp = self.weather.outdoor_temp(t)
        station.solar_irradiance = self.weather.solar_irradiance(t)
        station.relative_humidity = self.weather.relative_humidity(t)
        if power is None:
            return
        for name, meter in self.meters.items():
            kw = power[name]
            meter.active_power = kw
            meter.energy += kw * self.spec.step_s / 3600.0
            meter.demand = self.truth.last_demand_kw(name)
            meter.voltage = 400.0 + 2.0 * math.sin(t / 5400.0) - 0.002 * kw
            meter.power_factor = 0.92 + 0.05 * min(1.0, kw / 100.0)
            meter.current = kw * 1000.0 / (math.sqrt(3.0) * meter.voltage * meter.power_factor)

    def _initial_register(self, name: str) -> float:
        """A plausible, deterministic starting reading of a meter's energy register."""
        digest = sum(ord(c) * (i + 7) for i, c in enumerate(name)) + 7919 * self.spec.seed
        scale = 400_000.0 if name == "meter-main" else 40_000.0
        return round(scale * (1.0 + (digest % 997) / 997.0), 1)
