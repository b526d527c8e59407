"""Notification policies: expirationCounter (exc), subscriberURI (su), batchNotify (bn),
latestNotify (ln), notificationEventCat (nec)."""
from __future__ import annotations

import asyncio

from .conftest import meter_with_container, post_reading, subscribe


async def test_exc_deletes_the_subscription_after_that_many_notifications(ncore, receiver, receivers):
    container = await meter_with_container(ncore)
    subscriber = await receivers()
    sub = (await subscribe(ncore, container, receiver.url(), enc={"net": [3]}, exc=2,
                           su=subscriber.url())).pc["m2m:sub"]
    await post_reading(ncore, container, 1)
    remaining = (await ncore.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]["exc"]
    assert remaining == 1
    await post_reading(ncore, container, 2)
    assert (await ncore.retrieve(sub["ri"], fr="Cmeter")).rsc == 4004
    await post_reading(ncore, container, 3)
    [deleted] = await subscriber.wait_for(1)
    assert deleted.sgn == {"sud": True, "sur": f"/id-in/{sub['ri']}", "cr": "Cmeter"}
    await receiver.barrier(ncore, container)
    values = [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in receiver.notifications
              if r.sgn["sur"] == f"/id-in/{sub['ri']}"]
    assert values == ["1", "2"]


async def test_su_is_told_when_a_subscription_is_deleted_by_request(ncore, receiver):
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, "Cmeter", su=receiver.url("/su"))).pc["m2m:sub"]
    assert receiver.verifications == []          # nu is the originator: nothing to verify
    assert (await ncore.delete(sub["ri"], fr="Cmeter")).rsc == 2002
    [deleted] = await receiver.wait_for(1)
    assert deleted.path == "/su" and deleted.sgn == {"sud": True, "sur": f"/id-in/{sub['ri']}", "cr": "Cmeter"}


async def test_su_is_told_when_a_subscription_expires(ncore, receiver, clock):
    from cse.clock import format_timestamp
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, "Cmeter", su=receiver.url("/su"),
                           et=format_timestamp(clock.now() + 60))).pc["m2m:sub"]
    clock.advance(61)
    assert await ncore.cse.reaper.reap_once() == 1
    [deleted] = await receiver.wait_for(1)
    assert deleted.sgn == {"sud": True, "sur": f"/id-in/{sub['ri']}", "cr": "Cmeter"}


async def test_no_notification_after_the_subscription_expired(ncore, receiver, clock):
    from cse.clock import format_timestamp
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url("/expiring"), enc={"net": [3]},
                    et=format_timestamp(clock.now() + 60))
    await post_reading(ncore, container, "before")
    clock.advance(61)                             # expired, not yet removed by the reaper
    await post_reading(ncore, container, "after")
    await receiver.barrier(ncore, container)
    got = [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in receiver.notifications if r.path == "/expiring"]
    assert got == ["before"]


async def test_bn_num_sends_one_aggregated_notification_per_batch(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc={"net": [3]}, bn={"num": 3})
    for value in range(7):
        await post_reading(ncore, container, value)
    first, second = await receiver.wait_for(2)
    for batch, values in ((first, ["0", "1", "2"]), (second, ["3", "4", "5"])):
        notifications = batch.body["m2m:agn"]["m2m:sgn"]
        assert [n["nev"]["rep"]["m2m:cin"]["con"] for n in notifications] == values
    assert len(receiver.notifications) == 2      # the 7th waits for two more or for dur


async def test_bn_dur_sends_what_accumulated_when_the_time_is_up(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc={"net": [3]}, bn={"num": 100, "dur": "PT0.2S"})

    def batched(got) -> list[list[str]]:
        return [[n["nev"]["rep"]["m2m:cin"]["con"] for n in r.body["m2m:agn"]["m2m:sgn"]]
                for r in got if not r.is_verification]

    for value in range(4):
        await post_reading(ncore, container, value)
    # Far fewer than num: only dur sends them (usually in one batch; a stalled machine may
    # let the timer run between two readings).
    await receiver.wait_until(lambda got: sum(map(len, batched(got))) == 4)
    before = batched(receiver.received)
    assert [value for batch in before for value in batch] == ["0", "1", "2", "3"]
    await post_reading(ncore, container, 4)
    await receiver.wait_until(lambda got: len(batched(got)) == len(before) + 1)
    assert batched(receiver.received)[-1] == ["4"]


async def test_bn_with_ln_sends_only_the_latest_of_each_batch(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc={"net": [3]}, bn={"num": 3}, ln=True)
    for value in range(6):
        await post_reading(ncore, container, value)
    first, second = await receiver.wait_for(2)
    assert first.sgn["nev"]["rep"]["m2m:cin"]["con"] == "2"
    assert second.sgn["nev"]["rep"]["m2m:cin"]["con"] == "5"
    assert first.headers["X-M2M-EC"] == "4"       # event category "latest"


async def test_ln_keeps_only_the_latest_while_the_target_is_busy(ncore, receivers):
    slow = await receivers(hang=True)
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, slow.url(), enc={"net": [3]}, ln=True)
    for value in range(20):
        await post_reading(ncore, container, value)
    await slow.wait_for(1)                         # the first one is in flight, the rest coalesce
    queue = ncore.cse.events.delivery.queues[slow.url()]
    assert len(queue.items) == 1
    assert queue.items[0].pc["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"] == "19"
    assert queue.dropped == 0


async def test_deleting_a_batching_subscription_sends_its_batch_first(ncore, receiver, receivers):
    container = await meter_with_container(ncore)
    subscriber = await receivers()
    sub = (await subscribe(ncore, container, receiver.url(), enc={"net": [3]}, bn={"num": 50},
                           su=subscriber.url())).pc["m2m:sub"]
    await post_reading(ncore, container, "a")
    await post_reading(ncore, container, "b")
    await ncore.delete(sub["ri"], fr="Cmeter")
    [batch] = await receiver.wait_for(1)
    assert [n["nev"]["rep"]["m2m:cin"]["con"] for n in batch.body["m2m:agn"]["m2m:sgn"]] == ["a", "b"]
    assert (await subscriber.wait_for(1))[0].sgn["sud"] is True


async def test_nec_sets_the_event_category(ncore, receiver):
    container = await meter_with_container(ncore)
    await subscribe(ncore, container, receiver.url(), enc={"net": [3]}, nec=3)
    await post_reading(ncore, container, 1)
    [received] = await receiver.wait_for(1)
    assert received.headers["X-M2M-EC"] == "3"


async def test_pn_send_latest_keeps_one_pending_notification_while_the_target_fails(ncore):
    from .receiver import Receiver
    container = await meter_with_container(ncore)
    target = await Receiver().start()
    sub = (await subscribe(ncore, container, target.url(), enc={"net": [3], "chty": [4]}, pn=1)).pc["m2m:sub"]
    await target.stop()
    await post_reading(ncore, container, "first")        # fails: the target is now known to be down
    delivery = ncore.cse.events.delivery
    queue = delivery.queues[target.url()]
    assert await delivery.wait_until(lambda: queue.failing, 5)
    for value in range(5):
        await post_reading(ncore, container, value)
    latest = [n for n in queue.items if n.subscription == sub["ri"] and n.pc["m2m:sgn"]["nev"]["rep"]
              ["m2m:cin"]["con"] != "first"]
    assert len(latest) == 1 and latest[0].pc["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"] == "4"
    assert latest[0].ec == 4 and queue.dropped == 0
    back = await Receiver(port=target.port).start()
    try:
        received = await back.wait_for(2)
        assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == ["first", "4"]
        assert received[1].headers["X-M2M-EC"] == "4"
    finally:
        await back.stop()


async def test_nse_keeps_notification_statistics_per_target(ncore, receiver):
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, receiver.url(), enc={"net": [3], "chty": [4]}, nse=True,
                           bn={"num": 2})).pc["m2m:sub"]
    assert "nsi" not in sub                           # no statistics yet
    assert sub["bn"] == {"num": 2, "dur": "PT60S"}      # the CSE's default duration, written back
    for value in range(4):
        await post_reading(ncore, container, value)
    notifier = ncore.cse.events
    delivery = notifier.delivery
    assert await delivery.wait_until(lambda: delivery.totals["delivered"] == 2, 5)
    stored = (await ncore.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]
    # 4 events in 2 batches: 2 requests, 2 responses
    assert stored["nsi"] == [{"tg": receiver.url(), "rqs": 2, "rsr": 2, "noec": 4}]

    await ncore.update(sub["ri"], {"m2m:sub": {"nse": False}}, fr="Cmeter")
    await post_reading(ncore, container, "not counted")
    await post_reading(ncore, container, "not counted")
    assert await delivery.wait_until(lambda: delivery.totals["delivered"] == 3, 5)
    assert (await ncore.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]["nsi"][0]["noec"] == 4

    response = await ncore.update(sub["ri"], {"m2m:sub": {"nse": True}}, fr="Cmeter")
    assert "nsi" not in response.pc["m2m:sub"]          # switched on again: counting starts afresh
    await post_reading(ncore, container, "counted again")
    stored = (await ncore.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]["nsi"]
    assert stored == [{"tg": receiver.url(), "rqs": 0, "rsr": 0, "noec": 1}]   # batched: not sent yet


async def test_statistics_of_a_deleted_subscription_are_not_kept(ncore, receivers):
    """Answers that arrive after the subscription was deleted still count an attempt; the
    counters made for it then must not stay in memory for ever."""
    gate = asyncio.Event()
    held = await receivers(gate=gate)
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, held.url(), enc={"net": [3], "chty": [4]}, nse=True)).pc["m2m:sub"]
    await post_reading(ncore, container, 1)
    await held.wait_for(1)
    assert (await ncore.delete(sub["ri"], fr="Cmeter")).rsc == 2002
    gate.set()
    delivery = ncore.cse.events.delivery
    assert await delivery.wait_until(lambda: delivery.totals["delivered"] == 1, 5)
    statistics = ncore.cse.events.statistics
    assert sub["ri"] not in statistics._counters
