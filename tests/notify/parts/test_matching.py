"""Matching: which subscriptions an event concerns, tested on the Matcher alone (stored
subscriptions, hand-made events, no delivery)."""
from __future__ import annotations

import itertools
import logging

import pytest

from cse.clock import format_timestamp
from cse.config import NotificationSettings
from cse.events import Event, EventKind
from cse.notify.matching import (CHILD_CREATED, CHILD_DELETED, DELETE, ENDED, UPDATE, Matcher, Subscription,
                                 SubscriptionCache)
from cse.storage import open_storage

CSE_ID = "/id-in"
CONTAINER = {"ri": "cnt1", "pi": "ae1", "ty": 3, "rn": "power", "_path": "cse-in/meter/power"}
_ri = itertools.count(1)


@pytest.fixture
def storage():
    opened = open_storage("memory:")
    opened.open()
    try:
        yield opened
    finally:
        opened.close()


def stored_subscription(storage, parent=CONTAINER, **attributes) -> dict:
    ri = f"sub{next(_ri)}"
    doc = {"ri": ri, "pi": parent["ri"], "ty": 23, "rn": ri, "_path": f"{parent['_path']}/{ri}",
           "nu": ["http://receiver.test/n"], **attributes}
    with storage.transaction():
        storage.insert(doc)
    return doc


def instance(cs: int = 4, ty: int = 4) -> dict:
    ri = f"cin{next(_ri)}"
    return {"ri": ri, "pi": CONTAINER["ri"], "ty": ty, "rn": ri, "cs": cs, "_path": f"{CONTAINER['_path']}/{ri}"}


class Readers:
    """A read check that answers `allowed` and records what it was asked, per event."""

    def __init__(self, allowed: bool = True):
        self.allowed = allowed
        self.asked: list[list[str]] = []

    def begin(self) -> None:
        self.asked.append([])

    def __call__(self, subscription, resource) -> bool:
        self.asked[-1].append(resource["ri"])
        return self.allowed


def matcher(storage, clock, may_read=None, **settings) -> Matcher:
    return Matcher(storage, clock, NotificationSettings(**settings), CSE_ID, may_read or Readers())


def created(resource: dict, parent: dict = CONTAINER) -> Event:
    return Event(EventKind.CREATED, resource, parent)


def matched(found) -> list[tuple[str, int]]:
    return [(subscription.ri, event_type) for subscription, event_type, _, _ in found]


@pytest.mark.parametrize("enc, event, wanted", [
    (None, "update", True),                                   # net defaults to [1]
    (None, "child", False),
    ({"net": [3]}, "child", True),
    ({"net": [3], "chty": [4]}, "child", True),
    ({"net": [3], "chty": [3]}, "child", False),              # a container child only
    ({"net": [1], "atr": ["lbl"]}, "update", True),           # the update touches lbl
    ({"net": [1], "atr": ["mni"]}, "update", False),
    ({"net": [3], "sza": 5}, "child", False),                 # the child is 4 bytes
    ({"net": [3], "szb": 5}, "child", True),
    ({"net": [3], "sza": 5, "szb": 2, "fo": 2}, "child", False),
    ({"net": [3], "sza": 2, "szb": 2, "fo": 2}, "child", True),
])
def test_enc_decides_which_events_a_subscription_wants(storage, clock, enc, event, wanted):
    sub = stored_subscription(storage, **({"enc": enc} if enc else {}))
    if event == "update":
        changed = dict(CONTAINER, lbl=["x"])
        found = matcher(storage, clock).match(Event(EventKind.UPDATED, changed, None, modified={"lbl": ["x"]}))
        expected = [(sub["ri"], UPDATE)]
    else:
        found = matcher(storage, clock).match(created(instance(cs=4)))
        expected = [(sub["ri"], CHILD_CREATED)]
    assert matched(found) == (expected if wanted else [])


def test_a_match_carries_what_the_notification_shows(storage, clock):
    stored_subscription(storage)
    changed = dict(CONTAINER, lbl=["x"])
    [(subscription, _, resource, modified)] = matcher(storage, clock).match(
        Event(EventKind.UPDATED, changed, None, modified={"lbl": ["x"]}))
    assert resource is changed and modified == {"lbl": ["x"]}
    assert subscription.sur == f"{CSE_ID}/{subscription.ri}"


def test_a_new_subscription_is_not_told_about_its_own_creation(storage, clock):
    older = stored_subscription(storage, enc={"net": [3]})
    newer = stored_subscription(storage, enc={"net": [3]})
    assert matched(matcher(storage, clock).match(created(newer))) == [(older["ri"], CHILD_CREATED)]


def test_an_expired_subscription_matches_nothing_before_the_reaper_removes_it(storage, clock):
    sub = stored_subscription(storage, enc={"net": [3]}, et=format_timestamp(clock.now() + 60))
    matching = matcher(storage, clock)
    assert matched(matching.match(created(instance()))) == [(sub["ri"], CHILD_CREATED)]
    clock.advance(60)
    assert matched(matching.match(created(instance()))) == []


def test_an_exhausted_subscription_wants_nothing(storage, clock):
    stored_subscription(storage, enc={"net": [3]})
    matching = matcher(storage, clock)
    [(subscription, _, _, _)] = matching.match(created(instance()))
    subscription.exhausted = True
    assert matching.match(created(instance())) == []


def test_creations_and_updates_need_read_access_deletions_do_not(storage, clock):
    sub = stored_subscription(storage, enc={"net": [1, 2, 3, 4]})
    refusing = Readers(allowed=False)
    matching = matcher(storage, clock, refusing)
    child = instance()
    assert matching.match(created(child)) == []
    assert matching.match(Event(EventKind.UPDATED, CONTAINER, None, modified={"lbl": []})) == []
    assert refusing.asked == [[child["ri"]], [CONTAINER["ri"]]]      # one access context per event
    deleted = Event(EventKind.DELETED, child, CONTAINER)
    assert matched(matching.match(deleted)) == [(sub["ri"], CHILD_DELETED)]
    assert len(refusing.asked) == 2


def test_an_event_nobody_subscribed_to_asks_no_access_question(storage, clock):
    readers = Readers()
    assert matcher(storage, clock, readers).match(created(instance())) == ()
    assert readers.asked == []


def test_the_cache_is_filled_once_and_emptied_by_subscription_events(storage, clock):
    first = stored_subscription(storage, enc={"net": [3]})
    matching = matcher(storage, clock)
    assert matched(matching.match(created(instance()))) == [(first["ri"], CHILD_CREATED)]
    # Stored without an event: the cached list does not know it yet (no query per event).
    second = stored_subscription(storage, enc={"net": [3]})
    assert matched(matching.match(created(instance()))) == [(first["ri"], CHILD_CREATED)]
    # Its creation event empties the parent's entry.
    matching.match(created(second))
    assert matched(matching.match(created(instance()))) == [(first["ri"], CHILD_CREATED),
                                                           (second["ri"], CHILD_CREATED)]
    # An update of a subscription does too.
    second["enc"] = {"net": [4]}
    with storage.transaction():
        storage.update(second)
    matching.match(Event(EventKind.UPDATED, second, CONTAINER, modified={"enc": second["enc"]}))
    assert matched(matching.match(created(instance()))) == [(first["ri"], CHILD_CREATED)]


def test_the_cache_holds_at_most_cache_size_resources_oldest_out_first(storage, clock):
    cache = SubscriptionCache(storage, 2, lambda doc: None)
    for ri in ("a", "b", "c"):
        assert cache.get(ri) == ()
    assert len(cache) == 2 and "a" not in cache and "b" in cache and "c" in cache
    cache.get("a")
    assert len(cache) == 2 and "b" not in cache


def test_the_matcher_s_cache_is_bounded_by_the_cache_size_setting(storage, clock):
    matching = matcher(storage, clock, cache_size=3)
    for n in range(10):
        parent = {"ri": f"p{n}", "ty": 3}
        matching.match(created(instance(), parent))
    assert len(matching.cache) == 3


def test_a_deletion_reports_net_2_then_the_end_of_each_removed_subscription_then_net_4(storage, clock):
    parent_sub = stored_subscription(storage, enc={"net": [4]})
    below = {"ri": "cnt2", "pi": CONTAINER["ri"], "ty": 3, "rn": "inner", "_path": f"{CONTAINER['_path']}/inner"}
    on_deleted = stored_subscription(storage, parent=below, enc={"net": [2]})
    quiet = stored_subscription(storage, parent=below)            # net [1]: no deletion notice
    event = Event(EventKind.DELETED, below, CONTAINER, removed_subscriptions=[on_deleted, quiet])
    found = matcher(storage, clock).match(event)
    assert matched(found) == [(on_deleted["ri"], DELETE), (on_deleted["ri"], ENDED), (quiet["ri"], ENDED),
                              (parent_sub["ri"], CHILD_DELETED)]
    assert found[0][2] is below            # what net 2 shows


def test_subscriptions_below_the_deleted_resource_report_what_they_watched(storage, clock):
    ae = {"ri": "ae1", "pi": "cb", "ty": 2, "rn": "meter", "_path": "cse-in/meter"}
    on_container = stored_subscription(storage, enc={"net": [2]})
    event = Event(EventKind.DELETED, ae, None, removed_subscriptions=[on_container],
                  removed_subscribed={CONTAINER["ri"]: CONTAINER})
    [deleted, ended] = matcher(storage, clock).match(event)
    assert deleted[1:3] == (DELETE, CONTAINER) and ended[1] == ENDED


def test_a_pruned_instance_is_not_reported_to_the_parent(storage, clock):
    stored_subscription(storage, enc={"net": [4]})
    pruned = Event(EventKind.DELETED, instance(), CONTAINER, notify_parent=False)
    assert matcher(storage, clock).match(pruned) == []


def test_a_subscription_that_cannot_be_compiled_is_left_out_and_logged(storage, clock, caplog):
    good = stored_subscription(storage, enc={"net": [3]})
    broken = stored_subscription(storage, enc={"net": [3]}, bn={"num": 2, "dur": "soon"})
    with caplog.at_level(logging.ERROR):
        found = matcher(storage, clock).match(created(instance()))
    assert matched(found) == [(good["ri"], CHILD_CREATED)]
    assert broken["ri"] in caplog.text and "bn/dur" in caplog.text


@pytest.mark.parametrize("bn, size, seconds", [
    ({"num": 3}, 3, 60.0),                      # default_batch_duration
    ({"num": 3, "dur": "PT2S"}, 3, 2.0),
    ({"num": 5000}, 1000, 60.0),                # capped by max_batch_size
    ({"dur": 1500}, 1000, 1.5),                 # no num: max_batch_size; a number is ms
])
def test_bn_is_compiled_with_its_bounds(bn, size, seconds):
    doc = {"ri": "s", "pi": "p", "ty": 23, "nu": ["http://x.test/"], "bn": bn}
    subscription = Subscription.from_doc(doc, CSE_ID, NotificationSettings())
    assert (subscription.batch_size, subscription.batch_seconds) == (size, seconds)


def test_bad_notification_targets_are_skipped_not_fatal(caplog):
    doc = {"ri": "s", "pi": "p", "ty": 23, "nu": ["http://x.test/", "has space"], "su": ""}
    subscription = Subscription.from_doc(doc, CSE_ID, NotificationSettings())
    assert [t.entry for t in subscription.targets] == ["http://x.test/"]
    assert subscription.subscriber is None and "white space" in caplog.text
