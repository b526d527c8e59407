"""MQTT binding against a real broker: what a meter or application sees on the topics."""
from __future__ import annotations

import cbor2
import orjson
import pytest

from .conftest import MqttCse


def ae_create(rqi: str, fr: str, to: str, **extra) -> dict:
    return {"op": 1, "to": to, "fr": fr, "rqi": rqi, "rvi": "3", "ty": 2,
            "pc": {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}, **extra}


@pytest.mark.parametrize("fmt", ["json", "cbor"])
async def test_meter_registers_posts_readings_and_reads_latest(mqtt_cse: MqttCse, fmt):
    me = mqtt_cse.originator
    topic, answer = await mqtt_cse.call(ae_create("reg-1", me, "cse-in"), kind="reg_req", fmt=fmt)
    assert topic == f"/oneM2M/reg_resp/{me}/{mqtt_cse.topic_id}/{fmt}"
    assert answer["rsc"] == 2001 and answer["rqi"] == "reg-1"
    assert answer["pc"]["m2m:ae"]["aei"] == me
    assert answer["fr"] == mqtt_cse.cse_id and answer["to"] == me and answer["rvi"] == "3"

    _, answer = await mqtt_cse.call({"op": 1, "to": "cse-in/meter", "fr": me, "rqi": "c-1", "rvi": "3",
                                     "ty": 3, "pc": {"m2m:cnt": {"rn": "power"}}}, fmt=fmt)
    assert answer["rsc"] == 2001, answer
    for n, watts in enumerate((1530, 1610)):
        topic, answer = await mqtt_cse.call(
            {"op": 1, "to": "cse-in/meter/power", "fr": me, "rqi": f"r-{n}", "rvi": "3", "ty": 4,
             "pc": {"m2m:cin": {"con": str(watts)}}}, fmt=fmt)
        assert topic == f"/oneM2M/resp/{me}/{mqtt_cse.topic_id}/{fmt}"
        assert (answer["rsc"], answer["rqi"]) == (2001, f"r-{n}")
    _, answer = await mqtt_cse.call({"op": 2, "to": f"{mqtt_cse.cse_id}/cse-in/meter/power/la", "fr": me,
                                     "rqi": "la-1", "rvi": "3"}, fmt=fmt)
    assert answer["rsc"] == 2000 and answer["pc"]["m2m:cin"]["con"] == "1610"


async def test_ae_id_in_sp_relative_topic_form_is_accepted(mqtt_cse: MqttCse):
    """TS-0010 names a C-AE id-in:Cxyz in topics; ACME/Mobius use the bare stem. Both work."""
    me = mqtt_cse.originator
    await mqtt_cse.call(ae_create("reg", me, "cse-in"), kind="reg_req")
    sp_form = f"{mqtt_cse.topic_id}:{me}"
    await mqtt_cse.peer.subscribe(f"/oneM2M/resp/{sp_form}/+/+")
    topic, answer = await mqtt_cse.call({"op": 2, "to": "cse-in/meter", "fr": me, "rqi": "q", "rvi": "3"},
                                        originator=sp_form)
    assert topic.startswith(f"/oneM2M/resp/{sp_form}/") and answer["rsc"] == 2000


async def test_wrapped_primitive_of_older_peers_is_accepted(mqtt_cse: MqttCse):
    _, answer = await mqtt_cse.call({"m2m:rqp": {"op": 2, "to": "cse-in", "fr": mqtt_cse.originator,
                                                 "rqi": "w-1", "rvi": "3"}})
    assert answer["rsc"] == 2000 and answer["rqi"] == "w-1" and "m2m:cb" in answer["pc"]


async def test_no_response_requested_is_honoured(mqtt_cse: MqttCse):
    """rt 5: nothing is published for the first request; the next answer is the second's."""
    me = mqtt_cse.originator
    mqtt_cse.peer.publish(f"/oneM2M/req/{me}/{mqtt_cse.topic_id}/json", orjson.dumps(
        {"op": 2, "to": "cse-in", "fr": me, "rqi": "silent", "rvi": "3", "rt": {"rtv": 5}}))
    _, answer = await mqtt_cse.call({"op": 2, "to": "cse-in", "fr": me, "rqi": "loud", "rvi": "3"})
    assert answer["rqi"] == "loud"


def _retrieve(fr: str, **extra) -> dict:
    return {"op": 2, "to": "cse-in", "fr": fr, "rqi": "bad-1", "rvi": "3", **extra}


ME = "{me}"
BAD_INPUTS = [
    # (case, primitive or raw bytes, topic kind, fmt, expected rsc, words in the message)
    ("invalid json", b'{"op": 2, "to": ', "req", "json", 4000, "not valid JSON"),
    ("invalid cbor", b"\xff\x00\x13", "req", "cbor", 4000, "not valid CBOR"),
    ("cbor map with integer keys", cbor2.dumps({1: 2}), "req", "cbor", 4000, "not a text string"),
    ("empty payload", b"", "req", "json", 4000, "empty"),
    ("array instead of object", b"[1, 2]", "req", "json", 4000, "must be an object"),
    ("missing op", {"to": "cse-in", "fr": ME, "rqi": "bad-1"}, "req", "json", 4000, "operation (op)"),
    ("unknown op", _retrieve(ME, op=9), "req", "json", 4000, "operation 9"),
    ("op as string", _retrieve(ME, op="2"), "req", "json", 4000, "'op' must be an integer"),
    ("missing to", {"op": 2, "fr": ME, "rqi": "bad-1", "rvi": "3"}, "req", "json", 4000, "target (to)"),
    ("missing rqi", {"op": 2, "to": "cse-in", "fr": ME, "rvi": "3"}, "req", "json", 4000, "request identifier"),
    ("missing fr", {"op": 2, "to": "cse-in", "rqi": "bad-1", "rvi": "3"}, "req", "json", 4000, "originator (fr)"),
    ("rvi as number", _retrieve(ME, rvi=3), "req", "json", 4000, "'rvi' must be a string"),
    ("unsupported rvi", _retrieve(ME, rvi="9"), "req", "json", 4001, "release version"),
    ("create without ty", {"op": 1, "to": "cse-in", "fr": ME, "rqi": "bad-1", "rvi": "3",
                           "pc": {"m2m:cnt": {}}}, "req", "json", 4000, "resource type (ty)"),
    ("ty as string", {"op": 1, "to": "cse-in", "fr": ME, "rqi": "bad-1", "rvi": "3", "ty": "3",
                      "pc": {"m2m:cnt": {}}}, "req", "json", 4000, "'ty' must be an integer"),
    ("fc not an object", _retrieve(ME, fc=[1]), "req", "json", 4000, "'fc' must be an object"),
    ("rt without rtv", _retrieve(ME, rt={"nu": []}), "req", "json", 4000, "'rt'"),
    ("expired request", _retrieve(ME, rqet="20000101T000000"), "req", "json", 4008, "expired"),
    ("fr not matching the topic", _retrieve("Csomebodyelse"), "req", "json", 4000, "does not match"),
    ("a response sent as request", {"rsc": 2000, "rqi": "bad-1"}, "req", "json", 4000, "response primitive"),
    ("xml serialization", b"<m2m:rqp><op>2</op><to>cse-in</to><rqi>bad-1</rqi></m2m:rqp>", "req", "xml",
     4015, "json and cbor"),
    ("retrieve on the registration topic", _retrieve(ME), "reg_req", "json", 4000, "only registrations"),
    ("unknown target", _retrieve(ME, to="cse-in/nothing-here"), "req", "json", 4004, "does not exist"),
    ("cbor byte string", cbor2.dumps({"op": 1, "to": "cse-in", "fr": "C", "rqi": "bad-1", "rvi": "3", "ty": 2,
                                      "pc": {"m2m:ae": {"api": b"bytes"}}}), "reg_req", "cbor", 4000, "bytes"),
    ("nested too deep", b'{"op": 2, "to": "cse-in", "rqi": "bad-1", "pc": ' + b"[" * 100 + b"]" * 100 + b"}",
     "req", "json", 4000, "nested"),
    ("empty rqi", _retrieve(ME, rqi=""), "req", "json", 4000, "rqi"),
    ("ec not a number", _retrieve(ME, ec="x"), "req", "json", 4000, "'ec' must be an integer"),
    ("negative limit", _retrieve(ME, fc={"lim": -1}), "req", "json", 4000, "'lim'"),
    ("notify to the cse base", {"op": 5, "to": "cse-in", "fr": ME, "rqi": "bad-1", "rvi": "3",
                                "pc": {"m2m:sgn": {}}}, "req", "json", 4000, "NOTIFY"),
    ("update of the cse base", {"op": 3, "to": "cse-in", "fr": ME, "rqi": "bad-1", "rvi": "3",
                                "pc": {"m2m:cb": {"lbl": ["x"]}}}, "req", "json", 4005, "CSEBase"),
]


@pytest.mark.parametrize("case,sent,kind,fmt,rsc,words", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_bad_requests_get_an_error_answer_and_the_binding_keeps_serving(
        mqtt_cse: MqttCse, case, sent, kind, fmt, rsc, words):
    me = mqtt_cse.originator
    if isinstance(sent, dict):
        sent = {k: (me if v == ME else v) for k, v in sent.items()}
        raw = orjson.dumps(sent) if fmt != "cbor" else cbor2.dumps(sent)
    else:
        raw = sent
    topic, answer = await mqtt_cse.call(None, raw=raw, kind=kind, fmt=fmt)
    response_kind = {"req": "resp", "reg_req": "reg_resp"}[kind]
    assert topic == f"/oneM2M/{response_kind}/{me}/{mqtt_cse.topic_id}/{fmt}"
    assert answer["rsc"] == rsc, answer
    assert words in answer["pc"]["m2m:dbg"], answer
    if b"bad-1" in raw:
        assert answer["rqi"] == "bad-1"  # echoed whenever the request carried one
    _, answer = await mqtt_cse.call(_retrieve(me, rqi="after"))
    assert (answer["rsc"], answer["rqi"]) == (2000, "after")


async def test_http_and_mqtt_see_the_same_resources(mqtt_cse: MqttCse):
    import aiohttp
    me = mqtt_cse.originator
    await mqtt_cse.call(ae_create("reg", me, "cse-in"), kind="reg_req")
    http = next(b for b in mqtt_cse.cse.bindings if b.name == "http")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{http.url}/cse-in/meter",
                               headers={"X-M2M-Origin": me, "X-M2M-RI": "h1", "X-M2M-RVI": "3"}) as reply:
            assert reply.status == 200
            assert (await reply.json())["m2m:ae"]["aei"] == me


async def test_cse_base_advertises_its_mqtt_point_of_access(mqtt_cse: MqttCse):
    _, answer = await mqtt_cse.call(_retrieve(mqtt_cse.originator, rqi="poa"))
    broker = mqtt_cse.binding.connection.address
    assert f"mqtt://{broker.host}:{broker.port}" in answer["pc"]["m2m:cb"]["poa"]


async def test_payload_over_the_limit_is_refused(mqtt_broker):
    from .conftest import start_mqtt_cse
    running = await start_mqtt_cse(mqtt_broker.host, mqtt_broker.port, **{"mqtt.max_payload_bytes": 1000})
    try:
        _, answer = await running.call(_retrieve(running.originator, rqi="big", pc={"x": "y" * 2000}))
        assert answer["rsc"] == 4000 and "larger than the limit of 1000 bytes" in answer["pc"]["m2m:dbg"]
        _, answer = await running.call(_retrieve(running.originator, rqi="small"))
        assert (answer["rsc"], answer["rqi"]) == (2000, "small")
    finally:
        await running.peer.close()
        await running.cse.stop()


async def test_an_exception_in_the_core_is_answered_not_dropped(mqtt_cse: MqttCse, monkeypatch):
    async def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(mqtt_cse.cse.dispatcher, "handle", broken)
    _, answer = await mqtt_cse.call(_retrieve(mqtt_cse.originator, rqi="boom-1"))
    assert (answer["rsc"], answer["rqi"]) == (5000, "boom-1")
    monkeypatch.undo()
    _, answer = await mqtt_cse.call(_retrieve(mqtt_cse.originator, rqi="fine"))
    assert answer["rsc"] == 2000


async def test_discovery_over_mqtt(mqtt_cse: MqttCse):
    me = mqtt_cse.originator
    await mqtt_cse.call(ae_create("reg", me, "cse-in"), kind="reg_req")
    await mqtt_cse.call({"op": 1, "to": "cse-in/meter", "fr": me, "rqi": "c", "rvi": "3", "ty": 3,
                         "pc": {"m2m:cnt": {"rn": "power", "lbl": ["energy"]}}})
    _, answer = await mqtt_cse.call(_retrieve(me, rqi="disc", fc={"fu": 1, "lbl": ["energy"]}))
    assert answer["rsc"] == 2000 and answer["pc"]["m2m:uril"] == ["cse-in/meter/power"]
