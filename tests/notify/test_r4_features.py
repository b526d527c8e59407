"""R4 subscription features: blocking update (net 7), operationMonitor (enc om), eeno, and
the defaults the CSE writes back into a subscription (enc net, bn dur)."""
from __future__ import annotations

import asyncio

from .conftest import meter_with_container, post_reading, subscribe


# -- defaults written back -------------------------------------------------------------------
async def test_defaults_are_written_into_the_subscription(ncore):
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, "Cmeter", bn={"num": 3})).pc["m2m:sub"]
    assert sub["enc"] == {"net": [1]}
    assert sub["nct"] == 1
    assert sub["bn"] == {"num": 3, "dur": "PT60S"}
    assert "nsi" not in sub
    stored = (await ncore.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]
    assert (stored["enc"], stored["bn"]) == ({"net": [1]}, {"num": 3, "dur": "PT60S"})
    updated = await ncore.update(sub["ri"], {"m2m:sub": {"bn": {"num": 5}}}, fr="Cmeter")
    assert updated.pc["m2m:sub"]["bn"] == {"num": 5, "dur": "PT60S"}


# -- net 7: blocking update ------------------------------------------------------------------
async def test_a_blocking_update_waits_for_the_subscriber_and_goes_ahead_when_it_agrees(ncore, receivers):
    container = await meter_with_container(ncore)
    gate = asyncio.Event()
    subscriber = await receivers(gate=gate)
    sub = (await subscribe(ncore, container, subscriber.url(), enc={"net": [7]})).pc["m2m:sub"]
    assert sub["nct"] == 2                                  # the default of net 7
    update = asyncio.create_task(ncore.update(container, {"m2m:cnt": {"lbl": ["peak"]}}, fr="Cmeter"))
    [asked] = await subscriber.wait_for(1)
    assert asked.sgn["nev"] == {"net": 7, "rep": {"m2m:cnt": {"lbl": ["peak"]}}}
    assert asked.sgn["sur"] == f"/id-in/{sub['ri']}"
    assert not update.done()                                # it waits for the answer
    assert "lbl" not in (await ncore.retrieve(container, fr="Cmeter")).pc["m2m:cnt"]
    gate.set()
    response = await asyncio.wait_for(update, 10)
    assert response.rsc == 2004 and response.pc["m2m:cnt"]["lbl"] == ["peak"]


async def test_a_blocking_update_fails_when_the_subscriber_refuses(ncore, receivers):
    container = await meter_with_container(ncore)
    subscriber = await receivers(rsc=4005)
    await subscribe(ncore, container, subscriber.url(), enc={"net": [7]})
    response = await ncore.update(container, {"m2m:cnt": {"lbl": ["peak"]}}, fr="Cmeter")
    assert response.rsc == 4127, response.pc
    assert "refused the update (rsc 4005" in response.pc["m2m:dbg"]
    assert "lbl" not in (await ncore.retrieve(container, fr="Cmeter")).pc["m2m:cnt"]   # nothing written


async def test_a_blocking_update_fails_when_the_subscriber_is_gone(ncore, receivers):
    container = await meter_with_container(ncore)
    subscriber = await receivers()
    assert (await subscribe(ncore, container, subscriber.url(), enc={"net": [7]})).rsc == 2001
    await subscriber.stop()                                   # the subscriber went away
    response = await ncore.update(container, {"m2m:cnt": {"lbl": ["x"]}}, fr="Cmeter")
    assert response.rsc == 5107, response.pc
    assert subscriber.url() in response.pc["m2m:dbg"]
    assert "lbl" not in (await ncore.retrieve(container, fr="Cmeter")).pc["m2m:cnt"]


async def test_atr_limits_what_a_blocking_update_asks_about(ncore, receivers):
    container = await meter_with_container(ncore)
    subscriber = await receivers(rsc=4005)
    await subscribe(ncore, container, subscriber.url(), enc={"net": [7], "atr": ["mni"]})
    assert (await ncore.update(container, {"m2m:cnt": {"lbl": ["free"]}}, fr="Cmeter")).rsc == 2004
    assert (await ncore.update(container, {"m2m:cnt": {"mni": 5}}, fr="Cmeter")).rsc == 4127


async def test_one_blocking_subscription_per_resource_and_never_by_update(ncore, receiver):
    container = await meter_with_container(ncore)
    first = (await subscribe(ncore, container, receiver.url(), enc={"net": [7]})).pc["m2m:sub"]
    second = await subscribe(ncore, container, receiver.url(), enc={"net": [7]})
    assert second.rsc == 4124 and "already exists" in second.pc["m2m:dbg"]
    plain = (await subscribe(ncore, container, "Cmeter")).pc["m2m:sub"]
    for ri in (plain["ri"], first["ri"]):
        response = await ncore.update(ri, {"m2m:sub": {"enc": {"net": [7]}}}, fr="Cmeter")
        assert response.rsc == 4000 and "made by CREATE only" in response.pc["m2m:dbg"]
    response = await ncore.update(first["ri"], {"m2m:sub": {"exc": 3}}, fr="Cmeter")
    assert response.rsc == 4000 and "cannot have exc" in response.pc["m2m:dbg"]


async def test_an_update_without_blocking_subscription_is_not_held(ncore, receivers):
    """A net 1 subscription is notified after the response, never before it."""
    container = await meter_with_container(ncore)
    gate = asyncio.Event()
    subscriber = await receivers(gate=gate)
    await subscribe(ncore, container, subscriber.url(), enc={"net": [1]})
    response = await asyncio.wait_for(ncore.update(container, {"m2m:cnt": {"lbl": ["a"]}}, fr="Cmeter"), 5)
    assert response.rsc == 2004
    gate.set()
    assert (await subscriber.wait_for(1))[0].sgn["nev"]["net"] == 1


# -- operationMonitor and eeno ---------------------------------------------------------------
async def test_operation_monitor_notifies_operations_of_the_chosen_originator(ncore, receiver):
    container = await meter_with_container(ncore)
    acp = {"m2m:acp": {"rn": "shared", "pv": {"acr": [{"acor": ["Cmeter", "Cother"], "acop": 63}]},
                       "pvs": {"acr": [{"acor": ["Cmeter"], "acop": 63}]}}}
    assert (await ncore.create("cse-in/meter", 1, acp, fr="Cmeter")).rsc == 2001
    assert (await ncore.update(container, {"m2m:cnt": {"acpi": ["cse-in/meter/shared"]}}, fr="Cmeter")).rsc == 2004
    sub = await subscribe(ncore, container, receiver.url(), enc={"om": [{"org": "Cother"}, {"ops": 4}]})
    assert sub.rsc == 2001, sub.pc
    assert "net" not in sub.pc["m2m:sub"]["enc"]              # om is a criterion of its own
    await post_reading(ncore, container, "by the meter")      # not watched: Cmeter, CREATE
    await post_reading(ncore, container, "by the other", fr="Cother")
    [note] = await receiver.wait_for(1)
    assert note.sgn["nev"]["om"] == {"ops": 1, "org": "Cother"}
    assert "net" not in note.sgn["nev"]
    assert note.sgn["nev"]["rep"]["m2m:cin"]["con"] == "by the other"
    assert (await ncore.update(container, {"m2m:cnt": {"lbl": ["x"]}}, fr="Cother")).rsc == 2004
    assert (await ncore.delete(container, fr="Cmeter")).rsc == 2002    # ops 4, by anyone
    notes = await receiver.wait_for(3)
    assert [n.sgn["nev"]["om"] for n in notes[1:]] == [{"ops": 3, "org": "Cother"}, {"ops": 4, "org": "Cmeter"}]


async def test_eeno_names_the_originator_of_the_event(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc={"net": [3]}, eeno=True)
    await post_reading(ncore, container, 1)
    [note] = await receiver.wait_for(1)
    assert note.sgn["cr"] == "Cmeter"


async def test_without_eeno_no_originator_is_named(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc={"net": [3]})
    await post_reading(ncore, container, 1)
    [note] = await receiver.wait_for(1)
    assert "cr" not in note.sgn
