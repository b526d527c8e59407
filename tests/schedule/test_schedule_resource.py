"""<schedule> (ty 18) as an application sees it: an EV charger's allowed charging window
stored under its AE, found by type and label, shown in child lists, subscribed to; every
kind of bad content refused with 4000 (or 4102/4108/5001) and nothing stored."""
from __future__ import annotations

import pytest

from cse.resource_types import Ty

from .test_schedule_entries import BAD_ENTRIES

CHARGER = "Cevcharger"
WINDOW = {"rn": "chargingWindow", "lbl": ["window:charging", "device:evCharger"],
          "se": {"sce": ["* * 0-5 * * * *", "* * 22-23 * * * *"]}}


async def charger(core) -> str:
    assert (await core.register_ae(CHARGER, rn="evCharger")).rsc == 2001
    return "cse-in/evCharger"


async def make_schedule(core, parent: str, fr: str = CHARGER, **attributes):
    return await core.create(parent, Ty.SCH, {"m2m:sch": attributes}, fr=fr)


async def test_an_ev_chargers_charging_window_is_stored_and_read_back(core):
    ae = await charger(core)
    created = await make_schedule(core, ae, **WINDOW)
    assert created.rsc == 2001, created.pc
    body = created.pc["m2m:sch"]
    assert body["ty"] == 18 and body["rn"] == "chargingWindow" and body["se"] == WINDOW["se"]
    assert body["ri"].startswith("sch") and body["pi"] == (await core.retrieve(ae, fr=CHARGER)).pc["m2m:ae"]["ri"]
    assert "nco" not in body and not any(k.startswith("_") for k in body)
    read = await core.retrieve(f"{ae}/chargingWindow", fr=CHARGER)
    assert read.rsc == 2000 and read.pc == created.pc


async def test_the_window_is_updated_and_deleted(core):
    ae = await charger(core)
    await make_schedule(core, ae, **WINDOW)
    updated = await core.update(f"{ae}/chargingWindow", {"m2m:sch": {"se": {"sce": ["* * 1-4 * * 1-5 *"]},
                                                                    "lbl": ["window:charging"]}}, fr=CHARGER)
    assert updated.rsc == 2004, updated.pc
    assert updated.pc["m2m:sch"]["se"] == {"sce": ["* * 1-4 * * 1-5 *"]}
    assert updated.pc["m2m:sch"]["lbl"] == ["window:charging"]
    assert (await core.delete(f"{ae}/chargingWindow", fr=CHARGER)).rsc == 2002
    assert (await core.retrieve(f"{ae}/chargingWindow", fr=CHARGER)).rsc == 4004


async def test_a_default_name_is_given_under_an_ae(core):
    ae = await charger(core)
    created = await make_schedule(core, ae, se={"sce": ["* * * * * * *"]})
    assert created.rsc == 2001 and created.pc["m2m:sch"]["rn"].startswith("sch_")


async def test_a_cse_base_may_have_a_schedule(core):
    created = await make_schedule(core, "cse-in", fr="CAdmin", rn="availability", se={"sce": ["* * * * * 1-5 *"]})
    assert created.rsc == 2001, created.pc


async def node(core) -> str:
    """A device's node (under the CSEBase, made by the admin, as the TS places it)."""
    made = await core.create("cse-in", Ty.NOD, {"m2m:nod": {"rn": "evNode", "ni": "urn:dev:ev-charger-1"}})
    assert made.rsc == 2001, made.pc
    return "cse-in/evNode"


async def test_node_and_flex_container_are_parents_when_this_cse_has_those_types(core):
    """Under a node or a flexContainer (the TS-0023 EV charger, ved:dEVCr) the same; these types come with their
    own branches, so each part runs when the registry has the type."""
    assert {Ty.NOD, Ty.FCNT} <= core.cse.tree.types.get(Ty.SCH).parent_types
    have = [ty for ty in (Ty.NOD, Ty.FCNT) if core.cse.tree.types.get(ty) is not None]
    if not have:
        pytest.skip("neither node nor flexContainer is in this CSE's registry yet")
    if Ty.NOD in have:
        created = await make_schedule(core, await node(core), fr="CAdmin", **WINDOW)
        assert created.rsc == 2001, created.pc
    if Ty.FCNT in have:
        ae = await charger(core)
        device = {"ved:dEVCr": {"rn": "dev", "cnd": "org.onem2m.vehicular.device.deviceElectricVehicleCharger"}}
        made = await core.create(ae, Ty.FCNT, device, fr=CHARGER)
        assert made.rsc == 2001, made.pc
        created = await make_schedule(core, f"{ae}/dev", **WINDOW)
        assert created.rsc == 2001, created.pc
        found = await core.retrieve(ae, fr=CHARGER, fc={"fu": 1, "ty": [18]})
        assert found.pc["m2m:uril"] == [f"{ae}/dev/chargingWindow"]


async def test_nco_false_is_kept_under_a_node_and_true_is_not_supported(core):
    if core.cse.tree.types.get(Ty.NOD) is None:
        pytest.skip("resource type NOD is not in this CSE's registry yet")
    device = await node(core)
    kept = await make_schedule(core, device, fr="CAdmin", rn="comms", se={"sce": ["* * * * * * *"]}, nco=False)
    assert kept.rsc == 2001 and kept.pc["m2m:sch"]["nco"] is False
    refused = await make_schedule(core, device, fr="CAdmin", rn="coord", se={"sce": ["* * * * * * *"]}, nco=True)
    assert refused.rsc == 5001 and "nco" in refused.pc["m2m:dbg"]
    refused = await core.update(f"{device}/comms", {"m2m:sch": {"nco": True}})
    assert refused.rsc == 5001


# -- bad content -----------------------------------------------------------------------------
BAD_CONTENT = [
    # (content of m2m:sch, rsc, words in the message)
    ({}, 4000, "mandatory attribute 'se' of schedule is missing"),
    ({"rn": "w"}, 4000, "mandatory attribute 'se' of schedule is missing"),
    ({"se": {}}, 4000, "'sce' is a required property"),
    ({"se": None}, 4000, "attribute 'se' of schedule cannot be null"),
    ({"se": "* * * * * * *"}, 4000, "is not of type object"),
    ({"se": {"sce": []}}, 4000, "violates minItems 1"),
    ({"se": {"sce": "* * * * * * *"}}, 4000, "is not of type array"),
    ({"se": {"sce": [7]}}, 4000, "is not of type string"),
    ({"se": {"sce": [""]}}, 4000, "violates minLength 1"),
    ({"se": {"sce": ["* * * * * * *"] * 129}}, 4000, "violates maxItems 128"),
    ({"se": {"sce": ["* * * * * * *"], "x": 1}}, 4000, "Additional properties are not allowed"),
    ({"se": {"sce": ["* * * * * * *"]}, "nco": "yes"}, 4000, "is not of type boolean"),
    ({"se": {"sce": ["* * * * * * *"]}, "nco": False}, 4102, "applies only to the schedule of a node"),
    ({"se": {"sce": ["* * * * * * *"]}, "nco": True}, 4102, "applies only to the schedule of a node"),
    ({"se": {"sce": ["* * * * * * *"]}, "xyz": 1}, 4000, "attribute 'xyz' is not defined for schedule"),
    ({"se": {"sce": ["* * * * * * *"]}, "ri": "x"}, 4000, "'ri' of schedule is set by the CSE"),
    ({"se": {"sce": ["* * * * * * *"]}, "at": ["/id-mn"]}, 5001, "'at' of schedule is not supported"),
    ({"se": {"sce": ["* * * * * * *"]}, "daci": ["x"]}, 5001, "'daci' of schedule is not supported"),
    ({"se": {"sce": ["* * * * * * *"]}, "cr": None}, 4000, "attribute 'cr' is not defined for schedule"),
] + [({"se": {"sce": ["* * * * * * *", text]}}, 4000, f"attribute 'se': sce[1] {text!r}")
     for text, _ in BAD_ENTRIES if text] + [({"se": {"sce": ["* * * * * * *", text]}}, 4000, words)
                                            for text, words in BAD_ENTRIES if text]


@pytest.mark.parametrize("content,rsc,words", BAD_CONTENT)
async def test_bad_content_is_refused_and_nothing_is_stored(core, content, rsc, words):
    ae = await charger(core)
    response = await make_schedule(core, ae, **content)
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"], response.pc["m2m:dbg"]
    listed = await core.retrieve(ae, fr=CHARGER, rcn=6, fc={"ty": [18]})
    assert listed.pc["m2m:rrl"].get("rrf", []) == []


@pytest.mark.parametrize("change,rsc,words", [
    ({"se": None}, 4000, "mandatory attribute 'se' of schedule cannot be deleted"),
    ({"se": {"sce": []}}, 4000, "violates minItems 1"),
    ({"se": {"sce": ["* * 24 * * * *"]}}, 4000, "attribute 'se': sce[0] '* * 24 * * * *': hour field '24': "
                                                 "24 is outside 0..23"),
    ({"se": {"sce": ["0 0 8 * *"]}}, 4000, "has 5 field(s); it must have 7 fields"),
    ({"nco": False}, 4102, "applies only to the schedule of a node, not of a AE"),
    ({"rn": "other"}, 4000, "'rn' of schedule cannot be changed by UPDATE"),
    ({"ty": 18}, 4000, "'ty' of schedule cannot be changed"),
])
async def test_a_bad_update_is_refused_and_changes_nothing(core, change, rsc, words):
    ae = await charger(core)
    before = (await make_schedule(core, ae, **WINDOW)).pc
    response = await core.update(f"{ae}/chargingWindow", {"m2m:sch": change}, fr=CHARGER)
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"], response.pc["m2m:dbg"]
    assert (await core.retrieve(f"{ae}/chargingWindow", fr=CHARGER)).pc == before


@pytest.mark.parametrize("parent_ty,parent_pc", [
    (Ty.CNT, {"m2m:cnt": {"rn": "p"}}),
    (Ty.GRP, {"m2m:grp": {"rn": "p", "mid": [], "mnm": 3}}),
    (Ty.ACP, {"m2m:acp": {"rn": "p", "pv": {"acr": []}, "pvs": {"acr": [{"acor": [CHARGER], "acop": 63}]}}}),
])
async def test_a_schedule_cannot_be_made_under_other_types(core, parent_ty, parent_pc):
    ae = await charger(core)
    assert (await core.create(ae, parent_ty, parent_pc, fr=CHARGER)).rsc == 2001
    response = await make_schedule(core, f"{ae}/p", **WINDOW)
    assert response.rsc == 4108, response.pc
    assert response.pc["m2m:dbg"].startswith("a schedule cannot be created under a")


async def test_a_schedule_cannot_be_made_under_a_content_instance(core):
    ae = await charger(core)
    assert (await core.create(ae, Ty.CNT, {"m2m:cnt": {"rn": "power"}}, fr=CHARGER)).rsc == 2001
    assert (await core.create(f"{ae}/power", Ty.CIN, {"m2m:cin": {"rn": "r", "con": "7"}}, fr=CHARGER)).rsc == 2001
    response = await make_schedule(core, f"{ae}/power/r", **WINDOW)
    assert response.rsc == 4108 and "under a contentInstance" in response.pc["m2m:dbg"]


async def test_the_wrong_root_is_refused(core):
    ae = await charger(core)
    response = await core.create(ae, Ty.SCH, {"m2m:sub": WINDOW}, fr=CHARGER)
    assert response.rsc == 4000, response.pc


# -- under a subscription: the notificationSchedule ------------------------------------------
async def subscription(core, ae: str) -> str:
    created = await core.create(ae, Ty.SUB, {"m2m:sub": {"rn": "watch", "nu": [CHARGER], "enc": {"net": [1]}}},
                                fr=CHARGER)
    assert created.rsc == 2001, created.pc
    return f"{ae}/watch"


async def test_under_a_subscription_it_is_named_notification_schedule(core):
    sub = await subscription(core, await charger(core))
    created = await make_schedule(core, sub, se={"sce": ["* * 8-20 * * * *"]})
    assert created.rsc == 2001 and created.pc["m2m:sch"]["rn"] == "notificationSchedule"
    assert (await core.retrieve(f"{sub}/notificationSchedule", fr=CHARGER)).rsc == 2000
    again = await make_schedule(core, sub, se={"sce": ["* * 8-20 * * * *"]})
    assert again.rsc == 4105, again.pc                       # one per subscription
    named = await make_schedule(core, sub, rn="notificationSchedule", se={"sce": ["* * * * * * *"]})
    assert named.rsc == 4105


async def test_under_a_subscription_another_name_is_refused(core):
    sub = await subscription(core, await charger(core))
    response = await make_schedule(core, sub, rn="mySchedule", se={"sce": ["* * 8-20 * * * *"]})
    assert response.rsc == 4000
    assert "must be named 'notificationSchedule', not 'mySchedule'" in response.pc["m2m:dbg"]


async def test_the_subscription_shows_no_internal_copy_of_its_schedule(core):
    sub = await subscription(core, await charger(core))
    await make_schedule(core, sub, se={"sce": ["* * 8-20 * * * *"]})
    shown = (await core.retrieve(sub, fr=CHARGER)).pc["m2m:sub"]
    assert not any(k.startswith("_") for k in shown)
    stored = core.cse.storage.get(shown["ri"])
    assert stored["_nsch"] == ["* * 8-20 * * * *"]
    await core.update(f"{sub}/notificationSchedule", {"m2m:sch": {"se": {"sce": ["* * 9 * * * *"]}}}, fr=CHARGER)
    assert core.cse.storage.get(shown["ri"])["_nsch"] == ["* * 9 * * * *"]
    await core.delete(f"{sub}/notificationSchedule", fr=CHARGER)
    assert "_nsch" not in core.cse.storage.get(shown["ri"])


async def test_deleting_the_subscription_deletes_its_schedule(core):
    sub = await subscription(core, await charger(core))
    ri = (await make_schedule(core, sub, se={"sce": ["* * 8-20 * * * *"]})).pc["m2m:sch"]["ri"]
    assert (await core.delete(sub, fr=CHARGER)).rsc == 2002
    assert core.cse.storage.get(ri) is None


# -- discovery, child lists, access -----------------------------------------------------------
async def discover(core, fr: str = "CAdmin", to: str = "cse-in", **fc) -> list[str]:
    response = await core.retrieve(to, fr=fr, fc={"fu": 1, **fc})
    assert response.rsc == 2000, response.pc
    return response.pc["m2m:uril"]


async def test_an_application_finds_charging_windows_by_type_and_label(core):
    ae = await charger(core)
    await make_schedule(core, ae, **WINDOW)
    await make_schedule(core, ae, rn="quietHours", lbl=["window:quiet"], se={"sce": ["* * 22-23 * * * *"]})
    await make_schedule(core, "cse-in", fr="CAdmin", rn="availability", se={"sce": ["* * * * * * *"]})
    assert sorted(await discover(core, ty=[18])) == ["cse-in/availability", f"{ae}/chargingWindow",
                                                      f"{ae}/quietHours"]
    assert await discover(core, ty=[18], lbl=["window:charging"]) == [f"{ae}/chargingWindow"]
    assert await discover(core, lbl=["device:evCharger"]) == [f"{ae}/chargingWindow"]
    assert await discover(core, to=ae, fr=CHARGER, ty=[18]) == [f"{ae}/chargingWindow", f"{ae}/quietHours"]


async def test_another_application_sees_the_window_only_when_an_acp_lets_it(core):
    ae = await charger(core)
    await make_schedule(core, ae, **WINDOW)
    assert (await core.register_ae("Cenergy", rn="energyApp")).rsc == 2001
    assert await discover(core, fr="Cenergy", ty=[18]) == []
    assert (await core.retrieve(f"{ae}/chargingWindow", fr="Cenergy")).rsc == 4103
    acp = await core.create(ae, Ty.ACP, {"m2m:acp": {"rn": "readWindow",
                                                     "pv": {"acr": [{"acor": ["Cenergy"], "acop": 2 | 32}]},
                                                     "pvs": {"acr": [{"acor": [CHARGER], "acop": 63}]}}}, fr=CHARGER)
    assert acp.rsc == 2001, acp.pc
    acp_ri = acp.pc["m2m:acp"]["ri"]
    assert (await core.update(f"{ae}/chargingWindow", {"m2m:sch": {"acpi": [acp_ri]}}, fr=CHARGER)).rsc == 2004
    read = await core.retrieve(f"{ae}/chargingWindow", fr="Cenergy")
    assert read.rsc == 2000 and read.pc["m2m:sch"]["se"] == WINDOW["se"]
    assert await discover(core, fr="Cenergy", ty=[18]) == [f"{ae}/chargingWindow"]
    changed = await core.update(f"{ae}/chargingWindow", {"m2m:sch": {"se": {"sce": ["* * * * * * *"]}}},
                                fr="Cenergy")
    assert changed.rsc == 4103                                # reading is not writing


@pytest.mark.parametrize("rcn", [4, 5, 6, 8])
async def test_child_lists_include_schedules(core, rcn):
    ae = await charger(core)
    ri = (await make_schedule(core, ae, **WINDOW)).pc["m2m:sch"]["ri"]
    response = await core.retrieve(ae, fr=CHARGER, rcn=rcn)
    assert response.rsc == 2000, response.pc
    if rcn in (5, 6):
        refs = response.pc["m2m:ae" if rcn == 5 else "m2m:rrl"]
        refs = refs["ch"] if rcn == 5 else refs["rrf"]
        assert [(r["nm"], r["typ"], r["val"]) for r in refs] == [("chargingWindow", 18, f"{ae}/chargingWindow")]
    else:
        [child] = response.pc["m2m:ae"]["m2m:sch"]
        assert child["ri"] == ri and child["se"] == WINDOW["se"]
        if rcn == 8:
            assert "api" not in response.pc["m2m:ae"]
