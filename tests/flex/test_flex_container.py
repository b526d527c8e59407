"""flexContainer CREATE / RETRIEVE / UPDATE / DELETE as a client sees them: the class's root,
custom attributes checked against the class, st and cs, children, and every bad input with
its RSC and message."""
from __future__ import annotations

import pytest

from .conftest import AE, CHARGER, ENERGY, METER, SWITCH, create_energy, minimal

EC = f"{METER}/energyConsumption"


async def test_a_module_is_created_and_answers_under_its_class_root(flex):
    created = await create_energy(flex, volte=230.1)
    assert created.rsc == 2001, created.pc
    body = created.pc["cod:eneCn"]
    assert body["ty"] == 28 and body["cnd"] == ENERGY
    assert (body["abECn"], body["power"], body["volte"]) == (1234.5, 1530.0, 230.1)
    assert body["st"] == 0
    assert body["cs"] == len("1234.5") + len("1530.0") + len("230.1")
    assert "cni" not in body and "_root" not in body
    assert created.content_location == EC
    retrieved = await flex.retrieve(EC, fr=AE)
    assert retrieved.pc == created.pc


async def test_update_moves_st_recomputes_cs_and_null_deletes_an_optional_data_point(flex):
    await create_energy(flex, volte=230.1)
    updated = await flex.update(EC, {"cod:eneCn": {"power": 980.25, "volte": None, "meaSe": "house"}}, fr=AE)
    assert updated.rsc == 2004, updated.pc
    body = updated.pc["cod:eneCn"]
    assert body["st"] == 1 and body["power"] == 980.25 and "volte" not in body
    assert body["cs"] == len("1234.5") + len("980.25") + len("house")
    again = await flex.update(EC, {"cod:eneCn": {"lbl": ["meter"]}}, fr=AE)
    assert again.pc["cod:eneCn"]["st"] == 2
    assert (await flex.retrieve(EC, fr=AE)).pc["cod:eneCn"]["meaSe"] == "house"


async def test_a_device_with_its_modules_below_it(flex, models):
    charger = {"ved:dEVCr": {"rn": "charger", "cnd": CHARGER, "nl": "node-ev1", "nodLk": "node-ev1"}}
    assert (await flex.create(METER, 28, charger, fr=AE)).rsc == 2001
    for rn, class_name in models.classes["deviceElectricVehicleCharger"].modules:
        spec = models.by_root[models.classes[class_name].root]
        created = await flex.create(f"{METER}/charger", 28, minimal(spec, rn=rn), fr=AE)
        assert created.rsc == 2001, (rn, created.pc)
    tree = await flex.retrieve(f"{METER}/charger", fr=AE, rcn=4)
    children = tree.pc["ved:dEVCr"]
    assert [c["rn"] for c in children["cod:binSh"]] == ["binarySwitch"]
    assert children["cod:elVCr"][0]["sus"] is True
    switched = await flex.update(f"{METER}/charger/binarySwitch", {"cod:binSh": {"state": False}}, fr=AE)
    assert switched.pc["cod:binSh"]["state"] is False


async def test_composition_is_not_enforced(flex):
    """A heat pump as an air conditioner with an energyConsumption module (not in its list)."""
    heat_pump = {"hod:deACr": {"rn": "heatPump", "cnd": "org.onem2m.home.device.deviceAirConditioner"}}
    assert (await flex.create(METER, 28, heat_pump, fr=AE)).rsc == 2001
    assert (await create_energy(flex, parent=f"{METER}/heatPump")).rsc == 2001


async def test_every_shipped_specialization_can_be_created_with_its_mandatory_data_points(flex, models):
    for index, spec in enumerate(models.by_root.values()):
        created = await flex.create(METER, 28, minimal(spec, rn=f"c{index}"), fr=AE)
        assert created.rsc == 2001, (spec.root, created.pc)
        assert list(created.pc) == [spec.root]
        retrieved = await flex.retrieve(f"{METER}/c{index}", fr=AE)
        assert list(retrieved.pc) == [spec.root]


async def test_an_older_name_keeps_its_root_and_data_point_names(flex):
    old = {"hd:binSh": {"rn": "switch", "cnd": "org.onem2m.home.moduleclass.binarySwitch", "powSe": True}}
    created = await flex.create(METER, 28, old, fr=AE)
    assert created.rsc == 2001, created.pc
    assert created.pc["hd:binSh"]["powSe"] is True
    assert (await flex.update(f"{METER}/switch", {"hd:binSh": {"powSe": False}}, fr=AE)).rsc == 2004
    assert (await flex.retrieve(f"{METER}/switch", fr=AE)).pc == {"hd:binSh": {
        **created.pc["hd:binSh"], "powSe": False, "st": 1, "cs": len("false")}}
    # The current root with the older cnd is the same class.
    mixed = {"cod:binSh": {"rn": "switch2", "cnd": "org.onem2m.home.moduleclass.binarySwitch", "state": True}}
    assert (await flex.create(METER, 28, mixed, fr=AE)).rsc == 2001


async def test_partial_retrieve_names_custom_attributes(flex):
    await create_energy(flex)
    assert (await flex.retrieve(f"{EC}#power", fr=AE)).pc == {"cod:eneCn": {"power": 1530.0}}
    assert (await flex.retrieve(EC, fr=AE, atrl=["abECn", "cnd"])).pc == {
        "cod:eneCn": {"abECn": 1234.5, "cnd": ENERGY}}
    unknown = await flex.retrieve(f"{EC}#state", fr=AE)
    assert unknown.rsc == 4000 and "'state' is not defined for flexContainer" in unknown.pc["m2m:dbg"]


@pytest.mark.parametrize("ty,content,parent", [
    (3, {"m2m:cnt": {"rn": "history"}}, EC),
    (28, {"cod:togge": {"rn": "toggle", "cnd": "org.onem2m.common.action.toggle"}}, EC),
    (23, {"m2m:sub": {"rn": "watch", "nu": [AE]}}, EC),
    (28, None, f"{METER}/box"),            # a flexContainer under a container
])
async def test_children_the_ts_allows(flex, ty, content, parent):
    await create_energy(flex)
    assert (await flex.create(METER, 3, {"m2m:cnt": {"rn": "box"}}, fr=AE)).rsc == 2001
    if content is None:
        created = await create_energy(flex, parent=parent)
    else:
        created = await flex.create(parent, ty, content, fr=AE)
    assert created.rsc == 2001, created.pc


@pytest.mark.parametrize("ty,content,message", [
    (2, {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"]}}, "AE cannot be created under a flexContainer"),
    (4, {"m2m:cin": {"con": "1"}}, "a contentInstance cannot be created under a flexContainer"),
    (9, {"m2m:grp": {"mid": [METER], "mnm": 2}}, "a group cannot be created under a flexContainer"),
])
async def test_children_the_ts_does_not_allow_are_4108(flex, ty, content, message):
    await create_energy(flex)
    refused = await flex.create(EC, ty, content, fr=AE)
    assert refused.rsc == 4108 and message in refused.pc["m2m:dbg"]


async def test_delete_removes_the_module_and_what_is_below(flex):
    await create_energy(flex, mni=2)
    assert (await flex.create(EC, 23, {"m2m:sub": {"rn": "watch", "nu": [AE]}}, fr=AE)).rsc == 2001
    assert (await flex.delete(EC, fr=AE)).rsc == 2002
    assert (await flex.retrieve(EC, fr=AE)).rsc == 4004
    assert (await flex.retrieve(f"{EC}/watch", fr=AE)).rsc == 4004


# -- bad inputs ------------------------------------------------------------------------------
SPEC_NOT_FOUND, BAD = 4125, 4000


@pytest.mark.parametrize("content,rsc,message", [
    ({"cod:eneCN": {"cnd": ENERGY}}, SPEC_NOT_FOUND,
     "no flexContainer specialization has the root 'cod:eneCN' (did you mean 'cod:eneCn'?)"),
    ({"xyz:nothing": {"cnd": ENERGY}}, SPEC_NOT_FOUND, "no flexContainer specialization has the root 'xyz:nothing'"),
    ({"m2m:fcnt": {"cnd": ENERGY}}, BAD,
     "content root 'm2m:fcnt' does not match the resource type 28; expected '<specialization root, e.g. "
     "cod:eneCn>'"),
    ({"m2m:cnt": {"rn": "x"}}, BAD, "(that is a container)"),
    ({"cod:eneCn": {"cnd": "org.onem2m.common.moduleclass.energyconsumption", "abECn": 1.0}}, SPEC_NOT_FOUND,
     "attribute 'cnd': no specialization 'org.onem2m.common.moduleclass.energyconsumption' is known"),
    ({"cod:eneCn": {"cnd": SWITCH, "abECn": 1.0}}, BAD,
     f"attribute 'cnd': '{SWITCH}' is the class 'binarySwitch', but the content root 'cod:eneCn' is the class "
     "'energyConsumption'"),
    ({"cod:eneCn": {"abECn": 1.0}}, BAD, "mandatory attribute 'cnd' of flexContainer is missing"),
    ({"cod:eneCn": {"cnd": ENERGY}}, BAD,
     "cod:eneCn (energyConsumption): mandatory data point 'abECn' (absoluteEnergyConsumption) missing"),
    ({"cod:runSe": {"cnd": "org.onem2m.common.moduleclass.runState", "cuMSe": 1}}, BAD,
     "mandatory data points 'macSs' (machineStates), 'cuJSe' (currentJobState), 'jobSs' (jobStates), "
     "'proPe' (progressPercentage) missing"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": "1234"}}, BAD,
     "cod:eneCn (energyConsumption) attribute 'abECn' (absoluteEnergyConsumption): '1234' is not a float"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "roECn": 2.5}}, BAD,
     "attribute 'roECn' (roundingEnergyConsumption): 2.5 is not an integer"),
    ({"cod:binSh": {"cnd": SWITCH, "state": "on"}}, BAD, "attribute 'state' (state): 'on' is not true or false"),
    ({"cod:bat": {"cnd": "org.onem2m.common.moduleclass.battery", "lvl": 101}}, BAD,
     "cod:bat (battery) attribute 'lvl' (level): 101 is above the maximum 100"),
    ({"cod:color": {"cnd": "org.onem2m.common.moduleclass.colour", "red": -1, "green": 0, "blue": 0}}, BAD,
     "attribute 'red' (red): -1 is below the minimum 0"),
    ({"cod:clock": {"cnd": "org.onem2m.common.moduleclass.clock", "curTe": "25:00:00", "curDe": "2025-03-01"}},
     BAD, "attribute 'curTe' (currentTime): '25:00:00' is not a time of day"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "dgt": "yesterday"}}, BAD,
     "attribute 'dgt' (dataGenerationTime): 'yesterday' is not a oneM2M timestamp"),
    ({"cod:runSe": {"cnd": "org.onem2m.common.moduleclass.runState", "cuMSe": 1, "macSs": [1, "x"], "cuJSe": 1,
                    "jobSs": [1], "proPe": 5}}, BAD, "attribute 'macSs' (machineStates): element 1: 'x' is not"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "watts": 3}}, BAD,
     "attribute 'watts' is not defined for flexContainer cod:eneCn (energyConsumption); its data points are "
     "abECn, currt, dgt, freqy, meaSe, mulFs, power, roECn, sigDs, volte"),
    ({"cod:binSh": {"cnd": SWITCH, "powSe": True}}, BAD,
     "attribute 'powSe' is not defined for flexContainer cod:binSh (binarySwitch)"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": None}}, BAD, "attribute 'abECn' cannot be null in CREATE"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "cs": 3}}, BAD,
     "attribute 'cs' of flexContainer is set by the CSE"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "mni": 0}}, BAD, "attribute 'mni': 0 violates minimum 1"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "fcied": "yes"}}, BAD, "attribute 'fcied': 'yes' is not of type"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "mbs": 2}}, BAD,
     "the custom attributes take 3 bytes (cs), more than maxByteSize (mbs) 2"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "at": ["/id-in"]}}, 5001,
     "attribute 'at' of flexContainer is not supported"),
    ({"cod:eneCn": {"cnd": ENERGY, "abECn": 1.0, "rn": "la"}}, BAD, "'la' is reserved for a virtual resource"),
    ({"cod:eneCn": ["cnd"]}, BAD, "the value of 'cod:eneCn' must be an object of attributes"),
])
async def test_bad_creates_are_refused_with_what_was_wrong(flex, content, rsc, message):
    refused = await flex.create(METER, 28, content, fr=AE)
    assert refused.rsc == rsc, refused.pc
    assert message in refused.pc["m2m:dbg"]
    assert (await flex.retrieve(METER, fr=AE, rcn=6)).pc == {"m2m:rrl": {"rrf": []}}


@pytest.mark.parametrize("content,rsc,message", [
    ({"cod:eneCn": {"cnd": SWITCH}}, BAD, "attribute 'cnd' of flexContainer cannot be changed by UPDATE"),
    ({"cod:eneCn": {"cnd": ENERGY}}, BAD, "attribute 'cnd' of flexContainer cannot be changed by UPDATE"),
    ({"cod:binSh": {"state": True}}, BAD,
     "content root 'cod:binSh' does not match the resource type 28; expected 'cod:eneCn'"),
    ({"hd:eneCn": {"abECn": 2.0}}, BAD, "expected 'cod:eneCn'"),
    ({"cod:eneCn": {"abECn": None}}, BAD,
     "cod:eneCn (energyConsumption): mandatory data point 'abECn' (absoluteEnergyConsumption) cannot be deleted"),
    ({"cod:eneCn": {"power": "high"}}, BAD, "attribute 'power' (power): 'high' is not a float"),
    ({"cod:eneCn": {"power": True}}, BAD, "attribute 'power' (power): True is not a float"),
    ({"cod:eneCn": {"state": True}}, BAD, "attribute 'state' is not defined for flexContainer cod:eneCn"),
    ({"cod:eneCn": {"cs": 1}}, BAD, "attribute 'cs' of flexContainer cannot be changed by UPDATE"),
    ({"cod:eneCn": {"mbs": 5}}, BAD, "the custom attributes take 12 bytes (cs), more than maxByteSize (mbs) 5"),
    ({"cod:eneCn": {"fcied": None, "mni": 3}}, BAD,
     "fcied null removes the instance history with mni, mbs and mia; mni cannot be set in the same UPDATE"),
])
async def test_bad_updates_are_refused_and_change_nothing(flex, content, rsc, message):
    await create_energy(flex)
    before = (await flex.retrieve(EC, fr=AE)).pc
    refused = await flex.update(EC, content, fr=AE)
    assert refused.rsc == rsc, refused.pc
    assert message in refused.pc["m2m:dbg"]
    assert (await flex.retrieve(EC, fr=AE)).pc == before


async def test_a_resource_whose_class_file_went_away_answers_4125_on_update(flex):
    await create_energy(flex)
    flex_type = flex.cse.types.get(28)
    stored = flex.cse.storage.get((await flex.retrieve(EC, fr=AE)).pc["cod:eneCn"]["ri"])
    stored["_root"] = "cod:gone"
    with flex.cse.storage.transaction():
        flex.cse.storage.update(stored)
    refused = await flex.update(EC, {"cod:gone": {"power": 1.0}}, fr=AE)
    assert refused.rsc == 4125 and "'cod:gone' of 'cse-in/meter/energyConsumption' is no longer known" in \
        refused.pc["m2m:dbg"]
    assert (await flex.retrieve(EC, fr=AE)).pc["cod:gone"]["power"] == 1530.0
    assert not flex_type.defines("power", stored)
