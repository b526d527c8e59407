"""Fan-out through <group>/fopt: load shedding across appliances, partial failures, nesting."""
import asyncio

import pytest

from cse.primitives import Response
from tests.core.energy_home import appliances, create_group


def answers(response):
    assert response.rsc == 2000, response.pc
    return response.pc["m2m:agr"]["m2m:rsp"]


def by_member(response):
    return {a["fr"]: a for a in answers(response)}


@pytest.fixture
async def shed(core):
    """Appliances a0..a2 with containers; group `shed` owned by the energy app Capp."""
    await appliances(core, 3)
    await core.register_ae("Capp", rn="app")
    response = await create_group(core, to="cse-in/app", rn="shed", mt=3,
                                  mid=[f"cse-in/a{i}/switch" for i in range(3)])
    assert response.rsc == 2001
    return "cse-in/app/shed"


async def test_create_retrieve_update_delete_on_every_member(core, shed):
    response = await core.create(f"{shed}/fopt", 4, {"m2m:cin": {"rn": "cmd", "con": "off"}})
    created = answers(response)
    assert [a["fr"] for a in created] == [f"cse-in/a{i}/switch" for i in range(3)]
    assert all(a["rsc"] == 2001 and a["pc"]["m2m:cin"]["con"] == "off" for a in created)
    assert all(a["rqi"] == created[0]["rqi"] for a in created)
    for i in range(3):       # really stored at each member
        assert (await core.retrieve(f"cse-in/a{i}/switch/cmd")).pc["m2m:cin"]["con"] == "off"

    latest = answers(await core.retrieve(f"{shed}/fopt/la"))
    assert [a["pc"]["m2m:cin"]["rn"] for a in latest] == ["cmd"] * 3

    updated = answers(await core.update(f"{shed}/fopt", {"m2m:cnt": {"lbl": ["shed:active"]}}))
    assert [a["rsc"] for a in updated] == [2004] * 3
    found = await core.retrieve("cse-in", fc={"fu": 1, "lbl": ["shed:active"]})
    assert found.pc["m2m:uril"] == [f"cse-in/a{i}/switch" for i in range(3)]

    deleted = answers(await core.delete(f"{shed}/fopt/cmd"))
    assert [a["rsc"] for a in deleted] == [2002] * 3
    assert (await core.retrieve("cse-in/a0/switch/cmd")).rsc == 4004


async def test_partial_failures_are_reported_per_member(core, shed):
    # a1's container is gone; a2 belongs to another AE that the app may not write to
    await core.delete("cse-in/a1/switch", fr="Ca1")
    response = await core.create(f"{shed}/fopt", 4, {"m2m:cin": {"con": "off"}}, fr="Capp")
    result = by_member(response)
    assert result["cse-in/a1/switch"]["rsc"] == 4004
    assert "does not exist" in result["cse-in/a1/switch"]["pc"]["m2m:dbg"]
    assert result["cse-in/a2/switch"]["rsc"] == 4103
    assert result["cse-in/a0/switch"]["rsc"] == 4103
    # the admin reaches every member that still exists
    result = by_member(await core.create(f"{shed}/fopt", 4, {"m2m:cin": {"con": "off"}}))
    assert [result[f"cse-in/a{i}/switch"]["rsc"] for i in range(3)] == [2001, 4004, 2001]


async def test_mixed_members_each_answer_for_their_own_type(core):
    await appliances(core, 2)
    await create_group(core, rn="mixed", mid=["cse-in/a0", "cse-in/a1/switch"])
    result = by_member(await core.create("cse-in/mixed/fopt", 3, {"m2m:cnt": {"rn": "limits"}}))
    assert result["cse-in/a0"]["rsc"] == 2001 and result["cse-in/a1/switch"]["rsc"] == 2001
    result = by_member(await core.create("cse-in/mixed/fopt", 4, {"m2m:cin": {"con": "1"}}))
    assert result["cse-in/a0"]["rsc"] == 4108                 # an AE holds no contentInstance
    assert result["cse-in/a1/switch"]["rsc"] == 2001
    result = by_member(await core.retrieve("cse-in/mixed/fopt"))
    assert "m2m:ae" in result["cse-in/a0"]["pc"] and "m2m:cnt" in result["cse-in/a1/switch"]["pc"]


async def test_access_to_the_fan_out_point(core, shed):
    response = await core.create(f"{shed}/fopt", 4, {"m2m:cin": {"con": "off"}}, fr="Ca0")
    assert response.rsc == 4103
    assert "fan-out point of 'cse-in/app/shed'" in response.pc["m2m:dbg"]
    # the group's owner passes; each member then decides for itself
    assert len(answers(await core.retrieve(f"{shed}/fopt", fr="Capp"))) == 3


@pytest.mark.parametrize("to, rsc, words", [
    ("cse-in/app/nothing/fopt", 4004, "does not exist"),
    ("cse-in/a0/fopt", 4004, "does not exist"),                # not a group
    ("cse-in/a0/switch/fopt/la", 4004, "does not exist"),
])
async def test_fan_out_to_something_that_is_not_a_group(core, shed, to, rsc, words):
    response = await core.retrieve(to)
    assert response.rsc == rsc and words in response.pc["m2m:dbg"]


async def test_an_empty_group_has_no_one_to_fan_out_to(core):
    await create_group(core, rn="empty", mid=[])
    response = await core.retrieve("cse-in/empty/fopt")
    assert response.rsc == 4109


async def test_unstructured_and_sp_relative_fan_out_addresses(core, shed):
    group_ri = (await core.retrieve(shed)).pc["m2m:grp"]["ri"]
    assert len(answers(await core.retrieve(f"{group_ri}/fopt"))) == 3
    app_ri = (await core.retrieve("cse-in/app")).pc["m2m:ae"]["ri"]
    assert len(answers(await core.retrieve(f"{app_ri}/shed/fopt"))) == 3
    assert len(answers(await core.retrieve(f"/id-in/{group_ri}/fopt"))) == 3


async def test_nested_groups_and_loops(core, shed):
    await create_group(core, rn="house", mid=[f"{shed}/fopt", "cse-in/a0"])
    result = by_member(await core.retrieve("cse-in/house/fopt"))
    inner = result[f"{shed}/fopt"]["pc"]["m2m:agr"]["m2m:rsp"]
    assert [a["fr"] for a in inner] == [f"cse-in/a{i}/switch" for i in range(3)]
    assert result["cse-in/a0"]["rsc"] == 2000
    # a group that (through another) contains itself stops at the second visit
    await create_group(core, rn="loop", mid=["cse-in/house/fopt"])
    await core.update("cse-in/house", {"m2m:grp": {"mid": ["cse-in/loop/fopt"]}})
    response = await core.retrieve("cse-in/loop/fopt")
    house = answers(response)[0]["pc"]["m2m:agr"]["m2m:rsp"][0]
    assert house["rsc"] == 4104 and "again" in house["pc"]["m2m:dbg"]


async def test_a_large_group(core):
    await core.register_ae("Capp", rn="app")
    for i in range(1000):
        await core.create("cse-in/app", 3, {"m2m:cnt": {"rn": f"plug{i}"}}, fr="Capp")
    members = [f"cse-in/app/plug{i}" for i in range(1000)]
    response = await create_group(core, to="cse-in/app", fr="Capp", rn="all", mnm=1000, mt=3, mid=members)
    assert response.pc["m2m:grp"]["cnm"] == 1000
    created = answers(await core.create("cse-in/app/all/fopt", 4, {"m2m:cin": {"con": "off"}}, fr="Capp"))
    assert [a["fr"] for a in created] == members
    assert {a["rsc"] for a in created} == {2001}
    found = await core.retrieve("cse-in/app", fc={"fu": 1, "ty": [4]}, fr="Capp")
    assert len(found.pc["m2m:uril"]) == 1000


class RemoteCse:
    """Stands in for CSE federation: answers RETRIEVE of members, records fan-out requests,
    and can hold answers back until released."""

    def __init__(self):
        self.requests = []
        self.release = asyncio.Event()
        self.hold = False

    async def __call__(self, request, cse_id, sp_id):
        if request.gid is None:          # a member check of the group
            return Response(rsc=2000, pc={"m2m:cnt": {"ty": 3, "ri": "cnt" + request.to.replace("/", "_")}})
        self.requests.append(request)
        if self.hold:
            await self.release.wait()
        return Response(rsc=2001, pc={"m2m:cin": {"con": "remote"}})


async def test_remote_members_are_reached_through_the_dispatcher(core):
    remote = RemoteCse()
    core.cse.dispatcher.remote_handler = remote
    await appliances(core, 1)
    group = (await create_group(core, rn="g", mt=3, mid=["cse-in/a0/switch", "/id-mn/cse-mn/heater/switch"]))
    assert group.pc["m2m:grp"]["mtv"] is True
    result = by_member(await core.create("cse-in/g/fopt/x", 4, {"m2m:cin": {"con": "off"}}, gid="G1"))
    assert result["/id-mn/cse-mn/heater/switch"]["rsc"] == 2001
    assert result["cse-in/a0/switch"]["rsc"] == 4004          # a0/switch/x does not exist locally
    sent = remote.requests[0]
    assert (sent.to, sent.fr, sent.gid, sent.ty) == ("/id-mn/cse-mn/heater/switch/x", "CAdmin", "G1", 4)


async def test_subscriptions_through_the_fan_out_point_reach_every_member(core):
    remote = RemoteCse()
    core.cse.dispatcher.remote_handler = remote
    group = await create_group(core, rn="g", mid=["/id-mn/cse-mn/heater/switch", "/id-mn/cse-mn/boiler/switch"])
    subscription = {"m2m:sub": {"nu": ["Capp"], "enc": {"net": [3]}}}
    response = await core.create("cse-in/g/fopt", 23, subscription)
    assert [a["rsc"] for a in answers(response)] == [2001, 2001]
    # Each member's copy names the group it came through (gpi).
    sent = {"m2m:sub": {**subscription["m2m:sub"], "gpi": f"/id-in/{group.pc['m2m:grp']['ri']}"}}
    assert [(r.to, r.ty, r.pc) for r in remote.requests] == [
        ("/id-mn/cse-mn/heater/switch", 23, sent), ("/id-mn/cse-mn/boiler/switch", 23, sent)]
    assert remote.requests[0].gid == remote.requests[1].gid
    assert remote.requests[0].gid.startswith("id-in-g")


async def test_result_expiration_cuts_slow_members_off(core):
    remote = RemoteCse()
    remote.hold = True
    core.cse.dispatcher.remote_handler = remote
    await appliances(core, 1)
    await create_group(core, rn="g", mid=["cse-in/a0/switch", "/id-mn/cse-mn/heater/switch"])
    await create_group(core, rn="slow", mid=["/id-mn/cse-mn/heater/switch"])
    try:
        result = by_member(await core.retrieve("cse-in/g/fopt", rset="300"))
        assert list(result) == ["cse-in/a0/switch"]
        response = await core.retrieve("cse-in/slow/fopt", rset="300")
        assert response.rsc == 5209
    finally:
        remote.release.set()
    await asyncio.wait_for(asyncio.gather(*core.cse.dispatcher.fanout._late), 5)
