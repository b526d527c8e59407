"""The CoAP codec (TS-0008) as tables: every request and response parameter survives the way
sender -> CoAP bytes -> server (and back), in the current and the pre-V3.7.0 option numbers;
every bad option, query value and payload is refused with the right RSC, code and words.
No sockets: messages are encoded to and parsed from datagram bytes by aiocoap in memory."""
from __future__ import annotations

import dataclasses

import aiocoap
import cbor2
import pytest

from bindings import coap_codec, coap_options
from bindings.coap_codec import CoapMessage, code
from cse.errors import OneM2MError
from cse.primitives import Request, Response

from .primitive_tables import BASE, CIN, LOCATIONS, REQUESTS, RESPONSES, names

LIMIT = 65536


@pytest.fixture(autouse=True, scope="module")
def options_registered():
    coap_options.register()


def datagram(message: CoapMessage, request: bool) -> CoapMessage:
    """`message` after a trip through CoAP's binary format."""
    sent = coap_options.to_aiocoap(message, uri="coap://127.0.0.1/" if request else None)
    sent.mid, sent.token, sent.mtype = 1, b"tok", aiocoap.CON
    return coap_options.from_aiocoap(aiocoap.Message.decode(sent.encode()))


def round_trip(request: Request, serialization: str = "json") -> Request:
    wire = coap_codec.encode_request(request, serialization, coap_codec.target_to_path(request.to))
    received = datagram(wire, request=True)
    decoded, answer_format = coap_codec.decode_request(received, coap_codec.uses_legacy(received.options), LIMIT)
    assert answer_format == serialization
    return decoded


# Beyond the common rows: what CoAP carries as it is and HTTP or MQTT normalise.
COAP_REQUESTS = REQUESTS + [("no originator", dict(fr=None)), ("#attr to", dict(to="cse-in#csi")),
                            ("atrl", dict(atrl=["rn", "cni"]))]


@pytest.mark.parametrize("serialization", ["json", "cbor"])
@pytest.mark.parametrize("name, fields", COAP_REQUESTS, ids=names(COAP_REQUESTS))
def test_every_request_parameter_survives_the_trip(name, fields, serialization):
    sent = Request(**{**BASE, **fields})
    assert round_trip(sent, serialization) == dataclasses.replace(sent, accept=serialization)


def test_the_wire_form_of_a_request():
    request = Request(**{**BASE, "op": 1, "ty": 4, "pc": CIN, "to": "/id-in/cse-in", "fc": {"ty": [2, 3]}})
    wire = coap_codec.encode_request(request, "cbor", coap_codec.target_to_path(request.to), [("k", "v w")])
    assert (wire.code, wire.uri_path, wire.uri_query) == (coap_codec.POST, ("~", "id-in", "cse-in"), ("k=v+w", "ty=2+3"))
    assert (wire.content_format, wire.accept, cbor2.loads(wire.payload)) == (60, 60, CIN)
    assert wire.options == {279: ["Cmeter"], 283: ["r1"], 271: ["3"], 267: [4]}


@pytest.mark.parametrize("legacy", [False, True], ids=["current numbers", "legacy numbers"])
@pytest.mark.parametrize("serialization", ["json", "cbor"])
@pytest.mark.parametrize("name, op, fields", RESPONSES + LOCATIONS, ids=names(RESPONSES + LOCATIONS))
def test_every_response_parameter_survives_the_trip(name, op, fields, serialization, legacy):
    sent = Response(**{"rqi": "r1", "rvi": "3", **fields})
    wire = coap_codec.encode_response(sent, op, serialization, legacy)
    assert wire.code == coap_codec.coap_code(sent.rsc, op)
    received = datagram(wire, request=False)
    assert coap_codec.uses_legacy(received.options) == legacy
    assert coap_codec.decode_response(received, Request(**{**BASE, "op": op, "rqi": "other"})) == sent


def test_a_request_in_legacy_numbers_is_understood():
    received = CoapMessage(code=coap_codec.GET, uri_path=("cse-in",),
                           options={256: ["Cmeter"], 257: ["r1"], 271: ["3"], 264: [1]})
    assert coap_codec.uses_legacy(received.options)
    request, _ = coap_codec.decode_request(received, True, LIMIT)
    assert (request.fr, request.rqi, request.ec) == ("Cmeter", "r1", 1)


@pytest.mark.parametrize("rsc, op, text", [
    (2000, 2, "2.05"), (2000, 3, "2.04"), (2000, None, "2.04"), (2001, 1, "2.01"), (2002, 4, "2.02"),
    (2004, 3, "2.04"), (1001, 1, "2.01"), (4000, 2, "4.00"), (4004, 2, "4.04"), (4005, 2, "4.05"),
    (4008, 2, "5.04"), (4015, 1, "4.15"), (4103, 2, "4.03"), (4120, 1, "4.02"), (5000, 2, "5.00"),
    (5001, 2, "5.01"), (5207, 2, "4.06"), (6030, 2, "5.04"),
    (1099, 2, "2.04"), (2099, 2, "2.04"), (4999, 2, "4.00"), (5999, 2, "5.00"), (9000, 2, "5.00"),
], ids=str)
def test_rsc_to_code(rsc, op, text):
    assert coap_codec.code_text(coap_codec.coap_code(rsc, op)) == text


@pytest.mark.parametrize("text, op, rsc", [
    ("2.01", 1, 2001), ("2.02", 4, 2002), ("2.04", 3, 2004), ("2.04", 5, 2000), ("2.05", 2, 2000),
    ("4.03", 2, 4103), ("4.04", 2, 4004), ("4.05", 2, 4005), ("4.06", 2, 5207), ("4.15", 1, 4015),
    ("4.00", 2, 4000), ("4.29", 2, 4000), ("5.01", 2, 5001), ("5.04", 2, 4008), ("5.03", 2, 5000),
], ids=str)
def test_code_to_rsc_for_peers_without_an_rsc_option(text, op, rsc):
    answer = CoapMessage(code=code(text))
    assert coap_codec.decode_response(answer, Request(**{**BASE, "op": op})).rsc == rsc


@pytest.mark.parametrize("options, payload, content_format, fields", [
    ({307: [2000]}, b"{not json", 50, dict(rsc=2000)),
    ({307: [2000], 303: ["x"], 323: [b"\xff"], 259: [1, 2]}, b"", None, dict(rsc=2000)),
    ({307: [2001], 283: ["theirs"]}, b"", None, dict(rsc=2001, rqi="theirs")),
    ({265: [2000]}, b"", None, dict(rsc=2000)),                   # an RSC in legacy numbering only
    ({}, cbor2.dumps({"a": 1}), 60, dict(rsc=2000, pc={"a": 1})),
], ids=["undecodable body", "options of the wrong kind", "their rqi", "legacy rsc", "cbor, no rsc"])
def test_answers_are_read_leniently(options, payload, content_format, fields):
    answer = CoapMessage(code=code("2.05"), options=options, payload=payload, content_format=content_format)
    assert coap_codec.decode_response(answer, Request(**{**BASE, "rqi": "mine"})) == Response(**{"rqi": "mine", **fields})


GOOD = {279: ["Cmeter"], 283: ["r1"], 271: ["3"]}
BAD = [
    ("repeated option", dict(options={**GOOD, 283: ["r1", "r2"]}), 4000, "4.00", "oneM2M-RQI (283) is repeated"),
    ("option not UTF-8", dict(options={**GOOD, 279: [b"\xff\xfe"]}), 4000, "4.00", "oneM2M-FR (279) is not UTF-8"),
    ("repeated ty", dict(code=coap_codec.POST, options={**GOOD, 267: [3, 4]}), 4000, "4.00", "oneM2M-TY (267)"),
    ("unknown critical option", dict(unknown_options=(65001,)), 4000, "4.02", "option 65001 is critical"),
    ("content format 0", dict(code=coap_codec.PUT, content_format=0, payload=b"x"), 4015, "4.15",
     "content format 0 is not supported"),
    ("content format 41 (xml)", dict(code=coap_codec.PUT, content_format=41, payload=b"<a/>"), 4015, "4.15",
     "content format 41"),
    ("accept 41", dict(accept=41), 5207, "4.06", "accept 41 is not supported"),
    ("FETCH", dict(code=5), 4005, "4.05", "CoAP method FETCH has no oneM2M meaning"),
    ("iPATCH", dict(code=7), 4005, "4.05", "CoAP method iPATCH"),
    ("op not a number", dict(code=coap_codec.POST, uri_query=("op=x",)), 4000, "4.00", "query parameter 'op'"),
    ("payload over the limit", dict(code=coap_codec.PUT, payload=b"x" * (LIMIT + 1)), 4000, "4.00",
     "larger than the limit"),
    ("invalid json", dict(code=coap_codec.PUT, content_format=50, payload=b'{"m2m:cnt": '), 4000, "4.00",
     "not valid JSON"),
    ("invalid cbor", dict(code=coap_codec.PUT, content_format=60, payload=b"\xff\x00"), 4000, "4.00",
     "not valid CBOR"),
    ("rcn not a number", dict(uri_query=("rcn=all",)), 4000, "4.00", "query parameter 'rcn'"),
    ("lim not a number", dict(uri_query=("fu=1", "lim=-")), 4000, "4.00", "query parameter 'lim'"),
    ("da not a boolean", dict(uri_query=("da=maybe",)), 4000, "4.00", "query parameter 'da'"),
    ("nameless query item", dict(uri_query=("=3",)), 4000, "4.00", "without a name"),
]


@pytest.mark.parametrize("name, fields, rsc, coap_code, words", BAD, ids=[row[0] for row in BAD])
def test_bad_requests_are_refused_saying_what_is_wrong(name, fields, rsc, coap_code, words):
    message = CoapMessage(**{"code": coap_codec.GET, "uri_path": ("cse-in",), "options": GOOD, **fields})
    with pytest.raises(OneM2MError) as refused:
        coap_codec.decode_request(message, False, LIMIT)
    assert refused.value.rsc == rsc and words in refused.value.message
    answer = coap_codec.encode_response(Response(rsc=rsc, rqi="r1", rvi="3", pc={"m2m:dbg": refused.value.message},
                                                 extra=refused.value.extra), None, "json", False)
    assert coap_codec.code_text(answer.code) == coap_code


def test_unknown_elective_options_are_ignored_as_rfc_7252_says():
    message = CoapMessage(code=coap_codec.GET, uri_path=("cse-in",), options=GOOD, unknown_options=(65000, 2048))
    request, _ = coap_codec.decode_request(message, False, LIMIT)
    assert request.to == "cse-in"


def test_an_oversized_upload_is_refused_with_4_13_and_its_rqi():
    answer = coap_codec.too_large(CoapMessage(code=coap_codec.PUT, options=GOOD), 1024)
    assert (coap_codec.code_text(answer.code), answer.size1, answer.options[307], answer.options[283]) == \
        ("4.13", 1024, [4000], ["r1"])


@pytest.mark.parametrize("segments, to", [
    (("cse-in", "meter"), "cse-in/meter"), (("~", "id-in", "cse-in"), "/id-in/cse-in"), (("~",), "/"),
    (("_", "sp", "id-in", "cse-in"), "//sp/id-in/cse-in"), ((), ""),
], ids=str)
def test_paths_and_addresses(segments, to):
    assert coap_codec.path_to_target(segments) == to
    assert coap_codec.path_to_target(tuple(coap_codec.target_to_path(to))) == to
