"""Delivery with a recording sender and a manual clock: back-off on the clock, order, and
the bounds of a target's queue and window."""
from __future__ import annotations

import pytest

from cse.delivery import Notification
from cse.notification_target import parse_target

from .conftest import READINGS, TARGET, build_harness, values
from .recording import RecordingSender


async def test_the_back_off_doubles_on_the_clock_up_to_retry_max_and_order_is_kept(harness):
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS)
    harness.sender.answer(5103, times=6)
    for value in range(3):
        await harness.post(container, value)
    queue = harness.delivery.queues[TARGET]
    waits = []
    for attempt in range(1, 7):                     # retry_initial 1, retry_max 8
        await harness.until(lambda: queue.retries == attempt, f"back-off {attempt}")
        [due] = harness.clock.due_times()
        waits.append(due - harness.clock.now())
        assert len(harness.sender.notifications()) == attempt      # nothing sent while waiting
        harness.clock.advance(waits[-1])
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    await harness.idle()
    assert values(harness.sender.notifications()) == ["0"] * 7 + ["1", "2"]
    assert not queue.failing and harness.delivery.totals["retries"] == 6


async def test_a_notification_is_dropped_after_max_attempts_and_the_next_is_sent(clock, sender):
    harness = build_harness(clock, sender, **{"notification.max_attempts": 2})
    await harness.cse.start()
    try:
        container = await harness.container()
        await harness.subscribe(container, enc=READINGS)
        sender.answer(5103, times=2)
        await harness.post(container, "lost")
        await harness.post(container, "kept")
        await harness.until(lambda: harness.delivery.totals["retries"] == 1, "first back-off")
        clock.advance(1.0)
        await harness.until(lambda: harness.delivery.totals["dropped"] == 1, "dropped after 2 attempts")
        clock.advance(2.0)
        await harness.idle()
        assert values(sender.notifications()) == ["lost", "lost", "kept"]
    finally:
        await harness.cse.stop()


async def test_a_refusal_is_final_not_retried(harness):
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS)
    harness.sender.answer(4103, times=1)
    await harness.post(container, "refused")
    await harness.post(container, "next")
    await harness.idle()
    assert values(harness.sender.notifications()) == ["refused", "next"]
    assert harness.delivery.totals["rejected"] == 1 and harness.delivery.totals["retries"] == 0
    assert harness.clock.due_times() == []


async def test_a_full_queue_drops_its_oldest_notification(clock, sender):
    harness = build_harness(clock, sender, **{"notification.queue_size": 3})
    await harness.cse.start()
    try:
        container = await harness.container()
        await harness.subscribe(container, enc=READINGS)
        sender.hold()
        for value in range(6):
            await harness.post(container, value)
            queue = harness.delivery.queues[TARGET]
            assert len(queue.items) <= 3
        assert queue.dropped == 2 and values(queue.items) == ["3", "4", "5"]      # "0" is in flight
        sender.release()
        await harness.idle()
        assert values(sender.notifications()) == ["0", "3", "4", "5"]
    finally:
        sender.release()
        await harness.cse.stop()


@pytest.mark.parametrize("keeps_order, in_flight", [(True, 4), (False, 1)])
async def test_the_window_is_pipeline_over_an_order_keeping_sender_else_one(clock, keeps_order, in_flight):
    sender = RecordingSender(keeps_order=keeps_order)
    harness = build_harness(clock, sender, **{"notification.pipeline": 4})
    await harness.cse.start()
    try:
        container = await harness.container()
        await harness.subscribe(container, enc=READINGS)
        sender.hold()
        for value in range(10):
            await harness.post(container, value)
        await sender.wait_for(in_flight)
        queue = harness.delivery.queues[TARGET]
        assert len(queue.inflight) == in_flight and len(queue.items) == 10 - in_flight
        sender.release()
        await harness.idle()
        assert values(sender.notifications()) == [str(v) for v in range(10)]
    finally:
        sender.release()
        await harness.cse.stop()


async def test_ln_replaces_the_queued_notification_of_the_subscription(harness):
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS, ln=True)
    harness.sender.hold()
    for value in range(5):
        await harness.post(container, value)
    queue = harness.delivery.queues[TARGET]
    assert len(queue.items) == 1 and queue.dropped == 0
    harness.sender.release()
    await harness.idle()
    sent = harness.sender.notifications()
    assert values(sent) == ["0", "4"] and {s.request.ec for s in sent} == {4}


async def test_a_target_that_went_quiet_takes_no_memory(harness):
    harness.delivery.enqueue(Notification(parse_target(TARGET), "sub", {"m2m:sgn": {"sur": "/id-in/sub"}}))
    await harness.sender.wait_for(1)
    await harness.until(lambda: not harness.delivery.queues, "the idle target is forgotten")


async def test_a_stop_does_not_wait_for_a_target_in_back_off(harness):
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS)
    harness.sender.answer(5103)
    await harness.post(container, "x")
    await harness.until(lambda: harness.delivery.totals["retries"] == 1, "in back-off")
    await harness.notifier.drain()                  # returns although the clock never moves
    assert harness.clock.due_times() == []          # the back-off's timer went with its task
