"""Subscriptions created through a group's fan-out point (issue 6): one per member, each
carrying the group's ID (gpi), each notifying on its own member's events."""
from .conftest import post_reading, subscribe


async def setup_group(core):
    assert (await core.register_ae("Chems", rn="hems")).rsc == 2001
    paths = []
    for rn in ("heater", "charger"):
        response = await core.create("cse-in/hems", 3, {"m2m:cnt": {"rn": rn}}, fr="Chems")
        assert response.rsc == 2001
        paths.append(f"cse-in/hems/{rn}")
    group = await core.create("cse-in/hems", 9, {"m2m:grp": {"rn": "appliances", "mt": 3, "mnm": 10,
                                                             "mid": paths}}, fr="Chems")
    assert group.rsc == 2001, group.pc
    return paths, group.pc["m2m:grp"]["ri"]


async def test_subscription_through_fopt_reaches_every_member(ncore, receiver):
    paths, group_ri = await setup_group(ncore)
    response = await subscribe(ncore, "cse-in/hems/appliances/fopt", receiver.url(), fr="Chems",
                               enc={"net": [3]})
    assert response.rsc == 2000
    answers = response.pc["m2m:agr"]["m2m:rsp"]
    assert [a["rsc"] for a in answers] == [2001, 2001]
    assert [a["fr"] for a in answers] == paths
    assert all(a["pc"]["m2m:sub"]["gpi"] == f"/id-in/{group_ri}" for a in answers)
    subscriptions = {a["pc"]["m2m:sub"]["ri"] for a in answers}
    for path in paths:
        await post_reading(ncore, path, "on", fr="Chems")
    notifications = await receiver.wait_for(2)
    assert {n.sgn["sur"].rsplit("/", 1)[-1] for n in notifications} == subscriptions
    assert {n.sgn["nev"]["rep"]["m2m:cin"]["pi"] for n in notifications} == {
        (await ncore.retrieve(p, fr="Chems")).pc["m2m:cnt"]["ri"] for p in paths}


async def test_member_the_originator_may_not_read_answers_4103_others_succeed(ncore, receiver):
    paths, _ = await setup_group(ncore)
    assert (await ncore.register_ae("Cneighbour", rn="neighbour")).rsc == 2001
    await ncore.create("cse-in/neighbour", 3, {"m2m:cnt": {"rn": "meter"}}, fr="Cneighbour")
    # The admin may put a foreign member in the group; the fan-out still applies each
    # member's own access rules for the original originator.
    update = await ncore.update("cse-in/hems/appliances",
                                {"m2m:grp": {"mid": paths + ["cse-in/neighbour/meter"]}}, fr="CAdmin")
    assert update.rsc == 2004, update.pc
    response = await subscribe(ncore, "cse-in/hems/appliances/fopt", receiver.url(), fr="Chems",
                               enc={"net": [3]})
    assert [a["rsc"] for a in response.pc["m2m:agr"]["m2m:rsp"]] == [2001, 2001, 4103]


async def test_nfu_is_refused_as_not_supported(ncore, receiver):
    await setup_group(ncore)
    response = await subscribe(ncore, "cse-in/hems/appliances/fopt", receiver.url(), fr="Chems",
                               nfu="/id-in/Chems")
    answers = response.pc["m2m:agr"]["m2m:rsp"]
    assert {a["rsc"] for a in answers} == {5001}
    assert "nfu" in answers[0]["pc"]["m2m:dbg"]
