"""An MN-CSE registering with its IN-CSE: both records, restarts on either side, keep-alive,
deregistration, descendants (two or three CSEs in this process, each on its own port)."""
import asyncio
import time

import pytest

from cse.clock import parse_timestamp
from tests.conftest import free_port
from tests.e2e.federation_support import MN, ask, eventually, remote_cses, start_cse, url_of


@pytest.fixture
async def in_cse():
    cse = await start_cse(free_port())
    yield cse
    await cse.stop()


async def start_mn(in_url, **settings):
    return await start_cse(**{**MN, "registrar.url": in_url, **settings})


async def test_mn_registers_and_both_records_describe_the_other(in_cse):
    mn = await start_mn(url_of(in_cse))
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        at_in = (await ask(in_cse, 2, "cse-in/id-mn")).pc["m2m:csr"]
        assert at_in["csi"] == "/id-mn"
        assert at_in["cb"] == "/id-mn/cse-mn"
        assert at_in["cst"] == 2
        assert at_in["poa"] == [url_of(mn)]
        assert at_in["rr"] is True
        assert at_in["srv"] == ["2a", "3", "4", "5"]
        assert at_in["dcse"] == []
        at_mn = (await ask(mn, 2, "cse-mn/id-in")).pc["m2m:csr"]
        assert (at_mn["csi"], at_mn["cb"], at_mn["cst"]) == ("/id-in", "/id-in/cse-in", 1)
        assert at_mn["poa"] == [url_of(in_cse)]
    finally:
        await mn.stop()
    # A clean shutdown does not deregister by default: the IN side keeps what it holds.
    assert (await ask(in_cse, 2, "cse-in/id-mn")).rsc == 2000


async def test_registration_waits_for_a_registrar_that_is_not_up_yet():
    port = free_port()
    mn = await start_mn(f"http://127.0.0.1:{port}")
    agent = mn.federation.registration
    try:
        await eventually(lambda: agent.last_error is not None, what="a failed attempt")
        assert "not reachable" in agent.last_error
        in_cse = await start_cse(port)
        try:
            await agent.wait_until(1, timeout=10)
            assert (await ask(in_cse, 2, "cse-in/id-mn")).rsc == 2000
        finally:
            await in_cse.stop()
    finally:
        await mn.stop()


async def test_a_registrar_with_another_cse_id_is_refused(in_cse):
    mn = await start_mn(url_of(in_cse), **{"registrar.cse_id": "/id-wrong"})
    agent = mn.federation.registration
    try:
        await eventually(lambda: agent.last_error is not None, what="a failed attempt")
        assert "is '/id-in', not /id-wrong" in agent.last_error
        assert not agent.registered
        assert await remote_cses(in_cse) == []
    finally:
        await mn.stop()


async def test_in_restart_with_empty_storage_makes_the_mn_register_again():
    port = free_port()
    in_cse = await start_cse(port)
    mn = await start_mn(url_of(in_cse))
    agent = mn.federation.registration
    try:
        await agent.wait_until(1, timeout=10)
        await in_cse.stop()
        in_cse = await start_cse(port)          # same address, nothing stored
        await agent.wait_until(2, timeout=10)
        assert (await ask(in_cse, 2, "cse-in/id-mn")).pc["m2m:csr"]["poa"] == [url_of(mn)]
    finally:
        await mn.stop()
        await in_cse.stop()


async def test_mn_restart_updates_its_record_without_a_duplicate(in_cse, tmp_path):
    storage = f"sqlite:///{tmp_path / 'mn.sqlite'}"
    first = await start_mn(url_of(in_cse), storage=storage)
    await first.federation.registration.wait_until(1, timeout=10)
    old_url = url_of(first)
    await first.stop()
    second = await start_mn(url_of(in_cse), storage=storage)      # new port
    try:
        await second.federation.registration.wait_until(1, timeout=10)
        assert url_of(second) != old_url
        records = await remote_cses(in_cse)
        assert [r["csi"] for r in records] == ["/id-mn"]
        assert records[0]["poa"] == [url_of(second)]
        # and the MN still has exactly one record of its registrar
        assert [r["csi"] for r in await remote_cses(second)] == ["/id-in"]
    finally:
        await second.stop()


async def test_a_deleted_record_at_the_registrar_is_recreated(in_cse):
    mn = await start_mn(url_of(in_cse))
    agent = mn.federation.registration
    try:
        await agent.wait_until(1, timeout=10)
        assert (await ask(in_cse, 4, "cse-in/id-mn")).rsc == 2002
        await agent.wait_until(2, timeout=10)
        assert (await ask(in_cse, 2, "cse-in/id-mn")).rsc == 2000
    finally:
        await mn.stop()


async def test_a_deleted_local_record_of_the_registrar_is_recreated(in_cse):
    mn = await start_mn(url_of(in_cse))
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        assert (await ask(mn, 4, "cse-mn/id-in", fr="/id-mn")).rsc == 2002

        async def back():
            return (await ask(mn, 2, "cse-mn/id-in", fr="/id-mn")).rsc == 2000
        await eventually(back, what="the registrar record to come back")
    finally:
        await mn.stop()


async def test_deregistration_on_shutdown_when_configured(in_cse):
    mn = await start_mn(url_of(in_cse), **{"registrar.deregister_on_shutdown": True})
    await mn.federation.registration.wait_until(1, timeout=10)
    await mn.stop()
    assert (await ask(in_cse, 2, "cse-in/id-mn")).rsc == 4004


async def test_descendants_are_reported_upwards_and_routed(in_cse):
    mn = await start_mn(url_of(in_cse))
    asn = await start_cse(**{**MN, "cse.cse_id": "/id-asn", "cse.rn": "cse-asn", "cse.type": "ASN",
                             "registrar.url": url_of(mn), "registrar.cse_id": "/id-mn", "registrar.rn": "cse-mn",
                             "registrar.deregister_on_shutdown": True})

    async def dcse_at_in():
        return (await ask(in_cse, 2, "cse-in/id-mn")).pc["m2m:csr"].get("dcse")
    try:
        await asn.federation.registration.wait_until(1, timeout=10)
        await eventually(lambda: _equals(dcse_at_in(), ["/id-asn"]), what="/id-asn listed in dcse at the IN")
        # IN -> MN -> ASN, and back up from the ASN to the IN.
        down = await ask(in_cse, 2, "/id-asn/cse-asn")
        assert down.rsc == 2000, down.pc
        assert down.pc["m2m:cb"]["csi"] == "/id-asn"
        up = await ask(asn, 2, "/id-in/cse-in", fr="Csensor")
        assert up.rsc == 2000, up.pc
        assert up.pc["m2m:cb"]["csi"] == "/id-in"
        # The ASN leaves for good: the MN stops announcing it, and the IN stops routing to it.
        await asn.stop()
        asn = None
        await eventually(lambda: _equals(dcse_at_in(), []), what="/id-asn removed from dcse at the IN")
        gone = await ask(in_cse, 2, "/id-asn/cse-asn")
        assert gone.rsc == 4004
    finally:
        if asn is not None:
            await asn.stop()
        await mn.stop()


async def _equals(value, expected):
    return (await value) == expected


async def test_a_registree_listing_the_new_registrar_below_it_does_not_break_registration(in_cse, tmp_path):
    # Stored before this CSE had a registrar (nothing refused it then): the registree says
    # /id-in is below it.  Reporting that upwards would make /id-in refuse our registration.
    storage = f"sqlite:///{tmp_path / 'mn.sqlite'}"
    alone = await start_cse(storage=storage, **{"cse.cse_id": "/id-mn", "cse.rn": "cse-mn", "cse.type": "MN"})
    body = {"cb": "/id-asn/cse-asn", "rr": True, "srv": ["3"], "poa": ["http://127.0.0.1:9"],
            "dcse": ["/id-in", "/id-deep"]}
    assert (await ask(alone, 1, "cse-mn", fr="/id-asn", ty=16, pc={"m2m:csr": body})).rsc == 2001
    await alone.stop()
    mn = await start_mn(url_of(in_cse), storage=storage)
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        at_in = (await ask(in_cse, 2, "cse-in/id-mn")).pc["m2m:csr"]
        assert at_in["dcse"] == ["/id-asn", "/id-deep"]
    finally:
        await mn.stop()


async def test_explicit_deregistration_is_not_undone_by_the_keep_alive(in_cse):
    mn = await start_mn(url_of(in_cse))
    agent = mn.federation.registration
    try:
        await agent.wait_until(1, timeout=10)
        await agent.deregister()
        assert (await ask(in_cse, 2, "cse-in/id-mn")).rsc == 4004
        assert (await ask(mn, 2, "cse-mn/id-in", fr="/id-mn")).rsc == 4004
        # Five keep-alive periods: the agent must not register again by itself.
        with pytest.raises(TimeoutError):
            await agent.wait_until(2, timeout=1.0)
        assert (await ask(in_cse, 2, "cse-in/id-mn")).rsc == 4004
        assert not agent.registered
    finally:
        await mn.stop()


def count_requests_to_registrar(mn) -> list[tuple[int, str]]:
    """(op, to) of every request the MN sends from now on."""
    sent: list[tuple[int, str]] = []
    send = mn.outbound.send

    async def spy(url, request, **options):
        sent.append((int(request.op), request.to))
        return await send(url, request, **options)
    mn.outbound.send = spy
    return sent


async def churn(mn, seconds: float) -> int:
    """A registree that re-registers with a new poa every 20 ms for `seconds` (bounded)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    changes = 0
    while loop.time() < end:
        body = {"cb": "/id-asn/cse-asn", "rr": True, "srv": ["3"], "poa": [f"http://127.0.0.1:{changes % 1000 + 1}"]}
        await ask(mn, 4, "cse-mn/id-asn", fr="/id-asn")
        assert (await ask(mn, 1, "cse-mn", fr="/id-asn", ty=16, pc={"m2m:csr": body})).rsc == 2001
        changes += 1
        await asyncio.sleep(0.02)
    return changes


async def test_a_busy_registree_does_not_cut_the_back_off_short():
    mn = await start_mn(f"http://127.0.0.1:{free_port()}", **{"registrar.retry_min": 0.5, "registrar.retry_max": 0.5})
    agent = mn.federation.registration
    try:
        await eventually(lambda: agent.last_error is not None, what="a failed attempt")
        sent = count_requests_to_registrar(mn)
        changes = await churn(mn, 1.2)
        assert changes > 10
        # One attempt (a RETRIEVE of the registrar's CSEBase) per 0.5 s back-off, not per change.
        assert len(sent) <= 4, sent
    finally:
        await mn.stop()


async def test_registree_changes_reach_the_registrar_soon_but_not_one_request_each(in_cse):
    mn = await start_mn(url_of(in_cse), **{"registrar.keepalive": 30.0, "registrar.retry_min": 0.1})
    agent = mn.federation.registration
    try:
        await agent.wait_until(1, timeout=10)
        sent = count_requests_to_registrar(mn)
        changes = await churn(mn, 0.6)
        assert changes > 5

        async def listed():
            return (await ask(in_cse, 2, "cse-in/id-mn")).pc["m2m:csr"].get("dcse") == ["/id-asn"]
        await eventually(listed, what="/id-asn in our dcse at the registrar")
        # The descendants changed once (the registree came); its poa changes are not ours to report.
        assert len(sent) <= 4, sent
    finally:
        await mn.stop()


async def test_a_new_registrar_replaces_the_record_of_the_old_one(in_cse, tmp_path):
    storage = f"sqlite:///{tmp_path / 'mn.sqlite'}"
    old = await start_cse(free_port(), **{"cse.cse_id": "/id-old", "cse.rn": "cse-old"})
    try:
        first = await start_mn(url_of(old), storage=storage,
                               **{"registrar.cse_id": "/id-old", "registrar.rn": "cse-old"})
        await first.federation.registration.wait_until(1, timeout=10)
        await first.stop()
        # The gateway moves to /id-in: /id-old is no longer a CSE it is connected with.
        mn = await start_mn(url_of(in_cse), storage=storage)
        try:
            await mn.federation.registration.wait_until(1, timeout=10)
            assert [r["csi"] for r in await remote_cses(mn)] == ["/id-in"]
            assert not mn.federation.routes.may_relay("/id-old", "/id-old/Cx")      # no neighbour any more
            # Requests of its AEs for /id-old now go up to /id-in, which does not know it.
            gone = await ask(mn, 2, "/id-old/cse-old", fr="Cmeter")
            assert gone.rsc == 4004 and "/id-in" in gone.pc["m2m:dbg"], gone.pc
        finally:
            await mn.stop()
    finally:
        await old.stop()


async def test_the_keep_alive_extends_a_registration_the_registrar_gave_a_lifetime():
    # A registrar that gives every resource 3 s unless told otherwise.
    in_cse = await start_cse(free_port(), **{"cse.default_lifetime": 3})
    mn = await start_mn(url_of(in_cse))
    agent = mn.federation.registration
    try:
        await agent.wait_until(1, timeout=10)
        granted = parse_timestamp((await ask(in_cse, 2, "cse-in/id-mn")).pc["m2m:csr"]["et"])
        await eventually(lambda: time.time() > granted + 0.5, what="the first expiration time passing")
        record = await ask(in_cse, 2, "cse-in/id-mn")
        assert record.rsc == 2000, record.pc
        assert parse_timestamp(record.pc["m2m:csr"]["et"]) > time.time()
        assert (await ask(in_cse, 2, "/id-mn/cse-mn")).rsc == 2000
        assert agent.registrations == 1 and agent.last_error is None
    finally:
        await mn.stop()
        await in_cse.stop()
