"""The store of undelivered notifications: kept at a clean shutdown (bounded), read back
and resent first at the next start."""
from __future__ import annotations

import logging

import pytest

from cse.delivery import Notification
from cse.notification_target import parse_target
from cse.notify.commits import Commits
from cse.notify.pending import PENDING_KEY, PendingStore
from cse.storage import open_storage

from .conftest import READINGS, TARGET, build_harness, values
from .recording import RecordingSender

BASE = {"ri": "id-in", "ty": 5, "rn": "cse-in", "_path": "cse-in"}


@pytest.fixture
def storage():
    opened = open_storage("memory:")
    opened.open()
    with opened.transaction():
        opened.insert(dict(BASE))
    try:
        yield opened
    finally:
        opened.close()


def notification(n: int) -> Notification:
    return Notification(parse_target(f"http://receiver.test/{n}?ct=cbor"), f"sub{n}", {"m2m:sgn": {"n": n}},
                        ec=4, rvi="3", serialization="json", attempts=n, counted=bool(n % 2))


async def test_what_is_kept_comes_back_once_in_order_with_every_field(storage):
    store = PendingStore(storage, "/id-in", 100, Commits(storage))
    store.keep([notification(n) for n in range(3)])
    taken = store.take()
    assert [n.to_record() for n in taken] == [notification(n).to_record() for n in range(3)]
    assert taken[0].target.url == "http://receiver.test/0" and taken[0].target.serialization == "cbor"
    assert PENDING_KEY not in storage.get("id-in") and store.take() == []


async def test_at_most_max_persisted_are_kept_the_oldest_first(storage, caplog):
    store = PendingStore(storage, "/id-in", 3, Commits(storage))
    store.keep([notification(n) for n in range(5)])
    assert "2 undelivered notification(s) beyond notification.max_persisted (3)" in caplog.text
    store.keep([notification(9)])                     # already full: the bound is for the store
    assert [n.subscription for n in store.take()] == ["sub0", "sub1", "sub2"]


async def test_an_unreadable_record_is_skipped_and_logged(storage, caplog):
    base = storage.get("id-in")
    base[PENDING_KEY] = [{"t": "has space", "s": "x", "pc": {}}, {"s": "no target"},
                         notification(1).to_record()]
    with storage.transaction():
        storage.update(base)
    with caplog.at_level(logging.ERROR):
        taken = PendingStore(storage, "/id-in", 100, Commits(storage)).take()
    assert [n.subscription for n in taken] == ["sub1"]
    assert caplog.text.count("discarding an unreadable persisted notification") == 2


async def test_without_a_cse_base_nothing_is_kept_and_nothing_breaks(caplog):
    empty = open_storage("memory:")
    empty.open()
    try:
        store = PendingStore(empty, "/id-in", 100, Commits(empty))
        store.keep([notification(1)])
        assert "no CSEBase to keep 1 undelivered notification(s)" in caplog.text
        assert store.take() == []
    finally:
        empty.close()


async def test_a_clean_shutdown_keeps_what_was_not_delivered_and_the_next_start_sends_it_first(clock, tmp_path):
    settings = {"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}"}
    down = RecordingSender()
    first = build_harness(clock, down, **settings)
    await first.cse.start()
    try:
        container = await first.container()
        await first.subscribe(container, enc=READINGS)
        down.answer(5103)                              # the receiver is gone from here on
        for value in range(3):
            await first.post(container, value)
        await first.until(lambda: first.delivery.queues[TARGET].failing, "the target is failing")
    finally:
        await first.cse.stop()                         # in back-off: not waited for
    assert values(down.notifications()) == ["0"]       # tried once, before the back-off

    up = RecordingSender()
    second = build_harness(clock, up, **settings)
    await second.cse.start()
    try:
        await second.post(container, "new")
        await up.wait_for(4)
        assert values(up.notifications()) == ["0", "1", "2", "new"]
        assert PENDING_KEY not in second.cse.storage.get("id-in")
    finally:
        await second.cse.stop()
