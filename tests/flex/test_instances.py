"""flexContainerInstances: when the CSE makes them (mni/mbs/mia as TS-0004 R4 says, or
fcied as ACME does), what they hold, la/ol, cni/cbs, pruning oldest first, and that a client
can neither create nor update one."""
from __future__ import annotations

import pytest

from cse.clock import parse_timestamp

from .conftest import AE, METER, create_energy

EC = f"{METER}/energyConsumption"
CS = len("1234.5") + len("1530.0")      # cs of create_energy's content


async def body(flex, path: str = EC) -> dict:
    response = await flex.retrieve(path, fr=AE)
    assert response.rsc == 2000, (path, response.pc)
    return response.pc["cod:eneCn"]


async def power(flex, watts: float, **extra):
    response = await flex.update(EC, {"cod:eneCn": {"power": watts, **extra}}, fr=AE)
    assert response.rsc == 2004, response.pc
    return response.pc["cod:eneCn"]


async def instances(flex) -> list[dict]:
    listing = await flex.retrieve(EC, fr=AE, rcn=8, fc={"ty": [58]})
    return listing.pc["cod:eneCn"].get("cod:eneCn", [])


async def test_with_mni_every_update_of_a_custom_attribute_makes_an_instance_oldest_pruned(flex):
    created = await create_energy(flex, mni=3)
    assert (created.pc["cod:eneCn"]["cni"], created.pc["cod:eneCn"]["cbs"]) == (1, CS)
    for watts in (1500.0, 1501.0, 1502.0, 1503.0):
        after = await power(flex, watts)
    assert (after["cni"], after["cbs"], after["st"]) == (3, 3 * CS, 4)
    kept = await instances(flex)
    assert [i["power"] for i in kept] == [1501.0, 1502.0, 1503.0]
    assert [i["st"] for i in kept] == [2, 3, 4]
    latest = await body(flex, f"{EC}/la")
    assert latest == kept[-1]
    assert latest["ty"] == 58 and latest["abECn"] == 1234.5 and latest["cs"] == CS and latest["org"] == AE
    assert "cnd" not in latest and "mni" not in latest
    assert (await body(flex, f"{EC}/ol"))["power"] == 1501.0


async def test_an_instance_answers_under_the_flexcontainers_root(flex):
    old = {"hd:binSh": {"rn": "switch", "cnd": "org.onem2m.home.moduleclass.binarySwitch", "powSe": True,
                        "fcied": True}}
    assert (await flex.create(METER, 28, old, fr=AE)).rsc == 2001
    assert (await flex.update(f"{METER}/switch", {"hd:binSh": {"powSe": False}}, fr=AE)).rsc == 2004
    latest = await flex.retrieve(f"{METER}/switch/la", fr=AE)
    assert list(latest.pc) == ["hd:binSh"] and latest.pc["hd:binSh"]["powSe"] is False
    found = await flex.retrieve(METER, fr=AE, fc={"fu": 1, "ty": [58]})
    assert len(found.pc["m2m:uril"]) == 2


async def test_without_limits_or_fcied_no_instances_are_kept(flex):
    created = await create_energy(flex)
    assert "cni" not in created.pc["cod:eneCn"]
    await power(flex, 1.0)
    gone = await flex.retrieve(f"{EC}/la", fr=AE)
    assert gone.rsc == 4004 and "holds no flexContainerInstance" in gone.pc["m2m:dbg"]
    assert await instances(flex) == []


@pytest.mark.parametrize("change,makes_one", [
    ({"power": 2.0}, True),
    ({"volte": None}, True),              # deleting a data point changes the content
    ({"lbl": ["meter"]}, True),           # copied into instances (ACME)
    ({"or": "http://ontology.example"}, False),
    ({"mni": 5}, False),
])
async def test_which_updates_make_an_instance(flex, change, makes_one):
    await create_energy(flex, mni=10, volte=230.0)
    updated = (await flex.update(EC, {"cod:eneCn": change}, fr=AE)).pc["cod:eneCn"]
    assert updated["cni"] == (2 if makes_one else 1)


async def test_fcied_true_makes_instances_without_limits(flex):
    await create_energy(flex, fcied=True)
    for watts in range(5):
        after = await power(flex, float(watts))
    assert after["cni"] == 6 and "mni" not in after


async def test_fcied_false_keeps_a_history_without_adding_then_true_resumes_and_false_keeps_the_newest(flex):
    created = (await create_energy(flex, fcied=False, mni=5)).pc["cod:eneCn"]
    assert created["cni"] == 1
    assert (await power(flex, 1.0))["cni"] == 1
    switched_on = (await flex.update(EC, {"cod:eneCn": {"fcied": True}}, fr=AE)).pc["cod:eneCn"]
    assert switched_on["cni"] == 2
    await power(flex, 2.0)
    await power(flex, 3.0)
    off = (await flex.update(EC, {"cod:eneCn": {"fcied": False}}, fr=AE)).pc["cod:eneCn"]
    assert (off["cni"], off["cbs"]) == (1, off["cs"])
    assert (await body(flex, f"{EC}/la"))["power"] == 3.0 == (await body(flex, f"{EC}/ol"))["power"]


async def test_fcied_null_deletes_the_history_and_the_limits(flex):
    await create_energy(flex, fcied=True, mni=4, mia=3600)
    await power(flex, 1.0)
    cleared = (await flex.update(EC, {"cod:eneCn": {"fcied": None}}, fr=AE)).pc["cod:eneCn"]
    assert not {"fcied", "mni", "mia", "cni", "cbs"} & cleared.keys()
    assert await instances(flex) == []
    assert (await flex.retrieve(f"{EC}/la", fr=AE)).rsc == 4004


async def test_removing_the_last_limit_ends_the_history_and_setting_one_starts_it(flex):
    await create_energy(flex, mni=4)
    await power(flex, 1.0)
    ended = (await flex.update(EC, {"cod:eneCn": {"mni": None}}, fr=AE)).pc["cod:eneCn"]
    assert "cni" not in ended and await instances(flex) == []
    started = (await flex.update(EC, {"cod:eneCn": {"mbs": 100}}, fr=AE)).pc["cod:eneCn"]
    assert (started["cni"], started["cbs"]) == (1, len("1234.5") + len("1.0"))
    assert (await body(flex, f"{EC}/la"))["power"] == 1.0


async def test_mbs_prunes_by_bytes_and_lowering_mni_prunes_at_once(flex):
    await create_energy(flex, mbs=2 * CS)
    for watts in (1000.0, 1001.0, 1002.0):
        after = await power(flex, watts)
    assert (after["cni"], after["cbs"]) == (2, 2 * CS)
    raised = (await flex.update(EC, {"cod:eneCn": {"mbs": 10 * CS, "mni": 5}}, fr=AE)).pc["cod:eneCn"]
    for watts in (1.0, 2.0, 3.0):
        await power(flex, watts)
    assert (await body(flex))["cni"] == 5 and raised["cni"] == 2
    lowered = (await flex.update(EC, {"cod:eneCn": {"mni": 2}}, fr=AE)).pc["cod:eneCn"]
    assert lowered["cni"] == 2
    assert [i["power"] for i in await instances(flex)] == [2.0, 3.0]


async def test_mia_bounds_the_expiry_of_instances(flex, clock):
    await create_energy(flex, mia=60)
    first = await body(flex, f"{EC}/la")
    assert parse_timestamp(first["et"]) == pytest.approx(clock.now() + 60, abs=0.01)
    clock.advance(61)
    assert (await flex.retrieve(f"{EC}/la", fr=AE)).rsc == 4004     # expired
    await power(flex, 7.0)
    assert (await body(flex, f"{EC}/la"))["power"] == 7.0


@pytest.mark.parametrize("op,to,content,message", [
    ("create", EC, {"cod:eneCn": {"power": 1.0}}, "a flexContainerInstance cannot be created by a request"),
    ("update", f"{EC}/la", {"cod:eneCn": {"power": 1.0}}, "the virtual resource 'la' cannot be updated"),
    ("update", "instance", {"cod:eneCn": {"power": 1.0}}, "a flexContainerInstance cannot be updated"),
])
async def test_instances_are_made_by_the_cse_only(flex, op, to, content, message):
    await create_energy(flex, mni=3)
    if to == "instance":
        to = f"{EC}/{(await body(flex, f'{EC}/la'))['rn']}"
    if op == "create":
        refused = await flex.create(to, 58, content, fr=AE)
    else:
        refused = await flex.update(to, content, fr=AE)
    assert (refused.rsc, refused.pc["m2m:dbg"]) == (4005, message)
    assert (await body(flex))["cni"] == 1


async def test_deleting_la_removes_the_newest_instance(flex):
    await create_energy(flex, mni=3)
    await power(flex, 5.0)
    assert (await flex.delete(f"{EC}/la", fr=AE)).rsc == 2002
    after = await body(flex)
    assert (after["cni"], after["cbs"]) == (1, CS)
    assert (await body(flex, f"{EC}/la"))["power"] == 1530.0
    assert after["power"] == 5.0           # the flexContainer itself keeps its state


async def test_an_instance_is_not_subscribable_and_has_no_children(flex):
    await create_energy(flex, mni=3)
    instance = f"{EC}/{(await body(flex, f'{EC}/la'))['rn']}"
    refused = await flex.create(instance, 23, {"m2m:sub": {"nu": [AE]}}, fr=AE)
    assert refused.rsc == 5203
