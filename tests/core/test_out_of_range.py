"""Numbers and values no resource or request can use: 4000 with a message, never 5000.

JSON bodies cannot carry most of these (orjson reads integers beyond 64 bits as floats),
but CBOR bodies, MQTT payloads and query strings can: integers beyond 64 bits, byte
strings, maps with integer keys, digit strings longer than Python converts, infinities.
"""
from __future__ import annotations

import pytest

METER = "Cmeter"
HUGE = 10 ** 30
ENDLESS_DIGITS = "1" * 5000          # more digits than int() converts by default


@pytest.fixture
async def meter(core):
    assert (await core.register_ae(METER, rn="meter")).rsc == 2001
    assert (await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr=METER)).rsc == 2001
    return core


@pytest.mark.parametrize("fields, words", [
    ({"rqet": ENDLESS_DIGITS}, "rqet"),
    ({"rqet": 10 ** 400}, "rqet"),
    ({"rqet": float("nan")}, "rqet"),
    ({"rset": float("inf")}, "rset"),
    ({"oet": ENDLESS_DIGITS}, "oet"),
    ({"rt": 1, "rp": 10 ** 400}, "rp"),
    ({"rt": 1, "rp": "P" + "9" * 400 + "D"}, "rp"),
    ({"rt": 1, "rp": ENDLESS_DIGITS}, "rp"),
    ({"fc": {"fu": 1, "lvl": HUGE}}, "'lvl'"),
    ({"fc": {"fu": 1, "ofst": 2 ** 63}}, "'ofst'"),
    ({"fc": {"fu": 1, "lim": HUGE}}, "'lim'"),
    ({"fc": {"fu": 1, "ty": [2, HUGE]}}, "'ty'"),
    ({"rcn": 4, "fc": {"lvl": HUGE}}, "'lvl'"),
    ({"rcn": 6, "fc": {"ofst": HUGE}}, "'ofst'"),
])
async def test_request_parameters_out_of_range(meter, fields, words):
    response = await meter.retrieve("cse-in/meter", fr=METER, **fields)
    assert response.rsc == 4000, response.pc
    assert words in response.pc["m2m:dbg"] and "range" in response.pc["m2m:dbg"]


@pytest.mark.parametrize("ty, body, words", [
    (3, {"m2m:cnt": {"mni": HUGE}}, "'mni'"),
    (3, {"m2m:cnt": {"lbl": [b"bytes"]}}, "'lbl'"),
    (9, {"m2m:grp": {"mnm": HUGE, "mid": []}}, "'mnm'"),
    (1, {"m2m:acp": {"pv": {"acr": [{"acor": ["all"], "acop": 2,
                                     "acco": [{"actw": [ENDLESS_DIGITS + " * * * * * *"]}]}]},
                     "pvs": {"acr": [{"acor": [METER], "acop": 63}]}}}, "second field"),
])
async def test_attribute_values_out_of_range(meter, ty, body, words):
    response = await meter.create("cse-in/meter", ty, body, fr=METER)
    assert response.rsc == 4000, response.pc
    assert words in response.pc["m2m:dbg"]


@pytest.mark.parametrize("con", [{"w": HUGE}, b"\x00\x01", {1: "integer key"}, ["a", {b"k": 1}]])
async def test_content_that_json_cannot_hold(meter, con):
    response = await meter.create("cse-in/meter/power", 4, {"m2m:cin": {"con": con}}, fr=METER)
    assert response.rsc == 4000, response.pc
    assert "'con'" in response.pc["m2m:dbg"] and "cannot be stored" in response.pc["m2m:dbg"]
    state = (await meter.retrieve("cse-in/meter/power", fr=METER)).pc["m2m:cnt"]
    assert state["cni"] == 0


async def test_update_with_a_value_json_cannot_hold_changes_nothing(meter):
    response = await meter.update("cse-in/meter/power", {"m2m:cnt": {"mbs": HUGE}}, fr=METER)
    assert response.rsc == 4000 and "'mbs'" in response.pc["m2m:dbg"]
    assert "mbs" not in (await meter.retrieve("cse-in/meter/power", fr=METER)).pc["m2m:cnt"]


async def test_a_huge_max_instance_age_caps_nothing(meter):
    """now + mia beyond the year 9999 has no m2m:timestamp: it bounds nothing, and the
    instance keeps the lifetime it would have without mia (its container's et)."""
    updated = await meter.update("cse-in/meter/power", {"m2m:cnt": {"mia": 10 ** 15}}, fr=METER)
    assert updated.rsc == 2004
    response = await meter.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "1"}}, fr=METER)
    assert response.rsc == 2001, response.pc
    assert response.pc["m2m:cin"]["et"] == updated.pc["m2m:cnt"]["et"]
    assert (await meter.retrieve("cse-in/meter/power/la", fr=METER)).rsc == 2000


async def test_result_persistence_beyond_the_year_9999_keeps_the_request_until_then(meter):
    response = await meter.retrieve("cse-in/meter", fr=METER, rt=1, rp="P99999999999D")
    assert response.rsc == 1001
    await meter.cse.dispatcher.nonblocking.idle()
    record = await meter.retrieve(response.pc["m2m:uri"], fr=METER)
    assert record.pc["m2m:req"]["et"] == "99991231T235959,000000"


@pytest.mark.parametrize("query, words", [
    ("?fu=1&lvl=99999999999999999999999", "'lvl'"),
    ("?fu=1&ty=99999999999999999999999", "'ty'"),
    ("?rcn=4&ofst=99999999999999999999999", "'ofst'"),
])
async def test_out_of_range_over_http(http_cse, query, words):
    cse, client = http_cse
    response, body = await client.call("GET", "/cse-in" + query)
    assert response.status == 400 and response.headers["X-M2M-RSC"] == "4000"
    assert words in body.decode()


async def test_endless_relative_time_over_http(http_cse):
    cse, client = http_cse
    response, body = await client.call("GET", "/cse-in", headers={"X-M2M-RET": "9" * 5000})
    assert response.status == 400 and response.headers["X-M2M-RSC"] == "4000"
    assert "rqet" in body.decode()


@pytest.mark.parametrize("fields", [
    {"op": 3, "pc": {"m2m:cnt": {"lbl": b"bytes"}}},
    {"op": 1, "ty": 4, "pc": {"m2m:cin": {"con": {1: "integer key"}}}},
    {"op": 2, "gid": b"bytes"},
])
async def test_non_blocking_request_that_its_request_resource_cannot_hold(meter, fields):
    """rt=1 stores the request (pc, parameters) in a <request> resource before it answers."""
    from cse.primitives import Request

    count = meter.cse.storage.count()
    response = await meter.cse.dispatcher.handle(Request(to="cse-in/meter/power", fr=METER, rqi="nb", rvi="3",
                                                         rt=1, **fields))
    assert response.rsc == 4000, response.pc
    assert "cannot be stored" in response.pc["m2m:dbg"]
    assert meter.cse.storage.count() == count
