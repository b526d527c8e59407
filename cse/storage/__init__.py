"""Resource storage: the interface (`base.Storage`) and `open_storage(url)` to pick a backend."""
from __future__ import annotations

from .base import Storage, StorageError


def open_storage(url: str, durability: str = "process", *, wal_limit_bytes: int = 64 * 1024 * 1024) -> Storage:
    """sqlite:///abs/file.sqlite or sqlite://relative/file.sqlite, tinydb:// likewise
    (a directory), postgresql://[user[:password]@]host[:port]/database[?schema=NAME]
    (or postgres://), or memory: (SQLite in memory, for tests).  `wal_limit_bytes`: the
    largest SQLite WAL file (storage.wal_max_bytes)."""
    if url in ("memory:", "sqlite://:memory:", "sqlite:///:memory:"):
        from .sqlite import open_sqlite
        return open_sqlite(":memory:", durability)
    if url.startswith("sqlite://"):
        from .sqlite import open_sqlite
        return open_sqlite(url[len("sqlite://"):], durability, wal_limit_bytes)
    if url.startswith("tinydb://"):
        from .tinydb import open_tinydb
        return open_tinydb(url[len("tinydb://"):], durability)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgresql import open_postgresql
        return open_postgresql(url, durability)
    raise StorageError(f"unsupported storage URL {url!r} "
                       "(use sqlite:///file, tinydb:///dir, postgresql://host/database or memory:)")


__all__ = ["Storage", "StorageError", "open_storage"]
