"""Delivery: targets resolved through poa, serializations, order under load, slow, dead and
refusing receivers, bounded queues, deletion cascades."""
from __future__ import annotations

import asyncio

from tests.conftest import CoreClient

from .conftest import READINGS, meter_with_container, notifying_cse, post_reading, subscribe
from .receiver import Receiver


async def test_ae_id_target_is_resolved_through_its_poa_at_send_time(ncore, receiver, receivers):
    container = await meter_with_container(ncore)
    await ncore.register_ae("Capp", rn="app", poa=[receiver.base])
    assert (await subscribe(ncore, container, "Capp", enc=READINGS)).rsc == 2001
    [verification] = receiver.verifications
    assert verification.path == "/~/id-in/Capp"
    await post_reading(ncore, container, "first")
    [first] = await receiver.wait_for(1)
    assert first.path == "/~/id-in/Capp" and first.sgn["nev"]["rep"]["m2m:cin"]["con"] == "first"
    moved = await receivers()
    moving = await ncore.update("cse-in/app", {"m2m:ae": {"poa": [moved.url("/inbox")]}}, fr="Capp")
    assert moving.rsc == 2004
    await post_reading(ncore, container, "second")
    [second] = await moved.wait_for(1)
    assert second.path == "/inbox" and second.sgn["nev"]["rep"]["m2m:cin"]["con"] == "second"


async def test_notifications_use_cbor_when_the_subscriber_asks_for_it(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url("/by-ct", "ct=cbor"), enc=READINGS)
    await ncore.register_ae("Ccbor", rn="cbor", poa=[receiver.url("/by-csz")], csz=["application/cbor"])
    await subscribe(ncore, container, "Ccbor", enc=READINGS)
    await ncore.create(container, 23, {"m2m:sub": {"nu": [receiver.url("/by-accept")], "enc": READINGS}},
                       fr="Cmeter", accept="cbor")
    await ncore.create(container, 23, {"m2m:sub": {"nu": [receiver.url("/json")], "enc": READINGS}},
                       fr="Cmeter", accept="json")
    assert {(v.path, v.serialization) for v in receiver.verifications} == {
        ("/by-ct", "cbor"), ("/by-csz", "cbor"), ("/by-accept", "cbor"), ("/json", "json")}
    await post_reading(ncore, container, 42)
    received = await receiver.wait_for(4)
    assert {(r.path, r.serialization) for r in received} == {
        ("/by-ct", "cbor"), ("/by-csz", "cbor"), ("/by-accept", "cbor"), ("/json", "json")}
    by_ct = next(r for r in received if r.path == "/by-ct")
    assert by_ct.headers["Content-Type"] == "application/cbor"
    assert by_ct.sgn["nev"]["rep"]["m2m:cin"]["con"] == "42"


async def test_a_bare_url_target_is_posted_to_as_is(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.base, enc=READINGS)
    await post_reading(ncore, container, 1)
    [received] = await receiver.wait_for(1)
    assert received.path == "/"


async def test_order_is_kept_per_subscription_under_concurrent_load(ncore, receivers):
    targets = [await receivers() for _ in range(3)]
    container = await meter_with_container(ncore)
    for target in targets:
        await subscribe(ncore, container, target.url(), enc=READINGS)
    responses = await asyncio.gather(*(ncore.create(container, 4, {"m2m:cin": {"con": str(i)}}, fr="Cmeter")
                                       for i in range(200)))
    assert all(r.rsc == 2001 for r in responses)
    for target in targets:
        received = await target.wait_for(200)
        states = [r.sgn["nev"]["rep"]["m2m:cin"]["st"] for r in received]
        assert states == list(range(1, 201))     # the order in which the instances were created


async def test_a_dead_receiver_blocks_neither_requests_nor_other_subscribers(clock, receivers):
    cse = notifying_cse(clock, **{"notification.queue_size": 5, "notification.timeout": 60.0,
                                  "notification.shutdown_timeout": 0.1})
    await cse.start()
    core = CoreClient(cse)
    try:
        dead = await receivers(hang=True)        # accepts, then never answers within the test
        live = await receivers()
        container = await meter_with_container(core)
        await subscribe(core, container, dead.url(), enc=READINGS)
        await subscribe(core, container, live.url(), enc=READINGS)

        async def post_all() -> None:
            for value in range(30):
                await post_reading(core, container, value)
                await live.wait_for(value + 1)   # the live subscriber is served meanwhile

        # Each reading is acknowledged while the dead receiver holds its first notification
        # for up to 60 s: if a request waited for it, this would time out.
        await asyncio.wait_for(post_all(), 20)
        received = live.notifications
        assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == [str(v) for v in range(30)]
        stats = cse.events.stats()["targets"][dead.url()]
        pipeline = cse.config.notification.pipeline            # in flight to the hung receiver
        assert stats["inflight"] == pipeline and stats["queued"] == 5   # bounded by queue_size
        assert stats["dropped"] == 30 - pipeline - 5
        assert len(dead.notifications) == 1
    finally:
        await cse.stop()


async def test_an_unreachable_target_is_retried_until_it_is_back(ncore):
    container = await meter_with_container(ncore)
    first = await Receiver().start()
    await subscribe(ncore, container, first.url(), enc=READINGS)
    await first.stop()                            # the target goes away
    for value in range(3):
        await post_reading(ncore, container, value)
    delivery = ncore.cse.events.delivery
    queue = delivery.queues[first.url()]
    assert await delivery.wait_until(lambda: queue.failing, 5)   # the first attempt is refused
    back = await Receiver(port=first.port).start()
    try:
        received = await back.wait_for(3)
        assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == ["0", "1", "2"]
        assert delivery.totals["retries"] >= 1 and delivery.totals["dropped"] == 0
    finally:
        await back.stop()


async def test_a_refused_notification_is_not_retried_and_the_next_one_is_sent(ncore, receivers):
    refusing = await receivers(rsc=4103)
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, refusing.url(), enc=READINGS)
    await post_reading(ncore, container, "a")
    await post_reading(ncore, container, "b")
    received = await refusing.wait_for(2)
    assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == ["a", "b"]
    delivery = ncore.cse.events.delivery
    assert await delivery.wait_until(lambda: delivery.totals["rejected"] == 2, 5)
    assert delivery.totals["retries"] == 0 and delivery.totals["delivered"] == 0


async def test_a_notification_is_dropped_after_max_attempts(clock):
    cse = notifying_cse(clock, **{"notification.max_attempts": 2})
    await cse.start()
    core = CoreClient(cse)
    try:
        container = await meter_with_container(core)
        target = await Receiver().start()
        await subscribe(core, container, target.url(), enc=READINGS)
        await target.stop()
        await post_reading(core, container, 1)
        queue = cse.events.delivery.queues[target.url()]
        assert await cse.events.delivery.wait_until(lambda: queue.dropped == 1, 5)
        assert queue.retries == 1 and queue.pending == 0
    finally:
        await cse.stop()


async def test_deleting_an_ae_reports_the_deletion_of_everything_watched_below_it(ncore, receiver, receivers):
    subscriber = await receivers()
    container = await meter_with_container(ncore)
    on_ae = (await subscribe(ncore, "cse-in/meter", receiver.url("/ae"), enc={"net": [2]},
                             su=subscriber.url())).pc["m2m:sub"]
    on_container = (await subscribe(ncore, container, receiver.url("/cnt"), enc={"net": [2, 3]},
                                    su=subscriber.url())).pc["m2m:sub"]
    await post_reading(ncore, container, 1)
    assert (await ncore.delete("cse-in/meter", fr="Cmeter")).rsc == 2002
    await receiver.wait_until(lambda got: {r.path for r in got if r.sgn.get("nev", {}).get("net") == 2}
                              == {"/ae", "/cnt"})
    deleted = {r.path: r.sgn["nev"]["rep"] for r in receiver.notifications if r.sgn["nev"]["net"] == 2}
    assert deleted["/ae"]["m2m:ae"]["aei"] == "Cmeter"
    assert deleted["/cnt"]["m2m:cnt"]["rn"] == "power"
    removed = await subscriber.wait_for(2)
    assert {r.sgn["sur"] for r in removed} == {f"/id-in/{on_ae['ri']}", f"/id-in/{on_container['ri']}"}
    for sub in (on_ae, on_container):
        assert (await ncore.retrieve(sub["ri"])).rsc == 4004


async def test_a_slow_receiver_is_not_timed_out_for_the_notifications_queued_before(clock, receivers):
    """0.1 s per notification, a 0.35 s timeout and 4 in flight: the fourth waits 0.4 s in
    all but only 0.1 s for its own answer.  Each arrives once; nothing is retried."""
    cse = notifying_cse(clock, **{"notification.timeout": 0.35})
    await cse.start()
    core = CoreClient(cse)
    try:
        slow = await receivers(delay=0.1)
        container = await meter_with_container(core)
        await subscribe(core, container, slow.url(), enc=READINGS)
        for value in range(8):
            await post_reading(core, container, value)
        delivery = cse.events.delivery
        assert await delivery.wait_until(lambda: delivery.totals["delivered"] == 8, 10), delivery.stats()
        assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in slow.notifications] == [str(v) for v in range(8)]
        assert delivery.totals["retries"] == 0
    finally:
        await cse.stop()


async def test_a_huge_answer_body_does_not_make_an_accepted_notification_a_failure(ncore, receivers):
    talkative = await receivers(body=b"x" * 3_000_000)
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, talkative.url(), enc=READINGS)
    await post_reading(ncore, container, "once")
    delivery = ncore.cse.events.delivery
    assert await delivery.wait_until(lambda: delivery.totals["delivered"] == 1, 5), delivery.stats()
    assert delivery.totals["retries"] == 0 and len(talkative.notifications) == 1


async def test_an_unexpected_error_while_sending_is_retried_and_does_not_stop_the_target(ncore, receiver,
                                                                                    monkeypatch, caplog):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc=READINGS)
    resolver = ncore.cse.events.delivery.resolver
    lookup = resolver.entity
    failures = [RuntimeError("storage unavailable")]

    def failing_once(target):
        if failures:
            raise failures.pop()
        return lookup(target)

    monkeypatch.setattr(resolver, "entity", failing_once)
    await post_reading(ncore, container, "first")
    delivery = ncore.cse.events.delivery
    queue = delivery.queues[receiver.url()]
    assert await delivery.wait_until(lambda: queue.failing, 5)
    await post_reading(ncore, container, "second")
    received = await receiver.wait_for(2)
    assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == ["first", "second"]
    assert "storage unavailable" in caplog.text


async def test_a_target_that_is_given_up_leaves_no_queue_behind(clock):
    cse = notifying_cse(clock, **{"notification.max_attempts": 1})
    await cse.start()
    core = CoreClient(cse)
    try:
        container = await meter_with_container(core)
        target = await Receiver().start()
        await subscribe(core, container, target.url(), enc=READINGS)
        await target.stop()
        await post_reading(core, container, 1)
        delivery = cse.events.delivery
        assert await delivery.wait_until(lambda: delivery.totals["dropped"] == 1, 5)
        assert await delivery.wait_until(lambda: target.url() not in delivery.queues, 5), delivery.stats()
    finally:
        await cse.stop()


async def test_a_notification_uri_with_non_ascii_characters_is_verified_and_notified(ncore, receiver):
    container = await meter_with_container(ncore)
    response = await subscribe(ncore, container, receiver.url("/zähler"), enc=READINGS)
    assert response.rsc == 2001, response.pc
    await post_reading(ncore, container, 1)
    [received] = await receiver.wait_for(1)
    assert received.path == "/z%C3%A4hler"


async def test_ct_is_taken_out_of_the_uri_and_the_rest_of_the_query_is_kept_as_written(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url("/n", "token&ct=cbor&a=b%2Fc"), enc=READINGS)
    await post_reading(ncore, container, 1)
    [received] = await receiver.wait_for(1)
    assert (received.path, received.serialization) == ("/n?token&a=b%2Fc", "cbor")
