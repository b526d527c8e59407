"""CoAP binding driven by aiocoap's client: methods, options, formats, codes, block-wise."""
from __future__ import annotations

import cbor2
import orjson
import pytest
from aiocoap.numbers.codes import Code

from .conftest import CoapCse, option, unique

RSC, RQI, RVI, TY = 307, 283, 271, 267
LEGACY_FR, LEGACY_RQI, LEGACY_RSC = 256, 257, 265
GET, POST, PUT, DELETE, FETCH = Code.GET, Code.POST, Code.PUT, Code.DELETE, Code.FETCH


def ae(rn: str = "meter") -> dict:
    return {"m2m:ae": {"rn": rn, "api": "Nmeter", "rr": False, "srv": ["3"]}}


async def register(coap: CoapCse, me: str) -> None:
    answer = await coap.call(POST, "/cse-in", fr=me, ty=2, body=ae())
    assert option(answer, RSC) == 2001, answer.payload
    answer = await coap.call(POST, "/cse-in/meter", fr=me, ty=3, body={"m2m:cnt": {"rn": "power"}})
    assert option(answer, RSC) == 2001, answer.payload


async def test_meter_registers_posts_and_reads_latest(coap_cse: CoapCse):
    me = unique("C")
    answer = await coap_cse.call(POST, "/cse-in", fr=me, ty=2, body=ae(), rqi="reg-1")
    assert answer.code == Code.CREATED
    assert (option(answer, RSC), option(answer, RQI), option(answer, RVI)) == (2001, "reg-1", "3")
    assert answer.opt.content_format == 50
    assert orjson.loads(answer.payload)["m2m:ae"]["aei"] == me
    assert answer.opt.location_path == ("cse-in", "meter")

    answer = await coap_cse.call(POST, "/cse-in/meter", fr=me, ty=3, body={"m2m:cnt": {"rn": "power"}})
    assert answer.code == Code.CREATED
    for watts in (1530, 1610):
        answer = await coap_cse.call(POST, "/cse-in/meter/power", fr=me, ty=4,
                                     body={"m2m:cin": {"con": str(watts)}})
        assert option(answer, RSC) == 2001
    answer = await coap_cse.call(GET, "/cse-in/meter/power/la", fr=me, rqi="la")
    assert answer.code == Code.CONTENT and answer.opt.max_age == 0
    assert (option(answer, RSC), option(answer, RQI)) == (2000, "la")
    assert orjson.loads(answer.payload)["m2m:cin"]["con"] == "1610"


async def test_update_and_delete_codes(coap_cse: CoapCse):
    me = unique("C")
    await register(coap_cse, me)
    answer = await coap_cse.call(PUT, "/cse-in/meter/power", fr=me, body={"m2m:cnt": {"lbl": ["energy"]}})
    assert (answer.code, option(answer, RSC)) == (Code.CHANGED, 2004)
    assert orjson.loads(answer.payload)["m2m:cnt"]["lbl"] == ["energy"]
    answer = await coap_cse.call(DELETE, "/cse-in/meter/power", fr=me)
    assert (answer.code, option(answer, RSC)) == (Code.DELETED, 2002)
    answer = await coap_cse.call(GET, "/cse-in/meter/power", fr=me)
    assert (answer.code, option(answer, RSC)) == (Code.NOT_FOUND, 4004)


@pytest.mark.parametrize("content_format,accept", [(60, 60), (10010, None), (10001, 60), (50, 10013)])
async def test_cbor_and_onem2m_content_formats(coap_cse: CoapCse, content_format, accept):
    me = unique("C")
    body = ae()
    encoded = cbor2.dumps(body) if content_format in (60, 10010) else orjson.dumps(body)
    answer = await coap_cse.call(POST, "/cse-in", fr=me, ty=2, payload=encoded,
                                 content_format=content_format, accept=accept)
    assert option(answer, RSC) == 2001
    cbor_back = accept in (60, 10013) or (accept is None and content_format in (60, 10010))
    assert answer.opt.content_format == (60 if cbor_back else 50)
    decoded = cbor2.loads(answer.payload) if cbor_back else orjson.loads(answer.payload)
    assert decoded["m2m:ae"]["aei"] == me


async def test_sp_relative_and_absolute_paths(coap_cse: CoapCse):
    me = unique("C")
    await register(coap_cse, me)
    cse_id = coap_cse.cse.config.cse.cse_id.lstrip("/")
    sp_id = coap_cse.cse.config.cse.sp_id.lstrip("/")
    for path in (f"/~/{cse_id}/cse-in/meter/power", f"/_/{sp_id}/{cse_id}/cse-in/meter/power"):
        answer = await coap_cse.call(GET, path, fr=me)
        assert option(answer, RSC) == 2000, (path, answer.payload)
        assert orjson.loads(answer.payload)["m2m:cnt"]["rn"] == "power"


async def test_uri_query_parameters(coap_cse: CoapCse):
    me = unique("C")
    await register(coap_cse, me)
    for n in range(3):
        await coap_cse.call(POST, "/cse-in/meter/power", fr=me, ty=4, body={"m2m:cin": {"con": str(n)}})
    answer = await coap_cse.call(GET, "/cse-in/meter/power?rcn=4&ty=4&lim=2", fr=me)
    assert option(answer, RSC) == 2000
    children = orjson.loads(answer.payload)["m2m:cnt"]["m2m:cin"]
    assert len(children) == 2
    answer = await coap_cse.call(POST, "/cse-in/meter/power?rcn=0", fr=me, ty=4, body={"m2m:cin": {"con": "x"}})
    assert option(answer, RSC) == 2001 and answer.payload == b""


async def test_block_wise_upload_and_download_of_a_large_reading(coap_cse: CoapCse):
    """5 kB does not fit one datagram block (1 kB): Block1 up, Block2 down (RFC 7959)."""
    me = unique("C")
    await register(coap_cse, me)
    large = "".join(f"{n:05d}," for n in range(900))          # 5400 bytes
    answer = await coap_cse.call(POST, "/cse-in/meter/power", fr=me, ty=4, body={"m2m:cin": {"con": large}})
    assert option(answer, RSC) == 2001
    answer = await coap_cse.call(GET, "/cse-in/meter/power/la", fr=me)
    assert option(answer, RSC) == 2000
    assert orjson.loads(answer.payload)["m2m:cin"]["con"] == large


async def test_legacy_option_numbers_are_understood_and_answered_in_kind(coap_cse: CoapCse):
    answer = await coap_cse.call(GET, "/cse-in", fr=None, rqi=None,
                                 options={LEGACY_FR: "CAdmin", LEGACY_RQI: "old-1"})
    assert (option(answer, LEGACY_RSC), option(answer, LEGACY_RQI)) == (2000, "old-1")
    assert option(answer, RSC) is None


async def test_well_known_core_points_to_the_cse_base(coap_cse: CoapCse):
    answer = await coap_cse.call(GET, "/.well-known/core")
    assert answer.code == Code.CONTENT and b"</cse-in>" in answer.payload


BAD_INPUTS = [
    # (case, call arguments, CoAP code, RSC, words in the message)
    ("text/plain body", dict(method=POST, path="/cse-in", ty=3, payload=b"x", content_format=0),
     Code.UNSUPPORTED_CONTENT_FORMAT, 4015, "content format 0"),
    ("xml body", dict(method=POST, path="/cse-in", ty=3, payload=b"<a/>", content_format=41),
     Code.UNSUPPORTED_CONTENT_FORMAT, 4015, "content format 41"),
    ("xml accepted only", dict(method=GET, path="/cse-in", accept=41), Code.NOT_ACCEPTABLE, 5207, "accept 41"),
    ("invalid json", dict(method=POST, path="/cse-in", ty=3, payload=b'{"m2m:cnt": ', content_format=50),
     Code.BAD_REQUEST, 4000, "not valid JSON"),
    ("invalid cbor", dict(method=POST, path="/cse-in", ty=3, payload=b"\xff\x00", content_format=60),
     Code.BAD_REQUEST, 4000, "not valid CBOR"),
    ("FETCH method", dict(method=FETCH, path="/cse-in"), Code.METHOD_NOT_ALLOWED, 4005, "no oneM2M meaning"),
    ("missing request id", dict(method=GET, path="/cse-in", rqi=None), Code.BAD_REQUEST, 4000,
     "request identifier"),
    ("missing originator", dict(method=GET, path="/cse-in", fr=None), Code.BAD_REQUEST, 4000, "originator (fr)"),
    ("unsupported release", dict(method=GET, path="/cse-in", rvi="9"), Code.NOT_IMPLEMENTED, 4001,
     "release version"),
    ("ty on a retrieve", dict(method=GET, path="/cse-in", ty=3), Code.BAD_REQUEST, 4000,
     "only allowed in CREATE"),
    ("rcn not a number", dict(method=GET, path="/cse-in?rcn=abc"), Code.BAD_REQUEST, 4000,
     "'rcn': 'abc' is not an integer"),
    ("rcn not valid for create", dict(method=POST, path="/cse-in?rcn=7", ty=3, body={"m2m:cnt": {}}),
     Code.BAD_REQUEST, 4000, "result content 7"),
    ("filter criteria in a create", dict(method=POST, path="/cse-in?lbl=a", ty=3, body={"m2m:cnt": {}}),
     Code.BAD_REQUEST, 4000, "not allowed in a CREATE"),
    ("op query not a number", dict(method=POST, path="/cse-in?op=x", ty=3, body={"m2m:cnt": {}}),
     Code.BAD_REQUEST, 4000, "'op'"),
    ("expired request", dict(method=GET, path="/cse-in", options={291: "20000101T000000"}),
     Code.GATEWAY_TIMEOUT, 4008, "expired"),
    ("unknown target", dict(method=GET, path="/cse-in/nothing-here"), Code.NOT_FOUND, 4004, "does not exist"),
    ("no target", dict(method=GET, path=""), Code.BAD_REQUEST, 4000, "target address (to)"),
    ("create with wrong root", dict(method=POST, path="/cse-in", ty=3, body={"m2m:cin": {"con": "1"}}),
     Code.BAD_REQUEST, 4000, "does not match the resource type"),
    ("create without content", dict(method=POST, path="/cse-in", ty=3), Code.BAD_REQUEST, 4000,
     "has no content"),
    ("cbor byte string", dict(method=POST, path="/cse-in", ty=2, fr="C", content_format=60,
                              payload=cbor2.dumps({"m2m:ae": {"api": b"bytes"}})), Code.BAD_REQUEST, 4000, "bytes"),
    ("cbor map with integer keys", dict(method=POST, path="/cse-in", ty=2, fr="C", content_format=60,
                                        payload=cbor2.dumps({1: 2})), Code.BAD_REQUEST, 4000, "not a text string"),
    ("nested too deep", dict(method=POST, path="/cse-in", ty=2, fr="C", content_format=50,
                             payload=b"[" * 100 + b"]" * 100), Code.BAD_REQUEST, 4000, "nested"),
    ("empty request id", dict(method=GET, path="/cse-in", rqi=""), Code.BAD_REQUEST, 4000, "rqi"),
    ("limit not a number", dict(method=GET, path="/cse-in?lim=-"), Code.BAD_REQUEST, 4000, "'lim'"),
    ("da not a boolean", dict(method=GET, path="/cse-in?da=maybe"), Code.BAD_REQUEST, 4000, "'da'"),
    ("PATCH method", dict(method=Code.PATCH, path="/cse-in"), Code.METHOD_NOT_ALLOWED, 4005, "PATCH"),
    ("notify to the cse base", dict(method=POST, path="/cse-in", body={"m2m:sgn": {}}), Code.BAD_REQUEST,
     4000, "NOTIFY"),
    ("update of the cse base", dict(method=PUT, path="/cse-in", body={"m2m:cb": {"lbl": ["x"]}}),
     Code.METHOD_NOT_ALLOWED, 4005, "CSEBase"),
    ("originator not UTF-8", dict(method=GET, path="/cse-in", options={279: b"C\xff"}), Code.BAD_REQUEST, 4000,
     "oneM2M-FR (279) is not UTF-8"),
    ("request id not UTF-8", dict(method=GET, path="/cse-in", rqi=b"\xc3"), Code.BAD_REQUEST, 4000,
     "oneM2M-RQI (283) is not UTF-8"),
    ("expiry not UTF-8", dict(method=GET, path="/cse-in", options={291: b"\xff"}), Code.BAD_REQUEST, 4000,
     "oneM2M-RQET (291)"),
    ("type repeated", dict(method=POST, path="/cse-in", ty=[3, 4], body={"m2m:cnt": {}}), Code.BAD_REQUEST,
     4000, "oneM2M-TY (267) is repeated"),
]


@pytest.mark.parametrize("case,call,code,rsc,words", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
async def test_bad_requests_get_a_clear_error_and_the_binding_keeps_serving(coap_cse: CoapCse, case, call,
                                                                             code, rsc, words):
    call = dict(call)
    method, path = call.pop("method"), call.pop("path")
    call.setdefault("rqi", "bad-1")
    answer = await coap_cse.call(method, path, **call)
    assert (answer.code, option(answer, RSC)) == (code, rsc), answer.payload
    message = orjson.loads(answer.payload)["m2m:dbg"]
    assert words in message
    if isinstance(call["rqi"], str) and call["rqi"]:
        assert option(answer, RQI) == "bad-1"   # echoed whenever the request carried one
    answer = await coap_cse.call(GET, "/cse-in", rqi="after")
    assert (option(answer, RSC), option(answer, RQI)) == (2000, "after")


async def test_legacy_option_that_is_not_utf8_is_answered_in_kind(coap_cse: CoapCse):
    answer = await coap_cse.call(GET, "/cse-in", fr=None, rqi=None, options={LEGACY_FR: b"\xfe",
                                                                             LEGACY_RQI: "old-1"})
    assert (answer.code, option(answer, LEGACY_RSC), option(answer, LEGACY_RQI)) == (Code.BAD_REQUEST, 4000,
                                                                                     "old-1")
    assert "oneM2M-FR (256) is not UTF-8" in orjson.loads(answer.payload)["m2m:dbg"]


async def test_oversized_block_wise_upload_is_refused_early():
    from .conftest import start_coap_cse
    coap = await start_coap_cse(**{"coap.max_body_bytes": 2048})
    try:
        answer = await coap.call(POST, "/cse-in", fr="C", ty=2, rqi="big",
                                 body={"m2m:ae": {"api": "N" + "x" * 5000, "rr": False, "srv": ["3"]}})
        assert answer.code == Code.REQUEST_ENTITY_TOO_LARGE
        assert option(answer, RSC) == 4000 and option(answer, RQI) == "big"
        assert "larger than the limit of 2048 bytes" in orjson.loads(answer.payload)["m2m:dbg"]
        assert (option(await coap.call(GET, "/cse-in"), RSC)) == 2000
    finally:
        await coap.client.shutdown()
        await coap.cse.stop()


async def test_an_exception_in_the_core_is_answered_not_dropped(coap_cse: CoapCse, monkeypatch):
    async def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(coap_cse.cse.dispatcher, "handle", broken)
    answer = await coap_cse.call(GET, "/cse-in", rqi="boom-1")
    assert (answer.code, option(answer, RSC), option(answer, RQI)) == (Code.INTERNAL_SERVER_ERROR, 5000, "boom-1")
    monkeypatch.undo()
    assert option(await coap_cse.call(GET, "/cse-in"), RSC) == 2000


async def test_discovery_over_coap(coap_cse: CoapCse):
    me = unique("C")
    await register(coap_cse, me)
    answer = await coap_cse.call(GET, "/cse-in?fu=1&ty=3", fr=me)
    assert option(answer, RSC) == 2000, answer.payload
    assert orjson.loads(answer.payload)["m2m:uril"] == ["cse-in/meter/power"]


async def test_registrations_without_originator_are_rate_limited_per_address_not_per_port():
    """An AE may register without fr (the CSE picks its AE-ID), so such requests are limited
    per peer address.  The binding reports the address (as HTTP does), not address:port: a
    client cannot escape the limit by changing its source port."""
    import aiocoap

    from .conftest import start_coap_cse
    coap = await start_coap_cse(**{"limits.rate_per_originator": 0.01, "limits.rate_burst": 1})
    other = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        first = await coap.call(POST, "/cse-in", fr=None, ty=2, rqi="p-1", body=ae("first"))
        assert option(first, RSC) == 2001, first.payload
        coap.client, original = other, coap.client   # a second endpoint: another source port
        second = await coap.call(POST, "/cse-in", fr=None, ty=2, rqi="p-2", body=ae("second"))
        coap.client = original
        assert option(second, RSC) == 4005, second.payload
        assert "rate limit exceeded for originator '@127.0.0.1'" in orjson.loads(second.payload)["m2m:dbg"]
    finally:
        await other.shutdown()
        await coap.client.shutdown()
        await coap.cse.stop()


async def test_the_bound_port_is_the_one_that_answers(coap_cse: CoapCse):
    """`bound_port` reads the port aiocoap bound (configured 0) without private API."""
    from bindings.coap import bound_port
    binding = next(b for b in coap_cse.cse.bindings if b.name == "coap")
    assert binding.settings.port == 0 and binding.port > 0
    assert bound_port(binding._context) == binding.port
    answer = await coap_cse.call(GET, "/cse-in")
    assert option(answer, RSC) == 2000
    assert answer.remote.hostinfo.rsplit(":", 1)[1] == str(binding.port)


@pytest.mark.parametrize("number, code, rsc", [(65001, Code.BAD_OPTION, 4000), (345, Code.BAD_OPTION, 4000),
                                                (65000, Code.CONTENT, 2000), (344, Code.CONTENT, 2000)],
                         ids=["critical", "critical in the oneM2M range", "elective", "elective in the oneM2M range"])
async def test_unknown_options(coap_cse: CoapCse, number, code, rsc):
    """RFC 7252 5.4.1: an unknown critical option is refused with 4.02 (here with RSC 4000 and a
    message); an unknown elective one is ignored."""
    answer = await coap_cse.call(GET, "/cse-in", rqi="u-1", options={number: b"x"})
    assert (answer.code, option(answer, RSC), option(answer, RQI)) == (code, rsc, "u-1")
    if rsc == 4000:
        assert f"option {number} is critical" in orjson.loads(answer.payload)["m2m:dbg"]
