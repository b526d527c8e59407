"""Batching (bn num/dur, ln): the Batches part alone with a manual clock, then through the
notifier and a recording sender."""
from __future__ import annotations

from cse.config import NotificationSettings
from cse.notify.batching import Batches
from cse.notify.matching import Subscription

from .conftest import READINGS, TARGET, values


def subscription(ri: str = "sub1", **attributes) -> Subscription:
    doc = {"ri": ri, "pi": "cnt", "ty": 23, "nu": [TARGET], **attributes}
    return Subscription.from_doc(doc, "/id-in", NotificationSettings(max_batch_size=5))


def batches(clock):
    sent: list[tuple[str, dict]] = []
    return Batches(clock, lambda sub, pc: sent.append((sub.ri, pc))), sent


def sgn(value) -> dict:
    return {"nev": {"rep": {"m2m:cin": {"con": str(value)}}, "net": 3}, "sur": "/id-in/sub1"}


def test_num_notifications_go_as_one_aggregated_notification(clock):
    part, sent = batches(clock)
    sub = subscription(bn={"num": 3})
    for value in range(7):
        part.add(sub, sgn(value))
    assert [[n["nev"]["rep"]["m2m:cin"]["con"] for n in pc["m2m:agn"]["m2m:sgn"]] for _, pc in sent] == \
        [["0", "1", "2"], ["3", "4", "5"]]
    assert part.held() == 1 and len(part) == 1


def test_dur_sends_what_accumulated_when_the_time_is_up(clock):
    part, sent = batches(clock)
    sub = subscription(bn={"num": 100, "dur": "PT10S"})
    part.add(sub, sgn("a"))
    clock.advance(4)
    part.add(sub, sgn("b"))                     # dur counts from the first one
    assert clock.due_times() == [clock.now() + 6]
    clock.advance(5.9)
    assert sent == []
    clock.advance(0.1)
    assert [pc["m2m:agn"]["m2m:sgn"] for _, pc in sent] == [[sgn("a"), sgn("b")]]
    assert part.held() == 0 and clock.due_times() == []
    part.add(sub, sgn("c"))                     # a new batch, with a new timer
    assert clock.due_times() == [clock.now() + 10]


def test_a_full_batch_cancels_its_timer(clock):
    part, sent = batches(clock)
    sub = subscription(bn={"num": 2, "dur": "PT10S"})
    part.add(sub, sgn(1))
    part.add(sub, sgn(2))
    assert len(sent) == 1 and clock.due_times() == []
    clock.advance(20)
    assert len(sent) == 1


def test_ln_sends_only_the_latest_of_each_batch(clock):
    part, sent = batches(clock)
    sub = subscription(bn={"num": 3}, ln=True)
    for value in range(5):
        part.add(sub, sgn(value))
    assert sent == [("sub1", {"m2m:sgn": sgn(2)})]
    assert part.held() == 1                    # "4" only: "3" was replaced
    part.flush("sub1")
    assert sent[-1] == ("sub1", {"m2m:sgn": sgn(4)})


def test_a_batch_never_holds_more_than_max_batch_size(clock):
    part, sent = batches(clock)
    sub = subscription(bn={"num": 10_000, "dur": "PT1H"})    # max_batch_size is 5 here
    for value in range(12):
        part.add(sub, sgn(value))
        assert part.held() <= 5
    assert [len(pc["m2m:agn"]["m2m:sgn"]) for _, pc in sent] == [5, 5]


def test_batches_are_per_subscription_and_flush_all_sends_every_one(clock):
    part, sent = batches(clock)
    one, two = subscription("one", bn={"num": 10}), subscription("two", bn={"num": 10})
    part.add(one, sgn(1))
    part.add(two, sgn(2))
    part.add(one, sgn(3))
    part.flush("nobody")                       # no batch: nothing
    assert sent == []
    part.flush_all()
    assert sorted((ri, len(pc["m2m:agn"]["m2m:sgn"])) for ri, pc in sent) == [("one", 2), ("two", 1)]
    assert len(part) == 0 and clock.due_times() == []


async def test_the_notifier_sends_a_batch_when_dur_passes_on_its_clock(harness):
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS, bn={"num": 100, "dur": "PT30S"})
    for value in range(3):
        await harness.post(container, value)
    assert harness.notifier.stats()["batched"] == 3 and harness.sender.notifications() == []
    harness.clock.advance(30)
    [batch] = await harness.sender.wait_for(1)
    assert [n["nev"]["rep"]["m2m:cin"]["con"] for n in batch.pc["m2m:agn"]["m2m:sgn"]] == ["0", "1", "2"]
    assert harness.notifier.stats()["batched"] == 0


async def test_changing_bn_sends_the_open_batch_first(harness):
    container = await harness.container()
    sub = await harness.subscribe(container, enc=READINGS, bn={"num": 10})
    await harness.post(container, "old")
    assert (await harness.core.update(sub["ri"], {"m2m:sub": {"bn": {"num": 2}}}, fr="Cmeter")).rsc == 2004
    [batch] = await harness.sender.wait_for(1)
    assert [n["nev"]["rep"]["m2m:cin"]["con"] for n in batch.pc["m2m:agn"]["m2m:sgn"]] == ["old"]
    await harness.post(container, "a")
    await harness.post(container, "b")
    second = (await harness.sender.wait_for(2))[1]
    assert len(second.pc["m2m:agn"]["m2m:sgn"]) == 2


async def test_with_ln_and_bn_the_latest_goes_with_event_category_latest(harness):
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS, bn={"num": 3}, ln=True)
    for value in range(3):
        await harness.post(container, value)
    [sent] = await harness.sender.wait_for(1)
    assert values([sent]) == ["2"] and sent.request.ec == 4


async def test_a_stop_sends_open_batches(clock, sender):
    from .conftest import build_harness
    harness = build_harness(clock, sender)
    await harness.cse.start()
    try:
        container = await harness.container()
        await harness.subscribe(container, TARGET, enc=READINGS, bn={"num": 100, "dur": "PT1H"})
        await harness.post(container, "x")
    finally:
        await harness.cse.stop()
    [batch] = sender.notifications()
    assert batch.pc["m2m:agn"]["m2m:sgn"][0]["nev"]["rep"]["m2m:cin"]["con"] == "x"
    assert clock.due_times() == []
