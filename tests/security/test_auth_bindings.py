"""Authentication is the same on every binding: MQTT and CoAP carry no credential the CSE can
check, so an originator that has credentials (the admin included) cannot be claimed over
them, and `auth.required` refuses them altogether; the CSE's own CSE-ID is never an
identity a client may claim without authenticating."""
from __future__ import annotations

import base64

import pytest
from aiocoap.numbers.codes import Code

from cse.auth import MIN_ITERATIONS, hash_secret
from tests.bindings.brokers import shared_broker
from tests.bindings.conftest import option, start_coap_cse, start_mqtt_cse

from .conftest import client_for

ADMIN_PASSWORD = "admin-pw"
CREDENTIALS = {"CAdmin": [hash_secret(ADMIN_PASSWORD, MIN_ITERATIONS)],
               "Cmeter": [hash_secret("meter-pw", MIN_ITERATIONS)]}
CNT = {"m2m:cnt": {"rn": "stolen"}}

# (settings, originator, expected RSC, words in the refusal)
CASES = [
    ({}, "CAdmin", 4106, "must authenticate"),
    ({}, "Cmeter", 4106, "must authenticate"),
    ({}, "/id-in", 4106, "must authenticate"),              # the CSE's own ID
    # no credentials: a claim as before (the CSEBase opened to unregistered readers for it)
    ({"cse.unregistered_retrieve_base": True}, "Cfree", 2000, ""),
    ({"auth.required": True}, "Cfree", 4106, "only authenticated"),
]
IDS = ["admin", "credentialed AE", "own CSE-ID", "free AE", "required"]


@pytest.mark.parametrize("settings,fr,rsc,words", CASES, ids=IDS)
async def test_coap_cannot_claim_protected_originators(settings, fr, rsc, words):
    running = await start_coap_cse(**{"auth.credentials": CREDENTIALS, **settings})
    try:
        answer = await running.call(Code.GET, "/cse-in", fr=fr)
        assert option(answer, 307) == rsc, answer.payload
        assert words.encode() in answer.payload
        if rsc == 4106:
            assert answer.code == Code.FORBIDDEN
            created = await running.call(Code.POST, "/cse-in", fr=fr, ty=3, body=CNT)
            assert option(created, 307) == 4106, created.payload
    finally:
        await running.client.shutdown()
        await running.cse.stop()


@pytest.mark.parametrize("settings,fr,rsc,words", CASES, ids=IDS)
async def test_mqtt_cannot_claim_protected_originators(settings, fr, rsc, words):
    broker = shared_broker()
    running = await start_mqtt_cse(broker.host, broker.port,
                                   **{"auth.credentials": CREDENTIALS, **settings})
    try:
        fr = running.cse_id if fr == "/id-in" else fr
        # The topic names the same originator as fr, so the topic check is passed; answers
        # are awaited only from this test's CSE (the broker is shared).
        level = running.topic_id if fr == running.cse_id else fr
        await running.peer.subscribe(f"/oneM2M/resp/{level}/{running.topic_id}/+",
                                     f"/oneM2M/reg_resp/{level}/{running.topic_id}/+")
        _, answer = await running.call({"op": 2, "to": "cse-in", "fr": fr, "rqi": "a-1", "rvi": "3"},
                                       originator=level)
        assert answer["rsc"] == rsc, answer
        assert words in answer.get("pc", {}).get("m2m:dbg", "")
        # Registration requests are checked as well.
        _, answer = await running.call({"op": 1, "to": "cse-in", "fr": fr, "rqi": "a-2", "rvi": "3", "ty": 2,
                                        "pc": {"m2m:ae": {"rn": "x", "api": "Nx", "rr": False, "srv": ["3"]}}},
                                       originator=level, kind="reg_req")
        if rsc == 4106:
            assert answer["rsc"] == 4106, answer
    finally:
        await running.peer.close()
        await running.cse.stop()


async def test_http_cannot_claim_the_cse_itself(start_http_cse):
    async with start_http_cse(**{"auth.credentials": CREDENTIALS}) as (cse, url):
        async with client_for(url) as client:
            for fr in (cse.config.cse.cse_id, f"{cse.config.cse.sp_id}{cse.config.cse.cse_id}"):
                response, body = await client.call("POST", "/cse-in", originator=fr, ty=3, body=CNT)
                assert response.headers["X-M2M-RSC"] == "4106", body
            # The admin, authenticated, still may do everything.
            basic = "Basic " + base64.b64encode(f"CAdmin:{ADMIN_PASSWORD}".encode()).decode()
            response, body = await client.call("POST", "/cse-in", originator="CAdmin", ty=3, body=CNT,
                                               headers={"Authorization": basic})
            assert response.headers["X-M2M-RSC"] == "2001", body


async def test_with_client_certificates_only_the_cse_itself_cannot_be_claimed_over_coap(tmp_path):
    from cse.certs import create_dev_pki
    pki = create_dev_pki(tmp_path / "tls")
    running = await start_coap_cse(**{"http.tls_cert": str(pki.server_cert), "http.tls_key": str(pki.server_key),
                                      "http.tls_ca": str(pki.ca_cert), "http.tls_client_cert": "optional",
                                      "cse.unregistered_retrieve_base": True})
    try:
        answer = await running.call(Code.GET, "/cse-in", fr=running.cse.config.cse.cse_id)
        assert option(answer, 307) == 4106, answer.payload
        answer = await running.call(Code.GET, "/cse-in", fr="Cfree")
        assert option(answer, 307) == 2000, answer.payload
    finally:
        await running.client.shutdown()
        await running.cse.stop()
