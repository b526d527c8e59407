"""The HTTP codec (TS-0009) as tables: every request and response parameter survives the way
sender -> wire -> server (and server -> wire -> sender), and every bad value is refused with
the right RSC and a message naming it.  No sockets: the wire is what the codec produces, read
back the way a server framework does (yarl for the URL, lower-case header names)."""
from __future__ import annotations

import dataclasses

import cbor2
import pytest
from yarl import URL

from bindings import http_codec
from cse.errors import OneM2MError
from cse.primitives import Request, Response

from .primitive_tables import BASE, CIN, LOCATIONS, REQUESTS, RESPONSES, names

def received(wire: http_codec.HttpRequest, url_path: str = "/") -> tuple[str, list, dict]:
    """(path, query pairs, headers) as the server sees them after the trip."""
    url = URL(f"http://cse.example{wire.path if wire.path is not None else url_path}")
    url = URL(str(url.update_query(wire.query)) if wire.query else str(url))
    return url.path, list(url.query.items()), {name.lower(): value for name, value in wire.headers.items()}


def round_trip(request: Request, serialization: str = "json") -> Request:
    wire = http_codec.encode_request(request, serialization)
    path, query, headers = received(wire)
    return http_codec.decode_request(wire.method, path, query, headers, wire.body or b"")


@pytest.mark.parametrize("serialization", ["json", "cbor"])
@pytest.mark.parametrize("name, fields", REQUESTS + [("atrl", dict(atrl=["rn", "cni"]))],
                         ids=names(REQUESTS) + ["atrl"])
def test_every_request_parameter_survives_the_trip(name, fields, serialization):
    sent = Request(**{**BASE, **fields})
    assert round_trip(sent, serialization) == dataclasses.replace(sent, accept=serialization)


@pytest.mark.parametrize("sent, expected", [
    # A URL fragment never reaches a server: "#attr" travels as atrl, and means the same.
    (dict(to="cse-in#csi"), dict(to="cse-in", atrl=["csi"])),
    (dict(to="/id-in/cse-in#csi"), dict(to="/id-in/cse-in", atrl=["csi"])),
    # HTTP always carries an originator header: none is sent as empty.
    (dict(fr=None), dict(fr="")),
], ids=["#attr", "sp-relative #attr", "no originator"])
def test_what_http_normalises(sent, expected):
    request = Request(**{**BASE, **sent})
    assert round_trip(request) == dataclasses.replace(request, accept="json", **expected)


def test_the_wire_form_of_a_request():
    wire = http_codec.encode_request(Request(**{**BASE, "op": 1, "ty": 4, "pc": CIN, "to": "/id-in/cse-in/x y",
                                                "rcn": 1}), "cbor")
    assert (wire.method, wire.path, wire.query) == ("POST", "/~/id-in/cse-in/x%20y", [("rcn", "1")])
    assert wire.headers == {"X-M2M-Origin": "Cmeter", "X-M2M-RI": "r1", "X-M2M-RVI": "3",
                            "Accept": "application/cbor", "Content-Type": "application/cbor;ty=4"}
    assert cbor2.loads(wire.body) == CIN
    notify = http_codec.encode_request(Request(op=5, to="Capp", fr="/id-in", rqi="n", pc={"m2m:sgn": {}}),
                                       "json", address_in_path=False)
    assert notify.path is None and notify.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("serialization, plain, vendor", [
    ("json", "application/json", "application/vnd.onem2m-ntfy+json"),
    ("cbor", "application/cbor", "application/vnd.onem2m-ntfy+cbor")])
def test_notifications_use_the_plain_media_type_unless_the_vendor_one_is_asked_for(serialization, plain, vendor):
    notify = Request(op=5, to="Capp", fr="/id-in", rqi="n", rvi="3", pc={"m2m:sgn": {"vrq": True}})
    assert http_codec.encode_request(notify, serialization, False).headers["Content-Type"] == plain
    assert http_codec.encode_request(notify, serialization, False, True).headers["Content-Type"] == vendor
    # Only NOTIFY: other requests keep their resource media type.
    create = Request(op=1, to="cse-in", fr="C", rqi="c", ty=3, pc={"m2m:cnt": {}})
    assert http_codec.encode_request(create, serialization, True, True).headers["Content-Type"] == plain + ";ty=3"


@pytest.mark.parametrize("content_type", ["application/json", "application/vnd.onem2m-ntfy+json",
                                          "application/vnd.onem2m-res+json", "application/json; charset=utf-8"])
def test_a_notify_is_accepted_in_every_json_form(content_type):
    decoded = http_codec.decode_request("POST", "/cse-in/ae", [], {
        "x-m2m-origin": "/id-mn", "x-m2m-ri": "n1", "x-m2m-rvi": "4", "content-type": content_type},
        b'{"m2m:sgn": {"sur": "/id-mn/sub"}}')
    assert decoded.op == 5 and decoded.pc == {"m2m:sgn": {"sur": "/id-mn/sub"}} and decoded.rvi == "4"


@pytest.mark.parametrize("serialization", ["json", "cbor"])
@pytest.mark.parametrize("name, op, fields", RESPONSES + LOCATIONS, ids=names(RESPONSES + LOCATIONS))
def test_every_response_parameter_survives_the_trip(name, op, fields, serialization):
    sent = Response(**{"rqi": "r1", "rvi": "3", **fields})
    status, headers, body = http_codec.encode_response(sent, serialization)
    assert status == http_codec.http_status(sent.rsc)
    back = http_codec.decode_response(status, {k.lower(): v for k, v in headers.items()}, body or b"", "other")
    assert back == sent


@pytest.mark.parametrize("rsc, status", [
    (2000, 200), (2001, 201), (2002, 200), (2004, 200), (1001, 202), (4000, 400), (4004, 404), (4005, 405),
    (4008, 504), (4015, 415), (4103, 403), (4105, 409), (5000, 500), (5001, 501), (5103, 404), (5207, 406),
    (6003, 404), (6030, 504),
    (1099, 202), (2099, 200), (4999, 400), (5999, 500), (6999, 500), (3000, 500), (9000, 500),
], ids=str)
def test_rsc_to_status(rsc, status):
    assert http_codec.http_status(rsc) == status


@pytest.mark.parametrize("header, status, rsc", [
    ("2001", 201, 2001), ("4004", 500, 4004),                  # the header wins
    (None, 200, 2000), (None, 204, 2000), (None, 404, 4004), (None, 403, 4103), (None, 418, 4000),
    (None, 500, 5000), (None, 302, 5000), ("", 404, 4004), ("abc", 403, 4103), ("20.1", 200, 2000),
], ids=str)
def test_the_rsc_of_an_answer(header, status, rsc):
    assert http_codec.rsc_of(header, status) == rsc


def test_a_rate_limited_answer_is_429_with_retry_after():
    response = Response(rsc=5000 + 206, rqi="r", pc={"m2m:dbg": "slow down"}, extra={"retry_after": 1.2})
    status, headers, _ = http_codec.encode_response(response, "json")
    assert (status, headers["Retry-After"]) == (429, "2")


def test_a_body_that_cannot_be_encoded_is_a_500_with_5000():
    status, headers, body = http_codec.encode_response(Response(rsc=2000, rqi="r", pc={"x": {1, 2}}), "json")
    assert (status, headers["X-M2M-RSC"]) == (500, "5000")
    assert b"could not be encoded" in body


@pytest.mark.parametrize("headers, body, fields", [
    ({"x-m2m-rsc": "2000", "content-type": "application/json"}, b"{not json", dict(rsc=2000, pc=None)),
    ({"x-m2m-rsc": "2000", "x-m2m-ec": "x", "x-m2m-cts": "", "x-m2m-cto": "1.5"}, b"", dict(rsc=2000)),
    ({"x-m2m-rsc": "2001", "content-location": "http://peer:8080/~/id-mn/cse-mn/x"}, b"",
     dict(rsc=2001, content_location="/id-mn/cse-mn/x")),
    ({"content-type": "application/cbor"}, cbor2.dumps({"a": 1}), dict(rsc=2000, pc={"a": 1})),
    ({"x-m2m-ri": "theirs"}, b"", dict(rsc=2000, rqi="theirs")),
], ids=["undecodable body", "numbers that are not", "location as a URL", "cbor, no RSC header", "their rqi"])
def test_answers_are_read_leniently(headers, body, fields):
    """The status is the answer: what is unusable in it is left out, not turned into a failure."""
    assert http_codec.decode_response(200, headers, body, "mine") == Response(**{"rqi": "mine", **fields})


GOOD_HEADERS = {"x-m2m-origin": "Cmeter", "x-m2m-ri": "r1", "x-m2m-rvi": "3"}
BAD_REQUESTS = [
    ("ty not a number", "POST", "", {"content-type": "application/json;ty=abc"}, b"{}", 4000, "ty='abc'"),
    ("xml body", "POST", "", {"content-type": "application/xml;ty=3"}, b"<cnt/>", 4015, "not supported"),
    ("form body", "PUT", "", {"content-type": "application/x-www-form-urlencoded"}, b"a=b", 4015,
     "not supported"),
    ("nothing acceptable", "GET", "", {"accept": "application/xml, text/html;q=0.5"}, b"", 5207,
     "none of the accepted media types"),
    ("PATCH", "PATCH", "", {}, b"", 4005, "HTTP method PATCH"),
    ("HEAD", "HEAD", "", {}, b"", 4005, "HTTP method HEAD"),
    ("invalid json", "PUT", "", {"content-type": "application/json"}, b'{"m2m:cnt": ', 4000, "not valid JSON"),
    ("invalid cbor", "PUT", "", {"content-type": "application/cbor"}, b"\xff\x00", 4000, "not valid CBOR"),
    ("cbor byte string", "PUT", "", {"content-type": "application/cbor"}, cbor2.dumps({"m2m:cnt": b"x"}), 4000,
     "bytes"),
    ("too deep", "PUT", "", {"content-type": "application/json"}, b"[" * 100 + b"]" * 100, 4000, "nested"),
    ("ec not a number", "GET", "", {"x-m2m-ec": "high"}, b"", 4000, "X-M2M-EC 'high'"),
    ("rcn not a number", "GET", "rcn=all", {}, b"", 4000, "query parameter 'rcn'"),
    ("rt not a number", "GET", "rt=blocking", {}, b"", 4000, "query parameter 'rt'"),
    ("lim not a number", "GET", "fu=1&lim=-", {}, b"", 4000, "query parameter 'lim'"),
    ("ty list item", "GET", "fu=1&ty=2+x", {}, b"", 4000, "query parameter 'ty'"),
    ("da not a boolean", "GET", "da=maybe", {}, b"", 4000, "query parameter 'da'"),
    ("nameless parameter", "GET", "=3", {}, b"", 4000, "without a name"),
]


@pytest.mark.parametrize("name, method, query, headers, body, rsc, words", BAD_REQUESTS,
                         ids=[row[0] for row in BAD_REQUESTS])
def test_bad_requests_are_refused_saying_what_is_wrong(name, method, query, headers, body, rsc, words):
    pairs = list(URL(f"http://cse.example/cse-in?{query}").query.items()) if query else []
    with pytest.raises(OneM2MError) as refused:
        http_codec.decode_request(method, "/cse-in", pairs, {**GOOD_HEADERS, **headers}, body)
    assert refused.value.rsc == rsc
    assert words in refused.value.message


@pytest.mark.parametrize("headers, body, op, ty", [
    ({"content-type": "text/plain"}, b"", 5, None),           # an unknown type without a body: no harm
    ({}, b'{"m2m:sgn": {}}', 5, None),                         # no Content-Type: JSON
    ({"content-type": "application/vnd.onem2m-res+json; ty=3"}, b"{}", 1, 3),
    ({"content-type": 'application/cbor;ty="23"'}, cbor2.dumps({}), 1, 23),
], ids=["text/plain without body", "no content type", "onem2m media type", "quoted ty"])
def test_what_a_post_means(headers, body, op, ty):
    request = http_codec.decode_request("POST", "/cse-in", [], {**GOOD_HEADERS, **headers}, body)
    assert (request.op, request.ty) == (op, ty)


@pytest.mark.parametrize("path, to", [
    ("/cse-in/meter", "cse-in/meter"), ("/~/id-in/cse-in", "/id-in/cse-in"), ("/~", "/"), ("/~/", "/"),
    ("/_/sp/id-in/cse-in", "//sp/id-in/cse-in"), ("/", ""), ("/-/meter", "-/meter"),
], ids=str)
def test_paths_and_addresses(path, to):
    assert http_codec.path_to_target(path) == to
    if path not in ("/~",):
        assert http_codec.path_to_target(http_codec.target_to_path(to)) == to


def test_malformed_http_gets_a_onem2m_answer():
    status, headers, body = http_codec.malformed_request("Invalid method encountered")
    assert (status, headers["X-M2M-RSC"], headers["Content-Type"]) == (400, "4000", "application/json")
    assert body == b'{"m2m:dbg":"malformed HTTP request: Invalid method encountered"}'
