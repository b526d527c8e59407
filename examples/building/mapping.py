"""How the building's field devices appear in oneM2M: which TS-0023 device class each device
type becomes, and which field-bus point feeds which data point of which module.

As data, one table per device type, so the interworking proxy has no code per type:

    MODELS["meter"].modules["energyConsumption"] == ModuleMap("energyConsumption", {
        "power": Feed("active_power", scale=1000.0), "abECn": Feed("energy")})

TS-0023 has no class for a chiller or an air handling unit: both become
`deviceAirConditioner` (it has the modules they need: binarySwitch, temperature with its set
point), with the real type in the labels (`building:type/chiller`), so an
application finds them by label or by cnd.  Data points whose point is writable are the
commands: an UPDATE of `binarySwitch.state`, `temperature.tarTe` or `brightness.brigs`
reaches the device; the others the proxy writes from what the device measures.

Their electricity is measured by the meters (`meter-plant` for the chillers, the zone meters
for the air conditioners and lights), which are deviceSmartElectricMeters with an
energyConsumption module; each meter's readings also go into a series with their time of
measurement (the proxy's `readings` container per meter), which the energy applications use.

Units follow TS-0023: power in W (the meters and drives report kW), energy in kWh,
temperatures in degrees Celsius, brightness in percent.  This module does no I/O.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

DEVICE_CLASS_FILE_DIR = "schemas/device_models"


@dataclass(frozen=True)
class Feed:
    """One data point fed by one field-bus point: value = point x scale (booleans: point != 0)."""

    point: str
    scale: float = 1.0
    boolean: bool = False
    integer: bool = False
    # A command: a new value of this data point is written to the device (value / scale).
    writable: bool = False
    # Written to the device for true / false (binarySwitch.state -> command 1 / 0).
    on_off: tuple[float, float] = (1.0, 0.0)

    def to_data_point(self, value: float) -> Any:
        if self.boolean:
            return value >= 0.5
        scaled = value * self.scale
        return int(round(scaled)) if self.integer else round(scaled, 3)

    def to_device(self, data_point: Any) -> float:
        if self.boolean:
            if not isinstance(data_point, bool):
                raise ValueError(f"a boolean is needed for {self.point}, not {data_point!r}")
            return self.on_off[0] if data_point else self.on_off[1]
        if isinstance(data_point, bool) or not isinstance(data_point, (int, float)):
            raise ValueError(f"a number is needed for {self.point}, not {data_point!r}")
        return float(data_point) / self.scale


@dataclass(frozen=True)
class ModuleMap:
    module_class: str                    # the TS-0023 module class (its file in schemas/device_models)
    data_points: Mapping[str, Feed]      # short name of the data point -> its feed
    # Keep this many flexContainerInstances (the module's history, la/ol); 0: no history.
    history: int = 0


@dataclass(frozen=True)
class DeviceModel:
    device_class: str                    # the TS-0023 device class
    modules: Mapping[str, ModuleMap]     # rn of the module flexContainer -> its map
    commands: tuple[str, ...] = field(default=())

    def feeds(self) -> list[tuple[str, str, Feed]]:
        """(module rn, data point, feed) for every data point of the device."""
        return [(rn, name, feed) for rn, module in self.modules.items() for name, feed in module.data_points.items()]

    def points(self) -> list[str]:
        return sorted({feed.point for _, _, feed in self.feeds()})


def _switch() -> ModuleMap:
    return ModuleMap("binarySwitch", {"state": Feed("command", boolean=True, writable=True)})


def _fault() -> ModuleMap:
    return ModuleMap("faultDetection", {})      # written by the proxy from the device's health


HISTORY = 200          # readings kept per energy module: 200 x 1 min > 3 hours at the demo's pace

MODELS: dict[str, DeviceModel] = {
    "meter": DeviceModel("deviceSmartElectricMeter", {
        "energyConsumption": ModuleMap("energyConsumption", {
            "power": Feed("active_power", scale=1000.0), "abECn": Feed("energy"),
            "volte": Feed("voltage"), "currt": Feed("current")}, history=HISTORY),
        "faultDetection": _fault()}),
    "chiller": DeviceModel("deviceAirConditioner", {
        "binarySwitch": _switch(),
        "temperature": ModuleMap("temperature", {"curT0": Feed("chw_supply_temp"),
                                                 "tarTe": Feed("chw_setpoint", writable=True)}),
        "faultDetection": _fault()}),
    "ahu": DeviceModel("deviceAirConditioner", {
        "binarySwitch": _switch(),
        "temperature": ModuleMap("temperature", {"curT0": Feed("supply_air_temp"),
                                                 "tarTe": Feed("supply_air_setpoint", writable=True)}),
        "faultDetection": _fault()}),
    "air_conditioner": DeviceModel("deviceAirConditioner", {
        "binarySwitch": _switch(),
        "temperature": ModuleMap("temperature", {"curT0": Feed("room_temp"),
                                                 "tarTe": Feed("setpoint", writable=True)}),
        "faultDetection": _fault()}),
    "lighting": DeviceModel("deviceLight", {
        "binarySwitch": _switch(),
        "brightness": ModuleMap("brightness", {"brigs": Feed("dimming_level", integer=True, writable=True)}),
        "faultDetection": _fault()}),
    "sensor": DeviceModel("deviceThermometer", {
        "temperature": ModuleMap("temperature", {"curT0": Feed("temperature")})}),
    "weather": DeviceModel("deviceThermometer", {
        "temperature": ModuleMap("temperature", {"curT0": Feed("outdoor_temp")})}),
}


def labels(device: Mapping[str, Any]) -> list[str]:
    """Labels by which applications find a device: its type, floor and zone."""
    out = [f"building:type/{device['type']}"]
    if device.get("floor") is not None:
        out.append(f"building:floor/{device['floor']}")
    if device.get("zone") is not None:
        out.append(f"building:zone/{device['floor']}-{device['zone']}")
    return out


def command_feed(device_type: str, module: str, data_point: str) -> Feed | None:
    """The feed of a writable data point, or None when it is not a command."""
    module_map = MODELS[device_type].modules.get(module)
    feed = module_map.data_points.get(data_point) if module_map is not None else None
    return feed if feed is not None and feed.writable else None
