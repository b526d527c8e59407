"""The release a registering CSE speaks: what both list in srv, learnt from the registrar's
CSEBase (docs/conformance.md).  Two in-process CSEs over real HTTP."""
from __future__ import annotations

from .federation_support import MN, ask, eventually, start_cse, url_of


async def test_an_mn_of_release_5_registers_with_an_in_of_releases_3_and_4():
    # Were the MN to speak its newest release (5), the IN would refuse every request with 4001.
    in_cse = await start_cse(**{"cse.supported_releases": ["3", "4"]})
    mn = await start_cse(**{**MN, "registrar.url": url_of(in_cse)})
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        assert mn.federation.registration.rvi == "4"
        record = (await ask(in_cse, 2, "cse-in/id-mn")).pc["m2m:csr"]
        assert record["srv"] == ["2a", "3", "4", "5"]
        registrar = (await ask(mn, 2, "cse-mn/id-in")).pc["m2m:csr"]
        assert registrar["srv"] == ["3", "4"] and registrar["ici"] == "/id-in"
        assert registrar["spi"] == "//onem2m.example.net"
    finally:
        await mn.stop()
        await in_cse.stop()


async def test_without_a_common_release_the_registration_fails_and_says_why():
    in_cse = await start_cse(**{"cse.supported_releases": ["2a"]})
    mn = await start_cse(**{**MN, "registrar.url": url_of(in_cse), "cse.supported_releases": ["4", "5"]})
    try:
        agent = mn.federation.registration
        await eventually(lambda: agent.last_error is not None, what="a failed registration attempt")
        assert not agent.registered
        assert "4001" in (agent.last_error or ""), agent.last_error
    finally:
        await mn.stop()
        await in_cse.stop()
