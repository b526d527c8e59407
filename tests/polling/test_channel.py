"""<pollingChannel> and its pcu, on the core (no sockets): creation rules, who may use it, the long
poll, the answer, bounds, expiry.  Requests reach the channel as NOTIFYs relayed to an rr=false AE."""
import asyncio

import pytest

from tests.conftest import ADMIN, CoreClient, make_config
from tests.e2e.federation_support import eventually

from .support import PCU, SGN, answer, open_channel, poll, register


async def peer_registered(core: CoreClient) -> None:
    """/id-mn, the CSE whose notifications these are, is registered here (only a CSE this
    CSE knows, or an originator with NOTIFY privilege, may notify the meter)."""
    if (await core.retrieve("cse-in/id-mn")).rsc == 4004:
        record = {"cb": "/id-mn/cse-mn", "rr": True, "srv": ["3"], "poa": ["http://127.0.0.1:9"]}
        assert (await core.create("cse-in", 16, {"m2m:csr": record}, fr="/id-mn")).rsc == 2001


async def relay(core: CoreClient, to: str = "Cmeter", **fields):
    """A NOTIFY for the meter, as another CSE's notifier would send it (in the background)."""
    await peer_registered(core)
    return asyncio.create_task(core.request(5, to, "/id-mn", pc=SGN, **fields))


# -- the resource ----------------------------------------------------------------------------
async def test_an_ae_creates_its_channel_and_the_cse_lists_the_type(core):
    await register(core)
    created = await core.create("cse-in/meter", 15, {"m2m:pch": {"rn": "pch", "lbl": ["nat"]}}, fr="Cmeter")
    assert created.rsc == 2001, created.pc
    pch = created.pc["m2m:pch"]
    assert (pch["ty"], pch["rn"], pch["lbl"]) == (15, "pch", ["nat"]) and "acpi" not in pch
    assert 15 in (await core.retrieve("cse-in")).pc["m2m:cb"]["srt"]
    assert (await core.retrieve("cse-in/meter/pch", fr="Cmeter")).rsc == 2000


async def test_a_registered_cse_creates_a_channel_under_its_remote_cse(core):
    record = {"cb": "/id-mn/cse-mn", "csi": "/id-mn", "rr": False, "srv": ["3"]}
    assert (await core.create("cse-in", 16, {"m2m:csr": record}, fr="/id-mn")).rsc == 2001
    created = await core.create("cse-in/id-mn", 15, {"m2m:pch": {"rn": "pch"}}, fr="/id-mn")
    assert created.rsc == 2001, created.pc
    assert (await core.retrieve("cse-in/id-mn/pch/pcu", fr="/id-mn", rqet="50")).rsc == 4008


@pytest.mark.parametrize("parent, content, originator, rsc, words", [
    ("cse-in/meter", {"rn": "second"}, "Cmeter", 4005, ["AE Cmeter already has a pollingChannel", "at most one"]),
    ("cse-in/meter/power", {}, "Cmeter", 4108, ["pollingChannel cannot be created under a container"]),
    ("cse-in", {}, ADMIN, 4108, ["pollingChannel cannot be created under a CSEBase"]),
    ("cse-in/other", {}, "Cmeter", 4103, ["Cmeter", "CREATE"]),
    ("cse-in/meter", {"acpi": ["acp1"]}, "Cmeter", 4000, ["'acpi' is not defined for pollingChannel"]),
    ("cse-in/meter", {"rqag": True}, "Cmeter", 5001, ["'rqag'", "not supported"]),
    ("cse-in/meter", {"et": "20000101T000000"}, "Cmeter", 4000, ["'et'", "not in the future"]),
    ("cse-in/meter", {"rn": "pcu"}, "Cmeter", 4000, ["reserved for a virtual resource"]),
])
async def test_bad_channel_creations(core, parent, content, originator, rsc, words):
    await open_channel(core)
    assert (await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")).rsc == 2001
    await register(core, "Cother", "other")
    response = await core.create(parent, 15, {"m2m:pch": content}, fr=originator)
    assert response.rsc == rsc, response.pc
    for word in words:
        assert word in response.pc["m2m:dbg"]


async def test_others_cannot_create_a_channel_even_with_create_rights_on_the_ae(core):
    await register(core)
    await register(core, "Cother", "other")
    acp = {"rn": "shared", "pv": {"acr": [{"acor": ["Cmeter", "Cother"], "acop": 63}]},
           "pvs": {"acr": [{"acor": ["Cmeter"], "acop": 63}]}}
    assert (await core.create("cse-in/meter", 1, {"m2m:acp": acp}, fr="Cmeter")).rsc == 2001
    assert (await core.update("cse-in/meter", {"m2m:ae": {"acpi": ["cse-in/meter/shared"]}},
                              fr="Cmeter")).rsc == 2004
    # Cother may create containers under the meter now, but no pollingChannel ...
    assert (await core.create("cse-in/meter", 3, {"m2m:cnt": {}}, fr="Cother")).rsc == 2001
    refused = await core.create("cse-in/meter", 15, {"m2m:pch": {}}, fr="Cother")
    assert refused.rsc == 4103 and "only that entity itself" in refused.pc["m2m:dbg"]
    # ... nor read or delete the meter's, nor find it.
    assert (await core.create("cse-in/meter", 15, {"m2m:pch": {"rn": "pch"}}, fr="Cmeter")).rsc == 2001
    assert (await core.retrieve("cse-in/meter/pch", fr="Cother")).rsc == 4103
    assert (await core.delete("cse-in/meter/pch", fr="Cother")).rsc == 4103
    listing = await core.retrieve("cse-in/meter", fr="Cother", rcn=6)
    assert all(ref["typ"] != 15 for ref in listing.pc["m2m:rrl"]["rrf"])


async def test_a_channel_is_not_subscribable(core):
    await open_channel(core)
    response = await core.create("cse-in/meter/pch", 23, {"m2m:sub": {"nu": ["Cmeter"]}}, fr="Cmeter")
    assert response.rsc == 5203


# -- pcu: who, which operations, what content ------------------------------------------------
@pytest.mark.parametrize("op, originator, content, rsc, words", [
    (2, "Cother", None, 4103, ["'Cother' has no RETRIEVE privilege"]),
    (2, ADMIN, None, 4103, ["only AE Cmeter"]),
    (5, "Cother", {"m2m:rsp": {"rsc": 2000, "rqi": "x"}}, 4103, ["'Cother' may not use", "only AE Cmeter"]),
    (1, "Cmeter", {"m2m:cnt": {}}, 4005, ["virtual resource 'pcu'"]),
    (3, "Cmeter", {"m2m:pch": {"lbl": ["x"]}}, 4005, ["virtual resource 'pcu'"]),
    (4, "Cmeter", None, 4005, ["can only be retrieved", "notified"]),
    (5, "Cmeter", None, 4000, ['{"m2m:rsp"']),
    (5, "Cmeter", {"m2m:sgn": {"vrq": True}}, 4000, ['{"m2m:rsp"']),
    (5, "Cmeter", {"m2m:rsp": {"rsc": 2000, "rqi": "x"}, "m2m:dbg": "two roots"}, 4000, ['{"m2m:rsp"']),
    (5, "Cmeter", {"m2m:rsp": "2000"}, 4000, ['{"m2m:rsp"']),
    (5, "Cmeter", {"m2m:rsp": {"rqi": "x"}}, 4000, ["rsc None is not a response status code"]),
    (5, "Cmeter", {"m2m:rsp": {"rsc": "2000", "rqi": "x"}}, 4000, ["rsc '2000'"]),
    (5, "Cmeter", {"m2m:rsp": {"rsc": 42, "rqi": "x"}}, 4000, ["rsc 42"]),
    (5, "Cmeter", {"m2m:rsp": {"rsc": True, "rqi": "x"}}, 4000, ["rsc True"]),
    (5, "Cmeter", {"m2m:rsp": {"rsc": 2000}}, 4000, ["rqi", "missing"]),
    (5, "Cmeter", {"m2m:rsp": {"rsc": 2000, "rqi": 7}}, 4000, ["rqi", "not a string"]),
    (5, "Cmeter", {"m2m:rsp": {"rsc": 2000, "rqi": "x", "fr": 5}}, 4000, ["fr must be a string"]),
    (5, "Cmeter", {"m2m:rsp": {"rsc": 2000, "rqi": "x", "ec": "2"}}, 4000, ["ec must be an integer"]),
    (5, "Cmeter", {"m2m:rsp": {"rsc": 2000, "rqi": "nothing-like-it"}}, 4004, ["'nothing-like-it'",
                                                                              "may have timed out"]),
])
async def test_bad_uses_of_pcu(core, op, originator, content, rsc, words):
    await open_channel(core)
    await register(core, "Cother", "other")
    fields = {"pc": content} if content is not None else {}
    if op == 1:
        fields["ty"] = 3
    if op == 2:
        fields["rqet"] = "2000"
    response = await core.request(op, PCU, originator, **fields)
    assert response.rsc == rsc, response.pc
    for word in words:
        assert word in response.pc["m2m:dbg"]


async def test_pcu_is_not_a_name_anything_else_answers_to(core):
    await register(core)
    assert (await core.retrieve("cse-in/meter/pcu", fr="Cmeter")).rsc == 4004


# -- the long poll and the answer ---------------------------------------------------------------
async def test_a_queued_request_is_fetched_and_its_answer_reaches_the_sender(core):
    await open_channel(core)
    sent = await relay(core, "/id-in/Cmeter", rqi="n-1")
    fetched = await poll(core)
    assert fetched.rsc == 2000, fetched.pc
    rqp = fetched.pc["m2m:rqp"]
    assert (rqp["op"], rqp["to"], rqp["fr"], rqp["rqi"], rqp["pc"]) == (5, "/id-in/Cmeter", "/id-mn", "n-1", SGN)
    assert not sent.done()          # the sender still waits for the meter's answer
    taken = await answer(core, "n-1", 4101, pc={"m2m:dbg": "not for me"})
    assert taken.rsc == 2000
    relayed = await sent
    assert (relayed.rsc, relayed.pc, relayed.rqi) == (4101, {"m2m:dbg": "not for me"}, "n-1")


async def test_a_waiting_poll_gets_the_request_as_soon_as_it_is_queued(core):
    await open_channel(core)
    waiting = asyncio.create_task(poll(core, rqet="10000"))
    await eventually(lambda: core.cse.polling.stats()["polls"] == 1, what="the poll waits")
    sent = await relay(core, rqi="n-2")
    fetched = await asyncio.wait_for(waiting, 5)
    assert fetched.pc["m2m:rqp"]["rqi"] == "n-2"
    assert (await answer(core, "n-2")).rsc == 2000
    assert (await sent).rsc == 2000


async def test_requests_are_fetched_in_the_order_they_were_queued(core):
    await open_channel(core)
    senders = [await relay(core, rqi=f"n-{i}") for i in range(5)]
    await eventually(lambda: core.cse.polling.stats()["queued"] == 5, what="five queued")
    for i in range(5):
        fetched = await poll(core)
        assert fetched.pc["m2m:rqp"]["rqi"] == f"n-{i}"
        assert (await answer(core, f"n-{i}", 2000 + i)).rsc == 2000
    assert [(await s).rsc for s in senders] == [2000, 2001, 2002, 2003, 2004]
    assert core.cse.polling.stats() == {"channels": 0, "queued": 0, "awaiting": 0, "polls": 0}


async def test_the_same_rqi_from_two_senders_is_answered_to_each(core):
    await open_channel(core)
    first = await relay(core, rqi="same")
    second = await relay(core, "/id-in/Cmeter", rqi="same")
    one, two = (await poll(core)).pc["m2m:rqp"], (await poll(core)).pc["m2m:rqp"]
    assert one["rqi"] == "same" and two["rqi"] != "same"
    assert (await answer(core, two["rqi"], 2004)).rsc == 2000
    assert (await answer(core, one["rqi"], 2001)).rsc == 2000
    assert ((await first).rsc, (await first).rqi) == (2001, "same")
    assert ((await second).rsc, (await second).rqi) == (2004, "same")


async def test_an_answer_is_taken_once(core):
    await open_channel(core)
    sent = await relay(core, rqi="once")
    await poll(core)
    assert (await answer(core, "once")).rsc == 2000
    again = await answer(core, "once")
    assert again.rsc == 4004 and "'once'" in again.pc["m2m:dbg"]
    assert (await sent).rsc == 2000


async def test_a_poll_without_requests_ends_with_4008_at_its_rqet(core):
    await open_channel(core)
    response = await poll(core, rqet="100")
    assert response.rsc == 4008
    assert "no request for AE Cmeter arrived within 0.1 s" in response.pc["m2m:dbg"]
    assert core.cse.polling.stats()["polls"] == 0


async def test_a_poll_without_rqet_ends_at_the_configured_maximum():
    from server.compose import build_cse
    cse = build_cse(make_config(**{"polling.long_poll_max": 0.1}))
    await cse.start()
    try:
        core = CoreClient(cse)
        await open_channel(core)
        response = await core.retrieve(PCU, fr="Cmeter")
        assert response.rsc == 4008 and "within 0.1 s" in response.pc["m2m:dbg"]
    finally:
        await cse.stop()


async def test_a_poll_with_an_expired_rqet_is_4008_at_once(core):
    await open_channel(core)
    response = await poll(core, rqet="20000101T000000")
    assert response.rsc == 4008 and "expired" in response.pc["m2m:dbg"]


# -- bounds, expiry, deletion -----------------------------------------------------------------
async def test_a_full_channel_refuses_more_requests_and_keeps_the_ones_it_holds():
    from server.compose import build_cse
    cse = build_cse(make_config(**{"polling.queue_size": 2}))
    await cse.start()
    try:
        core = CoreClient(cse)
        await open_channel(core)
        held = [await relay(core, rqi="a"), await relay(core, rqi="b")]
        await eventually(lambda: cse.polling.stats()["queued"] == 2, what="two queued")
        await peer_registered(core)
        refused = await core.request(5, "Cmeter", "/id-mn", pc=SGN, rqi="c")
        assert refused.rsc == 5103
        assert "holds 2 requests it has not fetched yet (polling.queue_size)" in refused.pc["m2m:dbg"]
        for rqi in ("a", "b"):
            assert (await poll(core)).pc["m2m:rqp"]["rqi"] == rqi
            await answer(core, rqi)
        assert [(await s).rsc for s in held] == [2000, 2000]
    finally:
        await cse.stop()


async def test_a_request_not_fetched_before_its_rqet_expires_and_leaves_the_channel(core):
    await open_channel(core)
    await peer_registered(core)
    response = await core.request(5, "Cmeter", "/id-mn", pc=SGN, rqi="late", rqet="100")
    assert response.rsc == 4008 and "expired before AE Cmeter answered" in response.pc["m2m:dbg"]
    assert core.cse.polling.stats()["queued"] == 0
    assert (await poll(core, rqet="50")).rsc == 4008          # nothing stale is handed out


async def test_a_fetched_request_that_is_not_answered_in_time_times_out(core):
    await open_channel(core)
    sent = await relay(core, rqi="slow", rqet="300")
    assert (await poll(core)).rsc == 2000
    response = await sent
    assert response.rsc == 4008
    late = await answer(core, "slow")
    assert late.rsc == 4004 and "may have timed out" in late.pc["m2m:dbg"]


async def test_an_ae_without_a_channel_is_not_reachable(core):
    await register(core)
    await peer_registered(core)
    response = await core.request(5, "Cmeter", "/id-mn", pc=SGN)
    assert response.rsc == 5103
    assert "AE Cmeter is not request-reachable (rr=false) and has no pollingChannel" in response.pc["m2m:dbg"]


async def test_deleting_the_channel_answers_its_senders_and_polls(core):
    await open_channel(core)
    sent = await relay(core, rqi="orphan")
    await eventually(lambda: core.cse.polling.stats()["queued"] == 1, what="queued")
    assert (await core.delete("cse-in/meter/pch", fr="Cmeter")).rsc == 2002
    response = await asyncio.wait_for(sent, 5)
    assert response.rsc == 5103 and "pollingChannel was deleted" in response.pc["m2m:dbg"]
    assert core.cse.polling.stats()["channels"] == 0
    assert (await core.create("cse-in/meter", 15, {"m2m:pch": {"rn": "pch"}}, fr="Cmeter")).rsc == 2001
    waiting = asyncio.create_task(poll(core, rqet="10000"))
    await eventually(lambda: core.cse.polling.stats()["polls"] == 1, what="the poll waits")
    assert (await core.delete("cse-in/meter/pch", fr="Cmeter")).rsc == 2002
    ended = await asyncio.wait_for(waiting, 5)
    assert ended.rsc == 4004 and "deleted" in ended.pc["m2m:dbg"]


async def test_an_ae_with_rr_true_is_sent_to_its_poa_even_with_a_channel(core):
    from cse.primitives import Response
    from tests.fakes import FakePeer
    peer = FakePeer(lambda url, request: Response(rsc=2000))
    core.cse.outbound.register(("http",), peer)
    await open_channel(core)
    assert (await core.update("cse-in/meter", {"m2m:ae": {"rr": True, "poa": ["http://meter.test"]}},
                              fr="Cmeter")).rsc == 2004
    await peer_registered(core)
    assert (await core.request(5, "Cmeter", "/id-mn", pc=SGN)).rsc == 2000
    assert [s.url for s in peer.sent] == ["http://meter.test"]


async def test_the_internal_scheme_cannot_be_given_as_a_notification_uri(core):
    await open_channel(core)
    for url in ("polling://Cmeter", "routed://id-in"):
        response = await core.create("cse-in/meter", 23, {"m2m:sub": {"nu": [url]}}, fr="Cmeter")
        assert response.rsc == 4000 and "no binding" in response.pc["m2m:dbg"], url


async def test_an_expired_channel_is_removed_with_the_requests_waiting_in_it(core, clock):
    from cse.clock import format_timestamp
    await register(core)
    et = format_timestamp(clock.now() + 60)
    assert (await core.create("cse-in/meter", 15, {"m2m:pch": {"rn": "pch", "et": et}}, fr="Cmeter")).rsc == 2001
    sent = await relay(core, rqi="before-expiry")
    await eventually(lambda: core.cse.polling.stats()["queued"] == 1, what="queued")
    clock.advance(120)
    assert await core.cse.reaper.reap_once() == 1
    response = await asyncio.wait_for(sent, 5)
    assert response.rsc == 5103 and "pollingChannel was deleted" in response.pc["m2m:dbg"]
    await peer_registered(core)
    refused = await core.request(5, "Cmeter", "/id-mn", pc=SGN)
    assert refused.rsc == 5103 and "no pollingChannel" in refused.pc["m2m:dbg"]
