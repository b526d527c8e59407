"""The building's shape and its device inventory: floors, zones, and which device sits on
which Modbus server (device group) under which unit id, or on the BACnet controller under
which object-instance base.

Names are stable and readable, since they become the proxy's resource names later:
`chiller-1`, `ahu-2` (floor 2), `ac-2-3` / `light-2-3` / `sensor-2-3` / `meter-2-3`
(floor 2, zone 3), `meter-floor-2`, `meter-main`, `meter-plant` (the chillers),
`meter-common` (lifts, IT room, stairwell ventilation), `weather`.

Unit ids: the chillers 1..n; an AHU its floor number; a zone device 10 x floor + zone; the
meters 1 main, 2 plant, 3 common, 10 x floor for a floor, 10 x floor + zone for a zone;
the weather station 1.  BACnet instance bases: an AHU 1000 x floor, a zone sensor
1000 x floor + 100 x zone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .profiles import OccupancySchedule, WeatherDay

GROUPS = ("chillers", "ahus", "air_conditioners", "lighting", "meters", "sensors", "weather")
GROUP_OF_TYPE = {"chiller": "chillers", "ahu": "ahus", "air_conditioner": "air_conditioners",
                 "lighting": "lighting", "meter": "meters", "sensor": "sensors", "weather": "weather"}
BACNET_TYPES = ("ahu", "sensor")  # also served by the BACnet controller


@dataclass(frozen=True)
class BuildingSpec:
    floors: int = 3
    zones_per_floor: int = 3
    zone_area_m2: float = 400.0
    chillers: int = 2
    seed: int = 1
    day: date = date(2024, 7, 15)  # a Monday
    step_s: float = 30.0  # simulated seconds per physics step
    weather: WeatherDay = field(default_factory=WeatherDay)
    schedule: OccupancySchedule = field(default_factory=OccupancySchedule)

    def __post_init__(self):
        if not (1 <= self.floors <= 9 and 1 <= self.zones_per_floor <= 9):
            raise ValueError("floors and zones per floor: 1 to 9 (unit ids are 10 x floor + zone)")
        if not 1 <= self.chillers <= 9:
            raise ValueError("chillers: 1 to 9")
        if self.zone_area_m2 <= 0:
            raise ValueError("zone area must be positive")
        if not (1.0 <= self.step_s <= 300.0) or 900.0 % self.step_s:
            raise ValueError("step_s must divide 900 s (the demand interval) and lie in [1, 300]")

    def zones(self) -> list[tuple[int, int]]:
        return [(f, z) for f in range(1, self.floors + 1) for z in range(1, self.zones_per_floor + 1)]


@dataclass(frozen=True)
class DeviceInfo:
    name: str
    type: str  # a device type of the point lists
    group: str  # the Modbus server it sits on
    unit: int  # Modbus unit id
    floor: int | None = None
    zone: int | None = None
    bacnet_base: int | None = None  # object-instance base on the BACnet controller

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def inventory(spec: BuildingSpec) -> list[DeviceInfo]:
    devices = [DeviceInfo(f"chiller-{i}", "chiller", "chillers", i) for i in range(1, spec.chillers + 1)]
    devices += [DeviceInfo(f"ahu-{f}", "ahu", "ahus", f, floor=f, bacnet_base=1000 * f)
                for f in range(1, spec.floors + 1)]
    for f, z in spec.zones():
        unit = 10 * f + z
        devices.append(DeviceInfo(f"ac-{f}-{z}", "air_conditioner", "air_conditioners", unit, f, z))
        devices.append(DeviceInfo(f"light-{f}-{z}", "lighting", "lighting", unit, f, z))
        devices.append(DeviceInfo(f"sensor-{f}-{z}", "sensor", "sensors", unit, f, z,
                                  bacnet_base=1000 * f + 100 * z))
    devices += [DeviceInfo("meter-main", "meter", "meters", 1), DeviceInfo("meter-plant", "meter", "meters", 2),
                DeviceInfo("meter-common", "meter", "meters", 3)]
    devices += [DeviceInfo(f"meter-floor-{f}", "meter", "meters", 10 * f, floor=f) for f in range(1, spec.floors + 1)]
    devices += [DeviceInfo(f"meter-{f}-{z}", "meter", "meters", 10 * f + z, f, z) for f, z in spec.zones()]
    devices.append(DeviceInfo("weather", "weather", "weather", 1))
    return devices
