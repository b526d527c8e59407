"""Subscription bookkeeping: exc and the deletion it causes, the sud notice, expiry, nse/nsi
statistics and their write interval, through the notifier and a recording sender."""
from __future__ import annotations

from cse.clock import format_timestamp
from cse.notify.bookkeeping import deletion_notice
from cse.config import NotificationSettings
from cse.notify.matching import Subscription

from .conftest import READINGS, SU, TARGET, values


async def test_exc_counts_down_in_storage_and_the_last_notification_deletes_the_subscription(harness):
    container = await harness.container()
    sub = await harness.subscribe(container, enc=READINGS, exc=3, su=SU)
    await harness.post(container, 1)
    assert (await harness.core.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]["exc"] == 2
    await harness.post(container, 2)
    await harness.post(container, 3)
    assert (await harness.core.retrieve(sub["ri"], fr="Cmeter")).rsc == 4004
    await harness.post(container, 4)
    await harness.idle()
    assert values(harness.sender.notifications(TARGET)) == ["1", "2", "3"]
    # The sud comes after the last notification of the subscription.
    [sud] = harness.sender.notifications(SU)
    assert sud.pc == {"m2m:sgn": {"sud": True, "sur": f"/id-in/{sub['ri']}", "cr": "Cmeter"}}
    assert harness.sender.sent.index(sud) > harness.sender.sent.index(harness.sender.notifications(TARGET)[-1])


async def test_the_deletion_by_exc_is_reported_to_the_parent_s_subscribers_which_may_run_out_too(harness):
    container = await harness.container()
    watcher = await harness.subscribe(container, "http://receiver.test/watcher", enc={"net": [4], "chty": [23]},
                                      exc=1)
    counted = await harness.subscribe(container, enc=READINGS, exc=1)
    await harness.post(container, "only")
    await harness.idle()
    assert values(harness.sender.notifications(TARGET)) == ["only"]
    [deleted] = harness.sender.notifications("http://receiver.test/watcher")
    assert deleted.pc["m2m:sgn"]["nev"]["net"] == 4
    assert deleted.pc["m2m:sgn"]["nev"]["rep"]["m2m:sub"]["ri"] == counted["ri"]
    # The watcher used its only notification on that: it is gone too, in the same publish.
    for sub in (counted, watcher):
        assert (await harness.core.retrieve(sub["ri"])).rsc == 4004


async def test_a_subscription_deleted_by_request_tells_its_subscriber_after_its_own_net_2(harness):
    container = await harness.container()
    sub = await harness.subscribe(container, enc={"net": [2, 3]}, su=SU)
    assert (await harness.core.delete(sub["ri"], fr="Cmeter")).rsc == 2002
    await harness.idle()
    assert [s.url for s in harness.sender.notifications()] == [SU]      # net 2: the watched resource, not the subscription
    assert harness.sender.notifications(SU)[0].pc["m2m:sgn"]["sud"] is True


async def test_an_expired_subscription_notifies_nothing_and_its_removal_tells_its_subscriber(harness):
    container = await harness.container()
    sub = await harness.subscribe(container, enc=READINGS, su=SU, et=format_timestamp(harness.clock.now() + 60))
    await harness.post(container, "before")
    harness.clock.advance(60)
    await harness.post(container, "after")             # expired, the reaper has not run
    assert await harness.cse.reaper.reap_once() == 1
    await harness.idle()
    assert values(harness.sender.notifications(TARGET)) == ["before"]
    [sud] = harness.sender.notifications(SU)
    assert sud.pc["m2m:sgn"] == {"sud": True, "sur": f"/id-in/{sub['ri']}", "cr": "Cmeter"}


def test_the_deletion_notice_goes_to_su_only():
    settings = NotificationSettings()
    doc = {"ri": "s1", "pi": "p", "ty": 23, "nu": [TARGET], "_rvi": "2a", "_ser": "cbor"}
    assert deletion_notice(Subscription.from_doc(doc, "/id-in", settings)) is None
    notice = deletion_notice(Subscription.from_doc({**doc, "su": SU}, "/id-in", settings))
    assert (notice.target.entry, notice.pc, notice.rvi, notice.serialization) == \
        (SU, {"m2m:sgn": {"sud": True, "sur": "/id-in/s1"}}, "2a", "cbor")
    # With a creator, the notice names it, as the verification request does.
    notice = deletion_notice(Subscription.from_doc({**doc, "su": SU, "_org": "Cmeter"}, "/id-in", settings))
    assert notice.pc == {"m2m:sgn": {"sud": True, "sur": "/id-in/s1", "cr": "Cmeter"}}


async def test_statistics_are_current_when_the_response_is_sent(harness):
    container = await harness.container()
    sub = await harness.subscribe(container, enc=READINGS, nse=True)
    assert "nsi" not in sub                          # no statistics yet: no nsi (not an empty list)
    harness.sender.hold()                            # nothing answered yet
    await harness.post(container, 0)
    # The event is counted before the response to the CREATE of the reading went out.
    stored = (await harness.core.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]["nsi"]
    assert stored == [{"tg": TARGET, "rqs": 0, "rsr": 0, "noec": 1}]
    harness.sender.release()
    for value in range(1, 3):
        await harness.post(container, value)
    await harness.idle()
    stored = (await harness.core.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]["nsi"]
    assert stored == [{"tg": TARGET, "rqs": 3, "rsr": 3, "noec": 3}]
    assert harness.clock.due_times() == []           # no timer: nothing is held back


async def test_statistics_count_unanswered_attempts_and_retries(harness):
    container = await harness.container()
    sub = await harness.subscribe(container, enc=READINGS, nse=True)
    harness.sender.answer(5103, times=1)             # the first attempt finds nobody
    await harness.post(container, "once")
    await harness.until(lambda: harness.delivery.totals["retries"] == 1, "one retry scheduled")
    harness.clock.advance(1.0)                       # retry_initial
    await harness.idle()
    stored = (await harness.core.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]["nsi"]
    assert stored == [{"tg": TARGET, "rqs": 2, "rsr": 1, "noec": 1}]


async def test_counters_of_deleted_subscriptions_do_not_stay_in_memory(harness):
    container = await harness.container()
    subs = [await harness.subscribe(container, f"http://receiver.test/{n}", enc=READINGS, nse=True)
            for n in range(3)]
    harness.sender.hold()
    await harness.post(container, 1)
    await harness.sender.wait_for(3)                 # in flight, unanswered
    for sub in subs:
        assert (await harness.core.delete(sub["ri"], fr="Cmeter")).rsc == 2002
    harness.sender.release()                         # late answers count an attempt again
    await harness.idle()
    assert len(harness.notifier.statistics) == 0    # dropped as the late answers came
