"""The MQTT codec (TS-0010) as tables: every request and response parameter survives the way
sender -> (topic, payload) -> receiver in JSON and CBOR; every bad payload is refused with
the right RSC, words and, where it can be read, the rqi to echo.  No broker, no sockets."""
from __future__ import annotations

import dataclasses
import json

import cbor2
import pytest

from bindings import mqtt_codec
from bindings.mqtt_topics import REQUEST, RESPONSE, Topic, parse_topic
from cse.errors import OneM2MError
from cse.primitives import Request, Response

from .primitive_tables import BASE, REQUESTS, RESPONSES, names



def request_topic(serialization: str) -> Topic:
    return Topic(REQUEST, "Cmeter", "id-in", serialization)


# Beyond the common rows: what MQTT carries as it is and HTTP normalises.
MQTT_REQUESTS = REQUESTS + [("no originator", dict(fr=None)), ("#attr to", dict(to="cse-in#csi"))]
# Response primitives on MQTT also name their originator and target.
MQTT_RESPONSES = RESPONSES + [("fr and to", 2, dict(rsc=2000, fr="/id-in", to="Cmeter"))]


@pytest.mark.parametrize("serialization", ["json", "cbor"])
@pytest.mark.parametrize("name, fields", MQTT_REQUESTS, ids=names(MQTT_REQUESTS))
def test_every_request_parameter_survives_the_trip(name, fields, serialization):
    sent = Request(**{**BASE, **fields})
    payload = mqtt_codec.encode_request(sent, serialization)
    assert mqtt_codec.decode_request(request_topic(serialization), payload, 65536) == \
        dataclasses.replace(sent, accept=serialization)


def test_an_attribute_list_travels_as_content():
    """TS-0004: in a primitive, the attribute list of a RETRIEVE is its content (m2m:atrl)."""
    sent = Request(**BASE, atrl=["rn", "cni"])
    decoded = mqtt_codec.decode_request(request_topic("json"), mqtt_codec.encode_request(sent, "json"))
    assert (decoded.atrl, decoded.pc) == (None, {"m2m:atrl": ["rn", "cni"]})


@pytest.mark.parametrize("serialization", ["json", "cbor"])
@pytest.mark.parametrize("name, op, fields", MQTT_RESPONSES, ids=names(MQTT_RESPONSES))
def test_every_response_parameter_survives_the_trip(name, op, fields, serialization):
    sent = Response(**{"rqi": "r1", "rvi": "3", **fields})
    topic = request_topic(serialization).response()
    assert mqtt_codec.decode_response(topic, mqtt_codec.encode_response(sent, serialization)) == sent


def test_wrapped_primitives_are_accepted():
    primitive = {"m2m:rqp": {"op": 2, "to": "cse-in", "fr": "Cmeter", "rqi": "w1", "rvi": "3"}}
    assert mqtt_codec.decode_request(request_topic("json"), json.dumps(primitive).encode()).rqi == "w1"
    answer = {"m2m:rsp": {"rsc": 2000, "rqi": "w1"}}
    assert mqtt_codec.decode_response(request_topic("cbor").response(), cbor2.dumps(answer)).rsc == 2000


def test_an_answer_that_cannot_be_encoded_becomes_5000():
    payload = mqtt_codec.encode_response(Response(rsc=2000, rqi="r1", pc={"x": {1, 2}}), "json")
    assert json.loads(payload) == {"rsc": 5000, "rqi": "r1", "rvi": "3",
                                   "pc": {"m2m:dbg": "response could not be encoded"}}


@pytest.mark.parametrize("level, serialization", [("json", "json"), ("cbor", "cbor"), ("xml", "json"),
                                                   ("JSON", "json"), ("", "json")])
def test_the_answer_uses_the_topic_serialization_or_json(level, serialization):
    assert mqtt_codec.answer_serialization(Topic(REQUEST, "C", "id-in", level)) == serialization


def primitive(**fields) -> bytes:
    return json.dumps({**BASE, **fields}).encode()


BAD = [
    ("xml topic", "xml", b"<m2m:rqp><rqi>x1</rqi></m2m:rqp>", 4015, "serialization 'xml'", "x1"),
    ("empty", "json", b"", 4000, "the MQTT message is empty", ""),
    ("oversized", "json", primitive(pc={"x": "y" * 200}), 4000, "larger than the limit of 100 bytes", ""),
    ("not json", "json", b"{rqi: x", 4000, "not valid JSON", ""),
    ("not cbor", "cbor", b"\xff\x00", 4000, "not valid CBOR", ""),
    ("too deep", "json", b'{"rqi": "d1", "pc": ' + b"[" * 80 + b"]" * 80 + b"}", 4000, "nested", "d1"),
    ("cbor bytes", "cbor", cbor2.dumps({**BASE, "rqi": "b1", "pc": b"raw"}), 4000, "bytes", "b1"),
    ("a list", "json", b"[1, 2]", 4000, "must be an object, not list", ""),
    ("a response", "json", b'{"rsc": 2000, "rqi": "s1"}', 4000, "this is a response primitive", "s1"),
    ("no op", "json", b'{"to": "cse-in", "rqi": "o1"}', 4000, "no operation (op)", "o1"),
    ("no to", "json", b'{"op": 2, "rqi": "t1"}', 4000, "no target (to)", "t1"),
    ("no rqi", "json", b'{"op": 2, "to": "cse-in"}', 4000, "no request identifier (rqi)", ""),
    ("op a string", "json", primitive(op="2"), 4000, "'op' must be an integer", "r1"),
    ("rvi a number", "json", primitive(rvi=3), 4000, "'rvi' must be a string", "r1"),
    ("rqi a number", "json", primitive(rqi=7), 4000, "'rqi' must be a string", ""),
    ("fc a list", "json", primitive(fc=[1]), 4000, "'fc' must be an object", "r1"),
    ("rt without rtv", "json", primitive(rt={"nu": []}), 4000, "'rt' must be an object with an integer rtv", "r1"),
    ("ot an object", "json", primitive(ot={}), 4000, "'ot' must be a timestamp", "r1"),
    ("wrapped, no op", "json", b'{"m2m:rqp": {"to": "cse-in", "rqi": "p1"}}', 4000, "no operation", "p1"),
]


@pytest.mark.parametrize("name, level, payload, rsc, words, rqi", BAD, ids=[row[0] for row in BAD])
def test_bad_messages_are_refused_with_the_rqi_that_could_be_read(name, level, payload, rsc, words, rqi):
    with pytest.raises(mqtt_codec.UndecodableRequest) as refused:
        mqtt_codec.decode_request(Topic(REQUEST, "Cmeter", "id-in", level), payload, 100 if name == "oversized"
                                  else 65536)
    assert (refused.value.rsc, refused.value.rqi) == (rsc, rqi)
    assert words in refused.value.message
    answer = mqtt_codec.error_response(refused.value, refused.value.rqi)
    assert (answer.rsc, answer.rqi, answer.rvi, answer.pc) == (rsc, rqi, "3", {"m2m:dbg": refused.value.message})


@pytest.mark.parametrize("level, payload", [("xml", b"<rsp/>"), ("json", b"[]"), ("json", b'{"rqi": "x"}'),
                                            ("cbor", cbor2.dumps({"rsc": "2000"}))])
def test_unreadable_answers_are_refused(level, payload):
    with pytest.raises((ValueError, OneM2MError)):
        mqtt_codec.decode_response(Topic(RESPONSE, "id-in", "Cmeter", level), payload)


def test_topics_round_trip():
    topic = Topic(REQUEST, "id-in:Cmeter", "id-in", "cbor")
    assert parse_topic(str(topic)) == topic and parse_topic(str(topic.response())) == topic.response()
