"""Clean shutdown: queued notifications are delivered, or kept and resent after a restart."""
from __future__ import annotations

import asyncio

import pytest

from tests.conftest import CoreClient

from .conftest import READINGS, meter_with_container, notifying_cse, post_reading, subscribe
from .receiver import Receiver


async def test_stop_delivers_what_is_queued_and_batched(receivers, tmp_path):
    gate = asyncio.Event()
    held = await receivers(gate=gate)             # answers nothing until the stop begins
    batching = await receivers()
    cse = notifying_cse(**{"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}"})
    await cse.start()
    core = CoreClient(cse)
    try:
        container = await meter_with_container(core)
        await subscribe(core, container, held.url(), enc=READINGS)
        await subscribe(core, container, batching.url(), enc=READINGS, bn={"num": 100, "dur": "PT1H"})
        for value in range(10):
            await post_reading(core, container, value)
        assert cse.events.delivery.totals["delivered"] == 0 and batching.notifications == []
    finally:
        gate.set()
        await cse.stop()
    assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in held.notifications] == [str(v) for v in range(10)]
    [batch] = batching.notifications
    assert len(batch.body["m2m:agn"]["m2m:sgn"]) == 10


@pytest.mark.parametrize("backend", ["sqlite:///{dir}/cse.sqlite", "tinydb:///{dir}/tinydb"])
async def test_undeliverable_notifications_are_resent_after_a_restart(tmp_path, backend):
    storage = {"storage.url": backend.format(dir=tmp_path), "notification.shutdown_timeout": 0.5}
    target = await Receiver().start()
    cse = notifying_cse(**storage)
    await cse.start()
    core = CoreClient(cse)
    try:
        container = await meter_with_container(core)
        await subscribe(core, container, target.url(), enc=READINGS)
        await target.stop()                           # the receiver is down during the shutdown
        for value in range(3):
            await post_reading(core, container, value)
    finally:
        await cse.stop()
    assert len(target.notifications) == 0

    back = await Receiver(port=target.port).start()
    cse = notifying_cse(**storage)
    await cse.start()
    try:
        received = await back.wait_for(3)
        assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == ["0", "1", "2"]
        base = (await CoreClient(cse).retrieve("cse-in")).pc["m2m:cb"]
        assert not any(k.startswith("_") for k in base)
        assert "_pending_notifications" not in cse.storage.get("id-in")   # taken, not resent twice
    finally:
        await cse.stop()
        await back.stop()
    assert len(back.notifications) == 3


async def test_events_after_the_drain_are_kept_for_the_next_start(tmp_path, receivers):
    target = await receivers()
    cse = notifying_cse(**{"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}"})
    await cse.start()
    core = CoreClient(cse)
    container = await meter_with_container(core)
    await subscribe(core, container, target.url(), enc=READINGS)
    await cse.events.drain()                          # as Cse.stop does before stopping bindings
    await post_reading(core, container, "late")       # a request finishing during shutdown
    await cse.stop()
    assert target.notifications == []
    cse = notifying_cse(**{"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}"})
    await cse.start()
    try:
        [received] = await target.wait_for(1)
        assert received.sgn["nev"]["rep"]["m2m:cin"]["con"] == "late"
    finally:
        await cse.stop()


async def test_notifications_in_flight_when_the_target_starts_failing_survive_a_shutdown(tmp_path):
    """Three notifications in flight; the first is answered 5000 (retry) while the others
    are still unanswered when the CSE stops: all three are kept and sent after the start."""
    storage = {"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}", "notification.shutdown_timeout": 0.1,
               "notification.timeout": 60.0}
    gate = asyncio.Event()
    flaky = await Receiver(answers=[5000], hang=True, gate=gate).start()
    cse = notifying_cse(**storage)
    await cse.start()
    core = CoreClient(cse)
    try:
        container = await meter_with_container(core)
        await subscribe(core, container, flaky.url(), enc=READINGS)
        for value in range(3):
            await post_reading(core, container, value)
        await flaky.wait_for(1)
        delivery = cse.events.delivery
        queue = delivery.queues[flaky.url()]
        assert len(queue.inflight) == 3
        gate.set()                                    # 5000 for the first; the second hangs
        assert await delivery.wait_until(lambda: queue.failing, 5)
    finally:
        await cse.stop()
        await flaky.stop()
    back = await Receiver(port=flaky.port).start()
    cse = notifying_cse(**storage)
    await cse.start()
    try:
        received = await back.wait_for(3)
        assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == ["0", "1", "2"]
    finally:
        await cse.stop()
        await back.stop()


async def test_a_notification_queued_while_delivery_closes_is_kept_not_sent(receivers):
    """A request finishing while the notifier closes: its notification must be among those
    kept for the next start, not sent by a task nobody stops any more."""
    from cse.delivery import Notification
    from cse.notification_target import parse_target
    gate = asyncio.Event()
    held = await receivers(gate=gate)
    cse = notifying_cse()
    await cse.start()
    core = CoreClient(cse)
    try:
        container = await meter_with_container(core)
        await subscribe(core, container, held.url(), enc=READINGS)
        await post_reading(core, container, "first")
        await held.wait_for(1)                         # in flight, unanswered
        delivery = cse.events.delivery
        closing = asyncio.create_task(delivery.close())
        await asyncio.sleep(0)                         # one step: close() has cancelled what it found
        late = Notification(parse_target(held.url()), "sub", {"m2m:sgn": {"sur": "/id-in/sub"}})
        delivery.enqueue(late)
        left = await closing
        assert len(left) == 2 and left[1] is late and late.attempts == 0     # "first" and the late one
    finally:
        gate.set()
        await cse.stop()


async def test_notifications_kept_at_shutdown_go_before_those_of_requests_served_at_the_start(tmp_path):
    """The bindings start before the notifier resends what it kept (an MQTT client may send
    at once): a reading served in between must not overtake the older ones."""
    storage = {"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}", "notification.shutdown_timeout": 0.1}
    target = await Receiver().start()
    cse = notifying_cse(**storage)
    await cse.start()
    core = CoreClient(cse)
    try:
        container = await meter_with_container(core)
        await subscribe(core, container, target.url(), enc=READINGS)
        await target.stop()
        for value in range(3):
            await post_reading(core, container, value)
    finally:
        await cse.stop()
    back = await Receiver(port=target.port).start()
    cse = notifying_cse(**storage)
    core = CoreClient(cse)
    resend = cse.events.start

    async def start_after_a_request() -> None:
        await post_reading(core, container, "new")
        await resend()

    cse.events.start = start_after_a_request
    await cse.start()
    try:
        received = await back.wait_for(4)
        assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == ["0", "1", "2", "new"]
    finally:
        await cse.stop()
        await back.stop()
