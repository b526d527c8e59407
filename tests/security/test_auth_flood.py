"""A wrong-password flood (issue 18) must not lock a legitimate AE out, nor stall the loop."""
from __future__ import annotations

import asyncio
import base64
import time

import aiohttp

from cse.auth import SOURCE_FAILURES, hash_secret
from tests.conftest import HttpClient

from .conftest import client_for

PASSWORD = "correct horse battery staple"
ITERATIONS = 200_000          # a real cost per check (the default is 600,000)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_forty_clients_with_wrong_passwords_cannot_lock_out_a_correct_first_login(start_http_cse):
    credentials = {"Cmeter": [hash_secret(PASSWORD, ITERATIONS)]}
    # The correct login reads the CSEBase, which it may as an unregistered AE only with this on.
    async with start_http_cse(**{"auth.credentials": credentials, "cse.unregistered_retrieve_base": True}) \
            as (cse, url):
        stop = asyncio.Event()
        answers: list[int] = []

        async def attacker(n: int) -> None:
            async with client_for(url) as client:
                while not stop.is_set():
                    response, _ = await client.call(
                        "GET", "/cse-in", originator="Cmeter",
                        headers={"Authorization": basic("Cmeter", f"guess-{n}-{time.monotonic()}")})
                    answers.append(int(response.headers["X-M2M-RSC"]))

        attackers = [asyncio.ensure_future(attacker(n)) for n in range(40)]
        try:
            await asyncio.sleep(1.5)           # the flood is on
            # The legitimate AE, from another address (127.0.0.2), logs in for the first time.
            connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
            async with aiohttp.ClientSession(connector=connector) as session:
                started = time.monotonic()
                response, body = await asyncio.wait_for(HttpClient(url, session).call(
                    "GET", "/cse-in", originator="Cmeter",
                    headers={"Authorization": basic("Cmeter", PASSWORD)}), 20)
                took = time.monotonic() - started
            # Meanwhile the loop serves requests that need no hash.
            async with client_for(url) as client:
                started = time.monotonic()
                plain, _ = await client.call("GET", "/cse-in", originator="Cplain")
                cheap = time.monotonic() - started
        finally:
            stop.set()
            await asyncio.gather(*attackers, return_exceptions=True)
    assert response.status == 200, body
    assert took < 5, took
    assert plain.status == 200 and cheap < 1, cheap
    # The attackers were refused (wrong password, then too many failures from their address).
    assert answers and set(answers) == {4106}
    assert len(answers) > SOURCE_FAILURES


async def test_a_source_with_too_many_failures_is_refused_without_a_check(start_http_cse):
    credentials = {"Cmeter": [hash_secret(PASSWORD, 1000)]}
    # The correct login reads the CSEBase, which it may as an unregistered AE only with this on.
    async with start_http_cse(**{"auth.credentials": credentials, "cse.unregistered_retrieve_base": True}) \
            as (cse, url):
        async with client_for(url) as client:
            for n in range(SOURCE_FAILURES):
                response, body = await client.call("GET", "/cse-in", originator="Cmeter",
                                                   headers={"Authorization": basic("Cmeter", f"x{n}")})
                assert b"does not match" in body
            response, body = await client.call("GET", "/cse-in", originator="Cmeter",
                                               headers={"Authorization": basic("Cmeter", PASSWORD)})
            assert response.headers["X-M2M-RSC"] == "4106" and b"too many failed" in body
        # Another address is not affected.
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=connector) as session:
            response, body = await HttpClient(url, session).call(
                "GET", "/cse-in", originator="Cmeter", headers={"Authorization": basic("Cmeter", PASSWORD)})
            assert response.status == 200, body
