"""The notifier as the composition of its parts: publish on the request path, the order of
what a deletion sends, events after the stop, results of non-blocking requests."""
from __future__ import annotations

import logging

from cse.events import Event, EventKind

from .conftest import READINGS, TARGET, build_harness, values


async def test_publish_only_queues_sending_happens_afterwards(harness):
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS)
    parent = harness.cse.storage.get_by_path(container)
    before = len(harness.sender.sent)
    child = {"ri": "cin-x", "pi": parent["ri"], "ty": 4, "rn": "x", "con": "direct", "cs": 6,
             "_path": f"{container}/x"}
    harness.notifier.publish([Event(EventKind.CREATED, child, parent)])
    assert len(harness.sender.sent) == before            # queued; nothing sent or awaited yet
    assert harness.notifier.stats()["queued"] == 1
    [sent] = await harness.sender.wait_for(1)
    assert values([sent]) == ["direct"] and sent.request.fr == "/id-in" and sent.request.to == TARGET


async def test_a_deleted_batching_subscription_sends_its_net_2_in_its_batch_then_the_sud(harness):
    container = await harness.container()
    sub = await harness.subscribe(container, enc={"net": [2, 3], "chty": [4]}, bn={"num": 10}, su=TARGET)
    await harness.post(container, "a")
    await harness.post(container, "b")
    assert (await harness.core.delete(container, fr="Cmeter")).rsc == 2002
    batch, sud = await harness.sender.wait_for(2)
    nevs = [n["nev"] for n in batch.pc["m2m:agn"]["m2m:sgn"]]
    assert [n["net"] for n in nevs] == [3, 3, 2] and nevs[2]["rep"]["m2m:cnt"]["rn"] == "power"
    assert sud.pc == {"m2m:sgn": {"sud": True, "sur": f"/id-in/{sub['ri']}", "cr": "Cmeter"}}


async def test_one_failing_event_neither_escapes_nor_stops_the_others(harness, monkeypatch, caplog):
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS)
    parent = harness.cse.storage.get_by_path(container)
    render = harness.notifier._representation

    def fragile(subscription, resource, modified):
        if resource.get("con") == "bad":
            raise RuntimeError("cannot render")
        return render(subscription, resource, modified)

    monkeypatch.setattr(harness.notifier, "_representation", fragile)
    events = [Event(EventKind.CREATED, {"ri": f"c{n}", "pi": parent["ri"], "ty": 4, "con": con, "cs": 1}, parent)
              for n, con in enumerate(("bad", "good"))]
    harness.notifier.publish(events)
    assert "notifying created of c0 failed" in caplog.text
    assert values(await harness.sender.wait_for(1)) == ["good"]


async def test_events_after_the_stop_are_logged_not_notified(clock, sender, caplog):
    harness = build_harness(clock, sender)
    await harness.cse.start()
    container = await harness.container()
    await harness.subscribe(container, enc=READINGS)
    parent = harness.cse.storage.get_by_path(container)
    await harness.cse.stop()
    with caplog.at_level(logging.WARNING):
        harness.notifier.publish([Event(EventKind.CREATED, {"ri": "late", "pi": parent["ri"], "ty": 4}, parent)])
    assert "1 event(s) after the notifier stopped: not notified" in caplog.text
    assert sender.notifications() == []


async def test_a_non_blocking_result_is_delivered_like_a_notification(harness):
    harness.notifier.send_result(f"{TARGET}?ct=cbor", {"m2m:rsp": {"rsc": 2000}}, None)
    [sent] = await harness.sender.wait_for(1)
    assert sent.pc == {"m2m:rsp": {"rsc": 2000}} and sent.serialization == "cbor" and sent.url == TARGET
