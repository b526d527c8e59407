"""The WebSocket mapping (bindings/ws_codec.py) as tables: no sockets."""
from __future__ import annotations

import cbor2
import orjson
import pytest

from bindings import ws_codec
from cse.primitives import Request, Response

REQUESTS = [
    Request(op=2, to="cse-in/meter/power/la", fr="Cmeter", rqi="r1", rvi="3"),
    Request(op=1, to="cse-in/meter", fr="Cmeter", rqi="r2", rvi="4", ty=4, pc={"m2m:cin": {"con": "1530"}}),
    Request(op=5, to="/id-in/Capp", fr="/id-in", rqi="n1", rvi="2a", pc={"m2m:sgn": {"vrq": True, "sur": "x"}}),
    Request(op=4, to="cse-in/meter", fr="Cmeter", rqi="d1", rt=5),
]


@pytest.mark.parametrize("serialization", ["json", "cbor"])
@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: r.rqi)
def test_requests_round_trip(serialization, request_):
    message = ws_codec.encode_request(request_, serialization)
    assert isinstance(message, str if serialization == "json" else bytes)
    decoded = ws_codec.decode(message, serialization, binary=serialization == "cbor")
    assert decoded.response is None
    assert decoded.request.to_primitive() == request_.to_primitive()


@pytest.mark.parametrize("serialization", ["json", "cbor"])
def test_responses_round_trip(serialization):
    response = Response(rsc=2001, rqi="r2", rvi="3", pc={"m2m:cin": {"con": "1530"}}, fr="/id-in", to="Cmeter")
    decoded = ws_codec.decode(ws_codec.encode_response(response, serialization), serialization,
                              binary=serialization == "cbor")
    assert decoded.request is None
    assert decoded.response.to_primitive() == response.to_primitive()


def test_wrapped_primitives_are_accepted():
    rqp = orjson.dumps({"m2m:rqp": {"op": 2, "to": "cse-in", "fr": "C1", "rqi": "w"}}).decode()
    assert ws_codec.decode(rqp, "json", binary=False).request.rqi == "w"
    rsp = orjson.dumps({"m2m:rsp": {"rsc": 2000, "rqi": "w"}}).decode()
    assert ws_codec.decode(rsp, "json", binary=False).response.rsc == 2000


def test_json_in_binary_frames_is_accepted():
    payload = orjson.dumps({"op": 2, "to": "cse-in", "fr": "C1", "rqi": "b"})
    assert ws_codec.decode(payload, "json", binary=True).request.rqi == "b"


@pytest.mark.parametrize("data,serialization,binary,fragment,rqi", [
    ("", "json", False, "empty", ""),
    ("{not json", "json", False, "", ""),
    ('{"op": 2, "fr": "C1", "rqi": "q"}', "json", False, "target", "q"),
    ('{"to": "cse-in", "rqi": "q"}', "json", False, "operation", "q"),
    ('{"op": "two", "to": "cse-in", "rqi": "q"}', "json", False, "op", "q"),
    ('[1, 2]', "json", False, "object", ""),
    ('{"op": 2}', "cbor", False, "binary frames", ""),
    (cbor2.dumps({"op": 2, "to": "cse-in"}), "cbor", True, "rqi", ""),
    ('{"rsc": "ok", "rqi": "q"}', "json", False, "", "q"),
])
def test_bad_messages_are_4000_with_what_was_wrong(data, serialization, binary, fragment, rqi):
    with pytest.raises(ws_codec.UndecodableMessage) as caught:
        ws_codec.decode(data, serialization, binary=binary)
    assert caught.value.rsc == 4000
    assert fragment in caught.value.message
    assert caught.value.rqi == rqi


def test_oversized_messages_are_refused():
    with pytest.raises(ws_codec.UndecodableMessage) as caught:
        ws_codec.decode("x" * 101, "json", binary=False, max_bytes=100)
    assert "larger than the limit of 100 bytes" in caught.value.message


@pytest.mark.parametrize("offered,expected", [
    ("oneM2M.json", "json"), ("oneM2M.cbor", "cbor"), ("onem2m.JSON", "json"),
    ("oneM2M.xml", None), ("", None), (None, None),
])
def test_subprotocols(offered, expected):
    assert ws_codec.serialization_of(offered) == expected


def test_transport_facts_do_not_change_the_received_request():
    received = REQUESTS[0]
    request = ws_codec.with_transport(received, "cbor", "127.0.0.1")
    assert (request.accept, request.remote_address) == ("cbor", "127.0.0.1")
    assert received.accept is None and request.to_primitive() == received.to_primitive()
