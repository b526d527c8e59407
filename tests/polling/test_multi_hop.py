"""Notifications to oneM2M-IDs further away than a neighbour CSE travel the forwarding path, hop by
hop; three in-process CSEs on real HTTP ports (IN <- MN <- ASN, and two MNs under one IN)."""
import pytest

from client import CseClient, NotificationReceiver, PollingReceiver
from tests.conftest import free_port
from tests.e2e.federation_support import MN, ask, eventually, start_cse, url_of


def registrar(cse, cse_id: str, rn: str) -> dict:
    return {"registrar.url": url_of(cse), "registrar.cse_id": cse_id, "registrar.rn": rn}


@pytest.fixture
async def in_cse():
    cse = await start_cse(free_port())
    yield cse
    await cse.stop()


async def container_with_subscription(cse, rn: str, nu: str):
    """On `cse` (as its admin): AE Cmeter, container power, a subscription of it for `nu`."""
    ae = {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}
    assert (await ask(cse, 1, rn, fr="Cmeter", ty=2, pc={"m2m:ae": ae})).rsc == 2001
    assert (await ask(cse, 1, f"{rn}/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {"rn": "power"}})).rsc == 2001
    return await ask(cse, 1, f"{rn}/meter/power", ty=23, pc={"m2m:sub": {"nu": [nu], "enc": {"net": [3]}}})


async def post(cse, rn: str, value: str) -> None:
    created = await ask(cse, 1, f"{rn}/meter/power", fr="Cmeter", ty=4, pc={"m2m:cin": {"con": value}},
                        rqi=f"cin-{value}")
    assert created.rsc == 2001, created.pc


async def test_an_asn_notifies_an_application_on_the_in_two_hops_up(in_cse):
    mn = await start_cse(**{**MN, **registrar(in_cse, "/id-in", "cse-in")})
    asn = await start_cse(**{**MN, "cse.cse_id": "/id-asn", "cse.rn": "cse-asn", "cse.type": "ASN",
                             **registrar(mn, "/id-mn", "cse-mn")})
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        await asn.federation.registration.wait_until(1, timeout=10)
        # The IN lets /id-asn notify its AEs once it knows it is below /id-mn (dcse).
        await eventually(lambda: "/id-asn" in (in_cse.storage.get("id-mn") or {}).get("dcse", ()),
                         what="the MN reported /id-asn as its descendant")
        async with NotificationReceiver() as inbox, CseClient(url_of(in_cse), originator="CApp") as app:
            await app.register("Napp", rn="app", receiver=inbox)
            # Verified across both hops (nu is not the originator), then notified the same way.
            created = await container_with_subscription(asn, "cse-asn", "/id-in/CApp")
            assert created.rsc == 2001, created.pc
            await post(asn, "cse-asn", "1530")
            note = await inbox.next(timeout=10)
            assert note.resource["con"] == "1530"
            assert note.subscription == f"/id-asn/{created.pc['m2m:sub']['ri']}"
            assert (note.originator, note.target) == ("/id-asn", "/id-in/CApp")
            await eventually(lambda: asn.events.stats()["delivered"] == 1, what="the answer came back")
    finally:
        await asn.stop()
        await mn.stop()


async def test_an_mn_notifies_a_polling_ae_on_a_sibling_mn_through_the_in(in_cse):
    first = await start_cse(**{**MN, "cse.cse_id": "/id-mn1", "cse.rn": "cse-mn1",
                               **registrar(in_cse, "/id-in", "cse-in")})
    second = await start_cse(**{**MN, "cse.cse_id": "/id-mn2", "cse.rn": "cse-mn2",
                                **registrar(in_cse, "/id-in", "cse-in")})
    try:
        await first.federation.registration.wait_until(1, timeout=10)
        await second.federation.registration.wait_until(1, timeout=10)
        # The display behind NAT on MN1 polls its channel there; MN2 -> IN -> MN1 -> channel.
        async with CseClient(url_of(first), originator="CDisplay") as display, \
                PollingReceiver(poll_seconds=2) as inbox:
            await display.register("Ndisplay", rn="display", receiver=inbox)
            created = await container_with_subscription(second, "cse-mn2", "/id-mn1/CDisplay")
            assert created.rsc == 2001, created.pc
            for value in ("1", "2", "3"):
                await post(second, "cse-mn2", value)
            received = [await inbox.next(timeout=10) for _ in range(3)]
            assert [n.resource["con"] for n in received] == ["1", "2", "3"]
            assert {n.subscription for n in received} == {f"/id-mn2/{created.pc['m2m:sub']['ri']}"}
        await eventually(lambda: second.events.stats()["delivered"] == 3, what="three delivered")
    finally:
        await second.stop()
        await first.stop()


async def test_an_id_no_route_knows_fails_the_subscription_with_the_routing_answer(in_cse):
    mn = await start_cse(**{**MN, **registrar(in_cse, "/id-in", "cse-in")})
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        created = await container_with_subscription(mn, "cse-mn", "/id-nowhere/CApp")
        assert created.rsc == 5204
        message = created.pc["m2m:dbg"]
        assert "'/id-nowhere/CApp'" in message and "4004" in message and "/id-nowhere" in message
    finally:
        await mn.stop()
