"""Discovery and fan-out over HTTP: query parameters in, X-M2M-CTS/CTO and m2m:agr out."""
import json


async def setup_meters(client):
    for i in range(3):
        response, _ = await client.call("POST", "/cse-in", originator=f"Cm{i}", ty=2,
                                        body={"m2m:ae": {"rn": f"m{i}", "api": "Nmeter", "rr": False,
                                                         "srv": ["3"], "lbl": ["type:meter", f"zone:{i}"]}})
        assert response.status == 201
        response, _ = await client.call("POST", f"/cse-in/m{i}", originator=f"Cm{i}", ty=3,
                                        body={"m2m:cnt": {"rn": "power", "mni": 10 + i}})
        assert response.status == 201


async def test_discovery_by_query_string(http_cse):
    _, client = http_cse
    await setup_meters(client)
    response, body = await client.call("GET", "/cse-in", params={"fu": "1", "lbl": "type:meter"})
    assert response.status == 200 and response.headers["X-M2M-RSC"] == "2000"
    assert json.loads(body) == {"m2m:uril": ["cse-in/m0", "cse-in/m1", "cse-in/m2"]}
    assert "X-M2M-CTS" not in response.headers
    # several types, any attribute by its name, a limit
    response, body = await client.call("GET", "/cse-in?fu=1&ty=2+3&rn=m*&lim=2")
    assert json.loads(body) == {"m2m:uril": ["cse-in/m0", "cse-in/m1"]}
    assert (response.headers["X-M2M-CTS"], response.headers["X-M2M-CTO"]) == ("1", "2")
    response, body = await client.call("GET", "/cse-in?fu=1&ty=2&ty=3&rn=m*&lim=2&ofst=2")
    assert json.loads(body) == {"m2m:uril": ["cse-in/m2"]}
    response, body = await client.call("GET", "/cse-in?fu=1&ty=3&mni=11&drt=2")
    assert len(json.loads(body)["m2m:uril"]) == 1 and json.loads(body)["m2m:uril"][0].startswith("cnt")
    response, body = await client.call("GET", "/cse-in?fu=1&ty=3&lim=1&rcn=6")
    assert json.loads(body)["m2m:rrl"]["rrf"] == [{"nm": "power", "typ": 3, "val": "cse-in/m0/power"}]


async def test_bad_discovery_queries(http_cse):
    _, client = http_cse
    for query, rsc, words in (("fu=1&ty=meter", "4000", "not an integer"),
                              ("fu=1&lim=-1", "4000", "negative"),
                              ("fu=1&cra=today", "4000", "'cra'"),
                              ("fu=1&rcn=4", "4000", "not valid for discovery"),
                              ("fu=1&smf=x", "5001", "semantic")):
        response, body = await client.call("GET", f"/cse-in?{query}")
        assert response.headers["X-M2M-RSC"] == rsc, query
        assert words in json.loads(body)["m2m:dbg"]


async def test_fan_out_over_http(http_cse):
    _, client = http_cse
    await setup_meters(client)
    response, _ = await client.call("POST", "/cse-in", ty=9, body={"m2m:grp": {
        "rn": "meters", "mnm": 5, "mt": 3, "mid": [f"cse-in/m{i}/power" for i in range(3)]}})
    assert response.status == 201
    response, body = await client.call("POST", "/cse-in/meters/fopt", ty=4, body={"m2m:cin": {"con": "read"}})
    assert response.status == 200
    answers = json.loads(body)["m2m:agr"]["m2m:rsp"]
    assert [(a["fr"], a["rsc"]) for a in answers] == [(f"cse-in/m{i}/power", 2001) for i in range(3)]
    response, body = await client.call("GET", "/cse-in/meters/fopt/la")
    assert [a["pc"]["m2m:cin"]["con"] for a in json.loads(body)["m2m:agr"]["m2m:rsp"]] == ["read"] * 3
