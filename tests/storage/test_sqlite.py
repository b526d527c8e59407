"""SQLite backend specifics: what happens when SQLite itself gives up a transaction, and
reopening the same storage object."""
from __future__ import annotations

import asyncio

import pytest

from cse.storage import StorageError, open_storage

from .conftest import add


@pytest.fixture
def sqlite_file(tmp_path):
    stores = []

    def open_one():
        store = open_storage(f"sqlite://{tmp_path / 'cse.sqlite'}")
        store.open()
        stores.append(store)
        return store

    yield open_one
    for store in stores:
        store.close()


async def test_a_full_disk_inside_a_transaction_fails_everyone_waiting(sqlite_file):
    """SQLITE_FULL makes SQLite roll back the whole open transaction, including writes of
    other requests that wait for the group commit: they must get an error, not a 2xxx."""
    store = sqlite_file()
    add(store, "cb", 5)
    await store.commit()
    store._db.execute("PRAGMA max_page_count=%d" % (store._db.execute("PRAGMA page_count").fetchone()[0] + 4))

    with store.transaction():
        add(store, "cb/other-request", 3)
    waiting = asyncio.ensure_future(store.commit())        # the other request awaits its commit
    await asyncio.sleep(0)

    with pytest.raises(StorageError, match="full"):
        with store.transaction():
            for i in range(100):
                add(store, f"cb/big{i}", 3, con="x" * 4000)
    with pytest.raises(StorageError, match="rolled back"):
        await asyncio.wait_for(waiting, timeout=5)
    assert store.get_by_path("cb/other-request") is None

    # The storage keeps working with atomic transactions afterwards.
    store._db.execute("PRAGMA max_page_count=1000000")
    with store.transaction():
        add(store, "cb/after", 3)
    await store.commit()
    store.close()
    again = sqlite_file()
    assert again.get_by_path("cb/after") is not None
    assert again.get_by_path("cb/big0") is None


async def test_reopening_the_same_object_restarts_the_checkpointer(sqlite_file):
    store = sqlite_file()
    store.close()
    store.open()
    assert store._checkpointer is not None and store._checkpointer.is_alive()
    add(store, "cb", 5)
    await store.commit()
    store.close()
    assert store._checkpointer is None


async def wal_peak_under_full_speed_creates(tmp_path, seconds: float, **settings) -> tuple[int, int]:
    """(largest WAL size seen, resources made) while 16 writers create as fast as they can."""
    import os
    import time

    from server.compose import build_cse
    from tests.conftest import CoreClient, make_config

    path = tmp_path / "wal.sqlite"
    cse = build_cse(make_config(**{"storage.url": f"sqlite://{path}", **settings}))
    await cse.start()
    client = CoreClient(cse)
    await client.register_ae("Cw", rn="w")
    await client.create("cse-in/w", 3, {"m2m:cnt": {"rn": "c", "mni": 1000000}}, fr="Cw")
    peak, made = 0, 0
    deadline = time.monotonic() + seconds
    payload = "x" * 2000

    async def writer() -> None:
        nonlocal peak, made
        while time.monotonic() < deadline:
            response = await client.create("cse-in/w/c", 4, {"m2m:cin": {"con": payload}}, fr="Cw")
            assert response.rsc == 2001, response.pc
            made += 1
            try:
                peak = max(peak, os.stat(f"{path}-wal").st_size)
            except FileNotFoundError:
                pass

    try:
        await asyncio.gather(*(writer() for _ in range(16)))
    finally:
        await cse.stop()
    return peak, made


async def test_the_wal_stays_bounded_at_full_speed(tmp_path):
    """Without the bound the WAL grows with every commit while writes never pause (the
    background PASSIVE checkpoint can never reset it): ~8 MB in these 6 s on a slow machine.
    With `storage.wal_max_bytes` it stays within the limit plus one group commit."""
    limit = 1024 * 1024
    peak, made = await wal_peak_under_full_speed_creates(tmp_path, 6.0, **{"storage.wal_max_bytes": limit})
    written = made * 2000
    assert written > 4 * limit, f"too slow a run to tell ({made} creates)"
    assert peak < 2 * limit, f"WAL reached {peak} bytes after {made} creates"
