"""The `Storage` contract, checked the same way against every backend."""
from __future__ import annotations

import pytest

from cse.storage import StorageError

from .conftest import CIN, CNT, SUB, add, names, paths


# -- single resources -----------------------------------------------------------------------
def test_get_and_get_by_path_return_what_was_inserted(store):
    resource = add(store, "cb", 5, ct="20240101T000000", poa=["http://a"], _own="CAdmin")
    assert store.get("r:cb") == resource
    assert store.get_by_path("cb") == resource
    assert store.get("nope") is None
    assert store.get_by_path("cb/nope") is None
    assert store.count() == 1


def test_returned_documents_are_copies(store):
    add(store, "cb", 5, srv=["3"])
    copy = store.get("r:cb")
    copy["srv"].append("4")
    copy["rn"] = "changed"
    assert store.get("r:cb")["srv"] == ["3"]
    assert store.get_by_path("cb")["rn"] == "cb"


@pytest.mark.parametrize("clash", ["ri", "path"])
def test_insert_refuses_duplicate_ri_or_path(store, clash):
    add(store, "cb", 5)
    first = add(store, "cb/a", CNT, con="first")
    duplicate = {"ty": CNT, "ri": "other", "rn": "a", "pi": "r:cb", "_path": "cb/a", "con": "second"}
    if clash == "ri":
        duplicate.update(ri=first["ri"], _path="cb/b", rn="b")
    with pytest.raises(StorageError, match="constraint"):
        store.insert(duplicate)
    assert store.get(first["ri"]) == first
    assert store.get_by_path("cb/a") == first
    assert store.get_by_path("cb/b") is None
    assert store.count() == 2
    assert paths(store.children("r:cb")) == ["cb/a"]


def test_update_replaces_the_document(store):
    add(store, "cb", 5)
    resource = add(store, "cb/a", CNT, cni=0)
    resource["cni"] = 5
    resource.pop("rn")
    store.update(resource, changed=("cni",))
    assert store.get("r:cb/a") == resource
    assert store.get_by_path("cb/a")["cni"] == 5


def test_update_of_unknown_resource_is_an_error(store):
    with pytest.raises(StorageError, match="unknown"):
        store.update({"ri": "ghost", "ty": CNT, "_path": "cb/ghost", "pi": "x"})
    assert store.count() == 0


def test_delete_removes_one_resource(store):
    add(store, "cb", 5)
    add(store, "cb/a", CNT)
    add(store, "cb/b", CNT)
    store.delete("r:cb/a")
    store.delete("unknown")          # no error
    assert store.get("r:cb/a") is None
    assert store.get_by_path("cb/a") is None
    assert paths(store.children("r:cb")) == ["cb/b"]
    assert store.count() == 2


def test_a_deleted_path_and_ri_can_be_used_again(store):
    add(store, "cb", 5)
    add(store, "cb/a", CNT, con="old")
    store.delete("r:cb/a")
    add(store, "cb/a", CNT, con="new")
    assert store.get_by_path("cb/a")["con"] == "new"
    assert paths(store.children("r:cb")) == ["cb/a"]


def test_delete_subtree_removes_everything_below_and_nothing_else(tree):
    add(tree, "cb/ae/cn", CNT)           # "cb/ae/cn" is a prefix of "cb/ae/cnt" but not below it
    add(tree, "cb/ae/cnt2", CNT)         # "cb/ae/cnt" is a prefix of "cb/ae/cnt2"
    removed = tree.delete_subtree("cb/ae/cnt")
    assert removed == 5                   # cnt, 3 instances, sub
    for path in ("cb/ae/cnt", "cb/ae/cnt/cin1", "cb/ae/cnt/sub"):
        assert tree.get_by_path(path) is None
    assert tree.get("r:cb/ae/cnt/cin2") is None
    for path in ("cb/ae/cn", "cb/ae/cnt2", "cb/ae/cntX", "cb/ae/cntX/deep", "cb/ae"):
        assert tree.get_by_path(path) is not None
    assert paths(tree.children("r:cb/ae")) == ["cb/ae/cntX", "cb/ae/cn", "cb/ae/cnt2"]
    assert tree.child_stats("r:cb/ae/cnt", CIN) == (0, 0)
    assert list(tree.descendants("cb", labels=["meter"])) == [tree.get_by_path("cb/ae"),
                                                               tree.get_by_path("cb/aeX")]
    assert tree.delete_subtree("cb/nothing") == 0
    assert tree.count() == 7


# -- children -------------------------------------------------------------------------------
@pytest.fixture
def mixed(store):
    """A container with instances and subscriptions created interleaved."""
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    order = [(CIN, "i1"), (SUB, "s1"), (CIN, "i2"), (CIN, "i3"), (SUB, "s2"), (CIN, "i4")]
    for ty, name in order:
        add(store, f"cb/c/{name}", ty, cs=1)
    return store


def test_children_in_creation_order_of_all_types(mixed):
    assert names(mixed.children("r:cb/c")) == ["i1", "s1", "i2", "i3", "s2", "i4"]
    assert names(mixed.children("r:cb/c", newest_first=True)) == ["i4", "s2", "i3", "i2", "s1", "i1"]


@pytest.mark.parametrize("kwargs, expected", [
    ({"ty": CIN}, ["i1", "i2", "i3", "i4"]),
    ({"ty": SUB}, ["s1", "s2"]),
    ({"ty": 99}, []),
    ({"ty": CIN, "limit": 2}, ["i1", "i2"]),
    ({"ty": CIN, "offset": 1, "limit": 2}, ["i2", "i3"]),
    ({"ty": CIN, "offset": 3}, ["i4"]),
    ({"ty": CIN, "offset": 10}, []),
    ({"ty": CIN, "limit": 0}, []),
    ({"ty": CIN, "newest_first": True, "limit": 3}, ["i4", "i3", "i2"]),
    ({"ty": CIN, "newest_first": True, "offset": 1, "limit": 2}, ["i3", "i2"]),
    ({"limit": 3}, ["i1", "s1", "i2"]),
    ({"offset": 2, "limit": 3}, ["i2", "i3", "s2"]),
    ({"newest_first": True, "offset": 1, "limit": 2}, ["s2", "i3"]),
])
def test_children_type_filter_limit_offset_and_order(mixed, kwargs, expected):
    assert names(mixed.children("r:cb/c", **kwargs)) == expected


def test_children_of_unknown_parent_or_leaf_is_empty(mixed):
    assert mixed.children("nobody") == []
    assert mixed.children("r:cb/c/i1") == []


def test_children_order_survives_deletes_in_the_middle(mixed):
    mixed.delete("r:cb/c/i2")
    mixed.delete("r:cb/c/s1")
    add(mixed, "cb/c/i5", CIN)
    assert names(mixed.children("r:cb/c")) == ["i1", "i3", "s2", "i4", "i5"]
    assert names(mixed.children("r:cb/c", CIN, newest_first=True)) == ["i5", "i4", "i3", "i1"]


def test_many_removals_of_the_oldest_keep_the_order(store):
    """A container pruned to its newest few (mni) over many inserts."""
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    for i in range(300):
        add(store, f"cb/c/i{i}", CIN, cs=1)
        if i >= 5:
            oldest = store.edge_child("r:cb/c", CIN, newest=False)
            store.delete(oldest["ri"])
    assert names(store.children("r:cb/c", CIN)) == [f"i{i}" for i in range(295, 300)]
    assert store.edge_child("r:cb/c", CIN, newest=False)["rn"] == "i295"
    assert store.child_stats("r:cb/c", CIN) == (5, 5)


# -- edge_child -----------------------------------------------------------------------------
def test_edge_child_newest_and_oldest(mixed):
    assert mixed.edge_child("r:cb/c", CIN, newest=True)["rn"] == "i4"
    assert mixed.edge_child("r:cb/c", CIN, newest=False)["rn"] == "i1"
    assert mixed.edge_child("r:cb/c", SUB, newest=True)["rn"] == "s2"
    assert mixed.edge_child("r:cb/c", 99, newest=True) is None
    assert mixed.edge_child("nobody", CIN, newest=True) is None
    mixed.delete("r:cb/c/i4")
    mixed.delete("r:cb/c/i1")
    assert mixed.edge_child("r:cb/c", CIN, newest=True)["rn"] == "i3"
    assert mixed.edge_child("r:cb/c", CIN, newest=False)["rn"] == "i2"


def test_edge_child_skips_children_expired_at_now(store):
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    add(store, "cb/c/old", CIN, et="20240101T000000")
    add(store, "cb/c/mid", CIN)
    add(store, "cb/c/new", CIN, et="20240101T000010")
    now = "20240101T000005"
    assert store.edge_child("r:cb/c", CIN, newest=False, now=now)["rn"] == "mid"
    assert store.edge_child("r:cb/c", CIN, newest=True, now=now)["rn"] == "new"
    later = "20240101T000010"            # et == now counts as expired
    assert store.edge_child("r:cb/c", CIN, newest=True, now=later)["rn"] == "mid"
    assert store.edge_child("r:cb/c", CIN, newest=True)["rn"] == "new"   # no now: no expiry check


# -- child_stats ----------------------------------------------------------------------------
def test_child_stats_counts_and_sums_sizes(store):
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    for i, size in enumerate((5, 7, 11)):
        add(store, f"cb/c/i{i}", CIN, cs=size)
    add(store, "cb/c/s", SUB)
    assert store.child_stats("r:cb/c", CIN) == (3, 23)
    assert store.child_stats("r:cb/c", SUB) == (1, 0)
    assert store.child_stats("r:cb/c", 99) == (0, 0)
    store.delete("r:cb/c/i1")
    assert store.child_stats("r:cb/c", CIN) == (2, 16)
    instance = store.get("r:cb/c/i0")
    instance["cs"] = 100
    store.update(instance)
    assert store.child_stats("r:cb/c", CIN) == (2, 111)


# -- descendants ----------------------------------------------------------------------------
def test_descendants_parents_before_children_in_creation_order(tree):
    found = paths(tree.descendants("cb"))
    assert found == ["cb/ae", "cb/ae/cnt", "cb/ae/cnt/cin1", "cb/ae/cnt/cin2", "cb/ae/cnt/cin3",
                     "cb/ae/cnt/sub", "cb/ae/cntX", "cb/ae/cntX/deep", "cb/aeX"]


@pytest.mark.parametrize("kwargs, expected", [
    ({"types": [CIN]}, ["cb/ae/cnt/cin1", "cb/ae/cnt/cin2", "cb/ae/cnt/cin3"]),
    ({"types": (SUB, 2)}, ["cb/ae", "cb/ae/cnt/sub", "cb/aeX"]),
    ({"types": []}, []),
    ({"labels": ["power"]}, ["cb/ae/cnt", "cb/ae/cntX", "cb/ae/cntX/deep"]),
    ({"labels": ["meter", "power"]}, ["cb/ae", "cb/ae/cnt", "cb/ae/cntX", "cb/ae/cntX/deep", "cb/aeX"]),
    ({"labels": ["none"]}, []),
    ({"labels": ["power"], "types": [2]}, []),
    ({"labels": ["meter"], "types": [CNT]}, ["cb/ae/cnt"]),
    ({"max_level": 1}, ["cb/ae", "cb/aeX"]),
    ({"max_level": 2}, ["cb/ae", "cb/ae/cnt", "cb/ae/cntX", "cb/aeX"]),
    ({"max_level": 0}, []),
    ({"max_level": 2, "labels": ["power"]}, ["cb/ae/cnt", "cb/ae/cntX"]),
    ({"max_level": 3, "types": [CIN]}, ["cb/ae/cnt/cin1", "cb/ae/cnt/cin2", "cb/ae/cnt/cin3"]),
    ({"max_level": 2, "types": [CIN]}, []),
    ({"limit": 3}, ["cb/ae", "cb/ae/cnt", "cb/ae/cnt/cin1"]),
    ({"limit": 2, "types": [CIN]}, ["cb/ae/cnt/cin1", "cb/ae/cnt/cin2"]),
    ({"limit": 1, "labels": ["power"]}, ["cb/ae/cnt"]),
])
def test_descendants_filters(tree, kwargs, expected):
    assert paths(tree.descendants("cb", **kwargs)) == expected


def test_descendants_of_a_subtree_do_not_leak_to_siblings_with_a_common_prefix(store):
    add(store, "cb", 5)
    for path in ("cb/a", "cb/a/b", "cb/a/b/x", "cb/a/bc", "cb/a/bc/y", "cb/a/b-", "cb/a/b0"):
        add(store, path, CNT, lbl=["l"])
    add(store, "cb/a/b/s", SUB, lbl=["l"])
    add(store, "cb/a/bc/s", SUB, lbl=["l"])
    assert paths(store.descendants("cb/a/b")) == ["cb/a/b/x", "cb/a/b/s"]
    assert paths(store.descendants("cb/a/b", types=[SUB])) == ["cb/a/b/s"]
    assert paths(store.descendants("cb/a/b", labels=["l"])) == ["cb/a/b/x", "cb/a/b/s"]
    assert paths(store.descendants("cb/a/b", labels=["l"], types=[CNT])) == ["cb/a/b/x"]
    assert store.delete_subtree("cb/a/b") == 3
    assert paths(store.descendants("cb/a")) == ["cb/a/bc", "cb/a/bc/y", "cb/a/b-", "cb/a/b0", "cb/a/bc/s"]


def test_descendants_of_a_leaf_or_unknown_path_are_empty(tree):
    assert list(tree.descendants("cb/ae/cnt/cin1")) == []
    assert list(tree.descendants("cb/nothing")) == []
    assert list(tree.descendants("cb/nothing", types=[CIN])) == []


def test_descendants_accept_one_shot_iterables(tree):
    found = tree.descendants("cb", types=iter([CIN]), labels=None)
    assert len(list(found)) == 3
    found = tree.descendants("cb", labels=(label for label in ["power"]))
    assert len(list(found)) == 3


def test_descendants_follow_a_big_subtree_with_a_rare_type(store):
    """The type/label indexes and the tree walk must give the same answers (a backend may
    pick either, depending on which is smaller)."""
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    for i in range(40):
        add(store, f"cb/c/i{i}", CIN)
        store.insert({"ty": CIN, "ri": f"x{i}", "rn": f"i{i}", "pi": "r:cb/c/i0", "_path": f"cb/c/i0/i{i}",
                      "lbl": ["l"]})
    add(store, "cb/c/s", SUB, lbl=["l"])
    add(store, "cb/d", CNT)
    add(store, "cb/d/s", SUB, lbl=["l"])
    add(store, "cb/d/i", CIN)
    assert paths(store.descendants("cb/c", types=[SUB])) == ["cb/c/s"]
    assert paths(store.descendants("cb/d", types=[SUB])) == ["cb/d/s"]
    assert paths(store.descendants("cb", types=[SUB])) == ["cb/c/s", "cb/d/s"]
    assert paths(store.descendants("cb/d", types=[CIN])) == ["cb/d/i"]
    assert len(list(store.descendants("cb/c", types=[CIN]))) == 80
    assert len(list(store.descendants("cb/c", types=[CIN], max_level=1))) == 40
    assert paths(store.descendants("cb/d", labels=["l"])) == ["cb/d/s"]
    assert paths(store.descendants("cb/d", labels=["l"], types=[SUB, CIN])) == ["cb/d/s"]
    assert len(list(store.descendants("cb/c", labels=["l"]))) == 41
    assert len(list(store.descendants("cb/c", labels=["l"], max_level=1))) == 1


# -- expiry ---------------------------------------------------------------------------------
def test_expired_soonest_first_with_limit(store):
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    add(store, "cb/c/b", CIN, et="20240101T000002")
    add(store, "cb/c/a", CIN, et="20240101T000001")
    add(store, "cb/c/never", CIN)
    add(store, "cb/c/later", CIN, et="20300101T000000")
    add(store, "cb/c/c", CIN, et="20240101T000003")
    assert names(store.expired("20240101T000003")) == ["a", "b", "c"]
    assert names(store.expired("20240101T000003", limit=2)) == ["a", "b"]
    assert names(store.expired("20240101T000002")) == ["a", "b"]        # et == now is expired
    assert store.expired("20231231T000000") == []
    # asking again gives the same answer (nothing is consumed)
    assert names(store.expired("20240101T000003")) == ["a", "b", "c"]


def test_expired_follows_updates_and_deletes(store):
    add(store, "cb", 5)
    add(store, "cb/c", CNT)
    first = add(store, "cb/c/a", CIN, et="20240101T000001")
    add(store, "cb/c/b", CIN, et="20240101T000002")
    never = add(store, "cb/c/n", CIN)
    first["et"] = "20300101T000000"
    store.update(first, changed=("et",))
    never["et"] = "20240101T000000"
    store.update(never, changed=("et",))
    store.delete("r:cb/c/b")
    assert names(store.expired("20240101T000005")) == ["n"]
    first["et"] = "20240101T000004"
    store.update(first)
    assert names(store.expired("20240101T000005")) == ["n", "a"]


def test_expired_stays_right_after_many_et_changes(store):
    add(store, "cb", 5)
    resource = add(store, "cb/a", CNT, et="20240101T000000")
    for second in range(1, 1500):
        resource["et"] = f"20240101T{second // 3600:02d}{second // 60 % 60:02d}{second % 60:02d}"
        store.update(resource, changed=("et",))
    assert store.expired("20240101T000100") == []
    assert names(store.expired("20240101T010000")) == ["a"]


# -- labels ---------------------------------------------------------------------------------
def test_label_index_follows_update_and_delete(tree):
    cnt = tree.get_by_path("cb/ae/cnt")
    cnt["lbl"] = ["gas"]
    tree.update(cnt, changed=("lbl",))
    assert paths(tree.descendants("cb", labels=["gas"])) == ["cb/ae/cnt"]
    assert "cb/ae/cnt" not in paths(tree.descendants("cb", labels=["power"]))
    assert "cb/ae/cnt" not in paths(tree.descendants("cb", labels=["meter"]))
    cnt["lbl"] = ["gas", "gas", "water"]
    tree.update(cnt)                      # changed unknown: labels are re-indexed too
    assert paths(tree.descendants("cb", labels=["water"])) == ["cb/ae/cnt"]
    assert paths(tree.descendants("cb", labels=["gas"])) == ["cb/ae/cnt"]
    del cnt["lbl"]
    tree.update(cnt, changed=("lbl",))
    assert list(tree.descendants("cb", labels=["gas", "water"])) == []
    tree.delete("r:cb/ae/cntX/deep")
    assert paths(tree.descendants("cb", labels=["power"])) == ["cb/ae/cntX"]
