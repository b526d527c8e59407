"""HTTP binding (TS-0009) against a real server: headers, status codes, media types, bad input."""
import json

import cbor2
import pytest


async def register(client, originator="Cmeter", rn="meter"):
    response, body = await client.call("POST", "/cse-in", originator=originator, ty=2,
                                       body={"m2m:ae": {"rn": rn, "api": "Nmeter", "rr": False, "srv": ["3"]}})
    assert response.status == 201, body
    return json.loads(body)


async def test_meter_walkthrough_over_http(http_cse):
    cse, client = http_cse
    await register(client)
    response, body = await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=3,
                                       body={"m2m:cnt": {"rn": "power", "mni": 100}})
    assert response.status == 201 and response.headers["X-M2M-RSC"] == "2001"
    assert response.headers["Content-Location"] == "/cse-in/meter/power"
    response, body = await client.call("POST", "/cse-in/meter/power", originator="Cmeter", ty=4,
                                       body={"m2m:cin": {"cnf": "application/json:0", "con": "{\"w\":1530}"}},
                                       headers={"X-M2M-RI": "reading-1"})
    assert response.status == 201
    assert response.headers["X-M2M-RI"] == "reading-1" and response.headers["X-M2M-RVI"] == "3"
    response, body = await client.call("GET", "/~/id-in/cse-in/meter/power/la", originator="Cmeter")
    assert response.status == 200 and response.headers["Content-Type"] == "application/json"
    assert json.loads(body)["m2m:cin"]["con"] == "{\"w\":1530}"
    response, body = await client.call("GET", "/_/onem2m.example.net/id-in/cse-in/meter/power",
                                       originator="Cmeter", params={"rcn": "4"})
    assert len(json.loads(body)["m2m:cnt"]["m2m:cin"]) == 1


async def test_cbor_request_and_response(http_cse):
    cse, client = http_cse
    ae = cbor2.dumps({"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}})
    response, body = await client.call("POST", "/cse-in", originator="Cmeter", ty=2, raw=ae,
                                       content_type="application/cbor")
    assert response.status == 201 and response.headers["Content-Type"] == "application/cbor"
    assert cbor2.loads(body)["m2m:ae"]["aei"] == "Cmeter"
    response, body = await client.call("GET", "/cse-in/meter", originator="Cmeter",
                                       headers={"Accept": "application/vnd.onem2m-res+cbor"})
    assert cbor2.loads(body)["m2m:ae"]["rn"] == "meter"
    response, body = await client.call("GET", "/cse-in/meter", originator="Cmeter",
                                       headers={"Accept": "application/cbor;q=0.5, application/json"})
    assert json.loads(body)["m2m:ae"]["rn"] == "meter"


async def test_error_responses_carry_rsc_request_id_and_message(http_cse):
    cse, client = http_cse
    response, body = await client.call("GET", "/cse-in/nothing", originator="Cmeter",
                                       headers={"X-M2M-RI": "lost-1"})
    assert response.status == 404
    assert response.headers["X-M2M-RSC"] == "4004" and response.headers["X-M2M-RI"] == "lost-1"
    assert "does not exist" in json.loads(body)["m2m:dbg"]


@pytest.mark.parametrize("method, path, kwargs, status, rsc, words", [
    ("POST", "/cse-in", {"ty": 2, "raw": b"{not json", "originator": "Cx"}, 400, 4000, "not valid JSON"),
    ("POST", "/cse-in", {"ty": 2, "raw": b"\xff\xff", "originator": "Cx", "content_type": "application/cbor"},
     400, 4000, "not valid CBOR"),
    ("POST", "/cse-in", {"ty": 2, "raw": cbor2.dumps({"m2m:ae": {"api": b"bytes"}}), "originator": "Cx",
                         "content_type": "application/cbor"}, 400, 4000, "bytes"),
    ("POST", "/cse-in", {"ty": 2, "raw": cbor2.dumps({1: 2}), "originator": "Cx",
                         "content_type": "application/cbor"}, 400, 4000, "not a text string"),
    ("POST", "/cse-in", {"ty": 2, "raw": b"[" * 100 + b"]" * 100, "originator": "Cx"}, 400, 4000, "nested"),
    ("POST", "/cse-in", {"ty": 2, "raw": b"<ae/>", "content_type": "application/xml", "originator": "Cx"},
     415, 4015, "not supported"),
    ("POST", "/cse-in", {"ty": 2, "raw": b"a=b", "content_type": "application/x-www-form-urlencoded",
                         "originator": "Cx"}, 415, 4015, "not supported"),
    ("GET", "/cse-in", {"headers": {"Accept": "application/xml"}}, 406, 5207, "accepted media types"),
    ("GET", "/cse-in", {"headers": {"Content-Type": "application/json;ty=x"}}, 400, 4000, "ty="),
    ("GET", "/cse-in", {"headers": {"Content-Type": "application/json;ty=3"}}, 400, 4000, "only allowed in CREATE"),
    ("GET", "/cse-in", {"originator": None}, 400, 4000, "originator"),
    ("GET", "/cse-in", {"headers": {"X-M2M-RI": ""}}, 400, 4000, "rqi"),
    ("GET", "/cse-in", {"headers": {"X-M2M-RVI": "7"}}, 501, 4001, "release version"),
    ("GET", "/cse-in", {"params": {"rcn": "all"}}, 400, 4000, "'rcn'"),
    ("GET", "/cse-in", {"params": {"lim": "-"}}, 400, 4000, "'lim'"),
    ("GET", "/cse-in", {"params": {"da": "maybe"}}, 400, 4000, "'da'"),
    ("GET", "/cse-in", {"headers": {"X-M2M-RET": "20000101T000000"}}, 504, 4008, "expired"),
    ("GET", "/cse-in", {"headers": {"X-M2M-EC": "x"}}, 400, 4000, "X-M2M-EC"),
    ("PATCH", "/cse-in", {}, 405, 4005, "PATCH"),
    ("POST", "/cse-in", {"body": {"m2m:sgn": {}}}, 400, 4000, "NOTIFY"),
    ("PUT", "/cse-in", {"body": {"m2m:cb": {"lbl": ["x"]}}}, 405, 4005, "CSEBase"),
])
async def test_bad_http_requests(http_cse, method, path, kwargs, status, rsc, words):
    cse, client = http_cse
    response, body = await client.call(method, path, **kwargs)
    assert response.status == status, body
    assert response.headers["X-M2M-RSC"] == str(rsc)
    assert words in json.loads(body)["m2m:dbg"]


async def test_body_over_the_limit_is_refused(http_cse):
    cse, client = http_cse
    await register(client)
    huge = {"m2m:cnt": {"rn": "big", "lbl": ["x" * 2_000_000]}}
    response, body = await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=3, body=huge)
    assert response.status == 400 and "larger than the limit" in json.loads(body)["m2m:dbg"]
    response, _ = await client.call("GET", "/cse-in/meter", originator="Cmeter")
    assert response.status == 200


async def test_query_lists_and_attribute_lists(http_cse):
    cse, client = http_cse
    await register(client)
    await client.call("POST", "/cse-in/meter", originator="Cmeter", ty=3, body={"m2m:cnt": {"rn": "power"}})
    response, body = await client.call("GET", "/cse-in/meter?rcn=6&ty=3+4", originator="Cmeter")
    assert [r["nm"] for r in json.loads(body)["m2m:rrl"]["rrf"]] == ["power"]
    response, body = await client.call("GET", "/cse-in/meter/power?atrl=rn+cni", originator="Cmeter")
    assert json.loads(body) == {"m2m:cnt": {"rn": "power", "cni": 0}}


async def test_an_exception_in_the_core_is_answered_not_dropped(http_cse, monkeypatch):
    cse, client = http_cse

    async def broken(request):
        raise RuntimeError("boom")

    monkeypatch.setattr(cse.dispatcher, "handle", broken)
    response, body = await client.call("GET", "/cse-in", headers={"X-M2M-RI": "b1"})
    assert response.status == 500 and response.headers["X-M2M-RSC"] == "5000"
    assert response.headers["X-M2M-RI"] == "b1"


async def test_delete_answers_200_with_2002(http_cse):
    cse, client = http_cse
    await register(client)
    response, body = await client.call("DELETE", "/cse-in/meter", originator="Cmeter")
    assert response.status == 200 and response.headers["X-M2M-RSC"] == "2002" and body == b""
