"""Two (or more) real CSE processes on their own ports: an MN-CSE (home energy gateway)
registered with an IN-CSE (the operator's platform), requests and notifications crossing
between them, restarts of either side, and the ways routing can fail."""
import asyncio

import pytest

from client import Access, CseClient, NotificationReceiver, grant
from tests.conftest import free_port
from tests.e2e.federation_support import CseProcess, eventually

MN_ARGS = ("--type", "MN", "--cse-id", "/id-mn", "--rn", "cse-mn", "--registrar-id", "/id-in",
           # the operator's admin may manage the gateway (no ACPs in this test)
           "--admin-originator", "/id-in/CAdmin", "--registrar-keepalive", "0.2")


def in_process(port, *extra):
    return CseProcess("--port", str(port), "--storage", "memory:", *extra)


def mn_process(in_url, data_dir, *extra):
    return CseProcess("--port", "0", "--data-dir", str(data_dir), "--registrar-url", in_url, *MN_ARGS, *extra)


async def registered_at(admin: CseClient, cse_id: str, poa: str | None = None) -> None:
    async def check():
        response = await admin.request(2, f"cse-in/{cse_id[1:]}")
        return response.rsc == 2000 and (poa is None or response.pc["m2m:csr"]["poa"] == [poa])
    await eventually(check, what=f"{cse_id} registered at the IN-CSE" + (f" with poa {poa}" if poa else ""))


@pytest.fixture
async def pair(tmp_path):
    in_cse = await in_process(free_port()).start()
    mn = await mn_process(in_cse.url, tmp_path / "mn").start()
    async with CseClient(in_cse.url, originator="CAdmin", cse_rn="cse-in") as admin:
        try:
            await registered_at(admin, "/id-mn", mn.url)
            yield in_cse, mn, admin
        finally:
            await mn.stop()
            await in_cse.stop()


async def test_gateway_and_platform_work_as_one(pair):
    in_cse, mn, admin = pair
    # Both records, as each side sees the other.
    at_in = await admin.retrieve("cse-in/id-mn")
    assert (at_in["csi"], at_in["cb"], at_in["cst"], at_in["poa"]) == ("/id-mn", "/id-mn/cse-mn", 2, [mn.url])
    async with NotificationReceiver() as app_inbox, NotificationReceiver() as meter_inbox, \
            CseClient(in_cse.url, originator="CEnergyApp") as app, \
            CseClient(mn.url, originator="Cmeter", cse_rn="cse-mn") as meter:
        registrar = await meter.retrieve("/id-mn/id-in", originator="/id-in/CAdmin")
        assert (registrar["csi"], registrar["cb"], registrar["cst"]) == ("/id-in", "/id-in/cse-in", 1)
        await app.register("Nenergy", rn="energy", receiver=app_inbox)
        await meter.register("Nmeter", rn="meter", receiver=meter_inbox)
        await meter.create("cse-mn/meter", {"m2m:cnt": {"rn": "power"}})
        await meter.add_instance("cse-mn/meter/power", "1530")

        # The platform reaches into the gateway by SP-relative addresses.
        made = await admin.create("/id-mn/cse-mn", {"m2m:cnt": {"rn": "grid"}})
        assert made["rn"] == "grid"
        assert (await admin.latest("/id-mn/cse-mn/meter/power"))["con"] == "1530"
        assert (await admin.retrieve("/id-mn/Cmeter"))["aei"] == "Cmeter"         # the AE on the MN
        # The gateway's access control judges the forwarded originator (/id-in/CEnergyApp).
        denied = await app.request(2, "/id-mn/cse-mn/meter/power/la")
        assert denied.rsc == 4103
        assert "/id-in/CEnergyApp" in denied.pc["m2m:dbg"]

        # Notifications cross in both directions, delivered to the AEs' poa by their registrars.
        reading = {"m2m:cin": {"con": "1610"}}
        sgn = {"m2m:sgn": {"sur": "/id-mn/cse-mn/meter/power/sub", "nev": {"net": 3, "rep": reading}}}
        assert (await meter.request(5, "/id-in/CEnergyApp", originator="/id-mn", pc=sgn)).rsc == 2000
        got = await app_inbox.next(timeout=10)
        assert (got.originator, got.resource) == ("/id-mn", {"con": "1610"})
        plan = {"m2m:cin": {"con": "shed"}}
        command = {"m2m:sgn": {"sur": "/id-in/cse-in/energy/plan", "nev": {"net": 1, "rep": plan}}}
        # Another AE may notify the meter only with the meter's grant (NOTIFY privilege).
        assert (await app.request(5, "/id-mn/Cmeter", pc=command)).rsc == 4103
        acp = await meter.create_acp("cse-mn/meter", rn="notifiers",
                                     rules=[grant(["/id-in/CEnergyApp"], Access.NOTIFY)])
        await meter.update("cse-mn/meter", {"m2m:ae": {"acpi": [acp["ri"]]}})
        assert (await app.request(5, "/id-mn/Cmeter", pc=command)).rsc == 2000
        got = await meter_inbox.next(timeout=10)
        assert (got.originator, got.target, got.resource) == ("/id-in/CEnergyApp", "/id-mn/Cmeter", {"con": "shed"})

        # The gateway's AEs reach the platform the same way.
        base = await meter.retrieve("/id-in/cse-in")
        assert base["csi"] == "/id-in"

    # The gateway goes away: the platform says so instead of hanging.
    await mn.stop()
    response = await admin.request(2, "/id-mn/cse-mn/grid")
    assert response.rsc == 5103
    assert "/id-mn" in response.pc["m2m:dbg"] and "not reachable" in response.pc["m2m:dbg"]


async def test_gateway_restart_keeps_one_registration_and_works_at_its_new_address(pair, tmp_path):
    in_cse, mn, admin = pair
    await admin.create("/id-mn/cse-mn", {"m2m:cnt": {"rn": "grid"}})
    old_url = mn.url
    await mn.stop()
    await mn.start()                    # same data directory, new port
    assert mn.url != old_url
    await registered_at(admin, "/id-mn", mn.url)
    listing = await admin.retrieve("cse-in", rcn=6, fc={"ty": [16]})
    assert [ref["val"] for ref in listing["rrf"]] == ["cse-in/id-mn"]
    assert (await admin.retrieve("/id-mn/cse-mn/grid"))["rn"] == "grid"


async def test_platform_restart_with_empty_storage_gets_the_gateway_back(tmp_path):
    port = free_port()
    in_cse = await in_process(port).start()
    mn = await mn_process(in_cse.url, tmp_path / "mn").start()
    try:
        async with CseClient(in_cse.url, originator="CAdmin", cse_rn="cse-in") as admin:
            await registered_at(admin, "/id-mn")
            await in_cse.stop()
            await in_cse.start()            # same port, nothing remembered
            await registered_at(admin, "/id-mn", mn.url)
            assert (await admin.retrieve("/id-mn/cse-mn"))["csi"] == "/id-mn"
    finally:
        await mn.stop()
        await in_cse.stop()


async def test_request_bouncing_between_two_cses_is_stopped(pair):
    """A stale dcse entry at the IN sends /id-ghost to the MN; a forged originator makes the
    MN send it back up; the IN recognises its own request and ends the circle."""
    in_cse, mn, admin = pair
    await admin.update("cse-in/id-mn", {"m2m:csr": {"dcse": ["/id-ghost"]}})
    response = await admin.request(2, "/id-ghost/cse-g", originator="/id-mn/Cforged")
    assert response.rsc == 5103
    assert "forwarding loop" in response.pc["m2m:dbg"]


async def test_two_gateways_configured_as_each_others_registrar(tmp_path):
    port_a, port_b = free_port(), free_port()
    common = ("--type", "MN", "--registrar-keepalive", "0.2")
    a = CseProcess("--port", str(port_a), "--storage", "memory:", "--cse-id", "/id-a", "--rn", "cse-a",
                   "--registrar-url", f"http://127.0.0.1:{port_b}", "--registrar-id", "/id-b",
                   "--registrar-rn", "cse-b", *common)
    b = CseProcess("--port", str(port_b), "--storage", "memory:", "--cse-id", "/id-b", "--rn", "cse-b",
                   "--registrar-url", f"http://127.0.0.1:{port_a}", "--registrar-id", "/id-a",
                   "--registrar-rn", "cse-a", *common)
    await a.start()
    await b.start()
    try:
        async with CseClient(a.url, originator="Csensor", cse_rn="cse-a") as sensor:
            # Each refuses the other's registration (its configured registrar cannot register
            # with it: a registration loop), so neither has a remoteCSE ...
            loop = await sensor.request(1, "cse-a", originator="/id-b", ty=16, pc={"m2m:csr": {
                "cb": "/id-b/cse-b", "rr": True, "srv": ["3"], "poa": [b.url]}})
            assert loop.rsc == 4105 and "registrar" in loop.pc["m2m:dbg"], loop.pc
            records = await sensor.request(2, "cse-a", originator="CAdmin", rcn=6, fc={"ty": [16]})
            assert records.rsc == 2000 and not records.pc["m2m:rrl"].get("rrf")
            # ... and a request for an unknown CSE ends (sent up to /id-b, which does not send
            # it back).
            response = await asyncio.wait_for(sensor.request(2, "/id-nowhere/cse"), 10)
            assert response.rsc in (4004, 5103)
            assert "not sent back up" in response.pc["m2m:dbg"] or "loop" in response.pc["m2m:dbg"]
    finally:
        await a.stop()
        await b.stop()


async def test_request_expiring_at_a_silent_next_hop_is_4008():
    """A 'CSE' that accepts connections and never answers; rqet bounds the wait."""
    accepted = asyncio.Event()

    async def silent(reader, writer):
        accepted.set()
        await reader.read()             # until the other side gives up

    hole = await asyncio.start_server(silent, "127.0.0.1", 0)
    hole_url = f"http://127.0.0.1:{hole.sockets[0].getsockname()[1]}"
    in_cse = await in_process(free_port()).start()
    try:
        async with CseClient(in_cse.url, originator="CAdmin", cse_rn="cse-in") as admin:
            await admin.create("cse-in", {"m2m:csr": {"cb": "/id-hole/cse", "rr": True, "srv": ["3"],
                                                      "poa": [hole_url]}}, originator="/id-hole")
            response = await admin.request(2, "/id-hole/cse", rqet="300")
            assert accepted.is_set()
            assert response.rsc == 4008
            assert "expired" in response.pc["m2m:dbg"]
            already = await admin.request(2, "/id-hole/cse", rqet="20200101T000000")
            assert already.rsc == 4008
    finally:
        await in_cse.stop()
        hole.close()
