"""Random histories on one container keep its counters equal to what is stored.

cni and cbs are counters kept with every change (creation, deletion through la/ol or by
name, pruning by mni/mbs, a new mia, expiry, replacement of an expired name), never
recounted; st only grows.  After every step they must equal the storage's own count.
"""
from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cse.clock import ManualClock, format_timestamp
from server.compose import build_cse
from tests.conftest import CoreClient, make_config

CONTAINER = "cse-in/m/c"
NAMES = st.none() | st.sampled_from(["a", "b"])
step = st.one_of(
    st.tuples(st.just("post"), st.integers(0, 12), NAMES, st.none() | st.integers(1, 5)),
    st.tuples(st.just("delete"), st.sampled_from(["la", "ol", "a", "b"])),
    st.tuples(st.just("limits"), st.sampled_from(["mni", "mbs", "mia"]), st.none() | st.integers(0, 40)),
    st.tuples(st.just("time"), st.integers(1, 10)),
    st.tuples(st.just("reap"),),
)


async def run(history) -> None:
    clock = ManualClock(1_700_000_000.0)
    cse = build_cse(make_config(), clock=clock)
    await cse.start()
    try:
        core = CoreClient(cse)
        await core.register_ae("Cm", rn="m")
        ri = (await core.create("cse-in/m", 3, {"m2m:cnt": {"rn": "c"}}, fr="Cm")).pc["m2m:cnt"]["ri"]
        last_st = 0
        for operation in history:
            kind = operation[0]
            if kind == "post":
                _, size, rn, lifetime = operation
                cin = {"con": "x" * size}
                if rn:
                    cin["rn"] = rn
                if lifetime:
                    cin["et"] = format_timestamp(clock.now() + lifetime)
                response = await core.create(CONTAINER, 4, {"m2m:cin": cin}, fr="Cm")
                assert response.rsc in (2001, 4105, 5207), response.pc
            elif kind == "delete":
                response = await core.delete(f"{CONTAINER}/{operation[1]}", fr="Cm")
                assert response.rsc in (2002, 4004), response.pc
            elif kind == "limits":
                response = await core.update(CONTAINER, {"m2m:cnt": {operation[1]: operation[2]}}, fr="Cm")
                assert response.rsc == 2004, response.pc
            elif kind == "time":
                clock.advance(operation[1])
            else:
                await cse.reaper.reap_once()
            state = cse.storage.get(ri)
            assert (state["cni"], state["cbs"]) == cse.storage.child_stats(ri, 4), operation
            assert state["st"] >= last_st
            last_st = state["st"]
    finally:
        await cse.stop()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=25))
def test_container_counters_follow_every_change(history):
    asyncio.run(run(history))
