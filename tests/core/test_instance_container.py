"""The instance-container base (resources/instance_container.py, resources/instance.py) serves
any pair of types, not only container/contentInstance: a pair declared in a few lines, with
other type numbers, gets counters, la/ol, pruning, mia and the mbs refusal.  (The pair
reuses the cnt and cin schemas, in place of the real timeSeries types.)"""
from __future__ import annotations

import pytest

from server.compose import build_cse
from cse.clock import format_timestamp
from cse.resource_types import Ty
from cse.type_registry import TypeRegistry
from resources import default_types
from resources.instance import Instance
from resources.instance_container import InstanceContainer
from tests.conftest import CoreClient, make_config


class Series(InstanceContainer):
    ty = Ty.TS
    short_name = "cnt"
    type_name = "series"
    parent_types = frozenset({Ty.AE})
    instance_type = Ty.TSI


class Reading(Instance):
    ty = Ty.TSI
    short_name = "cin"
    type_name = "reading"
    parent_types = frozenset({Ty.TS})


@pytest.fixture
async def series(clock):
    types = TypeRegistry([t for t in default_types() if t.ty not in (Ty.CNT, Ty.CIN, Ty.TS, Ty.TSI)] + [Series(), Reading()])
    cse = build_cse(make_config(), clock=clock, types=types)
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae("Cmeter", rn="meter")).rsc == 2001
        created = await client.create("cse-in/meter", 29, {"m2m:cnt": {"rn": "s", "mni": 2, "mbs": 10}},
                                      fr="Cmeter")
        assert created.rsc == 2001
        yield client
    finally:
        await cse.stop()


async def post(client: CoreClient, con: str):
    return await client.create("cse-in/meter/s", 30, {"m2m:cin": {"con": con}}, fr="Cmeter")


async def test_another_pair_of_types_keeps_a_bounded_history(series):
    empty = await series.retrieve("cse-in/meter/s/la", fr="Cmeter")
    assert (empty.rsc, empty.pc["m2m:dbg"]) == (4004, "cse-in/meter/s/la: the series holds no reading")
    for con in ("a1", "b22", "c333"):
        assert (await post(series, con)).rsc == 2001
    state = (await series.retrieve("cse-in/meter/s", fr="Cmeter")).pc["m2m:cnt"]
    assert (state["ty"], state["cni"], state["cbs"], state["st"]) == (29, 2, 7, 3)     # a1 pruned (mni 2)
    latest = (await series.retrieve("cse-in/meter/s/la", fr="Cmeter")).pc["m2m:cin"]
    oldest = (await series.retrieve("cse-in/meter/s/ol", fr="Cmeter")).pc["m2m:cin"]
    assert (latest["con"], latest["ty"], latest["cs"], oldest["con"]) == ("c333", 30, 4, "b22")


async def test_the_instance_side_refuses_and_caps_as_for_a_container(series, clock):
    too_big = await post(series, "x" * 11)
    assert (too_big.rsc, too_big.pc["m2m:dbg"]) == (
        5207, "content size 11 exceeds the series's maxByteSize (mbs) 10")
    assert (await series.update("cse-in/meter/s", {"m2m:cnt": {"mia": 60}}, fr="Cmeter")).rsc == 2004
    reading = (await post(series, "1")).pc["m2m:cin"]
    assert reading["et"] == format_timestamp(clock.now() + 60)                # capped by mia
    refused = await series.update(f"cse-in/meter/s/{reading['rn']}", {"m2m:cin": {"lbl": ["x"]}}, fr="Cmeter")
    assert (refused.rsc, refused.pc["m2m:dbg"]) == (4005, "a reading cannot be updated")
    assert (await series.update("cse-in/meter/s", {"m2m:cnt": {"disr": True}}, fr="Cmeter")).rsc == 2004
    hidden = await series.retrieve("cse-in/meter/s/la", fr="Cmeter")
    assert hidden.rsc == 4005 and "disabled (disr)" in hidden.pc["m2m:dbg"]
