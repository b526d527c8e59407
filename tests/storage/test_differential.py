"""Random histories of writes and (nested, failing) transactions applied to the TinyDB
backend and to SQLite give the same answers to every query, also after the TinyDB
storage was reopened from its journal and after it was compacted; and the same histories
applied to PostgreSQL, also after it was reopened.  "burst" writes several resources with
no read in between, as CREATE and DELETE requests do (PostgreSQL batches those)."""
from __future__ import annotations

import asyncio
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pytest

from cse.storage import StorageError, open_storage
from cse.storage.postgresql import PostgresStorage
from cse.storage.tinydb import TinyDbStorage
from tests.postgres import TestSchema, connect

TYPES = (2, 3, 4, 23)
LABELS = ("a", "b", "c")
TIMES = (None, "20240101T000001", "20240101T000002", "20240101T000003")

labels = st.lists(st.sampled_from(LABELS), max_size=3)
index = st.integers(min_value=0, max_value=1000)
simple_op = st.one_of(
    st.tuples(st.just("insert"), index, st.sampled_from(TYPES), labels, st.sampled_from(TIMES),
              st.integers(0, 50)),
    st.tuples(st.just("insert_existing"), index),
    st.tuples(st.just("update"), index, st.none() | labels, st.sampled_from(TIMES), st.integers(0, 50),
              st.booleans()),
    st.tuples(st.just("delete"), index),
    st.tuples(st.just("delete_subtree"), index),
    st.tuples(st.just("prune_oldest"), index, st.sampled_from(TYPES)),
    st.tuples(st.just("burst"), index, st.integers(1, 3), labels, st.booleans(), st.booleans(), st.booleans()),
)
op = st.recursive(simple_op, lambda inner: st.tuples(st.just("tx"), st.lists(inner, max_size=6), st.booleans()),
                  max_leaves=30)


class Boom(Exception):
    pass


def inserts_in(operations) -> int:
    """How many names the operations use (so runners stay in step when one stops early)."""
    total = 0
    for operation in operations:
        if operation[0] == "insert":
            total += 1
        elif operation[0] == "burst":
            total += operation[2]
        elif operation[0] == "tx":
            total += inserts_in(operation[1])
    return total


class Runner:
    """Applies one history to a store, naming new resources in order.

    A refused write inside a transaction block fails that block (the contract: PostgreSQL
    may refuse it only when the block ends, and keeps nothing of a block with a refused
    write), so after one the block is rolled back on every backend."""

    def __init__(self, store):
        self.store = store
        self.counter = 0
        self.refused: list[bool] = []       # per open block: a write was refused in it
        store.insert({"ty": 5, "ri": "cb", "rn": "cb", "pi": "", "_path": "cb"})

    def existing(self) -> list[str]:
        return sorted(r["_path"] for r in [self.store.get("cb"), *self.store.descendants("cb")])

    def pick(self, number: int) -> dict:
        paths = self.existing()
        return self.store.get_by_path(paths[number % len(paths)])

    def apply(self, operation) -> None:
        kind = operation[0]
        store = self.store
        if kind == "tx":
            _, inner, fail = operation
            names = self.counter + inserts_in(inner)
            self.refused.append(False)
            try:
                with store.transaction():
                    for each in inner:
                        self.apply(each)
                    if fail or self.refused[-1]:
                        raise Boom()
            except (Boom, StorageError):
                pass
            finally:
                self.refused.pop()
                self.counter = names
            return
        if kind == "insert":
            _, number, ty, lbl, et, cs = operation
            parent = self.pick(number)
            self.counter += 1
            name = f"n{self.counter}"
            resource = {"ty": ty, "ri": f"ri-{name}", "rn": name, "pi": parent["ri"],
                        "_path": parent["_path"] + "/" + name, "cs": cs}
            if lbl:
                resource["lbl"] = lbl
            if et:
                resource["et"] = et
            store.insert(resource)
        elif kind == "insert_existing":
            clash = dict(self.pick(operation[1]))
            try:
                store.insert(clash)
            except StorageError:
                if self.refused:
                    self.refused[-1] = True
                return
            if not self.refused:
                raise AssertionError("a duplicate insert was accepted")
            self.refused[-1] = True         # refused when the block ends
        elif kind == "update":
            _, number, lbl, et, cs, name_changes = operation
            resource = self.pick(number)
            changed = ["cs", "et", "x"]
            if lbl is not None:
                resource["lbl"] = lbl
                changed.append("lbl")
            resource["cs"] = cs
            resource["x"] = resource.get("x", 0) + 1
            if et:
                resource["et"] = et
            else:
                resource.pop("et", None)
            store.update(resource, changed=changed if name_changes else None)
        elif kind == "delete":
            resource = self.pick(operation[1])
            if resource["ri"] != "cb" and not store.children(resource["ri"]):
                store.delete(resource["ri"])
        elif kind == "delete_subtree":
            resource = self.pick(operation[1])
            if resource["ri"] != "cb":
                store.delete_subtree(resource["_path"])
        elif kind == "burst":
            # One read, then only writes: new children, the parent updated twice, a new child
            # updated, and maybe one of them deleted again.
            _, number, count, lbl, relabel, update_child, delete_child = operation
            parent = self.pick(number)
            made = []
            for _ in range(count):
                self.counter += 1
                name = f"n{self.counter}"
                child = {"ty": 4, "ri": f"ri-{name}", "rn": name, "pi": parent["ri"],
                         "_path": parent["_path"] + "/" + name, "cs": self.counter % 7}
                if lbl:
                    child["lbl"] = lbl
                store.insert(child)
                made.append(child)
            parent["x"] = parent.get("x", 0) + 1
            store.update(parent, changed=("x",))
            if relabel:
                parent["lbl"] = list(reversed(lbl))[:1]
            parent["cs"] = (parent.get("cs") or 0) + 1
            store.update(parent, changed=("cs", "lbl") if relabel else ("cs",))
            if update_child:
                made[0]["cs"] = 99
                made[0]["lbl"] = ["c"]
                store.update(made[0])
            if delete_child:
                store.delete(made[-1]["ri"])
        elif kind == "prune_oldest":
            parent = self.pick(operation[1])
            oldest = store.edge_child(parent["ri"], operation[2], newest=False)
            if oldest is not None and not store.children(oldest["ri"]):
                store.delete(oldest["ri"])


def observe(store) -> dict:
    """Everything the queries say about the tree."""
    seen: dict = {"count": store.count()}
    everything = list(store.descendants("cb"))
    seen["all"] = everything
    for resource in [store.get("cb"), *everything]:
        ri, path = resource["ri"], resource["_path"]
        assert store.get(ri) == store.get_by_path(path) == resource
        seen[path] = {
            "children": [c["ri"] for c in store.children(ri)],
            "newest": [c["ri"] for c in store.children(ri, newest_first=True, offset=1, limit=3)],
            "by_type": {ty: [c["ri"] for c in store.children(ri, ty)] for ty in TYPES},
            "edges": {ty: [(store.edge_child(ri, ty, newest=n, now=now) or {}).get("ri")
                           for n in (True, False) for now in TIMES] for ty in TYPES},
            "stats": {ty: store.child_stats(ri, ty) for ty in TYPES},
            "below": [r["ri"] for r in store.descendants(path, max_level=2)],
            "typed": [r["ri"] for r in store.descendants(path, types=(4, 23))],
            "labelled": [r["ri"] for r in store.descendants(path, labels=["a", "c"])],
            "both": [r["ri"] for r in store.descendants(path, labels=["b"], types=[3], limit=2)],
        }
    # Resources with the same et may come in either order: compare what expired by when.
    seen["expired"] = {now: sorted(r["ri"] for r in store.expired(now, limit=1000)) for now in TIMES if now}
    return seen


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(op, max_size=25), st.booleans())
def test_tinydb_answers_like_sqlite(history, compact):
    reference = open_storage("memory:")
    reference.open()
    with tempfile.TemporaryDirectory() as directory:
        tiny = TinyDbStorage(directory)
        tiny.open()
        try:
            runners = [Runner(reference), Runner(tiny)]
            for operation in history:
                for runner in runners:
                    runner.apply(operation)
            expected = observe(reference)
            assert observe(tiny) == expected

            asyncio.run(tiny.commit())
            if compact:
                tiny._compact(background=False)
            tiny.close()
            tiny.open()
            assert observe(tiny) == expected
        finally:
            tiny.close()
            reference.close()



@pytest.fixture(scope="module")
def pg_schema():
    schema = TestSchema()
    yield schema
    schema.drop()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(op, max_size=25))
def test_postgresql_answers_like_sqlite(pg_schema, history):
    reference = open_storage("memory:")
    reference.open()
    pg = PostgresStorage(pg_schema.url)
    pg.open()
    with connect() as conn:
        conn.execute(f'TRUNCATE "{pg_schema.name}".resources, "{pg_schema.name}".labels')
    try:
        runners = [Runner(reference), Runner(pg)]
        for operation in history:
            for runner in runners:
                runner.apply(operation)
        expected = observe(reference)
        assert observe(pg) == expected
        pg.close()
        pg.open()
        assert observe(pg) == expected
    finally:
        pg.close()
        reference.close()
