"""Fixtures for the storage tests: every backend behind one `Storage` interface.

`backend` runs a test once per backend; `reopenable` once per backend that keeps data
(SQLite file, TinyDB directory, PostgreSQL).  `store` is an opened storage, closed
afterwards.  PostgreSQL tests each get a fresh schema on the shared test server
(tests/postgres.py), dropped afterwards.
"""
from __future__ import annotations

import pytest

from cse.storage import Storage, open_storage
from tests.postgres import TestSchema

BACKENDS = ["sqlite-memory", "sqlite-file", "tinydb", "postgresql"]
PERSISTENT = ["sqlite-file", "tinydb", "postgresql"]


def storage_url(backend: str, directory) -> str:
    if backend == "sqlite-memory":
        return "memory:"
    if backend == "sqlite-file":
        return f"sqlite://{directory / 'cse.sqlite'}"
    return f"tinydb://{directory / 'tinydb'}"


class Opener:
    """Opens (and reopens) the storage of one backend at one place; closes what it opened."""

    def __init__(self, backend: str, directory):
        self.backend = backend
        self.schema = TestSchema() if backend == "postgresql" else None
        self.url = self.schema.url if self.schema else storage_url(backend, directory)
        self.opened: list[Storage] = []

    def __call__(self, durability: str = "process") -> Storage:
        storage = open_storage(self.url, durability)
        storage.open()
        self.opened.append(storage)
        return storage

    def close_all(self) -> None:
        try:
            for storage in self.opened:
                storage.close()
        finally:
            if self.schema:
                self.schema.drop()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def opener(backend, tmp_path):
    opener = Opener(backend, tmp_path)
    yield opener
    opener.close_all()


@pytest.fixture
def store(opener) -> Storage:
    return opener()


@pytest.fixture(params=PERSISTENT)
def reopenable(request, tmp_path):
    opener = Opener(request.param, tmp_path)
    yield opener
    opener.close_all()


def add(store: Storage, path: str, ty: int = 3, **attributes) -> dict:
    """Insert a resource at `path` (its parent must exist, except for the root)."""
    parent_path, _, rn = path.rpartition("/")
    pi = store.get_by_path(parent_path)["ri"] if parent_path else ""
    resource = {"ty": ty, "ri": "r:" + path, "rn": rn, "pi": pi, "_path": path, **attributes}
    store.insert(resource)
    return resource


# Shared by the contract tests (test_contract*.py).
CNT, CIN, SUB = 3, 4, 23


def paths(resources) -> list[str]:
    return [r["_path"] for r in resources]


def names(resources) -> list[str]:
    return [r["rn"] for r in resources]


@pytest.fixture
def tree(store):
    """cb / {ae, aeX} ; ae / {cnt, cntX(lbl)} ; cnt / cin1..3 ; ae/cnt/sub ; ae/cntX/deep"""
    add(store, "cb", 5)
    add(store, "cb/ae", 2, lbl=["meter"])
    add(store, "cb/ae/cnt", CNT, lbl=["power", "meter"])
    for i in range(1, 4):
        add(store, f"cb/ae/cnt/cin{i}", CIN, cs=i * 10)
    add(store, "cb/ae/cnt/sub", SUB)
    add(store, "cb/ae/cntX", CNT, lbl=["power"])
    add(store, "cb/ae/cntX/deep", CNT, lbl=["power"])
    add(store, "cb/aeX", 2, lbl=["meter"])
    return store
