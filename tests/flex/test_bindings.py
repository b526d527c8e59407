"""A flexContainer created and updated over each binding (HTTP, MQTT on the real broker, CoAP),
in JSON and CBOR, as a device would; discovery by cnd in an HTTP query."""
from __future__ import annotations

import cbor2
import orjson
import pytest
from aiocoap.numbers.codes import Code

from tests.bindings.conftest import coap_cse, mqtt_broker, mqtt_cse, option, unique  # noqa: F401 (fixtures)

from .conftest import ENERGY, SWITCH

MODULE = {"cod:eneCn": {"rn": "energyConsumption", "cnd": ENERGY, "abECn": 1234.5, "power": 1530.0,
                        "mni": 5}}
UPDATE = {"cod:eneCn": {"power": 990.0}}
AE_BODY = {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}


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
    response, payload = await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=28,
                                          raw=encode(MODULE, fmt), **kwargs)
    assert response.status == 201 and response.headers["X-M2M-RSC"] == "2001", payload
    assert decode(payload, fmt)["cod:eneCn"]["cni"] == 1
    response, payload = await client.call("PUT", "/cse-in/meter/energyConsumption", originator="Cmeter",
                                          raw=encode(UPDATE, fmt), **kwargs)
    assert response.headers["X-M2M-RSC"] == "2004", payload
    updated = decode(payload, fmt)["cod:eneCn"]
    assert (updated["power"], updated["st"], updated["cni"]) == (990.0, 1, 2)
    response, payload = await client.call("GET", "/cse-in/meter/energyConsumption/la", originator="Cmeter",
                                          headers={"Accept": media})
    assert decode(payload, fmt)["cod:eneCn"]["power"] == 990.0
    bad = {"cod:eneCn": {"power": "a lot"}}
    response, payload = await client.call("PUT", "/cse-in/meter/energyConsumption", originator="Cmeter",
                                          raw=encode(bad, fmt), **kwargs)
    assert response.status == 400 and response.headers["X-M2M-RSC"] == "4000"
    assert "'power' (power): 'a lot' is not a float" in decode(payload, fmt)["m2m:dbg"]
    response, payload = await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=28,
                                          raw=encode({"cod:nope": {"cnd": ENERGY}}, fmt), **kwargs)
    assert (response.status, response.headers["X-M2M-RSC"]) == (501, "4125")


async def test_http_discovery_by_cnd_and_a_custom_attribute(http_cse):
    _, client = http_cse
    await client.call("POST", "/cse-in", originator="Cmeter", ty=2, body=AE_BODY)
    for rn, state in (("on", True), ("off", False)):
        response, _ = await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=28, body={
            "cod:binSh": {"rn": rn, "cnd": SWITCH, "state": state}})
        assert response.headers["X-M2M-RSC"] == "2001"
    await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=28, body=MODULE)
    response, payload = await client.call("GET", "/cse-in/meter", originator="Cmeter",
                                          params={"fu": "1", "cnd": SWITCH})
    assert sorted(orjson.loads(payload)["m2m:uril"]) == ["cse-in/meter/off", "cse-in/meter/on"]
    response, payload = await client.call("GET", "/cse-in/meter", originator="Cmeter",
                                          params={"fu": "1", "cnd": SWITCH, "state": "false", "ty": "28"})
    assert orjson.loads(payload)["m2m:uril"] == ["cse-in/meter/off"]


@pytest.mark.parametrize("fmt", ["json", "cbor"])
async def test_mqtt(mqtt_cse, fmt):
    me = mqtt_cse.originator
    _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in", "fr": me, "rqi": "r", "rvi": "3", "ty": 2,
                                     "pc": AE_BODY}, kind="reg_req", fmt=fmt)
    assert answer["rsc"] == 2001, answer
    _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in/meter", "fr": me, "rqi": "c", "rvi": "3", "ty": 28,
                                     "pc": MODULE}, fmt=fmt)
    assert answer["rsc"] == 2001, answer
    assert answer["pc"]["cod:eneCn"]["cnd"] == ENERGY
    _, answer = await mqtt_cse.call({"op": 3, "to": "cse-in/meter/energyConsumption", "fr": me, "rqi": "u",
                                     "rvi": "3", "pc": UPDATE}, fmt=fmt)
    assert answer["rsc"] == 2004 and answer["pc"]["cod:eneCn"]["cni"] == 2, answer
    _, answer = await mqtt_cse.call({"op": 2, "to": "cse-in/meter", "fr": me, "rqi": "d", "rvi": "3",
                                     "fc": {"fu": 1, "cnd": ENERGY}}, fmt=fmt)
    assert answer["pc"] == {"m2m:uril": ["cse-in/meter/energyConsumption"]}
    _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in/meter/energyConsumption", "fr": me, "rqi": "i",
                                     "rvi": "3", "ty": 58, "pc": UPDATE}, fmt=fmt)
    assert answer["rsc"] == 4005


@pytest.mark.parametrize("fmt,content_format", [("json", 50), ("cbor", 60)])
async def test_coap(coap_cse, fmt, content_format):
    me = unique("C")
    answer = await coap_cse.call(Code.POST, "/cse-in", fr=me, ty=2, payload=encode(AE_BODY, fmt),
                                 content_format=content_format)
    assert option(answer, 307) == 2001
    answer = await coap_cse.call(Code.POST, "/cse-in/meter", fr=me, ty=28, payload=encode(MODULE, fmt),
                                 content_format=content_format, accept=content_format)
    assert answer.code == Code.CREATED and option(answer, 307) == 2001, answer.payload
    assert decode(answer.payload, fmt)["cod:eneCn"]["abECn"] == 1234.5
    answer = await coap_cse.call(Code.PUT, "/cse-in/meter/energyConsumption", fr=me,
                                 payload=encode(UPDATE, fmt), content_format=content_format, accept=content_format)
    assert option(answer, 307) == 2004, answer.payload
    assert decode(answer.payload, fmt)["cod:eneCn"]["st"] == 1
    answer = await coap_cse.call(Code.GET, "/cse-in/meter/energyConsumption/la", fr=me, accept=content_format)
    assert decode(answer.payload, fmt)["cod:eneCn"]["power"] == 990.0
    answer = await coap_cse.call(Code.POST, "/cse-in/meter", fr=me, ty=28,
                                 payload=encode({"cod:eneCn": {"cnd": ENERGY}}, fmt), content_format=content_format)
    assert option(answer, 307) == 4000 and b"mandatory data point 'abECn'" in answer.payload
