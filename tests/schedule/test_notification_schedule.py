"""A subscription's notificationSchedule, on the manual clock: notifications go out inside the
windows; outside, pn decides (none: dropped, 1: the latest, 2: all), and a timer on the
clock releases what is held when the next window opens.  Bounds, changes of the schedule,
the end of the subscription and a restart included."""
from __future__ import annotations

import logging

import pytest

from cse.clock import ManualClock
from cse.resource_types import Ty
from tests.notify.parts.conftest import READINGS, SU, TARGET, build_harness, values
from tests.notify.parts.recording import RecordingSender

from .test_schedule_entries import at

OTHER = "http://receiver.test/other"
# The meter may notify between 08:00 and 20:59 (the TS example); the test day starts at 07:00.
DAYTIME = ["* * 8-20 * * * *"]
MORNING = at("2025-03-03 07:00:00")
EIGHT = at("2025-03-03 08:00:00")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MORNING)


async def scheduled(harness, entries=DAYTIME, **attributes) -> tuple[str, dict]:
    """A meter's container with a subscription to its readings and that subscription's
    notificationSchedule; returns (container, the subscription)."""
    container = await harness.container()
    sub = await harness.subscribe(container, enc=READINGS, **attributes)
    path = f"{container}/{sub['rn']}"
    made = await harness.core.create(path, Ty.SCH, {"m2m:sch": {"se": {"sce": entries}}}, fr="Cmeter")
    assert made.rsc == 2001, made.pc
    return container, sub


async def nothing_sent(harness) -> None:
    """Let every task that could send run, then check that nothing was sent."""
    await harness.idle()
    assert harness.sender.notifications() == []


async def test_inside_the_window_notifications_go_at_once(harness, clock):
    clock.advance(EIGHT - MORNING + 3600)               # 09:00
    container, _ = await scheduled(harness)
    await harness.post(container, "9:00")
    assert values(await harness.sender.wait_for(1)) == ["9:00"]


async def test_outside_without_pn_they_are_dropped_and_not_counted(harness, clock):
    container, sub = await scheduled(harness, exc=5)
    await harness.post(container, "7:00")
    await harness.post(container, "7:01")
    await nothing_sent(harness)
    stats = harness.notifier.stats()
    assert stats["dropped_outside_schedule"] == 2 and stats["held"] == 0
    assert clock.due_times() == []                       # nothing waits for the window
    clock.advance(EIGHT - MORNING)
    await nothing_sent(harness)                          # missed notifications are not sent later
    assert harness.cse.storage.get(sub["ri"])["exc"] == 5
    await harness.post(container, "8:00")
    assert values(await harness.sender.wait_for(1)) == ["8:00"]


async def test_send_all_pending_holds_every_one_and_sends_them_in_order_when_the_window_opens(harness, clock):
    container, _ = await scheduled(harness, pn=2, nec=3)
    for value in ("a", "b", "c"):
        await harness.post(container, value)
    await nothing_sent(harness)
    assert harness.notifier.stats()["held"] == 3
    assert clock.due_times() == [EIGHT]                  # one timer, on the clock, at the window
    clock.advance(EIGHT - MORNING - 1)                   # 07:59:59
    await nothing_sent(harness)
    clock.advance(1)
    sent = await harness.sender.wait_for(3)
    assert values(sent) == ["a", "b", "c"] and {s.request.ec for s in sent} == {3}
    assert harness.notifier.stats()["held"] == 0 and clock.due_times() == []


async def test_send_latest_keeps_only_the_latest_and_marks_it_latest(harness, clock):
    container, _ = await scheduled(harness, pn=1)
    for value in ("a", "b", "c"):
        await harness.post(container, value)
    assert harness.notifier.stats()["held"] == 1
    clock.advance(EIGHT - MORNING)
    [sent] = await harness.sender.wait_for(1)
    assert values([sent]) == ["c"] and sent.request.ec == 4
    await harness.post(container, "d")                  # inside now: as usual
    assert values(await harness.sender.wait_for(2)) == ["c", "d"]


async def test_latest_notify_with_send_all_pending_keeps_only_the_latest(harness, clock):
    container, _ = await scheduled(harness, pn=2, ln=True)
    for value in ("a", "b"):
        await harness.post(container, value)
    clock.advance(EIGHT - MORNING)
    [sent] = await harness.sender.wait_for(1)
    assert values([sent]) == ["b"] and sent.request.ec == 4


async def test_immediate_notifications_ignore_the_schedule(harness):
    container, _ = await scheduled(harness, nec=2)
    await harness.post(container, "now")
    [sent] = await harness.sender.wait_for(1)
    assert values([sent]) == ["now"] and sent.request.ec == 2


async def test_every_target_gets_what_was_held(harness, clock):
    container, _ = await scheduled(harness, pn=2)
    sub = await harness.subscribe(container, nu=[TARGET, OTHER], enc=READINGS, pn=2)
    await harness.core.create(f"{container}/{sub['rn']}", Ty.SCH, {"m2m:sch": {"se": {"sce": DAYTIME}}},
                              fr="Cmeter")
    await harness.post(container, "x")
    clock.advance(EIGHT - MORNING)
    await harness.sender.wait_for(2, TARGET)
    assert values(await harness.sender.wait_for(1, OTHER)) == ["x"]


async def test_a_batch_made_outside_is_held_as_a_whole(harness, clock):
    container, _ = await scheduled(harness, pn=2, bn={"num": 2, "dur": "PT60S"})
    for value in ("a", "b", "c"):
        await harness.post(container, value)
    await nothing_sent(harness)                          # [a, b] is full, [c] waits for its dur
    clock.advance(60)
    await nothing_sent(harness)                          # [c] is due, but the window is shut
    assert harness.notifier.stats()["held"] == 2
    clock.advance(EIGHT - MORNING - 60)
    first, second = await harness.sender.wait_for(2)
    assert [[s["nev"]["rep"]["m2m:cin"]["con"] for s in batch.pc["m2m:agn"]["m2m:sgn"]]
            for batch in (first, second)] == [["a", "b"], ["c"]]


# -- the schedule or the subscription changes -----------------------------------------------
async def test_deleting_the_schedule_releases_what_was_held(harness):
    container, sub = await scheduled(harness, pn=2)
    await harness.post(container, "a")
    await nothing_sent(harness)
    deleted = await harness.core.delete(f"{container}/{sub['rn']}/notificationSchedule", fr="Cmeter")
    assert deleted.rsc == 2002
    assert values(await harness.sender.wait_for(1)) == ["a"]
    await harness.post(container, "b")                  # no schedule: no restriction
    assert values(await harness.sender.wait_for(2)) == ["a", "b"]


async def test_changing_the_schedule_moves_the_release(harness, clock):
    container, sub = await scheduled(harness, pn=2)
    schedule = f"{container}/{sub['rn']}/notificationSchedule"
    await harness.post(container, "a")
    later = await harness.core.update(schedule, {"m2m:sch": {"se": {"sce": ["* * 10-12 * * * *"]}}}, fr="Cmeter")
    assert later.rsc == 2004, later.pc
    assert clock.due_times() == [at("2025-03-03 10:00:00")]
    clock.advance(EIGHT - MORNING)
    await nothing_sent(harness)
    now_open = await harness.core.update(schedule, {"m2m:sch": {"se": {"sce": ["* * 7-9 * * * *"]}}}, fr="Cmeter")
    assert now_open.rsc == 2004
    assert values(await harness.sender.wait_for(1)) == ["a"]
    assert clock.due_times() == []


async def test_removing_pn_drops_what_was_held(harness, clock):
    container, sub = await scheduled(harness, pn=2)
    await harness.post(container, "a")
    assert (await harness.core.update(f"{container}/{sub['rn']}", {"m2m:sub": {"pn": None}}, fr="Cmeter")).rsc == 2004
    stats = harness.notifier.stats()
    assert stats["held"] == 0 and stats["dropped_outside_schedule"] == 1
    clock.advance(EIGHT - MORNING)
    await nothing_sent(harness)


async def test_making_the_subscription_immediate_releases_what_was_held(harness):
    container, sub = await scheduled(harness, pn=2)
    await harness.post(container, "a")
    assert (await harness.core.update(f"{container}/{sub['rn']}", {"m2m:sub": {"nec": 2}}, fr="Cmeter")).rsc == 2004
    assert values(await harness.sender.wait_for(1)) == ["a"]


async def test_a_deleted_subscription_sends_what_it_held_then_the_sud(harness, clock):
    container, sub = await scheduled(harness, pn=2, su=SU)
    await harness.post(container, "a")
    await nothing_sent(harness)
    assert (await harness.core.delete(f"{container}/{sub['rn']}", fr="Cmeter")).rsc == 2002
    held, sud = await harness.sender.wait_for(2)
    assert values([held]) == ["a"] and held.url == TARGET
    assert sud.url == SU and sud.pc["m2m:sgn"]["sud"] is True
    assert clock.due_times() == [] and harness.notifier.stats()["held"] == 0


async def test_the_last_notification_of_exc_is_held_and_sent_as_the_subscription_goes(harness):
    container, _ = await scheduled(harness, pn=2, exc=1)
    await harness.post(container, "last")
    assert values(await harness.sender.wait_for(1)) == ["last"]


async def test_a_schedule_that_never_opens_again_holds_without_a_timer(harness, clock, caplog):
    container, sub = await scheduled(harness, entries=["* * * * * * 2024"], pn=2)
    with caplog.at_level(logging.WARNING):
        await harness.post(container, "a")
    assert "never opens again" in caplog.text
    assert clock.due_times() == [] and harness.notifier.stats()["held"] == 1
    await harness.core.delete(f"{container}/{sub['rn']}/notificationSchedule", fr="Cmeter")
    assert values(await harness.sender.wait_for(1)) == ["a"]


# -- bounds -----------------------------------------------------------------------------------
async def test_at_most_queue_size_are_held_per_target_over_all_subscriptions(clock, sender, caplog):
    harness = build_harness(clock, sender, **{"notification.queue_size": 4})
    await harness.cse.start()
    try:
        container, _ = await scheduled(harness, pn=2)
        second = await harness.subscribe(container, enc=READINGS, pn=2)
        await harness.core.create(f"{container}/{second['rn']}", Ty.SCH, {"m2m:sch": {"se": {"sce": DAYTIME}}},
                                  fr="Cmeter")
        with caplog.at_level(logging.WARNING):
            for value in range(5):
                await harness.post(container, value)
        notifier = harness.notifier
        assert notifier.schedules.held_for(TARGET) == 4 and notifier.stats()["held"] == 4
        assert notifier.stats()["dropped_held"] == 6
        assert "more than 4 held for" in caplog.text
        clock.advance(EIGHT - MORNING)
        # the newest four, two per subscription
        assert sorted(values(await harness.sender.wait_for(4))) == ["3", "3", "4", "4"]
    finally:
        await harness.cse.stop()


# -- restart ----------------------------------------------------------------------------------
async def test_what_is_held_at_shutdown_is_held_again_after_the_restart(clock, tmp_path):
    settings = {"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}"}
    first_sender = RecordingSender()
    first = build_harness(clock, first_sender, **settings)
    await first.cse.start()
    try:
        container, _ = await scheduled(first, pn=2)
        await first.post(container, "before")
    finally:
        await first.cse.stop()
    assert first_sender.notifications() == []           # the window stayed shut

    second_sender = RecordingSender()
    second = build_harness(clock, second_sender, **settings)
    await second.cse.start()
    try:
        assert second.notifier.stats()["held"] == 1 and clock.due_times() == [EIGHT]
        await second.post(container, "after")
        await second.idle()
        assert second_sender.notifications() == []
        clock.advance(EIGHT - MORNING)
        assert values(await second_sender.wait_for(2)) == ["before", "after"]
    finally:
        await second.cse.stop()


async def test_an_expired_schedule_is_removed_by_the_reaper_and_releases_what_was_held(harness, clock):
    from cse.clock import format_timestamp

    container, sub = await scheduled(harness, pn=2)
    schedule = f"{container}/{sub['rn']}/notificationSchedule"
    expires = format_timestamp(clock.now() + 600)
    assert (await harness.core.update(schedule, {"m2m:sch": {"et": expires}}, fr="Cmeter")).rsc == 2004
    await harness.post(container, "a")
    clock.advance(601)                                   # 07:10: expired, the window still shut
    assert await harness.cse.reaper.reap_once() == 1
    assert values(await harness.sender.wait_for(1)) == ["a"]
    assert "_nsch" not in harness.cse.storage.get(sub["ri"])


async def test_a_batch_due_after_the_window_closed_is_dropped_without_pn(harness, clock):
    """Batched inside the window, due outside it: missed, all of it (counted one by one)."""
    clock.advance(at("2025-03-03 20:59:00") - MORNING)
    container, _ = await scheduled(harness, bn={"num": 10, "dur": "PT120S"})
    await harness.post(container, "a")
    await harness.post(container, "b")
    clock.advance(120)                                   # 21:01: the batch is due, the window shut
    await nothing_sent(harness)
    assert harness.notifier.stats()["dropped_outside_schedule"] == 2
