"""Bounds on what notifications may hold (issue 18): memory across all targets, subscriptions
and targets per originator, connections, and how long a silent target may take."""
from __future__ import annotations

import asyncio
import time

import pytest

from bindings.http_pipeline import PipelineClient, TooManyConnections
from tests.conftest import CoreClient

from .conftest import READINGS, notifying_cse, subscribe


async def silent_server() -> tuple[asyncio.AbstractServer, int, list]:
    """Accepts connections and never answers (nor reads): a silent target."""
    held: list = []

    async def hold(reader, writer):
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], held


async def test_pending_notifications_of_all_targets_stay_within_max_pending_bytes():
    """40 AEs, each its own target (its AE-ID, poa on a silent server): the per-target queue
    (1000) alone would let them hold 40 x 1000 notifications of ~2 kB, about 80 MB."""
    server, port, held = await silent_server()
    limit = 300_000
    cse = notifying_cse(**{"notification.max_pending_bytes": limit, "notification.timeout": 30.0})
    await cse.start()
    core = CoreClient(cse)
    try:
        for i in range(40):
            assert (await core.register_ae(f"Cs{i}", rn=f"s{i}", poa=[f"http://127.0.0.1:{port}"])).rsc == 2001
            assert (await core.create(f"cse-in/s{i}", 3, {"m2m:cnt": {"rn": "c"}}, fr=f"Cs{i}")).rsc == 2001
            assert (await subscribe(core, f"cse-in/s{i}/c", f"Cs{i}", fr=f"Cs{i}", enc=READINGS)).rsc == 2001
        for n in range(30):
            for i in range(40):
                await core.create(f"cse-in/s{i}/c", 4, {"m2m:cin": {"con": "x" * 2000}}, fr=f"Cs{i}")
                assert cse.events.delivery.pending_bytes <= limit
        stats = cse.events.delivery.stats()
        assert stats["pending_bytes"] <= limit and stats["dropped"] > 0
        assert len(stats["targets"]) == 40
    finally:
        await cse.stop()
        server.close()


async def test_a_target_that_accepts_and_never_answers_times_out():
    server, port, held = await silent_server()
    client = PipelineClient(connect_timeout=1.0)
    started = time.monotonic()
    try:
        with pytest.raises(asyncio.TimeoutError):
            await client.request("POST", f"http://127.0.0.1:{port}/n", {}, b"{}", timeout=0.5)
    finally:
        await client.close()
        server.close()
    assert time.monotonic() - started < 3


async def test_a_target_that_never_accepts_the_connection_times_out():
    """A listening socket whose backlog is full: the SYN is never answered."""
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):                       # fill the backlog (never accepted)
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    client = PipelineClient(connect_timeout=0.5)
    started = time.monotonic()
    try:
        with pytest.raises(ConnectionError, match="did not accept a connection"):
            await client.request("POST", f"http://127.0.0.1:{port}/n", {}, b"{}", timeout=30)
    finally:
        await client.close()
        for filler in fillers:
            filler.close()
        listener.close()
    assert time.monotonic() - started < 5


async def test_outbound_connections_are_capped():
    server, port, held = await silent_server()
    other, other_port, _ = await silent_server()
    client = PipelineClient(max_connections=2)
    try:
        busy = [asyncio.ensure_future(client.request("POST", f"http://127.0.0.1:{port}/{i}", {}, b"{}", timeout=30))
                for i in range(2)]
        await asyncio.sleep(0.2)
        with pytest.raises(TooManyConnections, match="notification.max_connections"):
            await client.request("POST", f"http://127.0.0.1:{other_port}/x", {}, b"{}", timeout=30)
        assert len(client._connections) == 2
        for task in busy:
            task.cancel()
    finally:
        await client.close()
        server.close()
        other.close()


@pytest.fixture
async def limited(receiver):
    cse = notifying_cse(**{"notification.max_subscriptions_per_originator": 3,
                           "notification.max_targets_per_originator": 2})
    await cse.start()
    core = CoreClient(cse)
    await core.register_ae("Cmeter", rn="meter")
    await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    try:
        yield core, receiver
    finally:
        await cse.stop()


async def test_subscriptions_per_originator_are_limited(limited):
    core, receiver = limited
    for _ in range(3):
        assert (await subscribe(core, "cse-in/meter/power", "Cmeter")).rsc == 2001
    response = await subscribe(core, "cse-in/meter/power", "Cmeter")
    assert response.rsc == 5207
    assert "max_subscriptions_per_originator 3" in response.pc["m2m:dbg"]
    # Others are not affected, nor is the admin.
    assert (await core.register_ae("Cother", rn="other")).rsc == 2001
    assert (await core.create("cse-in/other", 3, {"m2m:cnt": {"rn": "c"}}, fr="Cother")).rsc == 2001
    assert (await subscribe(core, "cse-in/other/c", "Cother", fr="Cother")).rsc == 2001
    assert (await subscribe(core, "cse-in/meter/power", receiver.url("/admin"), fr="CAdmin")).rsc == 2001


async def test_distinct_targets_per_originator_are_limited(limited):
    core, receiver = limited
    assert (await subscribe(core, "cse-in/meter/power", ["Cmeter", receiver.url("/a")])).rsc == 2001
    response = await subscribe(core, "cse-in/meter/power", [receiver.url("/b")])
    assert response.rsc == 5207 and "max_targets_per_originator 2" in response.pc["m2m:dbg"]
    # The same targets again are no new targets.
    second = await subscribe(core, "cse-in/meter/power", [receiver.url("/a")])
    assert second.rsc == 2001
    # Nor may an UPDATE of nu go past it: Cmeter and /a stay in the first, /c would be a third.
    response = await core.request(3, second.pc["m2m:sub"]["ri"], "Cmeter",
                                  pc={"m2m:sub": {"nu": [receiver.url("/c")]}})
    assert response.rsc == 5207, response.pc
    response = await core.request(3, second.pc["m2m:sub"]["ri"], "Cmeter", pc={"m2m:sub": {"nu": ["Cmeter"]}})
    assert response.rsc == 2004, response.pc


async def test_notifications_in_flight_to_all_targets_are_bounded():
    """20 silent targets with a window of 64 each: without the bound 20 x 64 requests would
    wait for answers that never come; with max_in_flight 5, each target keeps its first one
    and all together at most 5 more."""
    server, port, held = await silent_server()
    cse = notifying_cse(**{"notification.max_in_flight": 5, "notification.pipeline": 64,
                           "notification.timeout": 30.0})
    await cse.start()
    core = CoreClient(cse)
    try:
        for i in range(20):
            assert (await core.register_ae(f"Cs{i}", rn=f"s{i}", poa=[f"http://127.0.0.1:{port}"])).rsc == 2001
            assert (await core.create(f"cse-in/s{i}", 3, {"m2m:cnt": {"rn": "c"}}, fr=f"Cs{i}")).rsc == 2001
            assert (await subscribe(core, f"cse-in/s{i}/c", f"Cs{i}", fr=f"Cs{i}", enc=READINGS)).rsc == 2001
        for n in range(10):
            for i in range(20):
                await core.create(f"cse-in/s{i}/c", 4, {"m2m:cin": {"con": str(n)}}, fr=f"Cs{i}")
        await asyncio.sleep(0.2)
        delivery = cse.events.delivery
        in_flight = sum(len(q.inflight) for q in delivery.queues.values())
        assert in_flight == delivery.in_flight
        assert 20 <= in_flight <= 20 + 5, in_flight
    finally:
        await cse.stop()
        server.close()
