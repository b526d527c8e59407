"""Fairness (issue 18): a heavy walk (unindexed discovery, rcn=4 on a big container) gives the
event loop back in slices, so a cheap `la` retrieve is not held up for the whole walk."""
from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from server.compose import build_cse
from tests.conftest import CoreClient, make_config

INSTANCES = 4000


@pytest.fixture
async def big(tmp_path):
    cse = build_cse(make_config(**{"storage.url": f"sqlite://{tmp_path / 'f.sqlite'}"}))
    await cse.start()
    core = CoreClient(cse)
    await core.register_ae("Cm", rn="m")
    await core.create("cse-in/m", 3, {"m2m:cnt": {"rn": "big", "mni": INSTANCES * 2}}, fr="Cm")
    await core.create("cse-in/m", 3, {"m2m:cnt": {"rn": "small"}}, fr="Cm")
    await core.create("cse-in/m/small", 4, {"m2m:cin": {"con": "1"}}, fr="Cm")
    for start in range(0, INSTANCES, 200):
        await asyncio.gather(*(core.create("cse-in/m/big", 4, {"m2m:cin": {"con": f"v{i}", "lbl": [f"n{i}"]}},
                                           fr="Cm") for i in range(start, start + 200)))
    try:
        yield core
    finally:
        await cse.stop()


HEAVY = {
    # an attribute match no index answers: every instance is looked at
    "unindexed discovery": dict(op=2, to="cse-in/m/big", fc={"fu": 1, "cty": ["text/none"]}),
    # every instance in full
    "rcn=4": dict(op=2, to="cse-in/m/big", rcn=4),
    # a 4,000-result discovery
    "all-result discovery": dict(op=2, to="cse-in/m/big", fc={"fu": 1, "ty": [4]}),
}


@pytest.mark.parametrize("name", list(HEAVY))
async def test_a_cheap_retrieve_is_not_held_up_by_heavy_walks(big, name):
    core = big
    heavy = HEAVY[name]

    async def one_heavy() -> float:
        started = time.perf_counter()
        response = await core.request(heavy["op"], heavy["to"], "Cm",
                                      **{k: v for k, v in heavy.items() if k not in ("op", "to")})
        assert response.rsc == 2000, response.pc
        return time.perf_counter() - started

    alone = min([await one_heavy() for _ in range(3)])
    stop = asyncio.Event()

    async def loop_heavy() -> None:
        while not stop.is_set():
            await one_heavy()
            await asyncio.sleep(0)     # (without slices the walk itself never lets anyone in)

    looping = [asyncio.ensure_future(loop_heavy()) for _ in range(3)]
    await asyncio.sleep(alone)
    latencies = []
    try:
        for _ in range(30):
            started = time.perf_counter()
            response = await core.retrieve("cse-in/m/small/la", fr="Cm")
            latencies.append(time.perf_counter() - started)
            assert response.rsc == 2000
            await asyncio.sleep(0.005)
    finally:
        stop.set()
        await asyncio.gather(*looping)
    # Without slices an `la` waits for the heavy requests in progress: about `alone` or more.
    assert statistics.median(latencies) < alone / 4, (name, alone, sorted(latencies))
