"""Every resource has an et (docs/conformance.md, "Lifetimes, defaults, attributes and
validation"): the default lifetime when none is given, capped by the maximum lifetime and by
the parent's et; data stored before this (without et) keeps working."""
from __future__ import annotations

import json
import time

import aiohttp
import pytest

from cse.clock import format_timestamp, parse_timestamp
from server.compose import build_cse, configured_bindings
from tests.conftest import CoreClient, HttpClient, make_config

FIVE_YEARS = 157_680_000
AE = {"api": "Nmeter", "rr": False, "srv": ["3"]}


async def call(client: HttpClient, method: str, path: str, body: dict | None = None, *,
               fr: str = "CAdmin", ty: int | None = None, rvi: str = "3") -> tuple[int, dict]:
    response, payload = await client.call(method, path, originator=fr, ty=ty, body=body,
                                          headers={"X-M2M-RVI": rvi})
    return int(response.headers["X-M2M-RSC"]), (json.loads(payload) if payload else {})


@pytest.fixture
async def http(tmp_path):
    cse = build_cse(make_config(**{"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}"}),
                    bindings=configured_bindings)
    await cse.start()
    binding = next(b for b in cse.bindings if b.name == "http")
    async with aiohttp.ClientSession() as session:
        try:
            yield HttpClient(binding.url, session)
        finally:
            await cse.stop()


async def test_a_resource_without_et_gets_five_years_over_http(http):
    before = time.time()
    rsc, body = await call(http, "POST", "/cse-in", {"m2m:ae": AE}, fr="Cmeter", ty=2)
    assert rsc == 2001, body
    et = parse_timestamp(body["m2m:ae"]["et"])
    assert before + FIVE_YEARS - 1 <= et <= time.time() + FIVE_YEARS + 1
    rsc, body = await call(http, "POST", "/cse-in/Cmeter", {"m2m:cnt": {"rn": "power"}}, fr="Cmeter", ty=3)
    assert rsc == 2001 and "et" in body["m2m:cnt"]
    rsc, body = await call(http, "POST", "/cse-in/Cmeter/power", {"m2m:cin": {"con": "1"}}, fr="Cmeter", ty=4)
    assert rsc == 2001 and "et" in body["m2m:cin"]
    rsc, body = await call(http, "GET", "/cse-in")
    assert rsc == 2000 and "et" not in body["m2m:cb"]       # the CSEBase has no et (TS)


async def test_an_et_beyond_the_maximum_or_the_parent_is_shortened_over_http(http):
    assert (await call(http, "POST", "/cse-in", {"m2m:ae": AE}, fr="Cmeter", ty=2))[0] == 2001
    rsc, body = await call(http, "POST", "/cse-in/Cmeter",
                           {"m2m:cnt": {"rn": "power", "et": "20991231T000000"}}, fr="Cmeter", ty=3)
    assert rsc == 2001
    parent_et = body["m2m:cnt"]["et"]
    assert parse_timestamp(parent_et) <= time.time() + FIVE_YEARS + 1       # capped to the maximum
    rsc, body = await call(http, "POST", "/cse-in/Cmeter/power",
                           {"m2m:cnt": {"rn": "day", "et": "20991231T000000"}}, fr="Cmeter", ty=3)
    assert rsc == 2001 and body["m2m:cnt"]["et"] == parent_et              # capped to the parent's
    # A past et is refused, as before.
    rsc, body = await call(http, "POST", "/cse-in/Cmeter/power",
                           {"m2m:cnt": {"et": "20000101T000000"}}, fr="Cmeter", ty=3)
    assert rsc == 4000 and "not in the future" in body["m2m:dbg"]


@pytest.fixture
async def short(clock):
    """A CSE whose lifetimes are short enough to compare exactly (manual clock)."""
    cse = build_cse(make_config(**{"cse.default_lifetime": 600, "cse.max_lifetime": 3600}), clock=clock)
    await cse.start()
    try:
        yield CoreClient(cse)
    finally:
        await cse.stop()


def after(clock, seconds: float) -> str:
    return format_timestamp(clock.now() + seconds)


async def test_default_maximum_and_parent_bounds(short, clock):
    assert (await short.register_ae(et=after(clock, 3600))).rsc == 2001
    # No et: the default lifetime.
    response = await short.create("cse-in/Cmeter", 3, {"m2m:cnt": {"rn": "a"}}, fr="Cmeter")
    assert response.pc["m2m:cnt"]["et"] == after(clock, 600)
    # Within the maximum: as asked; beyond it: the maximum.
    response = await short.create("cse-in/Cmeter", 3, {"m2m:cnt": {"rn": "b", "et": after(clock, 1800)}},
                                  fr="Cmeter")
    assert response.pc["m2m:cnt"]["et"] == after(clock, 1800)
    response = await short.create("cse-in/Cmeter", 3, {"m2m:cnt": {"rn": "c", "et": after(clock, 7200)}},
                                  fr="Cmeter")
    assert response.pc["m2m:cnt"]["et"] == after(clock, 3600)
    # A child cannot outlive its parent: "a" ends in 600 s.
    response = await short.create("cse-in/Cmeter/a", 3, {"m2m:cnt": {"rn": "x", "et": after(clock, 900)}},
                                  fr="Cmeter")
    assert response.pc["m2m:cnt"]["et"] == after(clock, 600)
    response = await short.create("cse-in/Cmeter/a", 4, {"m2m:cin": {"con": "1"}}, fr="Cmeter")
    assert response.pc["m2m:cin"]["et"] == after(clock, 600)
    clock.advance(100)
    response = await short.create("cse-in/Cmeter/a", 3, {"m2m:cnt": {"rn": "y"}}, fr="Cmeter")
    assert response.pc["m2m:cnt"]["et"] == after(clock, 500)         # the default, cut to the parent's


async def test_update_of_et_is_bounded_the_same_way(short, clock):
    assert (await short.register_ae(et=after(clock, 3600))).rsc == 2001
    await short.create("cse-in/Cmeter", 3, {"m2m:cnt": {"rn": "a", "et": after(clock, 1800)}}, fr="Cmeter")
    await short.create("cse-in/Cmeter/a", 3, {"m2m:cnt": {"rn": "x"}}, fr="Cmeter")
    response = await short.update("cse-in/Cmeter/a/x", {"m2m:cnt": {"et": after(clock, 3000)}}, fr="Cmeter")
    assert response.rsc == 2004 and response.pc["m2m:cnt"]["et"] == after(clock, 1800)
    response = await short.update("cse-in/Cmeter/a", {"m2m:cnt": {"et": after(clock, 9000)}}, fr="Cmeter")
    assert response.pc["m2m:cnt"]["et"] == after(clock, 3600)
    # et null: the CSE chooses again, i.e. the default lifetime.
    response = await short.update("cse-in/Cmeter/a", {"m2m:cnt": {"et": None}}, fr="Cmeter")
    assert response.rsc == 2004 and response.pc["m2m:cnt"]["et"] == after(clock, 600)
    response = await short.update("cse-in/Cmeter/a", {"m2m:cnt": {"et": "20000101T000000"}}, fr="Cmeter")
    assert response.rsc == 4000 and "not in the future" in response.pc["m2m:dbg"]
    assert (await short.retrieve("cse-in/Cmeter/a", fr="Cmeter")).pc["m2m:cnt"]["et"] == after(clock, 600)


@pytest.mark.parametrize("overrides, words", [
    ({"cse.default_lifetime": -1}, "default_lifetime"),
    ({"cse.max_lifetime": -5}, "max_lifetime"),
])
def test_negative_lifetimes_are_refused(overrides, words):
    with pytest.raises(ValueError, match=words):
        make_config(**overrides)


async def test_data_stored_without_et_keeps_working(tmp_path, clock):
    """Resources stored by a CSE that set no et (default_lifetime 0, as before) stay, can be
    read and changed, and bound nothing below them."""
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    old = build_cse(make_config(**{"storage.url": url, "cse.default_lifetime": 0}), clock=clock)
    await old.start()
    client = CoreClient(old)
    assert (await client.register_ae()).rsc == 2001
    response = await client.create("cse-in/Cmeter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    assert "et" not in response.pc["m2m:cnt"]
    await old.stop()

    new = build_cse(make_config(**{"storage.url": url}), clock=clock)
    await new.start()
    try:
        client = CoreClient(new)
        clock.advance(10 * FIVE_YEARS)                   # nothing without et ever expires
        assert await new.reaper.reap_once() == 0
        response = await client.retrieve("cse-in/Cmeter/power", fr="Cmeter")
        assert response.rsc == 2000 and "et" not in response.pc["m2m:cnt"]
        response = await client.create("cse-in/Cmeter/power", 4, {"m2m:cin": {"con": "1"}}, fr="Cmeter")
        assert response.rsc == 2001
        assert response.pc["m2m:cin"]["et"] == format_timestamp(clock.now() + FIVE_YEARS)
        response = await client.update("cse-in/Cmeter/power", {"m2m:cnt": {"lbl": ["old"]}}, fr="Cmeter")
        assert response.rsc == 2004 and "et" not in response.pc["m2m:cnt"]
    finally:
        await new.stop()


def test_the_formatted_seconds_cache_is_bounded_and_exact():
    """format_timestamp keeps the last formatted seconds (every CREATE formats now and
    now + the default lifetime): bounded, and the same text as formatting afresh."""
    from cse import clock as clock_module
    for step in range(3 * clock_module.SECONDS_CACHE_SIZE):
        epoch = 1_700_000_000.25 + step * 3601
        fresh = time.strftime("%Y%m%dT%H%M%S", time.gmtime(int(epoch))) + ",250000"
        assert format_timestamp(epoch) == fresh
        assert clock_module._whole_seconds.cache_info().currsize <= clock_module.SECONDS_CACHE_SIZE
    assert format_timestamp(1_700_000_000.9999996) == format_timestamp(1_700_000_001)    # rounds up
    assert format_timestamp(10.0 ** 15) == "99991231T235959,000000"
