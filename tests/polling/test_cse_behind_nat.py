"""An MN-CSE its IN-CSE cannot reach (request_reachable = false): it registers with rr=false and
fetches the requests for it from a pollingChannel at the IN (two in-process CSEs, real HTTP).
Its advertised poa is a dead address, so whatever reaches it went through the channel."""
import pytest

from client import CseClient, NotificationReceiver
from tests.conftest import free_port
from tests.e2e.federation_support import MN, ask, eventually, start_cse, url_of


@pytest.fixture
async def in_cse():
    cse = await start_cse(free_port())
    yield cse
    await cse.stop()


@pytest.fixture
async def nat_mn(in_cse):
    mn = await start_cse(**{**MN, "registrar.url": url_of(in_cse), "registrar.request_reachable": False,
                            "registrar.poll_seconds": 2.0, "http.public_url": f"http://127.0.0.1:{free_port()}",
                            "cse.admin_originator": "/id-in/CAdmin"})
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        await eventually(lambda: mn.federation.polling.channel is not None, what="the MN made its channel")
        yield mn
    finally:
        await mn.stop()


async def test_the_mn_registers_unreachable_and_gets_forwarded_requests_through_its_channel(in_cse, nat_mn):
    record = (await ask(in_cse, 2, "cse-in/id-mn")).pc["m2m:csr"]
    assert record["rr"] is False
    assert nat_mn.federation.polling.channel == "cse-in/id-mn/pollingChannel"
    assert (await ask(in_cse, 2, "cse-in/id-mn/pollingChannel", fr="/id-mn")).rsc == 2000
    base = await ask(in_cse, 2, "/id-mn/cse-mn")
    assert base.rsc == 2000, base.pc
    assert base.pc["m2m:cb"]["csi"] == "/id-mn"
    created = await ask(in_cse, 1, "/id-mn/cse-mn", ty=3, pc={"m2m:cnt": {"rn": "box"}})
    assert created.rsc == 2001, created.pc
    assert (await ask(nat_mn, 2, "cse-mn/box", fr="/id-in/CAdmin")).pc["m2m:cnt"]["rn"] == "box"
    refused = await ask(in_cse, 2, "/id-mn/cse-mn/nothing")
    assert refused.rsc == 4004 and "does not exist" in refused.pc["m2m:dbg"]
    await eventually(lambda: nat_mn.federation.polling.handled == 3, what="three requests handled by the MN")


async def test_notifications_for_an_ae_on_the_mn_travel_through_the_channel(in_cse, nat_mn):
    async with NotificationReceiver() as inbox, CseClient(url_of(nat_mn), originator="CApp",
                                                          cse_rn="cse-mn") as app:
        await app.register("Napp", rn="app", receiver=inbox)
        ae = {"rn": "meter", "api": "Nmeter", "rr": True, "srv": ["3"]}
        assert (await ask(in_cse, 1, "cse-in", fr="Cmeter", ty=2, pc={"m2m:ae": ae})).rsc == 2001
        power = {"m2m:cnt": {"rn": "power"}}
        assert (await ask(in_cse, 1, "cse-in/meter", fr="Cmeter", ty=3, pc=power)).rsc == 2001
        # The IN verifies /id-mn/CApp through the MN's channel, then notifies it the same way.
        sub = await ask(in_cse, 1, "cse-in/meter/power", ty=23,
                        pc={"m2m:sub": {"nu": ["/id-mn/CApp"], "enc": {"net": [3]}}})
        assert sub.rsc == 2001, sub.pc
        for value in ("1", "2"):
            assert (await ask(in_cse, 1, "cse-in/meter/power", fr="Cmeter", ty=4, rqi=f"c{value}",
                              pc={"m2m:cin": {"con": value}})).rsc == 2001
        received = [await inbox.next(timeout=10), await inbox.next(timeout=10)]
        assert [n.resource["con"] for n in received] == ["1", "2"]
        assert received[0].subscription == f"/id-in/{sub.pc['m2m:sub']['ri']}"


async def test_the_mn_makes_its_channel_again_when_it_is_deleted(in_cse, nat_mn):
    agent = nat_mn.federation.polling
    assert (await ask(in_cse, 4, agent.channel)).rsc == 2002
    await eventually(lambda: agent.channel is not None and in_cse.polling.stats()["polls"] == 1,
                     what="a new channel, polled again")
    assert "pollingChannel again" in agent.last_error
    assert (await ask(in_cse, 2, "cse-in/id-mn/pollingChannel", fr="/id-mn")).rsc == 2000
    assert (await ask(in_cse, 2, "/id-mn/cse-mn")).rsc == 2000


async def test_a_mn_that_does_not_poll_is_reported_unreachable(in_cse):
    record = {"cb": "/id-x/cse-x", "csi": "/id-x", "rr": False, "srv": ["3"], "poa": ["http://127.0.0.1:1"]}
    assert (await ask(in_cse, 1, "cse-in", fr="/id-x", ty=16, pc={"m2m:csr": record})).rsc == 2001
    response = await ask(in_cse, 2, "/id-x/cse-x")
    assert response.rsc == 5103
    assert "CSE /id-x is not reachable" in response.pc["m2m:dbg"]
    assert "rr=false" in response.pc["m2m:dbg"] and "no pollingChannel" in response.pc["m2m:dbg"]
    assert (await ask(in_cse, 1, "cse-in/id-x", fr="/id-x", ty=15, pc={"m2m:pch": {}})).rsc == 2001
    expired = await ask(in_cse, 2, "/id-x/cse-x", rqet="200")
    assert expired.rsc == 4008 and "expired before CSE /id-x answered" in expired.pc["m2m:dbg"]


async def test_a_restarted_mn_finds_its_channel_at_the_in_and_polls_it(in_cse, nat_mn):
    settings = nat_mn.config
    await nat_mn.stop()
    again = await start_cse(**{**MN, "registrar.url": url_of(in_cse), "registrar.request_reachable": False,
                               "registrar.poll_seconds": 2.0, "http.public_url": settings.http.public_url,
                               "cse.admin_originator": "/id-in/CAdmin"})
    try:
        await again.federation.registration.wait_until(1, timeout=10)
        await eventually(lambda: again.federation.polling.channel is not None, what="the channel found")
        assert again.federation.polling.channel == "cse-in/id-mn/pollingChannel"
        channels = await ask(in_cse, 2, "cse-in/id-mn", fr="/id-mn", rcn=6, fc={"ty": [15]})
        assert len(channels.pc["m2m:rrl"]["rrf"]) == 1
        assert (await ask(in_cse, 2, "/id-mn/cse-mn")).rsc == 2000
    finally:
        await again.stop()
