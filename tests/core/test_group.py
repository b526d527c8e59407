"""group (ty 9): members are checked on CREATE and UPDATE (existence, access, type, number)."""
import pytest

from tests.core.energy_home import appliances, create_group


async def test_group_keeps_its_members_once_and_counts_them(core):
    await appliances(core)
    switch0 = (await core.retrieve("cse-in/a0/switch")).pc["m2m:cnt"]["ri"]
    response = await create_group(core, rn="shed", mt=3,
                                  mid=["cse-in/a0/switch", "cse-in/a1/switch", "cse-in/a1/switch",
                                       switch0, "/id-in/cse-in/a2/switch"])
    assert response.rsc == 2001, response.pc
    group = response.pc["m2m:grp"]
    # the same resource by path, by resource ID and SP-relative is one member
    assert group["mid"] == ["cse-in/a0/switch", "cse-in/a1/switch", "/id-in/cse-in/a2/switch"]
    assert (group["cnm"], group["mtv"], group["mt"], group["ssi"]) == (3, True, 3, False)
    mixed = (await create_group(core, rn="all", mid=["cse-in/a0", "cse-in/a0/switch"])).pc["m2m:grp"]
    assert (mixed["mt"], mixed["cnm"]) == (0, 2)
    empty = (await create_group(core, rn="none", mid=[])).pc["m2m:grp"]
    assert empty["cnm"] == 0


@pytest.mark.parametrize("attributes, rsc, words", [
    ({"mid": []}, 4000, "'mnm'"),                                          # mnm missing (mnm=None below)
    ({"mnm": 0, "mid": []}, 4000, "'mnm'"),
    ({"mnm": "ten", "mid": []}, 4000, "'mnm'"),
    ({"mnm": 5}, 4000, "mandatory attribute 'mid'"),
    ({"mnm": 5, "mid": "cse-in/a0"}, 4000, "'mid'"),
    ({"mnm": 5, "mid": [""]}, 4000, "'mid'"),
    ({"mnm": 5, "mid": [], "cnm": 0}, 4000, "'cnm'"),
    ({"mnm": 5, "mid": [], "mtv": True}, 4000, "'mtv'"),
    ({"mnm": 5, "mid": [], "mt": 999}, 4000, "'mt'"),
    ({"mnm": 5, "mid": [], "csy": 4}, 4000, "'csy'"),
    ({"mnm": 1, "mid": ["cse-in/a0", "cse-in/a1"]}, 6010, "more than maxNrOfMembers"),
    ({"mnm": 5, "mid": ["cse-in/gone"]}, 4004, "'cse-in/gone' (mid) does not exist"),
    ({"mnm": 5, "mid": ["cse-in/a0/switch/la"]}, 4000, "virtual resource"),
    ({"mnm": 5, "mid": ["cse-in/a0/fopt"]}, 4000, "is not a group"),
    ({"mnm": 5, "mid": ["cse-in/a0#rn"]}, 4000, "names an attribute"),
    ({"mnm": 5, "mid": ["cse-in//a0"]}, 4000, "not a resource address"),
    ({"mnm": 5, "mid": ["cse-in/a0/switch", "cse-in/a1"], "mt": 3, "csy": 2}, 4110, "ABANDON_GROUP"),
])
async def test_bad_groups_are_refused(core, attributes, rsc, words):
    await appliances(core, 2)
    response = await core.create("cse-in", 9, {"m2m:grp": attributes})
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_members_the_originator_cannot_read_are_refused(core):
    await appliances(core, 2)
    response = await create_group(core, to="cse-in/a0", fr="Ca0", mid=["cse-in/a0/switch", "cse-in/a1/switch"])
    assert response.rsc == 5105
    assert "'cse-in/a1/switch' (mid) may not be retrieved by 'Ca0'" in response.pc["m2m:dbg"]


async def test_consistency_strategy_on_type_mismatch(core):
    await appliances(core, 2)
    mid = ["cse-in/a0/switch", "cse-in/a1", "cse-in/a1/switch"]
    dropped = (await create_group(core, rn="g1", mt=3, mid=mid)).pc["m2m:grp"]
    assert (dropped["mid"], dropped["mt"], dropped["cnm"]) == (["cse-in/a0/switch", "cse-in/a1/switch"], 3, 2)
    mixed = (await create_group(core, rn="g2", mt=3, csy=3, mid=mid)).pc["m2m:grp"]
    assert (mixed["mid"], mixed["mt"]) == (mid, 0)


async def test_sub_groups_count_with_their_member_type(core):
    await appliances(core, 2)
    await create_group(core, rn="switches", mt=3, mid=["cse-in/a0/switch"])
    await create_group(core, rn="anything", mid=["cse-in/a1"])
    response = await create_group(core, rn="top", mt=3, csy=2, mid=["cse-in/switches/fopt", "cse-in/a1/switch"])
    assert response.rsc == 2001 and response.pc["m2m:grp"]["cnm"] == 2
    response = await create_group(core, rn="bad", mt=3, csy=2, mid=["cse-in/anything/fopt"])
    assert response.rsc == 4110
    # the group resource itself (not its fan-out point) is a group-typed member
    response = await create_group(core, rn="groups", mt=9, csy=2, mid=["cse-in/switches", "cse-in/switches/fopt"])
    assert response.rsc == 4110


async def test_unreachable_remote_members_are_kept_unvalidated(core):
    await appliances(core, 1)
    group = (await create_group(core, mt=3, mid=["cse-in/a0/switch", "/id-mn/cse-mn/heater/switch"])).pc["m2m:grp"]
    assert group["mid"] == ["cse-in/a0/switch", "/id-mn/cse-mn/heater/switch"]
    assert (group["cnm"], group["mtv"]) == (2, False)


@pytest.mark.parametrize("content", [{"m2m:cnt": "not attributes"}, "text", {"m2m:cnt": ["a"]}, {}])
async def test_remote_members_answering_nonsense_are_kept_unvalidated(core, content):
    """A remote CSE's answer is input like any other: odd content is not a 5000."""
    from cse.primitives import Response

    async def remote(request, cse_id, sp_id):
        return Response(rsc=2000, pc=content)

    core.cse.dispatcher.remote_handler = remote
    response = await create_group(core, mt=3, mid=["/id-mn/cse-mn/heater/switch"])
    assert response.rsc == 2001, response.pc
    assert (response.pc["m2m:grp"]["cnm"], response.pc["m2m:grp"]["mtv"]) == (1, False)


async def test_update_of_members_is_checked_again(core):
    await appliances(core, 3)
    await create_group(core, rn="g", mnm=2, mt=3, mid=["cse-in/a0/switch"])
    response = await core.update("cse-in/g", {"m2m:grp": {"mid": ["cse-in/a1/switch", "cse-in/a2/switch",
                                                                  "cse-in/a1/switch"]}})
    assert response.rsc == 2004, response.pc
    assert (response.pc["m2m:grp"]["mid"], response.pc["m2m:grp"]["cnm"]) == (
        ["cse-in/a1/switch", "cse-in/a2/switch"], 2)
    response = await core.update("cse-in/g", {"m2m:grp": {"mid": ["cse-in/a0/switch", "cse-in/a1/switch",
                                                                  "cse-in/a2/switch"]}})
    assert response.rsc == 6010
    response = await core.update("cse-in/g", {"m2m:grp": {"mnm": 1}})
    assert response.rsc == 6010 and "below the current number of members" in response.pc["m2m:dbg"]
    response = await core.update("cse-in/g", {"m2m:grp": {"mnm": 3, "mid": ["cse-in/a0/switch",
                                                                            "cse-in/a1/switch",
                                                                            "cse-in/a2/switch"]}})
    assert response.rsc == 2004 and response.pc["m2m:grp"]["cnm"] == 3
    response = await core.update("cse-in/g", {"m2m:grp": {"mid": ["cse-in/nope"]}})
    assert response.rsc == 4004
    for name, value in (("mt", 0), ("cnm", 1), ("csy", 1)):
        response = await core.update("cse-in/g", {"m2m:grp": {name: value}})
        assert response.rsc == 4000 and f"'{name}'" in response.pc["m2m:dbg"]
    group = (await core.retrieve("cse-in/g")).pc["m2m:grp"]
    assert (group["cnm"], group["mnm"]) == (3, 3)


async def test_groups_live_under_the_cse_base_and_aes_only(core):
    await appliances(core, 1)
    assert (await create_group(core, to="cse-in/a0", fr="Ca0", mid=[])).rsc == 2001
    response = await create_group(core, to="cse-in/a0/switch", fr="Ca0", mid=[])
    assert response.rsc == 4108


async def test_groups_are_discoverable(core):
    await appliances(core, 1)
    await create_group(core, rn="shed", lbl=["purpose:shedding"], mid=["cse-in/a0/switch"])
    response = await core.retrieve("cse-in", fc={"fu": 1, "ty": [9]})
    assert response.pc == {"m2m:uril": ["cse-in/shed"]}
    response = await core.retrieve("cse-in/shed/fopt", fc={"fu": 1, "lbl": ["x"]})
    assert response.pc["m2m:agr"]["m2m:rsp"][0]["pc"] == {"m2m:uril": []}
