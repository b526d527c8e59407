"""Each event type and each notification content type, delivered over HTTP to a receiver."""
from __future__ import annotations

import pytest

from .conftest import meter_with_container, post_reading, subscribe


async def test_creation_verifies_the_target_and_answers_before_any_notification(ncore, receiver):
    container = await meter_with_container(ncore)
    response = await subscribe(ncore, container, receiver.url(), rn="watch", enc={"net": [3]})
    assert response.rsc == 2001, response.pc
    sub = response.pc["m2m:sub"]
    assert sub["nct"] == 1 and sub["enc"] == {"net": [3]}
    assert not any(k.startswith("_") for k in sub), "internal keys must not reach the wire"
    [verification] = receiver.verifications
    assert verification.sgn == {"vrq": True, "sur": f"/id-in/{sub['ri']}", "cr": "Cmeter"}
    assert verification.headers["X-M2M-Origin"] == "/id-in"


async def test_child_created_notification_carries_the_new_instance(ncore, receiver):
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, receiver.url(), enc={"net": [3]})).pc["m2m:sub"]
    cin = (await post_reading(ncore, container, 1530)).pc["m2m:cin"]
    [received] = await receiver.wait_for(1)
    assert received.sgn["sur"] == f"/id-in/{sub['ri']}"
    assert received.sgn["nev"] == {"net": 3, "rep": {"m2m:cin": cin}}
    assert received.headers["X-M2M-Origin"] == "/id-in"
    assert received.headers["Content-Type"].startswith("application/json")
    assert received.headers["X-M2M-RI"]
    assert received.path == "/notify"


async def test_update_notification_default_is_the_whole_resource(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url())          # enc absent: net 1
    await ncore.update(container, {"m2m:cnt": {"lbl": ["kitchen"]}}, fr="Cmeter")
    [received] = await receiver.wait_for(1)
    rep = received.sgn["nev"]["rep"]["m2m:cnt"]
    assert received.sgn["nev"]["net"] == 1
    assert rep["lbl"] == ["kitchen"] and rep["rn"] == "power" and "cni" in rep


async def test_nct_modified_attributes_sends_only_what_changed(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), nct=2)
    await ncore.update(container, {"m2m:cnt": {"lbl": ["kitchen"], "mni": 10}}, fr="Cmeter")
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["rep"] == {"m2m:cnt": {"lbl": ["kitchen"], "mni": 10}}


async def test_nct_resource_id_sends_the_id(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), nct=3, enc={"net": [3]})
    cin = (await post_reading(ncore, container, 7)).pc["m2m:cin"]
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["rep"] == {"m2m:uri": cin["ri"]}


async def test_deletion_of_the_resource_notifies_then_removes_the_subscription(ncore, receiver, receivers):
    container = await meter_with_container(ncore)
    subscriber = await receivers()
    sub = (await subscribe(ncore, container, receiver.url(), enc={"net": [2]},
                           su=subscriber.url("/deleted"))).pc["m2m:sub"]
    assert (await ncore.delete(container, fr="Cmeter")).rsc == 2002
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["net"] == 2
    assert received.sgn["nev"]["rep"]["m2m:cnt"]["rn"] == "power"
    [deleted] = await subscriber.wait_for(1)
    assert deleted.sgn == {"sud": True, "sur": f"/id-in/{sub['ri']}", "cr": "Cmeter"}
    assert (await ncore.retrieve(sub["ri"], fr="Cmeter")).rsc == 4004


async def test_deletion_of_a_direct_child_is_notified(ncore, receiver):
    container = await meter_with_container(ncore)
    cin = (await post_reading(ncore, container, 1)).pc["m2m:cin"]
    await subscribe(ncore, container, receiver.url(), enc={"net": [4]})
    assert (await ncore.delete(f"{container}/{cin['rn']}", fr="Cmeter")).rsc == 2002
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"] == {"net": 4, "rep": {"m2m:cin": cin}}


async def test_instances_pruned_by_mni_are_not_reported_as_child_deletions(ncore, receiver):
    container = await meter_with_container(ncore, mni=1)
    await subscribe(ncore, container, receiver.url(), enc={"net": [3, 4]})
    for value in range(3):
        await post_reading(ncore, container, value)
    received = await receiver.wait_for(3)
    assert [r.sgn["nev"]["net"] for r in received] == [3, 3, 3]
    await ncore.update(container, {"m2m:cnt": {"lbl": ["x"]}}, fr="Cmeter")   # not subscribed: net 1
    await post_reading(ncore, container, 99)
    later = await receiver.wait_for(4)
    assert later[3].sgn["nev"]["net"] == 3 and len(receiver.notifications) == 4


async def test_chty_selects_child_types(ncore, receiver):
    await ncore.register_ae("Cmeter", rn="meter")
    await subscribe(ncore, "cse-in/meter", receiver.url(), enc={"net": [3], "chty": [3]})
    await ncore.create("cse-in/meter", 23, {"m2m:sub": {"nu": ["Cmeter"], "rn": "own"}}, fr="Cmeter")
    await ncore.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["rep"]["m2m:cnt"]["rn"] == "power"
    assert len(receiver.notifications) == 1


async def test_atr_selects_updates_touching_those_attributes(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc={"net": [1], "atr": ["mni"]})
    await ncore.update(container, {"m2m:cnt": {"lbl": ["a"]}}, fr="Cmeter")
    await ncore.update(container, {"m2m:cnt": {"mni": 5}}, fr="Cmeter")
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["rep"]["m2m:cnt"]["mni"] == 5
    assert len(receiver.notifications) == 1


@pytest.mark.parametrize("criteria, sizes, expected", [
    ({"sza": 3}, ["1", "12345", "12"], ["12345"]),
    ({"szb": 3}, ["1", "12345", "12"], ["1", "12"]),
    ({"sza": 3, "szb": 5, "fo": 1}, ["1", "1234", "123456"], ["1234"]),
    ({"sza": 5, "szb": 2, "fo": 2}, ["1", "1234", "123456"], ["1", "123456"]),
])
async def test_size_criteria_filter_new_instances(ncore, receiver, criteria, sizes, expected):
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, receiver.url(), enc={"net": [3], **criteria})).pc["m2m:sub"]
    for con in sizes:
        await post_reading(ncore, container, con)
    await receiver.barrier(ncore, container)
    got = [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in receiver.notifications
           if r.sgn["sur"] == f"/id-in/{sub['ri']}" and r.sgn["nev"]["rep"]["m2m:cin"]["con"] != "barrier"]
    assert got == expected


async def test_a_failure_in_the_notifier_does_not_fail_the_committed_request(ncore, receiver, monkeypatch,
                                                                             caplog):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc={"net": [3]})

    def broken(*args, **kwargs):
        raise RuntimeError("bug in rendering")

    monkeypatch.setattr(ncore.cse.events, "_representation", broken)
    response = await ncore.create(container, 4, {"m2m:cin": {"con": "kept"}}, fr="Cmeter")
    assert response.rsc == 2001
    assert (await ncore.retrieve(f"{container}/la", fr="Cmeter")).pc["m2m:cin"]["con"] == "kept"
    assert "notifying created" in caplog.text and "bug in rendering" in caplog.text
