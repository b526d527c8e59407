"""What only the TinyDB backend has: journal replay, torn tails, compaction into a TinyDB
file, the directory lock, and journal write failures."""
from __future__ import annotations

import errno
import json
import os

import pytest
from tinydb import TinyDB

from cse.storage import StorageError
from cse.storage.journal import JournalWriter, frame, journal_generations, journal_path
from cse.storage.tinydb import SNAPSHOT_NAME, TinyDbStorage

from .conftest import add

CNT, CIN = 3, 4


@pytest.fixture
def directory(tmp_path):
    return tmp_path / "tinydb"


@pytest.fixture
def opened(directory):
    """Opens TinyDB storages on `directory`; closes those still open at the end."""
    stores: list[TinyDbStorage] = []

    def open_one(**kwargs) -> TinyDbStorage:
        store = TinyDbStorage(str(directory), **kwargs)
        store.open()
        stores.append(store)
        return store

    yield open_one
    for store in stores:
        if store._index is not None:
            store.close()


def crash(store: TinyDbStorage) -> None:
    """What kill -9 leaves: the journal as written so far, no flush, no compaction."""
    store._journal.close()
    store._unlock()
    store._index = None
    store._group._waiters.clear()


def journals(directory) -> list[int]:
    return journal_generations(directory)


def current_journal(directory):
    return journal_path(directory, journals(directory)[-1])


async def test_clean_close_leaves_one_tinydb_file(opened, directory):
    store = opened()
    add(store, "cb", 5)
    add(store, "cb/c", CNT, lbl=["power"])
    for i in range(3):
        add(store, f"cb/c/i{i}", CIN, con=f"{i}")
    store.delete("r:cb/c/i1")
    await store.commit()
    store.close()

    db = TinyDB(str(directory / SNAPSHOT_NAME))         # plain TinyDB, stdlib json
    try:
        documents = db.table("resources").all()
        assert [d["_path"] for d in documents] == ["cb", "cb/c", "cb/c/i0", "cb/c/i2"]
        assert [d.doc_id for d in documents] == sorted(d.doc_id for d in documents)
        assert documents[1]["lbl"] == ["power"]
    finally:
        db.close()
    assert all(journal_path(directory, g).stat().st_size == 0 for g in journals(directory))


async def test_acknowledged_changes_survive_a_crash(opened):
    store = opened()
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    await store.commit()
    with store.transaction():
        add(store, "cb/c/i0", CIN, cs=3)
        container = store.get("r:cb/c")
        container["cni"] = 1
        store.update(container)
    await store.commit()
    crash(store)

    store = opened()
    assert store.get_by_path("cb/c/i0")["cs"] == 3
    assert store.get_by_path("cb/c")["cni"] == 1
    assert store.child_stats("r:cb/c", CIN) == (1, 3)


async def test_unacknowledged_changes_are_not_half_applied(opened):
    store = opened()
    add(store, "cb", 5)
    await store.commit()
    add(store, "cb/never-committed", CNT)
    crash(store)
    assert opened().get_by_path("cb/never-committed") is None


@pytest.mark.parametrize("tail", [b"0123abcd [[\"p\",9,{\"ri\"", b"\x00" * 100, b"garbage\n\x00\x00", b"\n"])
async def test_a_torn_last_line_is_dropped_and_writing_goes_on(opened, directory, tail):
    store = opened()
    add(store, "cb", 5)
    await store.commit()
    add(store, "cb/a", CNT)
    await store.commit()
    crash(store)
    with open(current_journal(directory), "ab") as handle:
        handle.write(tail)

    store = opened()
    assert store.get_by_path("cb/a") is not None
    add(store, "cb/b", CNT)
    await store.commit()
    crash(store)
    store = opened()
    assert store.get_by_path("cb/a") is not None
    assert store.get_by_path("cb/b") is not None


async def test_a_damaged_line_before_good_ones_refuses_to_open(opened, directory):
    store = opened()
    add(store, "cb", 5)
    await store.commit()
    add(store, "cb/a", CNT, con="x" * 50)
    await store.commit()
    add(store, "cb/b", CNT)
    await store.commit()
    crash(store)
    path = current_journal(directory)
    data = bytearray(path.read_bytes())
    second_line = data.index(b"\n") + 1
    data[second_line + 40] ^= 0x01          # one flipped bit in the middle line
    path.write_bytes(bytes(data))
    with pytest.raises(StorageError, match="damaged"):
        opened()


async def test_background_compaction_writes_a_snapshot_and_drops_old_journals(opened, directory):
    store = opened(compact_min_bytes=2000)
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    await store.commit()
    for i in range(60):
        add(store, f"cb/c/i{i}", CIN, con="reading %03d" % i, cs=11)
        await store.commit()
    store.wait_for_compaction()
    assert (directory / SNAPSHOT_NAME).exists()
    assert len(journals(directory)) == 1           # only the one being written
    assert journals(directory)[0] >= 1
    for i in range(60, 70):
        add(store, f"cb/c/i{i}", CIN, con="reading %03d" % i, cs=11)
        await store.commit()
    crash(store)

    store = opened()
    assert [r["rn"] for r in store.children("r:cb/c", CIN)] == [f"i{i}" for i in range(70)]
    assert store.child_stats("r:cb/c", CIN) == (70, 770)


async def test_a_compaction_cut_short_is_finished_at_open(opened, directory):
    """Crash after the new snapshot was renamed into place, before the old journal went:
    replaying it again over the snapshot must change nothing."""
    store = opened()
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    add(store, "cb/c/gone", CIN)
    await store.commit()
    store.delete("r:cb/c/gone")
    add(store, "cb/c/kept", CIN)
    await store.commit()
    old_generation = journals(directory)[-1]
    old_journal = journal_path(directory, old_generation).read_bytes()
    store.close()                                  # compacts into generation + 1
    journal_path(directory, old_generation).write_bytes(old_journal)
    (directory / (SNAPSHOT_NAME + ".tmp")).write_bytes(b'{"half a snap')   # an unfinished one

    store = opened()
    assert [r["rn"] for r in store.children("r:cb/c")] == ["kept"]
    assert store.count() == 3
    assert old_generation not in journals(directory)
    assert not (directory / (SNAPSHOT_NAME + ".tmp")).exists()


async def test_a_crash_before_the_snapshot_rename_replays_both_journals(opened, directory):
    store = opened()
    add(store, "cb", 5)
    await store.commit()
    store._compact(background=False)               # snapshot of generation 1
    add(store, "cb/one", CNT)
    await store.commit()
    snapshot = (directory / SNAPSHOT_NAME).read_bytes()
    first = journals(directory)[-1]
    first_journal = journal_path(directory, first).read_bytes()
    store._compact(background=False)
    add(store, "cb/two", CNT)
    await store.commit()
    crash(store)
    # put back the state just before the second rename: old snapshot, both journals
    (directory / SNAPSHOT_NAME).write_bytes(snapshot)
    journal_path(directory, first).write_bytes(first_journal)

    store = opened()
    assert store.get_by_path("cb/one") is not None
    assert store.get_by_path("cb/two") is not None


async def test_the_directory_is_locked_while_open(opened, directory):
    store = opened()
    with pytest.raises(StorageError, match="in use"):
        TinyDbStorage(str(directory)).open()
    store.close()
    opened().close()


async def test_a_failed_journal_write_fails_the_commit_and_is_retried(opened, directory, monkeypatch):
    store = opened()
    add(store, "cb", 5)
    await store.commit()
    size_before = current_journal(directory).stat().st_size

    def disk_full(fd, data):
        os.write(fd, bytes(data[:10]))              # a partial write, then the error
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store._journal, "_write", disk_full)
    add(store, "cb/a", CNT)
    with pytest.raises(StorageError, match="No space"):
        await store.commit()
    assert current_journal(directory).stat().st_size == size_before    # partial line removed
    monkeypatch.undo()
    add(store, "cb/b", CNT)
    await store.commit()
    crash(store)
    store = opened()
    assert store.get_by_path("cb/a") is not None     # written with the next commit
    assert store.get_by_path("cb/b") is not None


async def test_power_durability_commits_and_reopens(opened):
    store = opened(durability="power")
    add(store, "cb", 5)
    await store.commit()
    crash(store)
    assert opened(durability="power").get_by_path("cb") is not None


def test_a_snapshot_of_another_format_is_refused(directory):
    directory.mkdir()
    (directory / SNAPSHOT_NAME).write_text(json.dumps({"meta": {"1": {"generation": 0, "format": 99}}}))
    with pytest.raises(StorageError, match="format 99"):
        TinyDbStorage(str(directory)).open()


async def test_the_same_object_can_be_reopened(opened):
    store = opened()
    add(store, "cb", 5)
    store.close()
    store.open()
    assert store.get_by_path("cb") is not None
    store.close()


@pytest.mark.parametrize("operation, words", [
    (b'["x", 1]', "unknown journal operation"),
    (b'["p"]', "index out of range"),
    (b'["d"]', "index out of range"),
    (b"7", "not subscriptable"),
    (b'{"p": 1}', "0"),
    (b'["p", 1, {"ri": "x"}]', "ty"),            # a document without its type
])
def test_a_journal_with_malformed_operations_is_refused(directory, operation, words):
    directory.mkdir()
    writer = JournalWriter(journal_path(directory, 0), sync=False)
    writer.append(frame([operation]))
    writer.close()
    with pytest.raises(StorageError, match="cannot open") as refused:
        TinyDbStorage(str(directory)).open()
    assert words in str(refused.value)
