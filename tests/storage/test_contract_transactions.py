"""The `Storage` contract, checked the same way against every backend: transactions
(rollback, nesting), commit and durability."""
from __future__ import annotations

import asyncio

import pytest

from cse.storage import StorageError

from .conftest import CIN, CNT, SUB, add, names, paths


# -- transactions ---------------------------------------------------------------------------
def snapshot(store) -> dict:
    """Everything a reader can see of the tree built by the `tree` fixture."""
    return {
        "docs": {p: store.get_by_path(p) for p in paths(store.descendants("cb"))},
        "count": store.count(),
        "children": paths(store.children("r:cb/ae/cnt")),
        "newest": store.edge_child("r:cb/ae/cnt", CIN, newest=True),
        "oldest": store.edge_child("r:cb/ae/cnt", CIN, newest=False),
        "stats": store.child_stats("r:cb/ae/cnt", CIN),
        "power": paths(store.descendants("cb", labels=["power"])),
        "subs": paths(store.descendants("cb", types=[SUB])),
        "expired": names(store.expired("20990101T000000")),
    }


class Boom(Exception):
    pass


def change_everything(store) -> None:
    add(store, "cb/ae/cnt/cin4", CIN, cs=40, et="20240101T000000")
    oldest = store.edge_child("r:cb/ae/cnt", CIN, newest=False)     # pruning, as a container does
    store.delete(oldest["ri"])
    assert store.edge_child("r:cb/ae/cnt", CIN, newest=False)["rn"] == "cin2"
    store.delete("r:cb/ae/cnt/cin3")
    assert store.edge_child("r:cb/ae/cnt", CIN, newest=True)["rn"] == "cin4"
    cnt = store.get_by_path("cb/ae/cnt")
    cnt["lbl"] = ["other"]
    cnt["et"] = "20240101T000000"
    store.update(cnt, changed=("lbl", "et"))
    cin2 = store.get("r:cb/ae/cnt/cin2")
    cin2["cs"] = 999
    store.update(cin2, changed=("cs",))
    store.delete_subtree("cb/ae/cntX")
    add(store, "cb/ae/cntX", CNT, lbl=["power"])      # same path again, new resource


def test_rollback_restores_everything(tree):
    before = snapshot(tree)
    with pytest.raises(Boom):
        with tree.transaction():
            change_everything(tree)
            assert tree.get("r:cb/ae/cnt/cin1") is None
            raise Boom()
    assert snapshot(tree) == before
    # the rolled-back path and ri can be used normally afterwards
    add(tree, "cb/ae/cnt/cin4", CIN, cs=40)
    assert paths(tree.children("r:cb/ae/cnt", CIN))[-1] == "cb/ae/cnt/cin4"
    assert tree.child_stats("r:cb/ae/cnt", CIN) == (4, 100)


def test_a_storage_error_inside_a_transaction_rolls_it_back(tree):
    before = snapshot(tree)
    with pytest.raises(StorageError):
        with tree.transaction():
            add(tree, "cb/ae/cnt/cin4", CIN, cs=40)
            add(tree, "cb/ae/cnt/cin1", CIN)        # path exists
    assert snapshot(tree) == before


def test_nested_rollback_undoes_only_the_inner_part(tree):
    with tree.transaction():
        add(tree, "cb/ae/cnt/outer", CIN, cs=1)
        with pytest.raises(Boom):
            with tree.transaction():
                add(tree, "cb/ae/cnt/inner", CIN, cs=2)
                tree.delete("r:cb/ae/cnt/cin1")
                with tree.transaction():
                    tree.delete_subtree("cb/ae/cntX")
                raise Boom()
        tree.delete("r:cb/ae/cnt/cin2")
    assert names(tree.children("r:cb/ae/cnt", CIN)) == ["cin1", "cin3", "outer"]
    assert tree.get_by_path("cb/ae/cnt/inner") is None
    assert tree.get_by_path("cb/ae/cntX/deep") is not None
    assert tree.child_stats("r:cb/ae/cnt", CIN) == (3, 41)


def test_outer_rollback_undoes_a_finished_inner_transaction(tree):
    before = snapshot(tree)
    with pytest.raises(Boom):
        with tree.transaction():
            with tree.transaction():
                change_everything(tree)
            assert tree.get_by_path("cb/ae/cntX/deep") is None
            raise Boom()
    assert snapshot(tree) == before


async def test_rolled_back_changes_are_not_committed(reopenable):
    store = reopenable()
    add(store, "cb", 5)
    await store.commit()
    with pytest.raises(Boom):
        with store.transaction():
            add(store, "cb/gone", CNT)
            raise Boom()
    with store.transaction():
        add(store, "cb/kept", CNT)
    await store.commit()
    store.close()
    again = reopenable()
    assert again.get_by_path("cb/gone") is None
    assert again.get_by_path("cb/kept") is not None


# -- commit and durability ------------------------------------------------------------------
async def test_committed_changes_survive_close_and_reopen(reopenable):
    store = reopenable()
    add(store, "cb", 5)
    add(store, "cb/c", CNT, lbl=["power"], et="20240101T000009")
    for i in range(5):
        add(store, f"cb/c/i{i}", CIN, cs=i)
    cnt = store.get_by_path("cb/c")
    cnt["cni"] = 5
    store.update(cnt)
    store.delete("r:cb/c/i0")
    await store.commit()
    before = {p: store.get_by_path(p) for p in paths(store.descendants("cb"))}
    store.close()

    store = reopenable()
    assert {p: store.get_by_path(p) for p in paths(store.descendants("cb"))} == before
    assert store.get_by_path("cb/c")["cni"] == 5
    assert names(store.children("r:cb/c", CIN)) == ["i1", "i2", "i3", "i4"]
    assert store.child_stats("r:cb/c", CIN) == (4, 10)
    assert paths(store.descendants("cb", labels=["power"])) == ["cb/c"]
    assert names(store.expired("20240101T000010")) == ["c"]
    add(store, "cb/c/i5", CIN)           # creation order continues after a reopen
    assert store.edge_child("r:cb/c", CIN, newest=True)["rn"] == "i5"
    await store.commit()
    store.close()
    store = reopenable()
    assert names(store.children("r:cb/c", CIN)) == ["i1", "i2", "i3", "i4", "i5"]


async def test_close_makes_pending_changes_durable(reopenable):
    store = reopenable()
    add(store, "cb", 5)
    store.close()
    assert reopenable().get_by_path("cb") is not None


async def test_concurrent_writers_share_group_commits(reopenable):
    store = reopenable()
    add(store, "cb", 5)
    await store.commit()

    async def writer(i: int) -> None:
        for j in range(5):
            with store.transaction():
                add(store, f"cb/w{i}-{j}", CNT)
            await store.commit()
            await asyncio.sleep(0)

    await asyncio.gather(*(writer(i) for i in range(10)))
    store.close()
    store = reopenable()
    assert store.count() == 51


async def test_commit_without_changes_returns_at_once(store):
    await asyncio.wait_for(store.commit(), timeout=5)
    add(store, "cb", 5)
    await asyncio.wait_for(store.commit(), timeout=5)
    await asyncio.wait_for(store.commit(), timeout=5)


async def test_commit_waits_for_an_open_transaction_to_finish(store):
    """A group commit never writes half a transaction: it waits until the block ends."""
    add(store, "cb", 5)
    committed = asyncio.ensure_future(store.commit())
    with store.transaction():
        add(store, "cb/a", CNT)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert not committed.done()
    await asyncio.wait_for(committed, timeout=5)


async def test_commit_after_a_write_lets_the_loop_run_other_work(store):
    """Every backend yields to the event loop in commit(): a burst of writes never starves
    notification delivery or timers (the notification tests rely on that order)."""
    ran = []
    asyncio.get_running_loop().call_soon(ran.append, "other work")
    with store.transaction():
        add(store, "cb", 5)
    await store.commit()
    assert ran == ["other work"]
