"""The point lists: the shipped file is consistent and documented, conversions are exact,
and a malformed file is refused with a message naming the bad entry."""
from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

from examples.building.fieldbus.points import POINT_LIST_FILE, REGISTER_TYPES, load_point_lists
from examples.building.sim.layout import BACNET_TYPES, BuildingSpec, inventory

DOC = Path(__file__).resolve().parents[2] / "docs" / "building.md"


def test_every_device_of_the_building_has_a_point_list(point_lists):
    for device in inventory(BuildingSpec()):
        assert device.type in point_lists.modbus
    assert set(BACNET_TYPES) <= set(point_lists.bacnet)
    for device_type in point_lists.modbus.values():
        assert any(p.table == "input" for p in device_type.points.values())
        for point in device_type.points.values():
            if point.writable:
                assert point.table == "holding"


@pytest.mark.parametrize("type_, scale, value", [
    ("int16", 0.1, -3.2), ("int16", 0.1, 32.7), ("uint16", 0.01, 12.34), ("uint16", 1, 65535),
    ("int32", 0.001, -123456.789), ("uint32", 0.001, 845210.123), ("uint32", 1, 4294967295),
])
def test_encode_and_decode_round_trip(type_, scale, value):
    from examples.building.fieldbus.points import ModbusPoint
    point = ModbusPoint("x", "input", 0, type_, scale, "", (-1e12, 1e12), False)
    registers = point.encode(value)
    assert len(registers) == REGISTER_TYPES[type_][0]
    assert all(0 <= r <= 0xFFFF for r in registers)
    assert point.decode(registers) == pytest.approx(value, abs=scale / 2)


def test_32_bit_values_are_high_word_first_and_encoding_saturates(point_lists):
    energy = point_lists.modbus["meter"].points["energy"]
    assert energy.encode(65.536) == [1, 0]  # 65536 Wh
    temperature = point_lists.modbus["sensor"].points["temperature"]
    assert temperature.encode(5000.0) == [0x7FFF]
    assert temperature.encode(-5000.0) == [0x8000]
    assert temperature.decode([0xFFFF]) == -0.1


def shipped() -> dict:
    return json.loads(POINT_LIST_FILE.read_text())


def broken(edit) -> dict:
    data = copy.deepcopy(shipped())
    edit(data)
    return data


def chiller_point(data: dict, name: str) -> dict:
    return next(p for p in data["modbus"]["chiller"]["points"] if p["name"] == name)


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.update(format="x"), "not a building-pointlist/1"),
    (lambda d: chiller_point(d, "cop").update(table="coils"), "table must be one of"),
    (lambda d: chiller_point(d, "cop").update(type="float"), "type must be one of"),
    (lambda d: chiller_point(d, "cop").update(writable=True), "writable point must be a holding register"),
    (lambda d: chiller_point(d, "cop").update(address=3), "input 3 already used by 'cooling_load'"),
    (lambda d: chiller_point(d, "cop").update(name="status"), "duplicate point name"),
    (lambda d: chiller_point(d, "cop").update(valid=[0, 1000]), "does not fit a uint16 x 0.01"),
    (lambda d: chiller_point(d, "chw_setpoint").update(valid=[-5000, 12]), "does not fit a int16"),
    (lambda d: chiller_point(d, "cop").update(scale=0), "bad address or scale"),
    (lambda d: chiller_point(d, "cop").pop("address"), "malformed point"),
    (lambda d: d["bacnet"]["sensor"]["points"][0].update(writable=True), "analog-input is not writable"),
    (lambda d: d["bacnet"]["sensor"]["points"][0].update(object="multi-state-value"), "object must be one of"),
    (lambda d: d["bacnet"]["sensor"]["points"][1].update(offset=1), "analog-input 1 already used"),
])
def test_a_malformed_point_list_is_refused_with_the_entry_named(tmp_path, edit, message):
    path = tmp_path / "points.json"
    path.write_text(json.dumps(broken(edit)))
    with pytest.raises(ValueError, match=re.escape(message)):
        load_point_lists(path)


def test_unknown_protocols_and_device_types_are_named(point_lists):
    with pytest.raises(ValueError, match="unknown protocol 'knx'"):
        point_lists.device_type("knx", "chiller")
    with pytest.raises(ValueError, match="no modbus point list for device type 'boiler'"):
        point_lists.device_type("modbus", "boiler")
    assert point_lists.device_type("bacnet", "ahu").protocol == "bacnet"


def test_a_point_list_exports_as_json_for_the_proxy(point_lists):
    exported = point_lists.modbus["chiller"].to_json()
    assert [p["name"] for p in exported["points"]] == [p["name"] for p in shipped()["modbus"]["chiller"]["points"]]
    assert exported["points"][0]["enum"] == {"0": "off", "1": "on", "2": "auto"}
    json.dumps(exported)


def test_the_documented_register_maps_are_the_point_lists(point_lists):
    doc = DOC.read_text()
    for type_name, device_type in point_lists.modbus.items():
        section = doc.split(f"#### Modbus `{type_name}`", 1)[1].split("####", 1)[0]
        rows = [line for line in section.splitlines() if line.startswith("| holding") or line.startswith("| input")]
        assert len(rows) == len(device_type.points), type_name
        for row, point in zip(rows, device_type.points.values()):
            cells = [c.strip() for c in row.strip("|").split("|")]
            address = f"{point.address}-{point.address + 1}" if point.count == 2 else str(point.address)
            lo, hi = point.valid
            assert cells[:8] == [point.table, address, f"`{point.name}`", point.type, f"{point.scale:g}",
                                 point.unit or "-", f"{lo:g} .. {hi:g}", "rw" if point.writable else "r"], row
    for type_name, device_type in point_lists.bacnet.items():
        section = doc.split(f"#### BACnet `{type_name}`", 1)[1].split("##", 1)[0]
        rows = [line for line in section.splitlines() if line.startswith("| analog") or line.startswith("| binary")]
        assert [r.split("|")[3].strip() for r in rows] == [f"`{p.name}`" for p in device_type.points.values()]
