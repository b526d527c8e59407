"""Finding flexContainers by their specialization (cnd), alone and with ty, lbl and custom
attribute filters; groups of one specialization (mt 28, spty); ACP rules for one
specialization (acod spty)."""
from __future__ import annotations

import pytest

from .conftest import AE, CHARGER, ENERGY, METER, SWITCH, create_energy

OLD_SWITCH = "org.onem2m.home.moduleclass.binarySwitch"


async def switch(flex, rn: str, state: bool, parent: str = METER, old: bool = False, **extra):
    if old:
        content = {"hd:binSh": {"rn": rn, "cnd": OLD_SWITCH, "powSe": state, **extra}}
    else:
        content = {"cod:binSh": {"rn": rn, "cnd": SWITCH, "state": state, **extra}}
    created = await flex.create(parent, 28, content, fr=AE)
    assert created.rsc == 2001, created.pc
    return created


@pytest.fixture
async def home(flex):
    """A charger with a switch (off), a heater switch (on, labelled), an old-style switch and
    the meter's energyConsumption."""
    assert (await flex.create(METER, 28, {"ved:dEVCr": {"rn": "charger", "cnd": CHARGER}}, fr=AE)).rsc == 2001
    await switch(flex, "binarySwitch", False, parent=f"{METER}/charger")
    await switch(flex, "heater", True, lbl=["room:kitchen"])
    await switch(flex, "legacy", True, old=True)
    assert (await create_energy(flex, lbl=["room:kitchen"])).rsc == 2001
    return flex


async def found(flex, **fc) -> list[str]:
    response = await flex.retrieve(METER, fr=AE, fc={"fu": 1, **fc})
    assert response.rsc == 2000, response.pc
    return sorted(response.pc["m2m:uril"])


@pytest.mark.parametrize("fc,expected", [
    ({"cnd": SWITCH}, ["charger/binarySwitch", "heater"]),
    ({"cnd": [SWITCH, OLD_SWITCH]}, ["charger/binarySwitch", "heater", "legacy"]),
    ({"cnd": "org.onem2m.*.moduleclass.binarySwitch"}, ["charger/binarySwitch", "heater", "legacy"]),
    ({"cnd": SWITCH, "ty": [28]}, ["charger/binarySwitch", "heater"]),
    ({"cnd": SWITCH, "lbl": ["room:kitchen"]}, ["heater"]),
    ({"cnd": SWITCH, "lbl": ["room:kitchen"], "fo": 2}, ["charger/binarySwitch", "energyConsumption", "heater"]),
    ({"cnd": SWITCH, "atr": [{"nm": "state", "val": False}]}, ["charger/binarySwitch"]),
    ({"atr": [{"nm": "state", "val": "true"}]}, ["heater"]),
    ({"atr": [{"nm": "abECn", "val": 1234.5}]}, ["energyConsumption"]),
    ({"cnd": CHARGER}, ["charger"]),
    ({"cnd": ENERGY, "ty": [3]}, []),
])
async def test_discovery_by_cnd_and_custom_attributes(home, fc, expected):
    assert await found(home, **fc) == [f"{METER}/{path}" for path in expected]


@pytest.mark.parametrize("value", [3, "", [], [SWITCH, 4]])
async def test_a_bad_cnd_filter_is_refused(flex, value):
    refused = await flex.retrieve(METER, fr=AE, fc={"fu": 1, "cnd": value})
    assert refused.rsc == 4000
    assert "filter criteria 'cnd' must be a non-empty string or list of strings" in refused.pc["m2m:dbg"]


async def test_a_subscription_may_watch_a_custom_attribute_and_child_lists_include_modules(home):
    watched = await home.create(f"{METER}/heater", 23, {"m2m:sub": {"nu": [AE], "enc": {"atr": ["state"]}}},
                                fr=AE)
    assert watched.rsc == 2001, watched.pc
    wrong = await home.create(f"{METER}/heater", 23, {"m2m:sub": {"nu": [AE], "enc": {"atr": ["abECn"]}}}, fr=AE)
    assert wrong.rsc == 4000 and "atr 'abECn' is not an attribute of flexContainer" in wrong.pc["m2m:dbg"]
    references = await home.retrieve(f"{METER}/charger", fr=AE, rcn=5)
    assert references.pc["ved:dEVCr"]["ch"] == [{"nm": "binarySwitch", "typ": 28,
                                                 "val": f"{METER}/charger/binarySwitch"}]
    listing = await home.retrieve(METER, fr=AE, rcn=6, fc={"ty": [28]})
    assert len(listing.pc["m2m:rrl"]["rrf"]) == 5
    whole = await home.retrieve(METER, fr=AE, rcn=4, fc={"ty": [28]})
    assert {root: len(items) for root, items in whole.pc["m2m:ae"].items() if ":" in root} == {
        "ved:dEVCr": 1, "cod:binSh": 1, "hd:binSh": 1, "cod:eneCn": 1}
    assert whole.pc["m2m:ae"]["ved:dEVCr"][0]["cod:binSh"][0]["state"] is False


# -- groups ----------------------------------------------------------------------------------
async def test_a_group_of_one_specialization_switches_all_with_one_request(home):
    members = [f"{METER}/charger/binarySwitch", f"{METER}/heater", f"{METER}/legacy", f"{METER}/energyConsumption"]
    group = await home.create(METER, 9, {"m2m:grp": {"rn": "switches", "mt": 28, "spty": SWITCH, "mid": members,
                                                     "mnm": 10}}, fr=AE)
    assert group.rsc == 2001, group.pc
    assert group.pc["m2m:grp"]["mid"] == members[:2]          # another cnd: dropped (csy 1)
    fanned = await home.update(f"{METER}/switches/fopt", {"cod:binSh": {"state": False}}, fr=AE)
    assert fanned.rsc == 2000
    answers = fanned.pc["m2m:agr"]["m2m:rsp"]
    assert [a["rsc"] for a in answers] == [2004, 2004]
    assert (await home.retrieve(f"{METER}/heater", fr=AE)).pc["cod:binSh"]["state"] is False


@pytest.mark.parametrize("group,rsc,message", [
    ({"mt": 28, "spty": SWITCH, "csy": 2, "mid": [f"{METER}/energyConsumption"]}, 4110,
     f"has specialization '{ENERGY}', the group's specializationType (spty) is '{SWITCH}'"),
    ({"mt": 3, "spty": SWITCH, "mid": [f"{METER}/heater"]}, 4000,
     "group attribute 'spty' applies to a group of flexContainers (mt 28) or mgmtObjs (mt 13), not to mt 3"),
    ({"mt": 28, "spty": 7, "mid": [f"{METER}/heater"]}, 4000,
     "group attribute 'spty': 7 is not a containerDefinition (cnd) string"),
])
async def test_bad_specialization_groups(home, group, rsc, message):
    refused = await home.create(METER, 9, {"m2m:grp": {"mnm": 5, **group}}, fr=AE)
    assert refused.rsc == rsc, refused.pc
    assert message in refused.pc["m2m:dbg"]


async def test_a_mixed_consistency_strategy_keeps_other_specializations(home):
    group = await home.create(METER, 9, {"m2m:grp": {"mt": 28, "spty": SWITCH, "csy": 3, "mnm": 5,
                                                     "mid": [f"{METER}/heater", f"{METER}/energyConsumption"]}},
                              fr=AE)
    assert group.rsc == 2001 and group.pc["m2m:grp"]["mt"] == 0 and len(group.pc["m2m:grp"]["mid"]) == 2


# -- access control by specialization --------------------------------------------------------
async def test_an_acp_rule_for_one_specialization(flex):
    rules = {"pv": {"acr": [{"acor": [AE], "acop": 63},
                            {"acor": ["CApp"], "acop": 2},
                            {"acor": ["CApp"], "acop": 4, "acod": [{"ty": 28, "spty": SWITCH}]}]},
             "pvs": {"acr": [{"acor": [AE], "acop": 63}]}}
    acp = await flex.create(METER, 1, {"m2m:acp": {"rn": "switching", **rules}}, fr=AE)
    assert acp.rsc == 2001, acp.pc
    acpi = [acp.pc["m2m:acp"]["ri"]]
    await switch(flex, "heater", True, acpi=acpi)
    assert (await create_energy(flex, acpi=acpi)).rsc == 2001
    assert (await flex.update(f"{METER}/heater", {"cod:binSh": {"state": False}}, fr="CApp")).rsc == 2004
    denied = await flex.update(f"{METER}/energyConsumption", {"cod:eneCn": {"power": 1.0}}, fr="CApp")
    assert denied.rsc == 4103
    assert (await flex.retrieve(f"{METER}/energyConsumption", fr="CApp")).rsc == 2000
