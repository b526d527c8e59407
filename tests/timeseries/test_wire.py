"""A meter's readings over each binding (HTTP, MQTT on the real broker, CoAP), in JSON and
CBOR, and through forwarding: an application on the platform (IN-CSE) makes a timeSeries
on a gateway (MN-CSE), the meter there misses a reading, and the application's AE on the
IN gets the net 8 notification (real clock, real sockets)."""
from __future__ import annotations

import time

import cbor2
import orjson
import pytest
from aiocoap.numbers.codes import Code

from cse.clock import format_timestamp
from tests.bindings.conftest import coap_cse, mqtt_broker, mqtt_cse, option, unique  # noqa: F401 (fixtures)
from tests.conftest import free_port
from tests.e2e.federation_support import MN, ask, start_cse, url_of
from tests.notify.receiver import Receiver

AE_BODY = {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}
SERIES = {"m2m:ts": {"rn": "power", "mni": 10, "pei": 1000}}
T0 = "20250301T101500"


def tsi(dgt: str, con: str = "230.5") -> dict:
    return {"m2m:tsi": {"dgt": dgt, "con": con, "snr": 1}}


def encode(body, fmt: str) -> bytes:
    return cbor2.dumps(body) if fmt == "cbor" else orjson.dumps(body)


def decode(payload: bytes, fmt: str):
    return cbor2.loads(payload) if fmt == "cbor" else orjson.loads(payload)


@pytest.mark.parametrize("fmt", ["json", "cbor"])
async def test_http(http_cse, fmt):
    _, client = http_cse
    media = f"application/{fmt}"
    kwargs = {"content_type": media, "headers": {"Accept": media}}
    response, _ = await client.call("POST", "/cse-in", originator="Cmeter", ty=2, raw=encode(AE_BODY, fmt), **kwargs)
    assert response.headers["X-M2M-RSC"] == "2001"
    response, payload = await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=29,
                                          raw=encode(SERIES, fmt), **kwargs)
    assert response.status == 201, payload
    assert decode(payload, fmt)["m2m:ts"]["peid"] == 500
    response, payload = await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=30,
                                          raw=encode(tsi(T0), fmt), **kwargs)
    assert response.status == 201 and decode(payload, fmt)["m2m:tsi"]["dgt"] == T0, payload
    response, payload = await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=30,
                                          raw=encode(tsi(T0, "9"), fmt), **kwargs)
    assert (response.status, response.headers["X-M2M-RSC"]) == (409, "4105")
    assert "already holds an instance with dgt 20250301T101500" in decode(payload, fmt)["m2m:dbg"]
    response, payload = await client.call("GET", "/cse-in/meter/power/la", originator="Cmeter",
                                          headers={"Accept": media})
    assert decode(payload, fmt)["m2m:tsi"]["con"] == "230.5"
    response, payload = await client.call("GET", "/cse-in/meter", originator="Cmeter",
                                          params={"fu": "1", "ty": "30"}, headers={"Accept": media})
    assert len(decode(payload, fmt)["m2m:uril"]) == 1
    response, payload = await client.call("GET", "/cse-in/meter", originator="Cmeter",
                                          params={"fu": "1", "ty": "29", "pei": "1000"})
    assert orjson.loads(payload)["m2m:uril"] == ["cse-in/meter/power"]
    response, payload = await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=30,
                                          raw=encode({"m2m:tsi": {"con": "1"}}, fmt), **kwargs)
    assert response.status == 400 and "mandatory attribute 'dgt'" in decode(payload, fmt)["m2m:dbg"]


@pytest.mark.parametrize("fmt", ["json", "cbor"])
async def test_mqtt(mqtt_cse, fmt):
    me = mqtt_cse.originator
    _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in", "fr": me, "rqi": "r", "rvi": "3", "ty": 2,
                                     "pc": AE_BODY}, kind="reg_req", fmt=fmt)
    assert answer["rsc"] == 2001, answer
    _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in/meter", "fr": me, "rqi": "c", "rvi": "3", "ty": 29,
                                     "pc": SERIES}, fmt=fmt)
    assert answer["rsc"] == 2001 and answer["pc"]["m2m:ts"]["pei"] == 1000, answer
    _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in/meter/power", "fr": me, "rqi": "i", "rvi": "3",
                                     "ty": 30, "pc": tsi(T0)}, fmt=fmt)
    assert answer["rsc"] == 2001, answer
    _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in/meter/power", "fr": me, "rqi": "j", "rvi": "3",
                                     "ty": 30, "pc": tsi(T0)}, fmt=fmt)
    assert answer["rsc"] == 4105, answer
    _, answer = await mqtt_cse.call({"op": 2, "to": "cse-in/meter/power", "fr": me, "rqi": "g", "rvi": "3",
                                     "rcn": 4}, fmt=fmt)
    assert [i["dgt"] for i in answer["pc"]["m2m:ts"]["m2m:tsi"]] == [T0]
    _, answer = await mqtt_cse.call({"op": 3, "to": "cse-in/meter/power", "fr": me, "rqi": "u", "rvi": "3",
                                     "pc": {"m2m:ts": {"peid": 600}}}, fmt=fmt)
    assert answer["rsc"] == 4000 and "must not exceed half of 'pei'" in answer["pc"]["m2m:dbg"]


@pytest.mark.parametrize("fmt,content_format", [("json", 50), ("cbor", 60)])
async def test_coap(coap_cse, fmt, content_format):
    me = unique("C")
    answer = await coap_cse.call(Code.POST, "/cse-in", fr=me, ty=2, payload=encode(AE_BODY, fmt),
                                 content_format=content_format)
    assert option(answer, 307) == 2001
    answer = await coap_cse.call(Code.POST, "/cse-in/meter", fr=me, ty=29, payload=encode(SERIES, fmt),
                                 content_format=content_format, accept=content_format)
    assert answer.code == Code.CREATED, answer.payload
    answer = await coap_cse.call(Code.POST, "/cse-in/meter/power", fr=me, ty=30, payload=encode(tsi(T0), fmt),
                                 content_format=content_format, accept=content_format)
    assert option(answer, 307) == 2001 and decode(answer.payload, fmt)["m2m:tsi"]["cs"] == 5
    answer = await coap_cse.call(Code.POST, "/cse-in/meter/power", fr=me, ty=30, payload=encode(tsi(T0), fmt),
                                 content_format=content_format)
    assert option(answer, 307) == 4105
    answer = await coap_cse.call(Code.GET, "/cse-in/meter/power/ol", fr=me, accept=content_format)
    assert decode(answer.payload, fmt)["m2m:tsi"]["dgt"] == T0
    answer = await coap_cse.call(Code.POST, "/cse-in/meter/power", fr=me, ty=30,
                                 payload=encode({"m2m:tsi": {"dgt": "now", "con": "1"}}, fmt),
                                 content_format=content_format)
    assert option(answer, 307) == 4000 and b"is not a oneM2M timestamp" in answer.payload


APP = "CApp"
POWER = "/id-mn/cse-mn/meter/power"


async def test_forwarded_from_the_platform_with_the_missing_data_notification():
    in_cse = await start_cse(free_port())
    mn = await start_cse(**{**MN, "registrar.url": url_of(in_cse)})
    receiver = await Receiver().start()
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=AE_BODY)).rsc == 2001
        rules = {"pv": {"acr": [{"acor": ["Cmeter"], "acop": 63}, {"acor": [f"/id-in/{APP}"], "acop": 63}]},
                 "pvs": {"acr": [{"acor": ["Cmeter"], "acop": 63}]}}
        acp = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=1, pc={"m2m:acp": {"rn": "share", **rules}})
        assert (await ask(mn, 3, "cse-mn/meter", fr="Cmeter",
                          pc={"m2m:ae": {"acpi": [acp.pc["m2m:acp"]["ri"]]}})).rsc == 2004
        app = {"m2m:ae": {"rn": "app", "api": "Napp", "rr": True, "srv": ["3"], "poa": [receiver.url()]}}
        assert (await ask(in_cse, 1, "cse-in", fr=APP, ty=2, pc=app)).rsc == 2001
        series = {"m2m:ts": {"rn": "power", "pei": 300, "peid": 50, "mdt": 100, "mdd": True, "mdn": 5}}
        created = await ask(in_cse, 1, "/id-mn/cse-mn/meter", fr=APP, ty=29, pc=series)
        assert created.rsc == 2001, created.pc
        sub = await ask(in_cse, 1, POWER, fr=APP, ty=23, pc={"m2m:sub": {"nu": [f"/id-in/{APP}"], "enc": {"net": [8]}}})
        assert sub.rsc == 2001, sub.pc
        t0 = time.time()
        first = await ask(mn, 1, "cse-mn/meter/power", fr="Cmeter", ty=30, pc=tsi(format_timestamp(t0)))
        assert first.rsc == 2001, first.pc
        again = await ask(in_cse, 1, POWER, fr=APP, ty=30, pc=tsi(format_timestamp(t0)))
        assert again.rsc == 4105
        [notification] = await receiver.wait_for(1, timeout=5)          # period 1 never comes
        arrived = time.time()
        expected = t0 + 0.3
        tsn = notification.sgn["nev"]["rep"]["m2m:tsn"]
        assert notification.sgn["nev"]["net"] == 8 and tsn["mdc"] == 1
        assert tsn["mdlt"] == [format_timestamp(expected)]
        assert arrived - expected <= 0.3 + 0.05 + 0.5        # one period plus peid (+ slack for a busy machine)
        state = await ask(in_cse, 2, POWER, fr=APP)
        assert state.pc["m2m:ts"]["mdc"] >= 1 and state.pc["m2m:ts"]["mdlt"][-1] == format_timestamp(expected)
        latest = await ask(in_cse, 2, f"{POWER}/la", fr=APP)
        assert latest.pc["m2m:tsi"]["con"] == "230.5"
    finally:
        await receiver.stop()
        await mn.stop()
        await in_cse.stop()
