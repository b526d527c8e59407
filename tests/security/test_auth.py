"""Originator authentication over HTTP: credentials bound to originators, hashed in the config."""
from __future__ import annotations

import base64
import logging

import pytest

from cse.auth import MIN_ITERATIONS, Authenticator, StoredSecret, hash_secret, parse_credentials
from cse.config import AuthSettings, ConfigError
from cse.primitives import Request
from tests.conftest import make_config

from .conftest import client_for

METER_PASSWORD = "meter-secret-Ä1"
APP_TOKEN = "tok-3J9s8fQk1"
ADMIN_PASSWORD = "admin-pw"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def credentials():
    return {"Cmeter": [hash_secret(METER_PASSWORD, MIN_ITERATIONS)],
            "Capp": [hash_secret("old-token", MIN_ITERATIONS), hash_secret(APP_TOKEN, MIN_ITERATIONS)],
            "CAdmin": [hash_secret(ADMIN_PASSWORD, MIN_ITERATIONS)]}


def ae(rn: str) -> dict:
    return {"m2m:ae": {"rn": rn, "api": "Nx", "rr": False, "srv": ["3"]}}


# -- hashing ----------------------------------------------------------------------------------
def test_hash_is_salted_and_verifies_only_its_secret():
    secret = "correct horse battery staple"
    first, second = hash_secret(secret, MIN_ITERATIONS), hash_secret(secret, MIN_ITERATIONS)
    assert first != second and "horse" not in first
    assert StoredSecret.parse(first).matches(secret)
    assert not StoredSecret.parse(first).matches(secret.upper())


@pytest.mark.parametrize("value,words", [
    ("plain-password", "not a 'pbkdf2-sha256"),
    ("pbkdf2-sha256$10$c2FsdHNhbHQ$" + "A" * 43, "1000 iterations"),
    ("pbkdf2-sha256$x$c2FsdHNhbHQ$abc", "cannot be decoded"),
    ("md5$1000$c2FsdHNhbHQ$" + "A" * 43, "not a 'pbkdf2-sha256"),
])
def test_malformed_stored_secrets_are_refused_at_start_up(value, words):
    with pytest.raises(ConfigError, match=words):
        make_config(**{"auth.credentials": {"Cx": [value]}})
    with pytest.raises(ValueError, match="auth.credentials.Cx"):
        parse_credentials({"Cx": [value]})


def test_hash_secret_command(capsys, monkeypatch):
    import io

    from server.cli import main
    monkeypatch.setattr("sys.stdin", io.StringIO("hunter2\n"))
    assert main(["hash-secret", "--iterations", str(MIN_ITERATIONS)]) == 0
    stored = capsys.readouterr().out.strip()
    assert StoredSecret.parse(stored).matches("hunter2")
    assert main(["hash-secret", "--new-token", "--iterations", str(MIN_ITERATIONS)]) == 0
    token_line, hashed = capsys.readouterr().out.strip().splitlines()
    assert StoredSecret.parse(hashed).matches(token_line.split()[1])
    assert main(["hash-secret", "--iterations", "10"]) == 2


# -- decisions (no transport) -------------------------------------------------------------
@pytest.mark.parametrize("fr,authorization,peer,outcome", [
    ("Cmeter", basic("Cmeter", METER_PASSWORD), None, True),
    ("/id-in/Cmeter", basic("Cmeter", METER_PASSWORD), None, True),
    ("Cmeter", basic("/id-in/Cmeter", METER_PASSWORD), None, True),
    ("Capp", f"Bearer {APP_TOKEN}", None, True),
    ("Capp", "Bearer old-token", None, True),
    ("Cmeter", None, "Cmeter", True),                  # verified client certificate
    ("Cfree", None, None, False),                      # no credentials configured: allowed, unauthenticated
    ("Cfree", None, "Cother", "certificate authenticates 'Cother'"),   # one cert, one originator
    ("Cmeter", basic("Cmeter", "wrong"), None, "does not match originator 'Cmeter'"),
    ("Cmeter", basic("Capp", APP_TOKEN), None, "the credential is for 'Capp'"),
    ("Cmeter", f"Bearer {APP_TOKEN}", None, "does not match originator 'Cmeter'"),
    ("Cmeter", None, None, "must authenticate"),
    ("Cmeter", None, "Capp", "certificate authenticates 'Capp'"),
    ("CAdmin", None, None, "must authenticate"),
    ("Cfree", f"Bearer {APP_TOKEN}", None, "no credentials are configured for originator 'Cfree'"),
    (None, basic("Cmeter", METER_PASSWORD), None, "must name its originator"),
    ("Cmeter", "Digest abc", None, "'Basic <base64>' or 'Bearer <token>'"),
    ("Cmeter", "Bearer", None, "'Basic <base64>' or 'Bearer <token>'"),
    ("Cmeter", "Basic !!!", None, "not base64"),
    ("Cmeter", "Basic " + base64.b64encode(b"no-colon").decode(), None, "not base64 of"),
    ("Cmeter", "Basic " + base64.b64encode(b"\xff\xfe:x").decode(), None, "not base64"),
])
async def test_authentication_decisions(credentials, fr, authorization, peer, outcome):
    authenticator = Authenticator(AuthSettings(credentials=credentials),
                                  lambda o: o[len("/id-in/"):] if o.startswith("/id-in/") else o)
    request = Request(op=2, to="cse-in", fr=fr, rqi="1")
    if isinstance(outcome, str):
        from cse.errors import OneM2MError
        with pytest.raises(OneM2MError) as refused:
            await authenticator.authenticate(request, authorization, peer)
        assert refused.value.rsc == 4106 and outcome in refused.value.message
        assert not request.authenticated
    else:
        request = await authenticator.authenticate(request, authorization, peer)
        assert request.authenticated is outcome


async def test_required_mode_refuses_anonymous_requests(credentials):
    from cse.errors import OneM2MError
    authenticator = Authenticator(AuthSettings(required=True, credentials=credentials))
    with pytest.raises(OneM2MError, match="accepts only authenticated requests"):
        await authenticator.authenticate(Request(op=2, to="cse-in", fr="Cfree", rqi="1"), None)
    request = Request(op=2, to="cse-in", fr="Cfree", rqi="1")
    request = await authenticator.authenticate(request, None, "Cfree")
    assert request.authenticated


async def test_verification_is_remembered_and_wrong_secrets_are_not_confused(credentials, monkeypatch):
    authenticator = Authenticator(AuthSettings(credentials=credentials))
    calls = []
    original = StoredSecret.matches
    monkeypatch.setattr(StoredSecret, "matches", lambda self, s: calls.append(s) or original(self, s))
    for _ in range(3):
        request = Request(op=2, to="cse-in", fr="Cmeter", rqi="1")
        request = await authenticator.authenticate(request, basic("Cmeter", METER_PASSWORD))
        assert request.authenticated
    assert len(calls) == 1
    from cse.errors import OneM2MError
    with pytest.raises(OneM2MError):
        await authenticator.authenticate(Request(op=2, to="cse-in", fr="Cmeter", rqi="1"),
                                         basic("Cmeter", METER_PASSWORD + "x"))


# -- over HTTP ----------------------------------------------------------------------------------
async def test_http_requests_are_authenticated_against_their_originator(start_http_cse, credentials, caplog):
    caplog.set_level(logging.DEBUG)
    async with start_http_cse(**{"auth.credentials": credentials}) as (cse, url):
        async with client_for(url) as client:
            response, body = await client.call("POST", "/cse-in", originator="Cmeter", ty=2, body=ae("meter"),
                                               headers={"Authorization": basic("Cmeter", METER_PASSWORD)})
            assert response.headers["X-M2M-RSC"] == "2001", body
            response, body = await client.call("GET", "/cse-in/meter", originator="Cmeter")
            assert response.status == 403 and response.headers["X-M2M-RSC"] == "4106"
            assert b"must authenticate" in body
            response, body = await client.call("GET", "/cse-in/meter", originator="Cmeter",
                                               headers={"Authorization": basic("Cmeter", "guess")})
            assert response.headers["X-M2M-RSC"] == "4106" and b"does not match" in body
            # The admin is protected like any other originator.
            response, _ = await client.call("GET", "/cse-in/meter", originator="CAdmin")
            assert response.headers["X-M2M-RSC"] == "4106"
            response, _ = await client.call("GET", "/cse-in/meter", originator="CAdmin",
                                            headers={"Authorization": basic("CAdmin", ADMIN_PASSWORD)})
            assert response.headers["X-M2M-RSC"] == "2000"
            # An originator without credentials still works (authentication is not required).
            response, _ = await client.call("POST", "/cse-in", originator="Cfree", ty=2, body=ae("free"))
            assert response.headers["X-M2M-RSC"] == "2001"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert METER_PASSWORD not in logged and "guess" not in logged


async def test_the_cses_own_id_cannot_be_claimed_when_the_admin_is_protected(start_http_cse, credentials):
    """The CSE's own CSE-ID has every right, like the admin: once credentials are configured,
    a client claiming it must authenticate as it too (it used to bypass the admin's password)."""
    async with start_http_cse(**{"auth.credentials": credentials}) as (cse, url):
        async with client_for(url) as client:
            response, body = await client.call("POST", "/cse-in", originator="Cfree", ty=2, body=ae("free"))
            assert response.headers["X-M2M-RSC"] == "2001", body
            response, body = await client.call("DELETE", "/cse-in/free", originator="/id-in")
            assert response.status == 403 and response.headers["X-M2M-RSC"] == "4106", body
            assert b"'/id-in' must authenticate" in body
            response, _ = await client.call("GET", "/cse-in/free", originator="Cfree")
            assert response.headers["X-M2M-RSC"] == "2000"


async def test_authentication_flag_of_acp_rules_over_http(start_http_cse, credentials):
    async with start_http_cse(**{"auth.credentials": credentials}) as (cse, url):
        async with client_for(url) as client:
            admin = {"Authorization": basic("CAdmin", ADMIN_PASSWORD)}
            response, body = await client.call("POST", "/cse-in", ty=1, headers=admin, body={"m2m:acp": {
                "rn": "acp", "pv": {"acr": [{"acor": ["all"], "acop": 2, "acaf": True}]},
                "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}})
            assert response.headers["X-M2M-RSC"] == "2001", body
            response, body = await client.call("POST", "/cse-in", ty=3, headers=admin,
                                               body={"m2m:cnt": {"rn": "tariffs", "acpi": ["cse-in/acp"]}})
            assert response.headers["X-M2M-RSC"] == "2001", body
            response, _ = await client.call("GET", "/cse-in/tariffs", originator="Capp",
                                            headers={"Authorization": f"Bearer {APP_TOKEN}"})
            assert response.headers["X-M2M-RSC"] == "2000"
            response, _ = await client.call("GET", "/cse-in/tariffs", originator="Cfree")
            assert response.headers["X-M2M-RSC"] == "4103"


async def test_required_authentication_over_http(start_http_cse, credentials):
    async with start_http_cse(**{"auth.credentials": credentials, "auth.required": True}) as (cse, url):
        async with client_for(url) as client:
            response, body = await client.call("GET", "/cse-in", originator="Cfree")
            assert response.headers["X-M2M-RSC"] == "4106" and b"only authenticated" in body
