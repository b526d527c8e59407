"""The announcement queue (cse/federation/announcement.py): one entry per original however
often it changes, deletions carry the copies to remove, and the bound holds."""
from cse.events import Event, EventKind
from cse.federation.announcement import AnnouncementQueue
from resources import default_types


def cnt(ri: str, **attributes) -> dict:
    return {"ty": 3, "ri": ri, **attributes}


def test_one_entry_per_original_and_the_bound():
    queue = AnnouncementQueue(2, default_types())
    queue.publish([Event(EventKind.CREATED, cnt("c1", at=["/id-in"])),
                   Event(EventKind.CREATED, cnt("plain")),                      # not announced
                   Event(EventKind.UPDATED, cnt("c1", at=["/id-in"]), modified={"lbl": ["x"]}),
                   Event(EventKind.UPDATED, cnt("c1", at=["/id-in"]), modified={"cni": 3})])
    assert list(queue.entries) == ["c1"] and queue.dropped == 0
    copies = {"/id-in": {"ri": "/id-in/cntA1", "names": []}}
    queue.publish([Event(EventKind.DELETED, cnt("c1", at=["/id-in"], _ann=copies))])
    assert queue.entries["c1"].deleted == copies                # the sync became a deletion
    queue.publish([Event(EventKind.CREATED, cnt("c2", at=["/id-in"])),
                   Event(EventKind.CREATED, cnt("c3", at=["/id-in"]))])
    assert list(queue.entries) == ["c1", "c2"] and queue.dropped == 1


def test_updates_that_change_nothing_announced_are_not_queued():
    queue = AnnouncementQueue(10, default_types())
    queue.publish([Event(EventKind.UPDATED, cnt("c1", _ann={"/id-in": {}}), modified={"cni": 1, "cbs": 4})])
    assert not queue.entries
    queue.publish([Event(EventKind.UPDATED, cnt("c1", _ann={"/id-in": {}}), modified={"at": None})])
    assert list(queue.entries) == ["c1"]                        # de-announced: copies to delete


def test_new_entries_first_and_failed_ones_at_their_retry_time():
    queue = AnnouncementQueue(10, default_types())
    queue.publish([Event(EventKind.CREATED, cnt(ri, at=["/id-in"])) for ri in ("a", "b")])
    ri, entry = queue.take(now=0.0)
    assert ri == "a" and "a" not in queue.entries
    entry.attempts, entry.due = 1, 5.0
    queue.retry("a", entry)                                    # failed: again at t=5
    assert queue.take(now=1.0)[0] == "b"
    assert queue.take(now=1.0) is None and queue.next_due() == 5.0
    assert queue.take(now=5.0) == ("a", entry)
    # Changed while its sync was running: the new entry is taken at once, with the attempts.
    queue.publish([Event(EventKind.CREATED, cnt("c", at=["/id-in"]))])
    ri, entry = queue.take(now=6.0)
    queue.publish([Event(EventKind.UPDATED, cnt("c", at=["/id-in"]), modified={"lbl": ["y"]})])
    entry.attempts = 3
    queue.retry("c", entry)
    assert queue.take(now=6.0)[1].attempts == 3
