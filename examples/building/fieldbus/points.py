"""Point lists of the building's field devices, as data: which register or BACnet object
holds which value, its scaling, unit, valid range and whether it may be written.

The lists live in `pointlists.json` beside this module so that the interworking proxy can
map points to oneM2M data points without code per device type, and so that the simulator
serves exactly the register maps the drivers read (both load this file).  `load_point_lists`
checks the file (types, overlapping registers, writable points in holding registers, ranges
that the register type can carry) and fails with a message naming the bad entry.

Conversions, for Modbus: value = raw x scale; int16/int32 are two's complement; 32-bit
values take two registers, high word first.  `encode` rounds to the register's resolution.

This module does no I/O besides reading the JSON file, and keeps no state.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from .results import InvalidValue, ReadOnlyPoint, UnknownPoint

POINT_LIST_FILE = Path(__file__).with_name("pointlists.json")

REGISTER_TYPES = {  # name: (registers, minimum raw, maximum raw)
    "uint16": (1, 0, 0xFFFF),
    "int16": (1, -0x8000, 0x7FFF),
    "uint32": (2, 0, 0xFFFFFFFF),
    "int32": (2, -0x80000000, 0x7FFFFFFF),
}
TABLES = ("holding", "input")
BACNET_OBJECTS = ("analog-input", "analog-value", "binary-output")


@dataclass(frozen=True)
class ModbusPoint:
    name: str
    table: str  # "holding" (read 3, write 6/16) or "input" (read 4)
    address: int  # 0-based PDU address
    type: str  # a key of REGISTER_TYPES
    scale: float
    unit: str
    valid: tuple[float, float]
    writable: bool
    description: str = ""
    enum: Mapping[str, str] | None = None

    @property
    def count(self) -> int:
        return REGISTER_TYPES[self.type][0]

    def decode(self, registers: list[int]) -> float:
        """Engineering value from this point's registers (`count` of them)."""
        if self.count == 1:
            raw = registers[0] & 0xFFFF
        else:
            raw = ((registers[0] & 0xFFFF) << 16) | (registers[1] & 0xFFFF)
        if self.type.startswith("int"):
            bits = 16 * self.count
            if raw >= 1 << (bits - 1):
                raw -= 1 << bits
        value = raw * self.scale
        return round(value, _decimals(self.scale))

    def encode(self, value: float) -> list[int]:
        """Registers for an engineering value, saturated to what the register type can
        carry (a simulated sensor can thus report an out-of-range value like a real one)."""
        _, lo, hi = REGISTER_TYPES[self.type]
        raw = max(lo, min(hi, int(round(value / self.scale))))
        raw &= (1 << (16 * self.count)) - 1
        if self.count == 1:
            return [raw]
        return [raw >> 16, raw & 0xFFFF]

    def in_range(self, value: float) -> bool:
        lo, hi = self.valid
        return lo <= value <= hi


@dataclass(frozen=True)
class BacnetPoint:
    name: str
    object: str  # "analog-input", "analog-value" or "binary-output"
    offset: int  # object instance = device base + offset
    unit: str
    valid: tuple[float, float]
    writable: bool
    description: str = ""

    def in_range(self, value: float) -> bool:
        lo, hi = self.valid
        return lo <= value <= hi


Point = ModbusPoint | BacnetPoint


@dataclass(frozen=True)
class DeviceType:
    """The points of one kind of device on one protocol."""

    name: str
    protocol: str  # "modbus" or "bacnet"
    description: str
    points: Mapping[str, Point]

    def point(self, name: str, device: str = "") -> Point:
        try:
            return self.points[name]
        except KeyError:
            raise UnknownPoint(
                f"{device or self.name}: no point {name!r} in the {self.protocol} point list of "
                f"{self.name!r} (known: {', '.join(sorted(self.points))})"
            ) from None

    def writable_point(self, name: str, value: Any, device: str = "") -> Point:
        """The point, if `value` may be written to it; else a `PointError` saying why."""
        point = self.point(name, device)
        who = f"{device or self.name}.{name}"
        if not point.writable:
            raise ReadOnlyPoint(f"{who} is a read-only measurement; writable points: "
                                f"{', '.join(sorted(p.name for p in self.points.values() if p.writable))}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise InvalidValue(f"{who}: value must be a finite number, not {value!r}")
        if not point.in_range(value):
            lo, hi = point.valid
            unit = f" {point.unit}" if point.unit else ""
            raise InvalidValue(f"{who}: {value:g}{unit} is outside the valid range [{lo:g}, {hi:g}]")
        enum = point.enum if isinstance(point, ModbusPoint) else None
        if enum is not None and (value != int(value) or str(int(value)) not in enum):
            choices = ", ".join(f"{k} ({v})" for k, v in enum.items())
            raise InvalidValue(f"{who}: {value!r} is not one of {choices}")
        return point

    def to_json(self) -> dict:
        return {"description": self.description,
                "points": [_point_json(p) for p in self.points.values()]}


@dataclass(frozen=True)
class PointLists:
    modbus: Mapping[str, DeviceType]
    bacnet: Mapping[str, DeviceType]

    def device_type(self, protocol: str, name: str) -> DeviceType:
        table = {"modbus": self.modbus, "bacnet": self.bacnet}.get(protocol)
        if table is None:
            raise ValueError(f"unknown protocol {protocol!r} (modbus or bacnet)")
        try:
            return table[name]
        except KeyError:
            raise ValueError(f"no {protocol} point list for device type {name!r} "
                             f"(known: {', '.join(sorted(table))})") from None


def _decimals(scale: float) -> int:
    return max(0, -math.floor(math.log10(scale))) if scale < 1 else 0


def _point_json(point: Point) -> dict:
    data = {k: getattr(point, k) for k in point.__dataclass_fields__}
    data["valid"] = list(point.valid)
    if isinstance(point, ModbusPoint):
        data["enum"] = dict(point.enum) if point.enum else None
    return {k: v for k, v in data.items() if v is not None}


def _modbus_point(where: str, raw: dict) -> ModbusPoint:
    try:
        point = ModbusPoint(
            name=raw["name"], table=raw["table"], address=int(raw["address"]), type=raw["type"],
            scale=float(raw["scale"]), unit=raw.get("unit", ""),
            valid=(float(raw["valid"][0]), float(raw["valid"][1])), writable=bool(raw.get("writable", False)),
            description=raw.get("description", ""),
            enum=MappingProxyType(dict(raw["enum"])) if raw.get("enum") else None)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"{where}: malformed point {raw!r}: {exc}") from None
    if point.table not in TABLES:
        raise ValueError(f"{where}: table must be one of {TABLES}, not {point.table!r}")
    if point.type not in REGISTER_TYPES:
        raise ValueError(f"{where}: type must be one of {tuple(REGISTER_TYPES)}, not {point.type!r}")
    if point.writable and point.table != "holding":
        raise ValueError(f"{where}: a writable point must be a holding register")
    if not 0 <= point.address <= 0xFFFF - point.count + 1 or point.scale <= 0:
        raise ValueError(f"{where}: bad address or scale")
    _, lo, hi = REGISTER_TYPES[point.type]
    if not (lo * point.scale <= point.valid[0] <= point.valid[1] <= hi * point.scale + 1e-9):
        raise ValueError(f"{where}: valid range {point.valid} does not fit a {point.type} x {point.scale:g}")
    return point


def _bacnet_point(where: str, raw: dict) -> BacnetPoint:
    try:
        point = BacnetPoint(
            name=raw["name"], object=raw["object"], offset=int(raw["offset"]), unit=raw.get("unit", ""),
            valid=(float(raw["valid"][0]), float(raw["valid"][1])), writable=bool(raw.get("writable", False)),
            description=raw.get("description", ""))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"{where}: malformed point {raw!r}: {exc}") from None
    if point.object not in BACNET_OBJECTS:
        raise ValueError(f"{where}: object must be one of {BACNET_OBJECTS}, not {point.object!r}")
    if point.writable and point.object == "analog-input":
        raise ValueError(f"{where}: an analog-input is not writable")
    return point


def _device_types(protocol: str, data: dict) -> Mapping[str, DeviceType]:
    types: dict[str, DeviceType] = {}
    for type_name, spec in data.items():
        points: dict[str, Point] = {}
        used: dict[tuple[str, int], str] = {}
        for raw in spec["points"]:
            where = f"{protocol}.{type_name}.{raw.get('name', '?')}"
            point = _modbus_point(where, raw) if protocol == "modbus" else _bacnet_point(where, raw)
            if point.name in points:
                raise ValueError(f"{where}: duplicate point name")
            if isinstance(point, ModbusPoint):
                slots = [(point.table, point.address + i) for i in range(point.count)]
            else:
                slots = [(point.object, point.offset)]
            for slot in slots:
                if slot in used:
                    raise ValueError(f"{where}: {slot[0]} {slot[1]} already used by {used[slot]!r}")
                used[slot] = point.name
            points[point.name] = point
        types[type_name] = DeviceType(type_name, protocol, spec.get("description", ""), MappingProxyType(points))
    return MappingProxyType(types)


def load_point_lists(path: Path | str = POINT_LIST_FILE) -> PointLists:
    """Read and check a point-list file (default: the building's)."""
    data = json.loads(Path(path).read_text())
    if data.get("format") != "building-pointlist/1":
        raise ValueError(f"{path}: not a building-pointlist/1 file")
    return PointLists(modbus=_device_types("modbus", data.get("modbus", {})),
                      bacnet=_device_types("bacnet", data.get("bacnet", {})))
