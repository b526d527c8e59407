"""A forged NOTIFY is refused over HTTP, MQTT and CoAP (TS-0001 9.6.2: NOTIFY needs the notify
privilege on the target AE).  Before, anyone, even an unregistered originator, could
make the CSE push a notification to a registered AE's poa."""
from __future__ import annotations

import orjson

from tests.notify.receiver import Receiver

from .conftest import MqttCse, unique

FORGED = {"m2m:sgn": {"sur": "/id-in/sub-forged", "nev": {"net": 1, "rep": {"m2m:cin": {"con": "open the door"}}}}}


async def _registered_app(call, poa: str) -> None:
    """Registers CVictim (its poa: the receiver) over the binding under test."""
    answer = await call({"op": 1, "to": "cse-in", "fr": "CVictim", "rqi": "reg", "rvi": "3", "ty": 2,
                         "pc": {"m2m:ae": {"rn": "victim", "api": "Nvictim", "rr": True, "srv": ["3"],
                                           "poa": [poa]}}})
    assert answer["rsc"] == 2001, answer


async def test_forged_notify_over_http_is_refused(http_cse):
    cse, http = http_cse
    receiver = await Receiver().start()
    try:
        response, body = await http.call("POST", "/cse-in", originator="CVictim", ty=2, body={
            "m2m:ae": {"rn": "victim", "api": "Nvictim", "rr": True, "srv": ["3"], "poa": [receiver.url()]}})
        assert response.status == 201, body
        for forger in ("CForger", "/id-nowhere"):        # never registered
            response, body = await http.call("POST", "/cse-in/victim", originator=forger, body=FORGED)
            assert response.headers["X-M2M-RSC"] == "4103", body
            assert response.status == 403
            assert f"originator {forger!r} has no NOTIFY privilege" in orjson.loads(body)["m2m:dbg"]
        # The AE itself may (its own resource's default policy): the path works at all.
        response, body = await http.call("POST", "/cse-in/victim", originator="CVictim", body=FORGED)
        assert response.headers["X-M2M-RSC"] == "2000", body
        assert len(await receiver.wait_for(1)) == 1
        assert [r.sgn["sur"] for r in receiver.received] == ["/id-in/sub-forged"]
    finally:
        await receiver.stop()


async def test_forged_notify_over_mqtt_is_refused(mqtt_cse: MqttCse):
    receiver = await Receiver().start()
    try:
        async def call(primitive):
            kind = "reg_req" if primitive.get("op") == 1 and primitive.get("ty") == 2 else "req"
            _, answer = await mqtt_cse.call(primitive, kind=kind, originator=primitive["fr"])
            return answer

        await mqtt_cse.peer.subscribe("/oneM2M/resp/CVictim/+/+", "/oneM2M/reg_resp/CVictim/+/+")
        await _registered_app(call, receiver.url())
        forger = mqtt_cse.originator                 # a stem never registered with this CSE
        _, answer = await mqtt_cse.call({"op": 5, "to": "cse-in/victim", "fr": forger, "rqi": "forged",
                                         "rvi": "3", "pc": FORGED})
        assert (answer["rsc"], answer["rqi"]) == (4103, "forged"), answer
        assert "has no NOTIFY privilege" in answer["pc"]["m2m:dbg"]
        other = unique("C")                           # registered, but not granted NOTIFY
        await mqtt_cse.peer.subscribe(f"/oneM2M/resp/{other}/+/+", f"/oneM2M/reg_resp/{other}/+/+")
        _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in", "fr": other, "rqi": "reg2", "rvi": "3",
                                         "ty": 2, "pc": {"m2m:ae": {"api": "Nother", "rr": False,
                                                                    "srv": ["3"]}}},
                                        kind="reg_req", originator=other)
        assert answer["rsc"] == 2001, answer
        _, answer = await mqtt_cse.call({"op": 5, "to": "cse-in/victim", "fr": other, "rqi": "forged2",
                                         "rvi": "3", "pc": FORGED}, originator=other)
        assert answer["rsc"] == 4103, answer
        # The AE itself gets through, so the refusals above are the ACL, not a broken path.
        answer = await call({"op": 5, "to": "cse-in/victim", "fr": "CVictim", "rqi": "own", "rvi": "3",
                             "pc": FORGED})
        assert answer["rsc"] == 2000, answer
        assert len(await receiver.wait_for(1)) == 1
        assert len(receiver.received) == 1
    finally:
        await receiver.stop()


async def test_forged_notify_over_coap_is_refused(coap_cse):
    from aiocoap.numbers.codes import Code

    from .conftest import option
    receiver = await Receiver().start()
    try:
        ae = {"m2m:ae": {"rn": "victim", "api": "Nvictim", "rr": True, "srv": ["3"], "poa": [receiver.url()]}}
        answer = await coap_cse.call(Code.POST, "/cse-in", fr="CVictim", ty=2, body=ae, rqi="reg")
        assert option(answer, 307) == 2001, answer.payload
        answer = await coap_cse.call(Code.POST, "/cse-in/victim", fr="CForger", body=FORGED, rqi="forged")
        assert option(answer, 307) == 4103, answer.payload
        assert "has no NOTIFY privilege" in orjson.loads(answer.payload)["m2m:dbg"]
        answer = await coap_cse.call(Code.POST, "/cse-in/victim", fr="CVictim", body=FORGED, rqi="own")
        assert option(answer, 307) == 2000, answer.payload
        assert len(await receiver.wait_for(1)) == 1
        assert len(receiver.received) == 1
    finally:
        await receiver.stop()
