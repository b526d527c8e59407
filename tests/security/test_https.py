"""HTTPS: the CSE behind real TLS connections, client certificates, and HTTP-level limits."""
from __future__ import annotations

import ssl

import aiohttp
import pytest

from cse.certs import client_context, create_client_cert, create_dev_pki
from cse.config import ConfigError
from tests.conftest import make_config

from .conftest import client_for


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    pki = create_dev_pki(tmp_path_factory.mktemp("pki"))
    create_client_cert(pki, "Cmeter")
    return pki


def tls_settings(pki, client_cert: str = "none") -> dict:
    settings = {"http.tls_cert": str(pki.server_cert), "http.tls_key": str(pki.server_key)}
    if client_cert != "none":
        settings.update({"http.tls_ca": str(pki.ca_cert), "http.tls_client_cert": client_cert})
    return settings


async def test_https_serves_and_advertises_https(start_http_cse, pki):
    async with start_http_cse(**tls_settings(pki)) as (cse, url):
        assert url.startswith("https://127.0.0.1:")
        assert cse.cse_base["poa"] == [url]
        connector = aiohttp.TCPConnector(ssl=client_context(pki.ca_cert))
        async with client_for(url, connector=connector) as client:
            response, body = await client.call("GET", "/cse-in")
            assert response.headers["X-M2M-RSC"] == "2000"
            assert b'"m2m:cb"' in body


async def test_client_that_does_not_trust_the_ca_cannot_connect(start_http_cse, pki):
    async with start_http_cse(**tls_settings(pki)) as (cse, url):
        connector = aiohttp.TCPConnector(ssl=client_context(None))
        async with client_for(url, connector=connector) as client:
            with pytest.raises(aiohttp.ClientConnectorCertificateError):
                await client.call("GET", "/cse-in")


async def test_plain_http_to_the_tls_port_gets_no_answer(start_http_cse, pki):
    async with start_http_cse(**tls_settings(pki)) as (cse, url):
        async with client_for(url.replace("https://", "http://")) as client:
            with pytest.raises(aiohttp.ClientError):
                await client.call("GET", "/cse-in")


async def test_required_client_certificate(start_http_cse, pki):
    async with start_http_cse(**tls_settings(pki, "required")) as (cse, url):
        anonymous = aiohttp.TCPConnector(ssl=client_context(pki.ca_cert))
        async with client_for(url, connector=anonymous) as client:
            with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
                await client.call("GET", "/cse-in")
        cert, key = pki.client("Cmeter")
        connector = aiohttp.TCPConnector(ssl=client_context(pki.ca_cert, cert, key))
        async with client_for(url, connector=connector) as client:
            response, body = await client.call("POST", "/cse-in", originator="Cmeter", ty=2, body={
                "m2m:ae": {"rn": "meter", "api": "Nm", "rr": False, "srv": ["3"]}})
            assert response.headers["X-M2M-RSC"] == "2001", body


async def test_client_certificate_authenticates_its_originator(start_http_cse, pki):
    """acaf rules see the certificate's name; another originator on the same connection does not."""
    async with start_http_cse(**tls_settings(pki, "optional")) as (cse, url):
        anonymous = aiohttp.TCPConnector(ssl=client_context(pki.ca_cert))
        async with client_for(url, connector=anonymous) as client:
            response, body = await client.call("POST", "/cse-in", ty=1, body={"m2m:acp": {
                "rn": "acp", "pv": {"acr": [{"acor": ["all"], "acop": 2, "acaf": True}]},
                "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}})
            assert response.headers["X-M2M-RSC"] == "2001", body
            response, body = await client.call("POST", "/cse-in", ty=3,
                                               body={"m2m:cnt": {"rn": "c", "acpi": ["cse-in/acp"]}})
            assert response.headers["X-M2M-RSC"] == "2001", body
            response, _ = await client.call("GET", "/cse-in/c", originator="Cmeter")
            assert response.headers["X-M2M-RSC"] == "4103"
        cert, key = pki.client("Cmeter")
        connector = aiohttp.TCPConnector(ssl=client_context(pki.ca_cert, cert, key))
        async with client_for(url, connector=connector) as client:
            response, _ = await client.call("GET", "/cse-in/c", originator="Cmeter")
            assert response.headers["X-M2M-RSC"] == "2000"


@pytest.mark.parametrize("originator", ["Cother", "CAdmin", "/id-in", "C"])
async def test_a_client_certificate_cannot_act_as_another_originator(start_http_cse, pki, originator):
    """Cother and CAdmin have no credential here: without the certificate anyone may claim
    them, but the holder of Cmeter's certificate must stay Cmeter (issue 18)."""
    async with start_http_cse(**tls_settings(pki, "optional")) as (cse, url):
        cert, key = pki.client("Cmeter")
        connector = aiohttp.TCPConnector(ssl=client_context(pki.ca_cert, cert, key))
        async with client_for(url, connector=connector) as client:
            response, body = await client.call("POST", "/cse-in", originator=originator, ty=2,
                                               body={"m2m:ae": {"rn": "x", "api": "Nx", "rr": False,
                                                                "srv": ["3"]}})
            assert response.headers["X-M2M-RSC"] == "4106", body
            assert b"certificate authenticates 'Cmeter'" in body
            response, body = await client.call("GET", "/cse-in", originator=originator)
            assert response.headers["X-M2M-RSC"] == "4106", body
            response, body = await client.call("POST", "/cse-in", originator="Cmeter", ty=2,
                                               body={"m2m:ae": {"rn": "meter", "api": "Nx", "rr": False,
                                                                "srv": ["3"]}})
            assert response.headers["X-M2M-RSC"] == "2001", body


@pytest.mark.parametrize("settings,words", [
    ({"http.tls_cert": "x.pem"}, "must be given together"),
    ({"http.tls_cert": "/nonexistent.pem", "http.tls_key": "/nonexistent.key"}, "not a readable file"),
    ({"http.tls_client_cert": "maybe"}, "'none', 'optional' or 'required'"),
    ({"http.tls_client_cert": "required"}, "needs http.tls_cert"),
    ({"http.tls_outbound_cert": "c.pem"}, "must be given together"),
])
def test_bad_tls_settings_are_refused(settings, words):
    with pytest.raises(ConfigError, match=words):
        make_config(**settings)


# -- HTTP-level limits ---------------------------------------------------------------------------
async def test_rate_limit_over_http_is_429_with_retry_after(start_http_cse):
    async with start_http_cse(**{"limits.rate_per_originator": 0.5, "limits.rate_burst": 2}) as (cse, url):
        async with client_for(url) as client:
            for _ in range(2):
                response, _ = await client.call("GET", "/cse-in")
                assert response.status == 200
            response, body = await client.call("GET", "/cse-in")
            assert response.status == 429 and response.headers["X-M2M-RSC"] == "4005"
            assert int(response.headers["Retry-After"]) >= 1
            assert b"rate limit exceeded" in body


async def test_body_larger_than_the_limit_is_refused(start_http_cse):
    async with start_http_cse(**{"http.max_body_bytes": 1000}) as (cse, url):
        async with client_for(url) as client:
            response, body = await client.call("POST", "/cse-in", ty=3,
                                               body={"m2m:cnt": {"rn": "x", "lbl": ["a" * 2000]}})
            assert response.headers["X-M2M-RSC"] == "4000" and b"larger than the limit of 1000" in body
            # Without Content-Length (chunked) the limit holds as well.

            async def chunks():
                for _ in range(20):
                    yield b" " * 100
            response, body = await client.call("POST", "/cse-in", ty=3, raw=chunks())
            assert response.headers["X-M2M-RSC"] == "4000" and b"larger than the limit" in body


async def test_outbound_requests_verify_https_peers_with_the_configured_ca(start_http_cse, pki, tmp_path):
    """Notifications and forwarded requests to https:// URLs: trusted with tls_outbound_ca,
    refused (5103) without it, and the outbound client certificate is presented."""
    from cse.primitives import Request

    async with start_http_cse(**tls_settings(pki, "optional")) as (target, url):
        cert, key = pki.client("Cmeter")
        sender_settings = {"storage.url": f"sqlite:///{tmp_path / 'sender.sqlite'}",
                           "http.tls_outbound_ca": str(pki.ca_cert),
                           "http.tls_outbound_cert": str(cert), "http.tls_outbound_key": str(key)}
        async with start_http_cse(**sender_settings) as (sender, _):
            request = Request(op=1, to="/id-in/cse-in", fr="Cmeter", rqi="o1", rvi="3", ty=2,
                              pc={"m2m:ae": {"rn": "meter", "api": "Nm", "rr": False, "srv": ["3"]}})
            response = await sender.outbound.send(url, request)
            assert response.rsc == 2001, response.pc
        async with start_http_cse(**{"storage.url": f"sqlite:///{tmp_path / 'plain.sqlite'}"}) as (plain, _):
            request = Request(op=2, to="/id-in/cse-in", fr="CAdmin", rqi="o2", rvi="3")
            response = await plain.outbound.send(url, request)
            assert response.rsc == 5103 and "certificate" in response.pc["m2m:dbg"].lower()


async def test_certificate_of_another_ca_naming_a_protected_originator_gets_nowhere(start_http_cse, pki,
                                                                                      tmp_path):
    """An attacker's own CA can put any name in a certificate: the CSE must not believe it."""
    from cse.auth import MIN_ITERATIONS, hash_secret
    rogue = create_dev_pki(tmp_path / "rogue")
    cert, key = create_client_cert(rogue, "CAdmin")
    settings = {**tls_settings(pki, "optional"), "auth.credentials": {"CAdmin": [hash_secret("pw", MIN_ITERATIONS)]}}
    async with start_http_cse(**settings) as (cse, url):
        connector = aiohttp.TCPConnector(ssl=client_context(pki.ca_cert, cert, key))
        async with client_for(url, connector=connector) as client:
            # TLS verifies an offered certificate even when it is optional: no connection.
            with pytest.raises((aiohttp.ClientError, ssl.SSLError)):
                await client.call("POST", "/cse-in", originator="CAdmin", ty=3, body={"m2m:cnt": {"rn": "rogue"}})
