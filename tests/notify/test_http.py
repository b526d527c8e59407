"""Subscriptions created over the HTTP binding, notifications received over HTTP."""
from __future__ import annotations

import cbor2
import orjson

from .conftest import READINGS


async def _meter(client) -> None:
    response, _ = await client.call("POST", "/cse-in", originator="Cmeter", ty=2,
                                    body={"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False,
                                                     "srv": ["3"]}})
    assert response.status == 201
    response, _ = await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=3,
                                    body={"m2m:cnt": {"rn": "power"}})
    assert response.status == 201


async def test_subscribe_and_receive_over_http(http_cse, receiver):
    cse, client = http_cse
    await _meter(client)
    response, body = await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=23,
                                       body={"m2m:sub": {"rn": "watch", "nu": [receiver.url()],
                                                         "enc": READINGS}})
    assert response.status == 201, body
    sub = orjson.loads(body)["m2m:sub"]
    response, _ = await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=4,
                                    body={"m2m:cin": {"con": "1530"}})
    assert response.status == 201
    [received] = await receiver.wait_for(1)
    assert received.headers["X-M2M-Origin"] == "/id-in"
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-M2M-RVI"] == "3"            # the release the subscriber spoke
    assert received.sgn["sur"] == f"/id-in/{sub['ri']}"
    assert received.sgn["nev"]["rep"]["m2m:cin"]["con"] == "1530"


async def test_a_subscription_made_in_cbor_is_notified_in_cbor(http_cse, receiver):
    cse, client = http_cse
    await _meter(client)
    payload = cbor2.dumps({"m2m:sub": {"nu": [receiver.url()], "enc": READINGS}})
    response, body = await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=23, raw=payload,
                                       content_type="application/cbor")
    assert response.status == 201, body
    await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=4,
                      body={"m2m:cin": {"con": "7"}})
    [received] = await receiver.wait_for(1)
    assert received.serialization == "cbor"
    assert received.headers["Content-Type"] == "application/cbor"
    assert received.sgn["nev"]["rep"]["m2m:cin"]["con"] == "7"


async def test_verification_failure_over_http_is_a_5204_naming_the_target(http_cse, receivers):
    cse, client = http_cse
    await _meter(client)
    refusing = await receivers(verification_rsc=4101)
    response, body = await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=23,
                                       body={"m2m:sub": {"nu": [refusing.url()]}})
    assert response.headers["X-M2M-RSC"] == "5204"
    assert refusing.url() in orjson.loads(body)["m2m:dbg"]
