"""Subscriptions on flexContainers: net 1-4 delivered over HTTP to a real receiver, the
specialization's root in rep, nct 2 with only what changed, JSON and CBOR."""
from __future__ import annotations

import pytest

from tests.conftest import CoreClient
from tests.notify.conftest import notifying_cse
from tests.notify.receiver import Receiver

from .conftest import AE, METER, create_energy

EC = f"{METER}/energyConsumption"


@pytest.fixture
async def ncore(clock):
    cse = notifying_cse(clock)
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae(AE, rn="meter")).rsc == 2001
        yield client
    finally:
        await cse.stop()


@pytest.fixture
async def receiver():
    target = await Receiver().start()
    try:
        yield target
    finally:
        await target.stop()


async def subscribe(core, to: str, nu: str, **attributes):
    response = await core.create(to, 23, {"m2m:sub": {"nu": [nu], **attributes}}, fr=AE)
    assert response.rsc == 2001, response.pc
    return response.pc["m2m:sub"]


async def test_update_notification_carries_the_specialization_root(ncore, receiver):
    await create_energy(ncore)
    await subscribe(ncore, EC, receiver.url())
    await ncore.update(EC, {"cod:eneCn": {"power": 990.5}}, fr=AE)
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["net"] == 1
    rep = received.sgn["nev"]["rep"]
    assert list(rep) == ["cod:eneCn"]
    assert rep["cod:eneCn"]["power"] == 990.5 and rep["cod:eneCn"]["st"] == 1 and rep["cod:eneCn"]["ty"] == 28


async def test_nct_2_sends_only_the_modified_attributes_under_the_root(ncore, receiver):
    await create_energy(ncore, volte=230.0)
    await subscribe(ncore, EC, receiver.url(), nct=2)
    await ncore.update(EC, {"cod:eneCn": {"power": 990.5, "volte": None}}, fr=AE)
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["rep"] == {"cod:eneCn": {"power": 990.5, "volte": None}}


async def test_net_1_to_4_on_a_flexcontainer_keeping_instances(ncore, receiver):
    await create_energy(ncore, mni=1)
    sub = await subscribe(ncore, EC, receiver.url(), rn="all", enc={"net": [1, 2, 3, 4]})
    await ncore.update(EC, {"cod:eneCn": {"power": 10.0}}, fr=AE)      # an update and a new instance
    first = await receiver.wait_for(2)
    by_event = {n.sgn["nev"]["net"]: n.sgn["nev"]["rep"] for n in first}
    assert by_event[1]["cod:eneCn"]["ty"] == 28 and by_event[1]["cod:eneCn"]["power"] == 10.0
    assert by_event[3]["cod:eneCn"]["ty"] == 58 and by_event[3]["cod:eneCn"]["power"] == 10.0
    # The instance pruned by mni=1 is no deletion to report; a container made and removed is.
    assert (await ncore.create(EC, 3, {"m2m:cnt": {"rn": "log"}}, fr=AE)).rsc == 2001
    assert (await ncore.delete(f"{EC}/log", fr=AE)).rsc == 2002
    assert (await ncore.delete(EC, fr=AE)).rsc == 2002
    received = await receiver.wait_for(5)
    events = [(n.sgn["nev"]["net"], next(iter(n.sgn["nev"]["rep"]))) for n in received[2:]]
    assert events == [(3, "m2m:cnt"), (4, "m2m:cnt"), (2, "cod:eneCn")]
    assert all(n.sgn["sur"] == f"/id-in/{sub['ri']}" for n in received)


async def test_a_parent_hears_of_a_new_module_with_its_root(ncore, receiver):
    await subscribe(ncore, METER, receiver.url(), enc={"net": [3]})
    created = (await create_energy(ncore)).pc
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"] == {"net": 3, "rep": created}


async def test_notifications_in_cbor(ncore, receiver):
    await create_energy(ncore)
    response = await ncore.create(EC, 23, {"m2m:sub": {"nu": [receiver.url()]}}, fr=AE,
                                  accept="cbor")
    assert response.rsc == 2001, response.pc
    await ncore.update(EC, {"cod:eneCn": {"abECn": 1240.0}}, fr=AE)
    [received] = await receiver.wait_for(1)
    assert received.serialization == "cbor"
    assert received.sgn["nev"]["rep"]["cod:eneCn"]["abECn"] == 1240.0
