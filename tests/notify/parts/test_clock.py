"""The clock's timers: ManualClock runs them only when a test advances it."""
from __future__ import annotations

import asyncio

import pytest

from cse.clock import Clock, ManualClock


def test_advance_runs_what_falls_due_in_order_with_now_at_each_due_time():
    clock = ManualClock(100.0)
    ran = []
    clock.call_later(5, lambda: ran.append(("b", clock.now())))
    clock.call_later(2, lambda: ran.append(("a", clock.now())))
    clock.call_later(2, lambda: ran.append(("a2", clock.now())))     # same due time: scheduling order
    clock.call_later(9, lambda: ran.append(("c", clock.now())))
    clock.advance(4.9)
    assert ran == [("a", 102.0), ("a2", 102.0)] and clock.now() == 104.9
    clock.advance(0.1)
    assert ran[-1] == ("b", 105.0)
    assert clock.due_times() == [109.0]


def test_a_cancelled_timer_never_runs_and_a_zero_delay_waits_for_the_next_advance():
    clock = ManualClock(0.0)
    ran = []
    clock.call_later(1, ran.append, "cancelled").cancel()
    clock.call_later(0, ran.append, "now")
    clock.call_later(-3, ran.append, "past")         # due at once, not in the past
    assert ran == []
    clock.advance(0)
    assert ran == ["now", "past"]
    clock.advance(10)
    assert ran == ["now", "past"] and clock.due_times() == []


def test_a_timer_scheduled_by_a_callback_runs_within_the_same_advance_when_due():
    clock = ManualClock(0.0)
    ran = []
    clock.call_later(1, lambda: clock.call_later(1, ran.append, clock.now()))
    clock.advance(1.5)
    assert ran == []
    clock.advance(1)
    assert ran == [1.0]


def test_cancelled_timers_are_swept_so_the_heap_stays_bounded():
    clock = ManualClock(0.0)
    for _ in range(10_000):
        clock.call_later(60, lambda: None).cancel()
    kept = clock.call_later(60, lambda: None)
    assert len(clock._timers) <= 2048             # swept, not 10 001
    assert clock.due_times() == [60.0] and not kept.cancelled()


async def test_sleep_returns_once_time_is_advanced_past_it():
    clock = ManualClock(0.0)
    started, woke = asyncio.Event(), asyncio.Event()

    async def sleeper() -> None:
        started.set()                 # runs on into sleep() before the test resumes
        await clock.sleep(30)
        woke.set()

    task = asyncio.create_task(sleeper())
    await asyncio.wait_for(started.wait(), 5)
    assert clock.due_times() == [30.0]
    clock.advance(29)
    assert not woke.is_set() and clock.due_times() == [30.0]
    clock.advance(1)
    await asyncio.wait_for(woke.wait(), 5)
    await task
    assert clock.due_times() == []


async def test_a_cancelled_sleep_leaves_no_timer():
    clock = ManualClock(0.0)
    started = asyncio.Event()

    async def sleeper() -> None:
        started.set()
        await clock.sleep(30)

    task = asyncio.create_task(sleeper())
    await asyncio.wait_for(started.wait(), 5)
    assert clock.due_times() == [30.0]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.due_times() == []


async def test_the_real_clock_uses_the_event_loop():
    clock = Clock()
    done = asyncio.Event()
    clock.call_later(0, done.set)
    await asyncio.wait_for(done.wait(), 5)
    await asyncio.wait_for(clock.sleep(0), 5)

