"""Filter criteria in UPDATE and DELETE (TS-0004: fc is optional there, as in RETRIEVE):
conditions on the target decide whether the operation happens at all; discovery (fu=1)
is for RETRIEVE only; NOTIFY takes no filter criteria."""
from __future__ import annotations

import pytest

from cse.primitives import Request

METER = "Cmeter"


@pytest.fixture
async def meter(core):
    assert (await core.register_ae(METER, rn="meter")).rsc == 2001
    response = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power", "lbl": ["unit:W"]}}, fr=METER)
    assert response.rsc == 2001
    await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "1"}}, fr=METER)
    return core


async def state(core):
    return (await core.retrieve("cse-in/meter/power", fr=METER)).pc["m2m:cnt"]


@pytest.mark.parametrize("fc", [{"lbl": ["unit:kW"]}, {"sts": 1}, {"ty": [4]}, {"chty": [3]}])
async def test_update_happens_only_when_the_target_meets_the_conditions(meter, fc):
    response = await meter.update("cse-in/meter/power", {"m2m:cnt": {"mni": 5}}, fr=METER, fc=fc)
    assert response.rsc == 4004 and "filter criteria" in response.pc["m2m:dbg"]
    assert "mni" not in await state(meter)
    met = {"lbl": ["unit:W"], "stb": 1, "chty": [4]}
    assert (await meter.update("cse-in/meter/power", {"m2m:cnt": {"mni": 5}}, fr=METER, fc=met)).rsc == 2004
    assert (await state(meter))["mni"] == 5


@pytest.mark.parametrize("rcn", [None, 0, 1])
async def test_delete_happens_only_when_the_target_meets_the_conditions(meter, rcn):
    response = await meter.delete("cse-in/meter/power", fr=METER, rcn=rcn, fc={"lbl": ["unit:kW"]})
    assert response.rsc == 4004 and "filter criteria" in response.pc["m2m:dbg"]
    assert (await meter.retrieve("cse-in/meter/power", fr=METER)).rsc == 2000
    assert (await meter.delete("cse-in/meter/power", fr=METER, rcn=rcn, fc={"lbl": ["unit:W"]})).rsc == 2002


async def test_delete_with_a_child_list_takes_conditions_as_the_list_selection(meter):
    response = await meter.delete("cse-in/meter/power", fr=METER, rcn=6, fc={"ty": [4]})
    assert response.rsc == 2002 and len(response.pc["m2m:rrl"]["rrf"]) == 1


@pytest.mark.parametrize("op", ["update", "delete"])
async def test_discovery_is_for_retrieve_only(meter, op):
    """A discovery-based operation ([R4+] fu=4) is not supported; fu=1 must not widen or
    be ignored: DELETE cse-in/meter with fu=1&ty=4 used to delete the whole AE."""
    args = ({"m2m:ae": {"lbl": ["x"]}},) if op == "update" else ()
    response = await getattr(meter, op)("cse-in/meter", *args, fr=METER, fc={"fu": 1, "ty": [4]})
    assert response.rsc == 4000 and "fu=1" in response.pc["m2m:dbg"]
    assert (await meter.retrieve("cse-in/meter", fr=METER)).pc["m2m:ae"].get("lbl") is None


async def test_notify_takes_no_filter_criteria(meter):
    response = await meter.cse.dispatcher.handle(Request(op=5, to="cse-in/meter", fr=METER, rqi="n", rvi="3",
                                                         pc={"m2m:sgn": {"vrq": True}}, fc={"lbl": ["x"]}))
    assert response.rsc == 4000 and "NOTIFY" in response.pc["m2m:dbg"]
