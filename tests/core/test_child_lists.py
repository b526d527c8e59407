"""RETRIEVE/DELETE with rcn 4/5/6/8 selected by filter criteria, and conditional retrieval (fu=2)."""
import pytest

from cse.clock import format_timestamp
from tests.core.energy_home import build_home


@pytest.fixture
async def home(core, clock):
    return await build_home(core, clock)


def names(items):
    return [item["rn"] for item in items]


async def test_child_references_selected_by_type_and_paged(core, home):
    response = await core.retrieve("cse-in/m0", rcn=6, fc={"ty": [4]})
    assert [r["val"] for r in response.pc["m2m:rrl"]["rrf"]] == [f"cse-in/m0/power/r{i}" for i in range(3)]
    response = await core.retrieve("cse-in/m0", rcn=6, fc={"ty": [4], "lim": 2})
    assert [r["nm"] for r in response.pc["m2m:rrl"]["rrf"]] == ["r0", "r1"]
    assert (response.cnst, response.cnot) == (1, 2)
    response = await core.retrieve("cse-in/m0", rcn=6, fc={"ty": [4], "lim": 2, "ofst": 2})
    assert [r["nm"] for r in response.pc["m2m:rrl"]["rrf"]] == ["r2"]
    assert response.cnst is None


async def test_attributes_and_child_references_list_direct_children_only(core, home):
    response = await core.retrieve("cse-in", rcn=5, fc={"lbl": ["type:meter"]})
    body = response.pc["m2m:cb"]
    assert [c["val"] for c in body["ch"]] == ["cse-in/m0", "cse-in/m1"]
    response = await core.retrieve("cse-in", rcn=5, fc={"lim": 1})
    assert [c["nm"] for c in response.pc["m2m:cb"]["ch"]] == ["m0"]
    assert response.cnst == 1


async def test_child_resources_keep_matches_whose_parent_was_filtered_out(core, home):
    # the readings' parent (the container) does not match ty=4: they nest under the AE
    response = await core.retrieve("cse-in/m0", rcn=8, fc={"ty": [4]}, fr="Cm0")
    body = response.pc["m2m:ae"]
    assert list(body) == ["m2m:cin"]
    assert names(body["m2m:cin"]) == ["r0", "r1", "r2"]
    response = await core.retrieve("cse-in/m0", rcn=4, fr="Cm0")
    body = response.pc["m2m:ae"]
    assert body["rn"] == "m0"
    assert names(body["m2m:cnt"][0]["m2m:cin"]) == ["r0", "r1", "r2"]
    response = await core.retrieve("cse-in/m0", rcn=4, fc={"lvl": 1}, fr="Cm0")
    assert "m2m:cin" not in response.pc["m2m:ae"]["m2m:cnt"][0]


async def test_child_lists_apply_related_conditions(core, home):
    response = await core.retrieve("cse-in", rcn=6, fc={"clbl": ["unit:W"]})
    assert [r["val"] for r in response.pc["m2m:rrl"]["rrf"]] == ["cse-in/m0", "cse-in/m1"]


async def test_child_lists_show_only_what_the_originator_may_retrieve(core, home):
    response = await core.retrieve("cse-in", rcn=6, fc={"ty": [3]}, fr="Cm0")
    assert [r["val"] for r in response.pc["m2m:rrl"]["rrf"]] == ["cse-in/m0/power"]


async def test_conditional_retrieval_of_the_target(core, home, clock):
    since = format_timestamp(clock.now() + 1)
    response = await core.retrieve("cse-in/m0/power", fc={"ms": since}, fr="Cm0")
    assert response.rsc == 4004
    assert "does not meet the filter criteria" in response.pc["m2m:dbg"]
    clock.advance(2)
    await core.create("cse-in/m0/power", 4, {"m2m:cin": {"con": "1700"}}, fr="Cm0")
    response = await core.retrieve("cse-in/m0/power", fc={"ms": since}, fr="Cm0")
    assert response.rsc == 2000 and response.pc["m2m:cnt"]["cni"] == 4
    response = await core.retrieve("cse-in/m0/power/la", fc={"fu": 2, "sza": 4}, fr="Cm0")
    assert response.rsc == 2000 and response.pc["m2m:cin"]["con"] == "1700"
    response = await core.retrieve("cse-in/m0/power", fc={"chty": [4]}, fr="Cm0")
    assert response.rsc == 2000
    response = await core.retrieve("cse-in/m0/power", fc={"palb": ["zone:2"]}, fr="Cm0")
    assert response.rsc == 4004
    # partial retrieve with a condition
    response = await core.retrieve("cse-in/m0/power", fc={"lbl": ["unit:W"]}, atrl=["cni"], fr="Cm0")
    assert response.pc == {"m2m:cnt": {"cni": 4}}
    # paging members alone are not conditions
    response = await core.retrieve("cse-in/m0/power", fc={"lim": 1}, fr="Cm0")
    assert response.rsc == 2000


async def test_delete_with_child_references_lists_what_went(core, home):
    response = await core.delete("cse-in/m1", rcn=6, fc={"ty": [4]}, fr="Cm1")
    assert response.rsc == 2002
    assert [r["nm"] for r in response.pc["m2m:rrl"]["rrf"]] == ["r0", "r1", "r2"]
    assert (await core.retrieve("cse-in/m1/power")).rsc == 4004


async def test_discovery_result_references_need_discovery(core, home):
    response = await core.retrieve("cse-in/m0", rcn=11, fr="Cm0")
    assert response.rsc == 4000 and "needs discovery (fu=1)" in response.pc["m2m:dbg"]


async def test_direct_children_are_paged_through_in_creation_order(core):
    await core.register_ae("Cm", rn="m")
    for i in range(150):
        await core.create("cse-in/m", 3, {"m2m:cnt": {"rn": f"c{i:03}", "lbl": ["odd"] if i % 2 else []}},
                          fr="Cm")
    response = await core.retrieve("cse-in/m", rcn=5, fr="Cm")
    assert [c["nm"] for c in response.pc["m2m:ae"]["ch"]] == [f"c{i:03}" for i in range(150)]
    seen, offset = [], 0
    while True:
        response = await core.retrieve("cse-in/m", rcn=5, fc={"ty": [3], "lim": 40, "ofst": offset}, fr="Cm")
        seen += [c["nm"] for c in response.pc["m2m:ae"]["ch"]]
        if response.cnst is None:
            break
        offset = response.cnot
    assert seen == [f"c{i:03}" for i in range(150)]
    response = await core.retrieve("cse-in/m", rcn=5, fc={"lbl": ["odd"], "lim": 70}, fr="Cm")
    assert [c["nm"] for c in response.pc["m2m:ae"]["ch"]] == [f"c{i:03}" for i in range(1, 141, 2)]
    assert (response.cnst, response.cnot) == (1, 70)
    response = await core.retrieve("cse-in", fc={"fu": 1, "lvl": 1, "ty": [2]}, fr="Cm")
    assert response.pc == {"m2m:uril": ["cse-in/m"]}


async def test_direct_children_walk_goes_on_past_hidden_ones(core):
    for i in range(100):
        await core.register_ae(f"Cother{i}", rn=f"other{i}")
    await core.register_ae("Cme", rn="me")
    response = await core.retrieve("cse-in", fc={"fu": 1, "lvl": 1, "ty": [2], "lim": 1}, fr="Cme")
    assert response.pc == {"m2m:uril": ["cse-in/me"]} and response.cnst is None
    response = await core.retrieve("cse-in", rcn=5, fc={"ty": [2]}, fr="Cother99")
    assert [c["nm"] for c in response.pc["m2m:cb"]["ch"]] == ["other99"]
