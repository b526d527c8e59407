"""<schedule> over the wire: HTTP, MQTT and CoAP, JSON and CBOR, bad se strings answered
with 4000 on each; through forwarding between an MN and its IN; and subscriptions (net 1-4)
on a schedule."""
from __future__ import annotations

import cbor2
import orjson
import pytest
from aiocoap.numbers.codes import Code

from cse.resource_types import Ty
from tests.bindings.brokers import shared_broker
from tests.bindings.conftest import CoapCse, option, start_mqtt_cse, unique
from tests.conftest import free_port
from tests.e2e.federation_support import MN, ask, start_cse, url_of
from tests.notify.parts.conftest import TARGET

RSC = 307
WINDOW = {"se": {"sce": ["* * 0-5 * * * *", "* * 22-23 * * * *"]}, "lbl": ["window:charging"]}


@pytest.fixture
async def wired():
    """One CSE serving HTTP, MQTT (shared broker) and CoAP, with a client for each."""
    import aiocoap

    broker = shared_broker()
    running = await start_mqtt_cse(broker.host, broker.port, **{"coap.enabled": True, "coap.port": 0})
    coap = next(b for b in running.cse.bindings if b.name == "coap")
    client = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        yield running, CoapCse(running.cse, coap.url, client)
    finally:
        await client.shutdown()
        await running.peer.close()
        await running.cse.stop()


async def test_over_http_mqtt_and_coap_in_json_and_cbor(wired, http_session):
    mqtt, coap = wired
    me = mqtt.originator
    http = url_of(mqtt.cse)
    # HTTP, JSON: the charger registers and stores its window
    async with http_session.post(f"{http}/cse-in", data=orjson.dumps(
            {"m2m:ae": {"rn": "evCharger", "api": "Nev", "rr": False, "srv": ["3"]}}),
            headers=headers(me, 2)) as reply:
        assert reply.status == 201, await reply.text()
    async with http_session.post(f"{http}/cse-in/evCharger", data=orjson.dumps(
            {"m2m:sch": {"rn": "http", **WINDOW}}), headers=headers(me, 18)) as reply:
        assert reply.status == 201 and reply.headers["X-M2M-RSC"] == "2001", await reply.text()
    async with http_session.post(f"{http}/cse-in/evCharger", data=orjson.dumps(
            {"m2m:sch": {"se": {"sce": ["* * 24 * * * *"]}}}), headers=headers(me, 18)) as reply:
        assert reply.status == 400 and reply.headers["X-M2M-RSC"] == "4000"
        assert "hour field '24': 24 is outside 0..23" in (await reply.json())["m2m:dbg"]
    # HTTP, CBOR both ways
    async with http_session.post(f"{http}/cse-in/evCharger", data=cbor2.dumps(
            {"m2m:sch": {"rn": "cbor", **WINDOW}}), headers=headers(me, 18, "application/cbor")) as reply:
        assert reply.status == 201 and cbor2.loads(await reply.read())["m2m:sch"]["se"] == WINDOW["se"]
    async with http_session.get(f"{http}/cse-in/evCharger/http",
                                headers={**headers(me), "Accept": "application/cbor"}) as reply:
        assert reply.status == 200 and cbor2.loads(await reply.read())["m2m:sch"]["se"] == WINDOW["se"]

    # MQTT, CBOR and JSON
    _, answer = await mqtt.call({"op": 1, "to": "cse-in/evCharger", "fr": me, "rqi": "m1", "rvi": "3", "ty": 18,
                                 "pc": {"m2m:sch": {"rn": "mqtt", **WINDOW}}}, fmt="cbor")
    assert answer["rsc"] == 2001, answer
    _, answer = await mqtt.call({"op": 2, "to": "cse-in/evCharger/mqtt", "fr": me, "rqi": "m2", "rvi": "3"})
    assert answer["rsc"] == 2000 and answer["pc"]["m2m:sch"]["se"] == WINDOW["se"]
    _, answer = await mqtt.call({"op": 3, "to": "cse-in/evCharger/mqtt", "fr": me, "rqi": "m3", "rvi": "3",
                                 "pc": {"m2m:sch": {"se": {"sce": ["* * * 1-31 13 * *"]}}}})
    assert answer["rsc"] == 4000 and "month field '1-31'" not in answer["pc"]["m2m:dbg"]
    assert "month field '13': 13 is outside 1..12" in answer["pc"]["m2m:dbg"]

    # CoAP, JSON and CBOR
    reply = await coap.call(Code.GET, "/cse-in/evCharger/mqtt", fr=me, accept=60)
    assert option(reply, RSC) == 2000 and cbor2.loads(reply.payload)["m2m:sch"]["se"] == WINDOW["se"]
    reply = await coap.call(Code.PUT, "/cse-in/evCharger/mqtt", fr=me,
                            body={"m2m:sch": {"se": {"sce": ["* * 1-4 * * 1-5 *"]}}})
    assert option(reply, RSC) == 2004 and orjson.loads(reply.payload)["m2m:sch"]["se"]["sce"] == ["* * 1-4 * * 1-5 *"]
    reply = await coap.call(Code.POST, "/cse-in/evCharger", fr=me, ty=18, content_format=60,
                            payload=cbor2.dumps({"m2m:sch": {"se": {"sce": ["* * * * *"]}}}))
    assert option(reply, RSC) == 4000 and "must have 7 fields" in cbor2.loads(reply.payload)["m2m:dbg"]

    # and the application finds all three, whichever binding made them
    reply = await coap.call(Code.GET, "/cse-in?fu=1&ty=18&lbl=window:charging", fr=me)
    assert sorted(orjson.loads(reply.payload)["m2m:uril"]) == [
        "cse-in/evCharger/cbor", "cse-in/evCharger/http", "cse-in/evCharger/mqtt"]


def headers(originator: str, ty: int | None = None, content_type: str = "application/json") -> dict:
    sent = {"X-M2M-Origin": originator, "X-M2M-RI": unique("h"), "X-M2M-RVI": "3"}
    if ty is not None:
        sent["Content-Type"] = f"{content_type};ty={ty}"
    return sent


@pytest.fixture
async def http_session():
    import aiohttp
    async with aiohttp.ClientSession() as session:
        yield session


# -- forwarding --------------------------------------------------------------------------------
async def test_a_window_on_an_mn_is_made_read_and_found_through_the_in():
    in_cse = await start_cse(free_port())
    mn = await start_cse(**{**MN, "registrar.url": url_of(in_cse)})
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        assert (await ask(mn, 1, "cse-mn", fr="Cevcharger", ty=Ty.AE,
                          pc={"m2m:ae": {"rn": "evCharger", "api": "Nev", "rr": False, "srv": ["3"]}})).rsc == 2001
        made = await ask(in_cse, 1, "/id-mn/cse-mn/evCharger", fr="/id-mn/Cevcharger", ty=Ty.SCH,
                         pc={"m2m:sch": {"rn": "chargingWindow", **WINDOW}})
        assert made.rsc == 2001, made.pc
        read = await ask(in_cse, 2, "/id-mn/cse-mn/evCharger/chargingWindow", fr="/id-mn/Cevcharger")
        assert read.rsc == 2000 and read.pc["m2m:sch"]["se"] == WINDOW["se"]
        found = await ask(in_cse, 2, "/id-mn/cse-mn", fr="/id-mn/Cevcharger", fc={"fu": 1, "ty": [18]},
                          rqi="disc")
        assert found.rsc == 2000 and found.pc["m2m:uril"] == ["cse-mn/evCharger/chargingWindow"]  # as the MN says
        bad = await ask(in_cse, 1, "/id-mn/cse-mn/evCharger", fr="/id-mn/Cevcharger", ty=Ty.SCH, rqi="bad",
                        pc={"m2m:sch": {"se": {"sce": ["* * 8-20 * * 1-8 *"]}}})
        assert bad.rsc == 4000 and "day of week field '1-8': 8 is outside 0..6" in bad.pc["m2m:dbg"]
    finally:
        await mn.stop()
        await in_cse.stop()


# -- subscriptions on a schedule ---------------------------------------------------------------
async def test_subscribers_of_a_schedule_hear_of_its_updates_children_and_deletion(harness):
    core = harness.core
    assert (await core.register_ae("Cevcharger", rn="evCharger")).rsc == 2001
    assert (await core.create("cse-in/evCharger", Ty.SCH, {"m2m:sch": {"rn": "w", **WINDOW}},
                              fr="Cevcharger")).rsc == 2001
    sub = await harness.subscribe("cse-in/evCharger/w", fr="Cevcharger", enc={"net": [1, 2, 3, 4]})
    assert (await core.update("cse-in/evCharger/w", {"m2m:sch": {"se": {"sce": ["* * 1-4 * * * *"]}}},
                              fr="Cevcharger")).rsc == 2004
    child = await harness.subscribe("cse-in/evCharger/w", fr="Cevcharger", rn="second", enc={"net": [1]})
    assert (await core.delete("cse-in/evCharger/w/second", fr="Cevcharger")).rsc == 2002
    assert (await core.delete("cse-in/evCharger/w", fr="Cevcharger")).rsc == 2002
    sent = await harness.sender.wait_for(4, TARGET)
    events = [(s.pc["m2m:sgn"]["nev"]["net"], next(iter(s.pc["m2m:sgn"]["nev"]["rep"]))) for s in sent]
    assert events == [(1, "m2m:sch"), (3, "m2m:sub"), (4, "m2m:sub"), (2, "m2m:sch")]
    assert sent[0].pc["m2m:sgn"]["nev"]["rep"]["m2m:sch"]["se"] == {"sce": ["* * 1-4 * * * *"]}
    assert sent[0].pc["m2m:sgn"]["sur"] == f"/id-in/{sub['ri']}" and child["rn"] == "second"
