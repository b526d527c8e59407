"""The class files: every shipped one loads and is complete, a broken one stops the start
with a message naming the file, and each SDT type accepts its values and refuses others."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from server.compose import build_cse
from resources.device_models import MODELS_DIR, DeviceModelError, load_device_models
from cse.resource_types import Ty
from cse.type_registry import TypeRegistry
from resources.flex_container import FlexContainer, flex_types
from resources.sdt import TYPE_NAMES, ValueType, value_type
from tests.conftest import make_config

from .conftest import sample

# What the reference digest (section 2) lists, by class name -> current root.
DEVICES = {
    "deviceSmartElectricMeter": "cid:dSEMr", "deviceElectricVehicleCharger": "ved:dEVCr",
    "deviceStorageBattery": "hod:deSBy", "deviceMicrogeneration": "hod:devMn", "deviceWaterHeater": "hod:deWHr",
    "deviceAirConditioner": "hod:deACr", "deviceAirHeater": "hod:deAHr", "deviceThermostat": "cod:devTt",
    "deviceSmartPlug": "cod:deSPg", "deviceLight": "cod:devLt", "deviceThermometer": "cod:devTr",
    "deviceAirQualityMonitor": "cod:dAQMr", "deviceGenericSensor": "cod:deGSr",
    "deviceClothesWasher": "hod:deCWr", "deviceRefrigerator": "hod:devRr", "deviceDishWasher": "hod:deDWr",
    "deviceWindowShade": "hod:deWSe",
}
MODULES = {
    "energyConsumption": "eneCn", "energyGeneration": "eneGn", "battery": "bat", "binarySwitch": "binSh",
    "runState": "runSe", "powerSave": "powS0", "temperature": "tempe", "electricVehicleConnector": "elVCr",
    "faultDetection": "fauDn", "clock": "clock", "boiler": "boilr", "hotWaterSupply": "hoWSy",
    "operationMode": "opeMe", "timer": "timer", "remoteControlEnable": "reCEe", "overcurrentSensor": "oveSr",
    "numberValue": "numVe", "airConJobMode": "aCJMe", "airFlow": "airFw", "relativeHumidity": "relHy",
    "airQualitySensor": "aiQSr", "motionSensor": "motSr", "temperatureAlarm": "temAm", "brightness": "brigs",
    "colour": "color", "colourSaturation": "colSn", "turbo": "turbo", "filterInfo": "filIo", "openLevel": "opeLl",
    "connectivity": "conny", "periodicalReportConfig": "peRCg",
    # named by deviceGenericSensor only; short names by the SDT rule
    "acousticSensor": "acoSr", "impactSensor": "impSr", "smokeSensor": "smoSr", "uvSensor": "uvSr",
    "waterSensor": "watSr",
}
ACTIONS = {"toggle": "togge", "open": "open", "close": "close", "activateClockTimer": "acCTr",
           "deactivateClockTimer": "deCTr"}
# Mandatory data points (cardinality 1) of the digest's module table.
MANDATORY = {
    "energyConsumption": ["abECn"], "energyGeneration": ["genSe"], "battery": ["lvl"], "binarySwitch": ["state"],
    "runState": ["cuMSe", "macSs", "cuJSe", "jobSs", "proPe"], "powerSave": ["poSEd"], "temperature": ["curT0"],
    "electricVehicleConnector": ["sus"], "faultDetection": ["sus"], "clock": ["curTe", "curDe"],
    "overcurrentSensor": ["oveSs", "detTe", "dur"], "colour": ["red", "green", "blue"],
    "airConJobMode": ["cuJMe", "jobMs"], "hotWaterSupply": [], "timer": [], "airQualitySensor": [],
}


def test_every_class_of_the_digest_is_shipped_under_its_root_and_cnd(models):
    for name, root in DEVICES.items():
        cls = models.classes[name]
        domain = {"cod": "common", "hod": "home", "cid": "city", "ved": "vehicular"}[root.split(":")[0]]
        assert (cls.kind, cls.root, cls.cnd) == ("device", root, f"org.onem2m.{domain}.device.{name}")
    for name, short in MODULES.items():
        cls = models.classes[name]
        assert (cls.kind, cls.root, cls.cnd) == ("moduleClass", f"cod:{short}",
                                                 f"org.onem2m.common.moduleclass.{name}")
    for name, short in ACTIONS.items():
        assert models.classes[name].root == f"cod:{short}"
        assert models.classes[name].cnd == f"org.onem2m.common.action.{name}"
    assert models.classes["subDevicePowerOutlet"].cnd == "org.onem2m.common.subdevice.subDevicePowerOutlet"
    assert len(models) == len(DEVICES) + len(MODULES) + len(ACTIONS) + 1
    assert len(list(MODELS_DIR.glob("*.json"))) == len(models)


@pytest.mark.parametrize("name,mandatory", sorted(MANDATORY.items()))
def test_cardinality_one_data_points_are_mandatory(models, name, mandatory):
    spec = models.by_root[models.classes[name].root]
    assert sorted(spec.mandatory) == sorted(mandatory)


def test_every_class_has_dgt_and_every_device_its_node_links(models):
    for cls in models.classes.values():
        assert cls.data_points["dgt"].type.name == "timestamp"
        assert ("nodLk" in cls.data_points) == ("flNLk" in cls.data_points) == (cls.kind == "device")


def test_devices_list_their_modules_and_modules_their_actions(models):
    charger = models.classes["deviceElectricVehicleCharger"]
    assert [cls for _, cls in charger.modules] == ["faultDetection", "binarySwitch", "runState", "battery",
                                                   "electricVehicleConnector"]
    meter = models.classes["deviceSmartElectricMeter"]
    assert {"energyConsumption", "energyGeneration", "binarySwitch"} <= {cls for _, cls in meter.modules}
    conditioner = dict(models.classes["deviceAirConditioner"].modules)
    assert conditioner["operationMode1"] == conditioner["operationMode2"] == "operationMode"
    assert models.classes["binarySwitch"].actions == ("toggle",)
    assert models.classes["deviceSmartPlug"].modules[-1] == ("subDevicePowerOutlet", "subDevicePowerOutlet")


def test_older_names_are_aliases_of_the_same_class(models):
    old_switch = models.by_root["hd:binSh"]
    assert old_switch.cls is models.classes["binarySwitch"]
    assert old_switch.cnd == "org.onem2m.home.moduleclass.binarySwitch"
    assert "powSe" in old_switch.points and "state" not in old_switch.points
    assert old_switch.mandatory == ("powSe",)
    assert "p25" in models.by_root["hd:aiQSr"].points and "pm25" in models.by_root["cod:aiQSr"].points
    assert models.by_cnd["org.onem2m.home.moduleclass.energyConsumption"] is models.classes["energyConsumption"]
    assert models.by_root["hd:deSBy"].cnd == models.by_root["hod:deSBy"].cnd
    assert models.by_root["hd:dEVCr"].cnd == "org.onem2m.home.device.deviceElectricVehicleCharger"
    assert "hd:deAHr" not in models.by_root          # new in R5: no older name


def test_every_class_file_loads_and_every_data_point_has_a_checked_type(models):
    for spec in models.by_root.values():
        for name, point in spec.points.items():
            assert point.type.name in TYPE_NAMES, (spec.root, name)
            assert point.type.problem(sample(point.type)) is None, (spec.root, name)
            assert point.type.problem(object()) is not None, (spec.root, name)


# -- broken class files --------------------------------------------------------------------
GOOD = {"kind": "moduleClass", "name": "fooMeter", "shortName": "fooMr", "root": "cod:fooMr",
        "cnd": "org.onem2m.common.moduleclass.fooMeter", "dataPoints": {"wat": {"name": "watts", "type": "float"}}}


def write(directory: Path, document, name: str = "fooMeter") -> None:
    text = document if isinstance(document, str) else json.dumps(document)
    (directory / f"{name}.json").write_text(text, encoding="utf-8")


@pytest.mark.parametrize("change,message", [
    ("not json", "fooMeter.json: cannot be read as JSON"),
    ('{"kind": "moduleClass", "kind": "device"}', "the key 'kind' appears twice"),
    ({"kind": "gadget"}, "fooMeter.json: kind: 'gadget' is not one of"),
    ({"extra": 1}, "fooMeter.json: (top level): Additional properties are not allowed ('extra'"),
    ({"name": "barMeter", "cnd": "org.onem2m.common.moduleclass.barMeter"}, "must be named barMeter.json"),
    ({"root": "xx:fooMr"}, "root 'xx:fooMr' has an unknown prefix"),
    ({"root": "cod:other"}, "root 'cod:other' must be cod:fooMr"),
    ({"cnd": "org.onem2m.home.moduleclass.fooMeter"}, "cnd 'org.onem2m.home.moduleclass.fooMeter' does not fit"),
    ({"cnd": "org.onem2m.common.device.fooMeter"}, "expected 'org.onem2m.common.moduleclass.fooMeter'"),
    ({"dataPoints": {"wat": {"name": "watts", "type": "watts"}}}, "dataPoints/wat/type: 'watts' is not one of"),
    ({"dataPoints": {"wat": {"name": "watts", "type": "list"}}}, "data point 'wat': a list needs an element type"),
    ({"dataPoints": {"wat": {"name": "watts", "type": "list", "of": "kilo"}}}, "unknown SDT type 'kilo'"),
    ({"dataPoints": {"wat": {"name": "watts", "type": "string", "minimum": 1}}},
     "minimum/maximum apply to numeric types"),
    ({"dataPoints": {"wat": {"name": "watts", "type": "float", "minimum": 5, "maximum": 1}}},
     "minimum 5 is above maximum 1"),
    ({"dataPoints": {"wat": {"name": "watts", "type": "enum"}}}, "an enum needs its codes"),
    ({"dataPoints": {"cnd": {"name": "watts", "type": "float"}}},
     "data point 'cnd' is named like an attribute of every flexContainer"),
    ({"dataPoints": {"lbl": {"name": "labels", "type": "string"}}}, "data point 'lbl' is named like an attribute"),
    ({"dataPoints": {"wat": {"name": "watts", "type": "float", "cardinality": "2"}}},
     "dataPoints/wat/cardinality: '2' is not one of"),
    ({"modules": [{"rn": "x", "class": "binarySwitch"}]}, "only a device or sub-device lists modules"),
    ({"actions": ["nothing"]}, "action 'nothing' is not an action class"),
    ({"actions": ["binarySwitch"]}, "action 'binarySwitch' is not an action class"),
    ({"aliases": [{"root": "hd:fooMr", "cnd": "org.onem2m.home.moduleclass.fooMeter",
                   "renamed": {"nope": "old"}}]}, "renames 'nope', which is not a data point"),
    ({"aliases": [{"root": "hd:fooMr", "cnd": "org.onem2m.common.moduleclass.fooMeter"}]},
     "expected 'org.onem2m.home.moduleclass.fooMeter'"),
    ({"root": "cod:binSh", "shortName": "binSh"}, "'cod:binSh' is already used by class 'binarySwitch'"),
])
def test_a_broken_class_file_stops_the_start_naming_the_file(tmp_path, change, message):
    for shipped in ("binarySwitch", "toggle"):
        write(tmp_path, json.loads((MODELS_DIR / f"{shipped}.json").read_text()), shipped)
    if isinstance(change, str):
        write(tmp_path, change)
    else:
        write(tmp_path, {**GOOD, **change})
    with pytest.raises(DeviceModelError) as raised:
        FlexContainer(tmp_path)
    assert message in str(raised.value)


def test_a_device_naming_a_module_that_is_no_class_is_refused(tmp_path):
    write(tmp_path, {"kind": "device", "name": "deviceFoo", "shortName": "devFo", "root": "cod:devFo",
                     "cnd": "org.onem2m.common.device.deviceFoo", "modules": [{"rn": "m", "class": "fooMeter"}]},
          "deviceFoo")
    with pytest.raises(DeviceModelError, match="deviceFoo.json: module 'm': 'fooMeter' is not a module class"):
        load_device_models(tmp_path)


def test_a_new_class_is_a_data_file(tmp_path):
    write(tmp_path, GOOD)
    models = load_device_models(tmp_path)
    assert models.by_root["cod:fooMr"].points["wat"].type.name == "float"


def test_an_empty_model_directory_is_refused(tmp_path):
    with pytest.raises(DeviceModelError, match="no class files"):
        load_device_models(tmp_path)


def test_the_cse_loads_the_class_files_when_it_is_built_and_stops_on_a_broken_one(tmp_path):
    cse = build_cse(make_config())
    assert len(cse.types.get(Ty.FCNT).models) == len(list(MODELS_DIR.glob("*.json")))
    write(tmp_path, {**GOOD, "root": "zz:fooMr"})
    with pytest.raises(DeviceModelError, match="fooMeter.json: root 'zz:fooMr' has an unknown prefix"):
        build_cse(make_config(), types=TypeRegistry(flex_types(tmp_path)))


# -- SDT value types: good and bad values ----------------------------------------------------
TYPES = [
    ({"type": "boolean"}, [True, False], [1, 0, "true", None, [True]]),
    ({"type": "integer"}, [0, -7, 2 ** 40], [1.5, True, "3", None]),
    ({"type": "nonNegInteger"}, [0, 5], [-1, 2.5, False, "1"]),
    ({"type": "positiveInteger"}, [1, 99], [0, -3, 1.0001]),
    ({"type": "byte"}, [0, 255], [256, -1, 3.5]),
    ({"type": "float"}, [0, 1.5, -273.15, 10 ** 20], [True, "1.5", math.nan, math.inf, None]),
    ({"type": "string"}, ["", "pv"], [1, None, ["a"], {"a": 1}]),
    ({"type": "uri"}, ["http://x", "org.onem2m.home"], ["", 3]),
    ({"type": "enum", "values": {"1": "idle", "2": "run"}}, [1, 2], [0, 3, "1", True]),
    ({"type": "timestamp"}, ["20250301T101500", "20250301T101500,123456"],
     ["2025-03-01T10:15:00", "20251301T101500", "20250230T101500", "20250301T251500", 20250301]),
    ({"type": "datetime"}, ["20250301T101500"], ["yesterday"]),
    ({"type": "date"}, ["2025-03-01", "2024-02-29"], ["2025-02-29", "20250301", "2025-3-1", 2025]),
    ({"type": "time"}, ["10:15:00", "23:59:59.5", "08:00:00Z", "08:00:00+02:00"],
     ["24:00:00", "10:15", "10:61:00", "101500", 36000]),
    ({"type": "blob"}, ["AAEC", ""], ["not base64!", 12]),
    ({"type": "list", "of": "nonNegInteger"}, [[], [1, 2]], [[1, -2], [1.5], "1,2", {"a": 1}]),
    ({"type": "list", "of": {"type": "float", "maximum": 1}}, [[0.5, 1]], [[2.0]]),
    ({"type": "integer", "minimum": 0, "maximum": 100}, [0, 100], [-1, 101]),
    ({"type": "float", "minimum": -10.5}, [-10.5, 3], [-10.6]),
    ({"type": "string", "maxLength": 3}, ["abc"], ["abcd"]),
    ({"type": "list", "of": "boolean", "minItems": 1, "maxItems": 2}, [[True], [True, False]], [[], [1 == 1] * 3]),
]


@pytest.mark.parametrize("spec,good,bad", TYPES, ids=[f"{t[0]['type']}-{i}" for i, t in enumerate(TYPES)])
def test_each_sdt_type_accepts_its_values_and_refuses_others(spec, good, bad):
    checked = value_type(spec)
    for value in good:
        assert checked.problem(value) is None, value
    for value in bad:
        problem = checked.problem(value)
        assert problem is not None, value
        assert repr(value)[:20] in problem or "element" in problem or "list has" in problem


def test_every_sdt_type_is_in_the_table():
    assert {spec["type"] for spec, _, _ in TYPES} == set(TYPE_NAMES)


def test_a_range_violation_says_which_bound():
    level = ValueType("integer", minimum=0, maximum=100)
    assert level.problem(101) == "101 is above the maximum 100"
    assert level.problem(-1) == "-1 is below the minimum 0"
    assert ValueType("list", element=ValueType("byte")).problem([1, 300]) == "element 1: 300 is above the maximum 255"
