"""What only the PostgreSQL backend has: the schema it migrates itself, when a change is
committed and flushed, row locks that end with the block, a lost connection, and indexes
that serve every hot query at 100,000 rows.  (The shared contract is in test_contract.py.)"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading

import pytest

from cse.storage import StorageError, open_storage
from cse.storage.pg_schema import MIGRATIONS
from cse.storage.postgresql import PostgresStorage
from tests.postgres import TestSchema, connect

from .conftest import add

CNT, CIN = 3, 4


@pytest.fixture
def schema():
    schema = TestSchema()
    yield schema
    schema.drop()


@pytest.fixture
def opened(schema):
    """Opens PostgresStorage objects on the test's schema; closes them afterwards."""
    stores = []

    def open_one(durability: str = "process", **options) -> PostgresStorage:
        store = PostgresStorage(schema.url, durability, **options)
        store.open()
        stores.append(store)
        return store

    yield open_one
    for store in stores:
        store.close()


@pytest.fixture
def peer():
    """Another session on the same server, as a second CSE worker would have."""
    with connect() as conn:
        yield conn


def version_of(schema: TestSchema) -> int:
    with connect() as conn:
        return conn.execute(f'SELECT version FROM "{schema.name}".cse_schema_version').fetchone()[0]


# -- schema and migrations ------------------------------------------------------------------
EXTRA_STEP = """
ALTER TABLE {s}.resources ADD COLUMN note text;
CREATE INDEX resources_note ON {s}.resources (note);
"""


def test_a_new_schema_is_created_at_the_current_version(schema, opened):
    store = opened()
    assert store.schema_version() == len(MIGRATIONS) == version_of(schema)
    with connect() as conn:
        indexes = {row[0] for row in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = %s",
                                                  (schema.name,))}
    assert {"resources_ri", "resources_path", "resources_children", "resources_type", "resources_expiry",
            "labels_pkey", "labels_ri"} <= indexes


def test_an_old_schema_is_migrated_and_keeps_its_data(schema, opened):
    old = opened()
    add(old, "cb", 5, lbl=["x"])
    add(old, "cb/c", CNT)
    old.close()

    new = opened(migrations=MIGRATIONS + (EXTRA_STEP,))
    assert version_of(schema) == len(MIGRATIONS) + 1
    assert new.get_by_path("cb/c")["ri"] == "r:cb/c"
    assert [r["_path"] for r in new.children("r:cb")] == ["cb/c"]
    with connect() as conn:
        columns = {row[0] for row in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'resources'",
            (schema.name,))}
    assert "note" in columns
    new.close()
    assert opened(migrations=MIGRATIONS + (EXTRA_STEP,)).count() == 2     # reopening migrates nothing


def test_a_schema_newer_than_this_cse_knows_is_refused(schema, opened):
    opened(migrations=MIGRATIONS + (EXTRA_STEP,)).close()
    newer = len(MIGRATIONS) + 1
    with pytest.raises(StorageError, match=f"has version {newer}, newer than this CSE knows "
                                           f"\\(up to {len(MIGRATIONS)}\\)"):
        opened()


def test_the_cse_refuses_to_start_on_a_newer_schema_and_says_why(schema, opened):
    opened().close()
    with connect() as conn:
        conn.execute(f'UPDATE "{schema.name}".cse_schema_version SET version = 99')
    run = subprocess.run([sys.executable, "-m", "cse", "--storage", schema.url, "--port", "0"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "has version 99, newer than this CSE knows" in run.stderr


def test_workers_starting_together_create_the_schema_once(schema):
    errors, stores = [], []
    start = threading.Barrier(4)

    def worker() -> None:
        store = PostgresStorage(schema.url)
        start.wait()
        try:
            store.open()
            stores.append(store)
        except StorageError as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        assert version_of(schema) == len(MIGRATIONS)
    finally:
        for store in stores:
            store.close()


# -- URLs -------------------------------------------------------------------------------------
def test_urls_select_the_backend_mask_the_password_and_check_the_schema():
    store = open_storage("postgres://cse:secret@127.0.0.1:5432/db?schema=tenant_1&sslmode=disable")
    assert isinstance(store, PostgresStorage)
    assert store.schema == "tenant_1"
    assert "secret" not in store.url and store.url.startswith("postgres://cse:***@127.0.0.1:5432/db")
    assert open_storage("postgresql://127.0.0.1/db").schema == "public"
    for bad in ("Tenant", "a-b", "x;drop", "1abc", ""):
        with pytest.raises(StorageError, match="schema"):
            open_storage(f"postgresql://127.0.0.1/db?schema={bad}")


def test_an_unreachable_server_is_a_storage_error_naming_it():
    from tests.conftest import free_port
    store = open_storage(f"postgresql://127.0.0.1:{free_port()}/db?connect_timeout=2")
    with pytest.raises(StorageError, match="cannot connect to PostgreSQL at postgresql://127.0.0.1"):
        store.open()


# -- transactions: committed at the end of the block, locks held only inside --------------------
def test_a_block_is_committed_and_unlocked_when_it_ends(schema, opened, peer):
    store = opened()
    add(store, "cb", 5)
    table = f'"{schema.name}".resources'
    with store.transaction():
        cnt = add(store, "cb/c", CNT)
        assert peer.execute(f"SELECT count(*) FROM {table} WHERE ri = 'r:cb/c'").fetchone()[0] == 0
        base = store.get("r:cb")
        base["lt"] = "x"
        store.update(base, changed=("lt",))
        # a second worker would wait for this row lock: it exists only inside the block
        peer.execute("SET lock_timeout = '50ms'")
        with pytest.raises(Exception, match="lock"):
            peer.execute(f"SELECT 1 FROM {table} WHERE ri = 'r:cb' FOR UPDATE")
    # no await needed: committed and visible to other sessions, and the lock is gone
    assert peer.execute(f"SELECT count(*) FROM {table} WHERE ri = 'r:cb/c'").fetchone()[0] == 1
    assert peer.execute(f"SELECT 1 FROM {table} WHERE ri = 'r:cb' FOR UPDATE NOWAIT").fetchone() == (1,)
    assert store.get(cnt["ri"]) == cnt


def test_a_block_that_only_reads_sends_no_transaction(opened, peer):
    store = opened()
    add(store, "cb", 5)
    pid = store._conn.info.backend_pid
    with store.transaction():
        store.get("r:cb")
        state = peer.execute("SELECT backend_xid IS NULL, state FROM pg_stat_activity WHERE pid = %s",
                             (pid,)).fetchone()
        assert state == (True, "idle")          # not "idle in transaction"


def test_a_failed_statement_caught_inside_a_block_still_fails_the_block(opened):
    store = opened()
    add(store, "cb", 5)
    with pytest.raises(StorageError, match="rolled back"):
        with store.transaction():
            add(store, "cb/a", CNT)
            with pytest.raises(StorageError, match="constraint"):
                add(store, "cb/a", CNT)         # caught here: PostgreSQL aborted the transaction
    assert store.get_by_path("cb/a") is None
    add(store, "cb/b", CNT)
    assert [r["rn"] for r in store.children("r:cb")] == ["b"]


def test_a_block_of_writes_only_is_one_statement_and_fails_whole(opened, peer):
    """CREATE-like blocks (writes, no read in between) go as one statement when the block
    ends; a duplicate or an update of an unknown resource in it fails the whole block."""
    store = opened()
    add(store, "cb", 5)
    base = store.get("r:cb")
    with store.transaction():
        store.insert({"ty": CNT, "ri": "r:cb/a", "rn": "a", "pi": "r:cb", "_path": "cb/a", "lbl": ["x"]})
        store.insert({"ty": CNT, "ri": "r:cb/b", "rn": "b", "pi": "r:cb", "_path": "cb/b"})
        base["cni"] = 2
        store.update(base, changed=("cni",))
        base["st"] = 1
        store.update(base, changed=("st",))          # the same row again: replaces the held write
        assert peer.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s AND state <> 'idle'",
                            (store._conn.info.backend_pid,)).fetchone()[0] == 0   # nothing sent yet
    assert [r["rn"] for r in store.children("r:cb")] == ["a", "b"]      # in creation order
    assert store.get("r:cb")["cni"] == 2 and store.get("r:cb")["st"] == 1
    assert [r["rn"] for r in store.descendants("cb", labels=["x"])] == ["a"]

    with pytest.raises(StorageError, match="constraint"):
        with store.transaction():
            store.insert({"ty": CNT, "ri": "r:cb/c", "rn": "c", "pi": "r:cb", "_path": "cb/c"})
            store.insert({"ty": CNT, "ri": "r:cb/a2", "rn": "a", "pi": "r:cb", "_path": "cb/a"})   # path taken
    with pytest.raises(StorageError, match="update of unknown resource r:cb/gone"):
        with store.transaction():
            store.insert({"ty": CNT, "ri": "r:cb/d", "rn": "d", "pi": "r:cb", "_path": "cb/d"})
            store.update({"ty": CNT, "ri": "r:cb/gone", "rn": "gone", "pi": "r:cb", "_path": "cb/gone"})
    assert [r["rn"] for r in store.children("r:cb")] == ["a", "b"]


def test_a_lost_connection_fails_the_calls_that_needed_it_then_reconnects(opened, peer):
    store = opened()
    add(store, "cb", 5)
    peer.execute("SELECT pg_terminate_backend(%s)", (store._conn.info.backend_pid,))
    with pytest.raises(StorageError, match="PostgreSQL failed"):
        store.get("r:cb")
    assert store.get("r:cb")["ri"] == "r:cb"           # reconnected

    with pytest.raises(StorageError):
        with store.transaction():
            add(store, "cb/lost", CNT)
            peer.execute("SELECT pg_terminate_backend(%s)", (store._conn.info.backend_pid,))
            add(store, "cb/lost2", CNT)
    with store.transaction():
        add(store, "cb/after", CNT)
    assert [r["rn"] for r in store.children("r:cb")] == ["after"]


# -- durability "power": the WAL is flushed before commit() returns ----------------------------
def wal_insert_lsn(peer) -> str:
    return peer.execute("SELECT pg_current_wal_insert_lsn()::text").fetchone()[0]


def flushed_past(peer, lsn: str) -> bool:
    return peer.execute("SELECT pg_current_wal_flush_lsn() >= %s::pg_lsn", (lsn,)).fetchone()[0]


async def test_power_commit_returns_once_the_wal_is_flushed_past_the_write(opened, peer):
    store = opened("power")
    for i in range(20):
        with store.transaction():
            add(store, f"r{i}", CNT, con="x" * 200)
        written = wal_insert_lsn(peer)        # at or after this block's commit record
        await asyncio.wait_for(store.commit(), timeout=10)
        assert flushed_past(peer, written), f"commit() returned before the WAL was flushed to {written}"


async def test_power_writers_of_one_loop_iteration_share_a_barrier(opened, peer):
    store = opened("power")
    before = store.flush_barriers
    missing = []

    async def writer(i: int) -> None:
        for j in range(5):
            with store.transaction():
                add(store, f"w{i}-{j}", CNT)
            written = wal_insert_lsn(peer)
            await store.commit()
            if not flushed_past(peer, written):
                missing.append((i, j))

    await asyncio.wait_for(asyncio.gather(*(writer(i) for i in range(20))), timeout=60)
    assert missing == []
    barriers = store.flush_barriers - before
    assert 1 <= barriers < 100, barriers
    assert store.count() == 100


async def test_process_commit_does_not_wait_for_a_flush(opened):
    store = opened("process")
    with store.transaction():
        add(store, "a", CNT)
    await asyncio.wait_for(store.commit(), timeout=5)
    assert store.flush_barriers == 0


async def test_a_failed_flush_is_a_storage_error_for_its_waiters(opened, peer):
    store = opened("power")
    add(store, "a", CNT)
    await store.commit()
    peer.execute("SELECT pg_terminate_backend(%s)", (store._barrier_conn.info.backend_pid,))
    add(store, "b", CNT)
    with pytest.raises(StorageError, match="flushing the PostgreSQL WAL failed"):
        await asyncio.wait_for(store.commit(), timeout=10)
    written = wal_insert_lsn(peer)
    await asyncio.wait_for(store.commit(), timeout=10)     # a new barrier connection covers "b"
    assert flushed_past(peer, written)


# -- indexes: every hot query is served by one at 100,000 rows --------------------------------
def fill(schema: TestSchema) -> None:
    """cse-in / 100 AEs / 100 containers each (10,000, label zone:<n>) / 10 instances each
    (100,000), every 1,000th instance with an et; built in SQL for speed."""
    s = f'"{schema.name}"'

    def rows(select: str) -> str:
        return (f"INSERT INTO {s}.resources(ri, pi, ty, path, depth, et, cs, doc) "
                "SELECT ri, pi, ty, path, depth, et::text, cs::bigint, convert_to(json_build_object("
                "'ri', ri, 'pi', pi, 'ty', ty, 'rn', split_part(path, '/', depth + 1), '_path', path)::text, 'UTF8') "
                f"FROM ({select}) x(ri, pi, ty, path, depth, et, cs);")

    with connect() as conn:
        conn.execute(
            rows("SELECT 'ae' || a, 'r:cse-in', 2, 'cse-in/ae' || a, 1, NULL, NULL::bigint "
                 "FROM generate_series(0, 99) a")
            + rows("SELECT 'cnt' || a || '-' || c, 'ae' || a, 3, 'cse-in/ae' || a || '/c' || c, 2, NULL, NULL "
                   "FROM generate_series(0, 99) a, generate_series(0, 99) c")
            + f"""INSERT INTO {s}.labels(lbl, path, ri)
                  SELECT 'zone:' || c, 'cse-in/ae' || a || '/c' || c, 'cnt' || a || '-' || c
                  FROM generate_series(0, 99) a, generate_series(0, 99) c;"""
            + rows("SELECT 'cin' || a || '-' || c || '-' || i, 'cnt' || a || '-' || c, 4, "
                   "'cse-in/ae' || a || '/c' || c || '/i' || i, 3, "
                   "CASE WHEN (a * 1000 + c * 10 + i) % 1000 = 0 THEN '20250101T000000' END, 10 "
                   "FROM generate_series(0, 99) a, generate_series(0, 99) c, generate_series(0, 9) i "
                   "ORDER BY 1")
            + f"ANALYZE {s}.resources; ANALYZE {s}.labels;")


def plan_nodes(peer, sql: str, params) -> list[dict]:
    plan = peer.execute("EXPLAIN (FORMAT JSON) " + sql, params).fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    nodes, stack = [], [plan[0]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append(node)
        stack.extend(node.get("Plans", []))
    return nodes


def test_every_hot_query_uses_an_index_at_100000_rows(schema, opened, peer):
    store = opened()
    add(store, "cse-in", 5)
    fill(schema)
    queries = {   # name: (expected index, (sql, parameters))
        "get": ("resources_ri", (store.statement("get"), ("cin7-7-7",))),
        "get_by_path": ("resources_path", (store.statement("get_by_path"), ("cse-in/ae7/c7/i7",))),
        "children": ("resources_children", (store.statement("children_ty_asc"), ("cnt7-7", 4, None, 0))),
        "children newest first": ("resources_children", (store.statement("children_desc"), ("cnt7-7", 10, 0))),
        "la": ("resources_children", (store.statement("edge_newest_live"), ("cnt7-7", 4, "20250101T000000"))),
        "ol": ("resources_children", (store.statement("edge_oldest"), ("cnt7-7", 4))),
        "child_stats": ("resources_children", (store.statement("child_stats"), ("cnt7-7", 4))),
        "expired": ("resources_expiry", (store.statement("expired"), ("20250101T000000", 500))),
        "descendants by type": ("resources_type", store.descendants_query("cse-in", types=[2])),
        "descendants by type in a subtree": ("resources_type", store.descendants_query("cse-in/ae7", types=[3])),
        "descendants of a subtree": ("resources_path", store.descendants_query("cse-in/ae7/c7")),
        "descendants by label": ("labels_pkey", store.descendants_query("cse-in", labels=["zone:7"])),
        "descendants by label and type": ("labels_pkey", store.descendants_query("cse-in/ae7", labels=["zone:7"],
                                                                                  types=[3])),
    }
    for name, (index, (sql, params)) in queries.items():
        nodes = plan_nodes(peer, sql, params)
        scans = [n["Node Type"] for n in nodes if "Scan" in n["Node Type"]]
        assert "Seq Scan" not in scans, f"{name}: {scans}"
        used = {n.get("Index Name") for n in nodes}
        assert index in used, f"{name}: {index} not in {used}"
    with connect() as conn:
        total = conn.execute(f'SELECT count(*) FROM "{schema.name}".resources').fetchone()[0]
    assert total == 1 + 100 + 10_000 + 100_000
    # and the storage answers them right on that data
    assert [r["ri"] for r in store.children("cnt7-7", CIN)][:2] == ["cin7-7-0", "cin7-7-1"]
    assert store.edge_child("cnt7-7", CIN, newest=True)["ri"] == "cin7-7-9"
    assert len(store.expired("20250101T000000")) == 100
    assert len(list(store.descendants("cse-in", labels=["zone:7"]))) == 100
