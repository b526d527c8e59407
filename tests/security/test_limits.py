"""Limits on what one request may ask for, each answered with a clear error."""
from __future__ import annotations

import pytest

from server.compose import build_cse
from tests.conftest import CoreClient, make_config

LIMITS = {"limits.max_rn_length": 16, "limits.max_labels": 3, "limits.max_label_length": 8,
          "limits.max_tree_depth": 4, "limits.max_attribute_bytes": 64}


@pytest.fixture
async def limited(clock):
    cse = build_cse(make_config(**LIMITS), clock=clock)
    await cse.start()
    client = CoreClient(cse)
    assert (await client.register_ae("Cm", rn="m")).rsc == 2001
    assert (await client.create("cse-in/m", 3, {"m2m:cnt": {"rn": "c"}}, fr="Cm")).rsc == 2001
    try:
        yield client
    finally:
        await cse.stop()


@pytest.mark.parametrize("target,ty,attributes,words", [
    ("cse-in/m", 3, {"rn": "x" * 17}, "'rn' is longer than 16"),
    ("cse-in/m", 3, {"lbl": ["a", "b", "c", "d"]}, "more than 3 labels"),
    ("cse-in/m", 3, {"lbl": ["a" * 9]}, "longer than 8"),
    ("cse-in/m/c", 4, {"con": "x" * 65}, "'con' is 65 bytes; the limit is 64"),
    ("cse-in/m/c", 4, {"con": "é" * 33}, "'con' is 66 bytes"),
    ("cse-in/m/c", 4, {"con": {"deep": ["x" * 70]}}, "'con' is"),
    ("cse-in/m", 3, {"rn": "la"}, "reserved for a virtual resource"),
])
async def test_create_beyond_a_limit_is_refused(limited, target, ty, attributes, words):
    root = {3: "m2m:cnt", 4: "m2m:cin"}[ty]
    response = await limited.create(target, ty, {root: attributes}, fr="Cm")
    assert response.rsc == 4000, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_values_at_the_limits_are_accepted(limited):
    response = await limited.create("cse-in/m", 3, {"m2m:cnt": {"rn": "x" * 16, "lbl": ["a" * 8] * 3}}, fr="Cm")
    assert response.rsc == 2001, response.pc
    assert (await limited.create("cse-in/m/c", 4, {"m2m:cin": {"con": "x" * 64}}, fr="Cm")).rsc == 2001


@pytest.mark.parametrize("changes,words", [
    ({"lbl": ["a", "b", "c", "d"]}, "more than 3 labels"),
    ({"lbl": ["abcdefghijk"]}, "longer than 8"),
    ({"lbl": ["a" * 8, "b" * 8, "c" * 8], "or": "x" * 65}, "'or' is 65 bytes"),
])
async def test_update_beyond_a_limit_is_refused(limited, changes, words):
    response = await limited.update("cse-in/m/c", {"m2m:cnt": changes}, fr="Cm")
    assert response.rsc == 4000 and words in response.pc["m2m:dbg"]


async def test_tree_depth(limited):
    assert (await limited.create("cse-in/m/c", 3, {"m2m:cnt": {"rn": "d"}}, fr="Cm")).rsc == 2001
    response = await limited.create("cse-in/m/c/d", 3, {"m2m:cnt": {"rn": "e"}}, fr="Cm")
    assert response.rsc == 4000 and "deeper than 4 levels" in response.pc["m2m:dbg"]


# -- request rate -------------------------------------------------------------------------
@pytest.fixture
async def throttled(clock):
    cse = build_cse(make_config(**{"limits.rate_per_originator": 2.0, "limits.rate_burst": 3}), clock=clock)
    await cse.start()
    try:
        yield CoreClient(cse)
    finally:
        await cse.stop()


async def test_rate_limit_per_originator(throttled, clock):
    for _ in range(3):
        assert (await throttled.retrieve("cse-in", fr="CAdmin")).rsc == 2000
    refused = await throttled.retrieve("cse-in", fr="CAdmin")
    assert refused.rsc == 4005
    assert "rate limit exceeded for originator 'CAdmin'" in refused.pc["m2m:dbg"]
    assert refused.extra["retry_after"] == pytest.approx(0.5)
    # Another originator has its own bucket.
    assert (await throttled.register_ae("Cx")).rsc == 2001
    clock.advance(0.5)
    assert (await throttled.retrieve("cse-in", fr="CAdmin")).rsc == 2000
    assert (await throttled.retrieve("cse-in", fr="CAdmin")).rsc == 4005
    clock.advance(10)       # refills to the burst, not beyond
    assert [(await throttled.retrieve("cse-in", fr="CAdmin")).rsc for _ in range(4)] == [2000] * 3 + [4005]


async def test_requests_without_originator_are_counted_per_address(throttled):
    ae = {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"]}}
    results = [(await throttled.create("cse-in", 2, ae, fr=None, remote_address="192.0.2.1")).rsc
               for _ in range(4)]
    assert results == [2001, 2001, 2001, 4005]
    assert (await throttled.create("cse-in", 2, ae, fr=None, remote_address="192.0.2.2")).rsc == 2001


def test_rate_limiter_forgets_idle_originators():
    from cse.ratelimit import RateLimiter
    limiter = RateLimiter(rate=10, burst=2, max_tracked=100)
    for i in range(100):
        limiter.admit(f"C{i}", None, now=0.0)
    limiter.admit("Cnew", None, now=1.0)          # everyone before is full again
    assert len(limiter._buckets) == 1
    for i in range(200):
        limiter.admit(f"D{i}", None, now=1.0)     # all busy: never more than max_tracked
        assert len(limiter._buckets) <= 100


@pytest.mark.parametrize("overrides,words", [
    ({"limits.rate_per_originator": -1.0}, "rate_per_originator"),
    ({"limits.rate_burst": 0}, "rate_burst"),
])
def test_bad_rate_settings_are_refused(overrides, words):
    from cse.config import ConfigError
    with pytest.raises(ConfigError, match=words):
        make_config(**overrides)


# -- operation execution time ---------------------------------------------------------------
@pytest.mark.parametrize("oet", ["9" * 40, "3600000", "20991231T235959"])
async def test_far_operation_execution_time_is_refused_at_once(core, oet):
    response = await core.retrieve("cse-in", oet=oet)
    assert response.rsc == 4000
    assert "waits at most 60 s" in response.pc["m2m:dbg"]


async def test_past_operation_execution_time_executes_at_once(core):
    response = await core.retrieve("cse-in", oet="-1000")
    assert response.rsc == 2000
