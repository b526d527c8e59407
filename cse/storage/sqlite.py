"""SQLite backend (standard library): the default.

One connection, used only from the event-loop thread.  Writes go into an open transaction;
`commit()` lets every request that wrote in the same loop iteration share one COMMIT (group
commit), and each response waits for the commit that covers its own writes.

Durability: WAL journal.  With durability "process" (synchronous=NORMAL) a COMMIT has
handed the WAL frames to the operating system, so an acknowledged change survives kill -9
of the CSE; with "power" (synchronous=FULL) every COMMIT is also fsynced.  Checkpoints are
taken by a background thread on its own connection so that the request path never waits
for one.
"""
from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Iterator

import orjson

from .base import Storage, StorageError
from .group_commit import GroupCommit

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    seq   INTEGER PRIMARY KEY,
    ri    TEXT NOT NULL UNIQUE,
    pi    TEXT NOT NULL,
    ty    INTEGER NOT NULL,
    path  TEXT NOT NULL UNIQUE,
    depth INTEGER NOT NULL,
    et    TEXT,
    cs    INTEGER,
    doc   BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS resources_children ON resources(pi, ty, seq);
CREATE INDEX IF NOT EXISTS resources_expiry ON resources(et) WHERE et IS NOT NULL;
CREATE INDEX IF NOT EXISTS resources_type ON resources(ty, path);
CREATE TABLE IF NOT EXISTS labels (
    lbl  TEXT NOT NULL,
    path TEXT NOT NULL,
    ri   TEXT NOT NULL,
    PRIMARY KEY (lbl, path)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_ri ON labels(ri);
"""

_dumps = orjson.dumps
_loads = orjson.loads


def _subtree_bounds(path: str) -> tuple[str, str]:
    """Key range of everything strictly below `path` ("/" is followed by "0" in ASCII)."""
    return path + "/", path + "0"


def _depth(path: str) -> int:
    return path.count("/")


# Past this size the WAL is folded back and truncated right after a commit (see `_commit_now`).
WAL_LIMIT_BYTES = 64 * 1024 * 1024


class SqliteStorage(Storage):
    def __init__(self, filename: str, durability: str = "process", wal_limit_bytes: int = WAL_LIMIT_BYTES):
        self.filename = filename
        self.wal_limit_bytes = wal_limit_bytes
        self._wal_path = filename + "-wal"
        self.wal_truncations = 0
        self.url = f"sqlite://{filename}" if filename != ":memory:" else "memory:"
        self.durability = durability
        self._db: sqlite3.Connection | None = None
        self._group = GroupCommit(self._commit_now, lambda: self._savepoint_depth > 0)
        self.commit_times = self._group.times
        self._savepoint_depth = 0
        self._checkpointer: threading.Thread | None = None
        self._stop_checkpointer = threading.Event()

    @property
    def _open_db(self) -> sqlite3.Connection:
        db = self._db
        if db is None:
            raise StorageError(f"{self.url} is not open")
        return db

    # -- lifecycle ----------------------------------------------------------------------
    def open(self) -> None:
        if self.filename != ":memory:":
            Path(self.filename).parent.mkdir(parents=True, exist_ok=True)
        try:
            db = sqlite3.connect(self.filename, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=" + ("FULL" if self.durability == "power" else "NORMAL"))
            db.execute("PRAGMA temp_store=MEMORY")
            db.execute("PRAGMA cache_size=-65536")
            db.execute("PRAGMA wal_autocheckpoint=0" if self.filename != ":memory:" else "PRAGMA user_version")
            # A WAL reset after a checkpoint leaves the file at most this long (not its peak).
            db.execute(f"PRAGMA journal_size_limit={int(self.wal_limit_bytes)}")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open SQLite database {self.filename}: {exc}") from exc
        self._db = db
        if self.filename != ":memory:":
            self._stop_checkpointer.clear()      # set by an earlier close()
            self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="sqlite-checkpoint",
                                                  daemon=True)
            self._checkpointer.start()

    def close(self) -> None:
        self._stop_checkpointer.set()
        if self._checkpointer:
            self._checkpointer.join(timeout=5)
            self._checkpointer = None
        db = self._db
        if db is None:
            return
        error: StorageError | None = None
        if db.in_transaction:
            try:
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                error = StorageError(f"commit at close failed: {exc}")
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
        self._group.release(error)
        if self.filename != ":memory:":
            with contextlib.suppress(sqlite3.Error):
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.close()
        self._db = None
        if error is not None:
            raise error

    def _checkpoint_loop(self) -> None:
        """Fold the WAL back into the database off the request path."""
        try:
            conn = sqlite3.connect(self.filename, isolation_level=None, check_same_thread=False)
        except sqlite3.Error:
            return
        try:
            while not self._stop_checkpointer.wait(1.0):
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            conn.close()

    # -- write helpers ------------------------------------------------------------------
    def _write(self, sql: str, params: tuple) -> sqlite3.Cursor:
        db = self._open_db
        if not db.in_transaction:
            db.execute("BEGIN")
        try:
            return db.execute(sql, params)
        except sqlite3.Error as exc:
            if not db.in_transaction:
                self._transaction_lost(exc)
            if isinstance(exc, sqlite3.IntegrityError):
                raise StorageError(f"constraint violated: {exc}") from exc
            raise StorageError(str(exc)) from exc

    def _transaction_lost(self, cause: BaseException) -> None:
        """SQLite rolled back the whole open transaction by itself (disk full, I/O error):
        the changes of every request waiting for the group commit are gone, so none of
        them may be acknowledged."""
        log.error("SQLite rolled back the open transaction: %s", cause)
        self._group.release(StorageError(f"the transaction was rolled back by the database: {cause}"))

    def _set_labels(self, resource: dict, replace: bool) -> None:
        ri = resource["ri"]
        if replace:
            self._write("DELETE FROM labels WHERE ri = ?", (ri,))
        labels = resource.get("lbl")
        if labels:
            path = resource["_path"]
            for label in set(labels):
                if isinstance(label, str):
                    self._write("INSERT OR IGNORE INTO labels(lbl, path, ri) VALUES (?, ?, ?)",
                                (label, path, ri))

    # -- single resources ---------------------------------------------------------------
    def get(self, ri: str) -> dict | None:
        row = self._open_db.execute("SELECT doc FROM resources WHERE ri = ?", (ri,)).fetchone()
        return _loads(row[0]) if row else None

    def get_by_path(self, path: str) -> dict | None:
        row = self._open_db.execute("SELECT doc FROM resources WHERE path = ?", (path,)).fetchone()
        return _loads(row[0]) if row else None

    def insert(self, resource: dict) -> None:
        path = resource["_path"]
        self._write(
            "INSERT INTO resources(ri, pi, ty, path, depth, et, cs, doc) VALUES (?,?,?,?,?,?,?,?)",
            (resource["ri"], resource.get("pi") or "", resource["ty"], path, _depth(path),
             resource.get("et"), resource.get("cs"), _dumps(resource)))
        if resource.get("lbl"):
            self._set_labels(resource, replace=False)

    def update(self, resource: dict, changed: Iterable[str] | None = None) -> None:
        cursor = self._write("UPDATE resources SET et = ?, cs = ?, doc = ? WHERE ri = ?",
                             (resource.get("et"), resource.get("cs"), _dumps(resource), resource["ri"]))
        if cursor.rowcount == 0:
            raise StorageError(f"update of unknown resource {resource['ri']}")
        if changed is None or "lbl" in changed:
            self._set_labels(resource, replace=True)

    def delete(self, ri: str) -> None:
        self._write("DELETE FROM resources WHERE ri = ?", (ri,))
        self._write("DELETE FROM labels WHERE ri = ?", (ri,))

    def delete_subtree(self, path: str) -> int:
        low, high = _subtree_bounds(path)
        removed = self._write("DELETE FROM resources WHERE path = ? OR (path > ? AND path < ?)",
                              (path, low, high)).rowcount
        self._write("DELETE FROM labels WHERE path = ? OR (path > ? AND path < ?)", (path, low, high))
        return removed

    # -- queries ------------------------------------------------------------------------
    def children(self, pi: str, ty: int | None = None, *, limit: int | None = None,
                 offset: int = 0, newest_first: bool = False) -> list[dict]:
        order = "DESC" if newest_first else "ASC"
        limit_sql = -1 if limit is None else int(limit)
        if ty is None:
            sql = f"SELECT doc FROM resources WHERE pi = ? ORDER BY seq {order} LIMIT ? OFFSET ?"
            params: tuple = (pi, limit_sql, int(offset))
        else:
            sql = (f"SELECT doc FROM resources WHERE pi = ? AND ty = ? ORDER BY seq {order} "
                   "LIMIT ? OFFSET ?")
            params = (pi, ty, limit_sql, int(offset))
        return [_loads(row[0]) for row in self._open_db.execute(sql, params)]

    def edge_child(self, pi: str, ty: int, *, newest: bool, now: str | None = None) -> dict | None:
        order = "DESC" if newest else "ASC"
        if now is None:
            row = self._open_db.execute(
                f"SELECT doc FROM resources WHERE pi = ? AND ty = ? ORDER BY seq {order} LIMIT 1",
                (pi, ty)).fetchone()
        else:
            row = self._open_db.execute(
                f"SELECT doc FROM resources WHERE pi = ? AND ty = ? AND (et IS NULL OR et > ?) "
                f"ORDER BY seq {order} LIMIT 1", (pi, ty, now)).fetchone()
        return _loads(row[0]) if row else None

    def child_stats(self, pi: str, ty: int) -> tuple[int, int]:
        count, size = self._open_db.execute(
            "SELECT COUNT(*), COALESCE(SUM(cs), 0) FROM resources WHERE pi = ? AND ty = ?",
            (pi, ty)).fetchone()
        return int(count), int(size)

    def descendants(self, path: str, *, types: Iterable[int] | None = None,
                    labels: Iterable[str] | None = None, max_level: int | None = None,
                    limit: int | None = None) -> Iterator[dict]:
        low, high = _subtree_bounds(path)
        where = ["r.path > ?", "r.path < ?"]
        params: list = [low, high]
        source = "resources r"
        if labels is not None:
            label_list = list(labels)
            source = ("(SELECT DISTINCT ri FROM labels WHERE lbl IN (%s) AND path > ? AND path < ?) l "
                      "JOIN resources r ON r.ri = l.ri" % ",".join("?" * len(label_list)))
            params = label_list + [low, high] + params
        if types is not None:
            type_list = [int(t) for t in types]
            where.append("r.ty IN (%s)" % ",".join("?" * len(type_list)))
            params.extend(type_list)
        if max_level is not None:
            where.append("r.depth <= ?")
            params.append(_depth(path) + int(max_level))
        sql = f"SELECT r.doc FROM {source} WHERE {' AND '.join(where)} ORDER BY r.seq"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        for row in self._open_db.execute(sql, params).fetchall():
            yield _loads(row[0])

    def expired(self, now: str, limit: int = 500) -> list[dict]:
        rows = self._open_db.execute(
            "SELECT doc FROM resources WHERE et IS NOT NULL AND et <= ? ORDER BY et LIMIT ?",
            (now, limit)).fetchall()
        return [_loads(row[0]) for row in rows]

    def count(self) -> int:
        return self._open_db.execute("SELECT COUNT(*) FROM resources").fetchone()[0]

    # -- transactions -------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        db = self._open_db
        if not db.in_transaction:
            db.execute("BEGIN")
        name = f"sp{self._savepoint_depth}"
        self._savepoint_depth += 1
        db.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            # If SQLite already rolled back everything (SQLITE_FULL, IOERR), the savepoint
            # is gone with it and there is nothing left to undo here.
            if db.in_transaction:
                db.execute(f"ROLLBACK TO {name}")
                db.execute(f"RELEASE {name}")
            raise
        else:
            db.execute(f"RELEASE {name}")
        finally:
            self._savepoint_depth -= 1

    async def commit(self) -> None:
        if self._db is None or not self._db.in_transaction:
            return
        await self._group.wait()

    def _commit_now(self) -> None:
        db = self._open_db
        if db is None or not db.in_transaction:
            return
        try:
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            log.error("commit failed: %s", exc)
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")
            raise StorageError(f"commit failed: {exc}") from exc
        if self.filename != ":memory:":
            self._bound_wal(db)

    def _bound_wal(self, db: sqlite3.Connection) -> None:
        """Keep the WAL below `wal_limit_bytes` at any write rate.

        The background thread's PASSIVE checkpoints copy frames into the database, but the
        WAL file can only start over when a checkpoint has copied *all* of it, and under a
        steady stream of commits there is always a newer frame: the file then grows without
        end (1.5 GB in 75 s at full speed).  Here, between two transactions of the only
        writer, nothing newer can come: a TRUNCATE checkpoint copies what the background
        thread has not yet copied (usually little) and empties the file.  It costs one stat
        per commit, and the copy only when the limit is passed."""
        try:
            size = os.stat(self._wal_path).st_size
        except OSError:
            return
        if size <= self.wal_limit_bytes:
            return
        try:
            busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed: %s", exc)
            return
        if not busy:
            self.wal_truncations += 1


def open_sqlite(path: str, durability: str, wal_limit_bytes: int = WAL_LIMIT_BYTES) -> SqliteStorage:
    if path != ":memory:":
        path = os.path.abspath(path)
    return SqliteStorage(path, durability, wal_limit_bytes)
