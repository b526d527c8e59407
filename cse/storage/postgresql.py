"""PostgreSQL backend (psycopg 3, synchronous connection): the store that several CSE
workers can share.

Why psycopg 3's blocking connection: the `Storage` interface is synchronous (a request's
reads and writes between two awaits never interleave with another's), so every call is one
blocking round trip on the loop thread.  psycopg's sync connection with server-side
prepared statements (prepare_threshold=0) and binary results measured 29 us for `get`,
32 us for `edge_child` and 43 us for an insert on loopback; asyncpg needs an event loop,
and driving it from synchronous code through a loop thread cost 75 / 79 / 110 us (awaited
natively it is 39 / 42 / 61 us): see bench/pg_drivers.py and docs/storage.md.

Transactions: one short PostgreSQL transaction per outermost `transaction()` block,
committed when the block ends, so row locks are held only inside a synchronous block and
never across an await (two workers can never wait on each other across their event loops).
Every write method is one SQL statement (labels are maintained in the same statement through
data-modifying CTEs), so a write outside a block is atomic on its own, in autocommit.
Inside a block, writes are held back (pg_batch.py) and sent as one statement when the block
ends, in autocommit: a CREATE contentInstance costs one round trip for its writes instead of
four (BEGIN, INSERT, UPDATE, COMMIT).  A read inside the block, a nested block, or a write
that cannot join the batch sends what is held first, after a BEGIN: from then on the block
is a real transaction, committed when it ends, with lazily created savepoints for nested
blocks.  Reads outside a block see committed data; inside one they also see the block's own
writes (READ COMMITTED).  A constraint violation inside a block may therefore surface when
the block ends rather than at the call: the block then fails as a whole.

Durability: every commit is made with synchronous_commit=off: committed and visible to
every connection when the block ends, so an acknowledged change survives kill -9 of the CSE
("process").  With "power", `await commit()` also waits for a flush barrier (pg_flush.py)
that makes the server's WAL durable up to and past that commit before the response goes
out.  With "process", a crash of the PostgreSQL server itself (not of the CSE) may lose
the last ~0.6 s of commits (3 x wal_writer_delay); use "power" where that matters.

A duplicate ri or path is refused by the database's unique indexes: StorageError, as in the
other backends.  A lost connection is a StorageError for the calls that needed it (and
their open block); the next call outside a block reconnects.

This module must never block on anything but its own connection's round trips, and never
await inside a transaction.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Iterable, Iterator

import orjson

from .base import Storage, StorageError
from .pg_batch import WriteBatch
from .pg_flush import FlushBarrier
from .pg_connect import connect, migrate
from .pg_connect import failure as _failure
from .pg_schema import MIGRATIONS, split_url, statements

try:
    import psycopg
    from psycopg.pq import TransactionStatus
except ImportError:          # the optional "postgresql" extra is not installed
    psycopg = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

_dumps = orjson.dumps
_loads = orjson.loads


def _subtree_bounds(path: str) -> tuple[str, str]:
    """Key range of everything strictly below `path` ("/" is followed by "0" in ASCII)."""
    return path + "/", path + "0"


def _labels(resource: dict) -> list[str]:
    labels = resource.get("lbl") or ()
    return sorted({label for label in labels if isinstance(label, str)})


class PostgresStorage(Storage):
    def __init__(self, url: str, durability: str = "process", *,
                 migrations: tuple[str, ...] = MIGRATIONS):
        if psycopg is None:
            raise StorageError("the PostgreSQL storage needs psycopg 3: "
                               "pip install 'onem2m-cse[postgresql]'")
        self._conninfo, self.schema, self.url = split_url(url)
        self.durability = durability
        self._migrations = migrations
        self._conn: "psycopg.Connection | None" = None
        self._cursor: "psycopg.Cursor | None" = None
        self._depth = 0              # open transaction() blocks
        self._opened = 0             # of those, how many exist on the server (BEGIN / savepoints)
        self._block_waiters: list[asyncio.Future] = []
        self._barrier_conn: "psycopg.Connection | None" = None
        self._flush = FlushBarrier(self._run_barrier)
        self._sql = statements('"' + self.schema + '"')
        # Writes of the open outermost block not sent yet (pg_batch.py).
        self._batch = WriteBatch('"' + self.schema + '"')

    @property
    def _db(self) -> "psycopg.Connection":
        if self._conn is None:
            raise StorageError("the storage is not open")
        return self._conn

    @property
    def _cur(self) -> "psycopg.Cursor":
        if self._cursor is None:
            raise StorageError("the storage is not open")
        return self._cursor

    # -- lifecycle ----------------------------------------------------------------------
    def open(self) -> None:
        try:
            self._connect()
            migrate(self._db, self.schema, self.url, self._migrations)
            if self.durability == "power":
                self._barrier_conn = connect(self._conninfo, self.url, "on")
                try:
                    self._barrier_conn.execute(self._sql["barrier_cleanup"], prepare=False)
                    row = self._barrier_conn.execute("SHOW fsync").fetchone()
                    fsync = row[0] if row else "unknown"
                except psycopg.Error as exc:
                    raise StorageError(f"PostgreSQL failed: {exc}") from exc
                if fsync != "on":
                    log.warning("PostgreSQL runs with fsync=%s: durability 'power' cannot hold", fsync)
                self._flush.open()
        except BaseException:
            for conn in (self._conn, self._barrier_conn):   # the caller will not close() us
                if conn is not None:
                    conn.close()
            self._conn = self._barrier_conn = None
            raise

    def close(self) -> None:
        error: StorageError | None = None
        conn = self._conn
        if conn is not None and not conn.closed:
            if self._batch and not self._opened:
                try:
                    self._send_batch()
                    self._flush.committed()
                except StorageError as exc:
                    error = exc
            if self._opened:
                try:
                    conn.execute("COMMIT", prepare=False)
                    self._flush.committed()
                except psycopg.Error as exc:
                    error = StorageError(f"commit at close failed: {exc}")
            self._opened = 0
        self._release_block_waiters(error)
        self._flush.close()
        if self._barrier_conn is not None:
            if self._flush.pending and error is None:
                try:
                    self._run_barrier()
                except StorageError as exc:
                    error = exc
            self._barrier_conn.close()
            self._barrier_conn = None
        if conn is not None:
            conn.close()
        self._conn = None
        if error is not None:
            raise error

    def _connect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = connect(self._conninfo, self.url, "off")
        self._cursor = self._conn.cursor(binary=True)
        self._opened = 0

    def _ready(self) -> None:
        """Reconnect after a lost connection, between blocks (inside one, its work is gone)."""
        conn = self._conn
        if conn is None:
            raise StorageError("the storage is not open")
        if conn.broken or conn.closed:
            if self._depth:
                raise StorageError("the connection to PostgreSQL was lost inside a transaction")
            log.warning("reconnecting to PostgreSQL at %s", self.url)
            self._connect()

    def schema_version(self) -> int:
        row = self._query(self._sql["version"], ()).fetchone()
        return int(row[0]) if row else 0

    # -- statements ---------------------------------------------------------------------
    def _query(self, sql: str, params: tuple | list):
        """A read: in the block's transaction if one was begun, else on its own."""
        if self._depth == 0:
            self._ready()
        elif self._batch:
            self._flush_batch()
        try:
            return self._cur.execute(sql, params)
        except psycopg.Error as exc:
            raise _failure(exc) from exc

    def _holding(self) -> bool:
        """Writes are held back: in the outermost block, before anything was sent."""
        return self._depth == 1 and self._opened == 0

    def _flush_batch(self) -> None:
        """Send the held writes inside a real transaction (BEGIN first)."""
        if self._opened < self._depth:
            self._begin()
        self._send_batch()

    def _send_batch(self) -> None:
        sql, params = self._batch.statement()
        self._batch.clear()
        try:
            self._cur.execute(sql, params)
        except psycopg.Error as exc:
            raise _failure(exc) from exc

    def _write(self, sql: str, params: tuple | list):
        """One write statement: inside the block's transaction (begun now if needed), or
        atomic on its own outside any block."""
        if self._depth == 0:
            self._ready()
        else:
            if self._batch:
                self._flush_batch()
            if self._opened < self._depth:
                self._begin()
        try:
            cursor = self._cur.execute(sql, params)
        except psycopg.Error as exc:
            raise _failure(exc) from exc
        if self._depth == 0:
            self._flush.committed()
        return cursor

    def _begin(self) -> None:
        """Send the BEGIN / SAVEPOINTs of the blocks opened since the last write."""
        commands = []
        for level in range(self._opened + 1, self._depth + 1):
            commands.append("BEGIN" if level == 1 else f"SAVEPOINT sp{level}")
        try:
            self._db.execute("; ".join(commands), prepare=False)
        except psycopg.Error as exc:
            raise _failure(exc) from exc
        self._opened = self._depth

    # -- single resources ---------------------------------------------------------------
    def get(self, ri: str) -> dict | None:
        row = self._query(self._sql["get"], (ri,)).fetchone()
        return _loads(row[0]) if row else None

    def get_by_path(self, path: str) -> dict | None:
        row = self._query(self._sql["get_by_path"], (path,)).fetchone()
        return _loads(row[0]) if row else None

    def insert(self, resource: dict) -> None:
        path = resource["_path"]
        params = [resource["ri"], resource.get("pi") or "", resource["ty"], path, path.count("/"),
                  resource.get("et"), resource.get("cs"), _dumps(resource)]
        labels = _labels(resource)
        if self._holding() and self._batch.insert(params, labels):
            return
        if labels:
            self._write(self._sql["insert_labelled"], params + [labels])
        else:
            self._write(self._sql["insert"], params)

    def update(self, resource: dict, changed: Iterable[str] | None = None) -> None:
        doc = _dumps(resource)
        labels = _labels(resource) if changed is None or "lbl" in changed else None
        if self._holding() and self._batch.update(resource["ri"], resource.get("et"), resource.get("cs"), doc,
                                                  labels):
            return
        params = [resource.get("et"), resource.get("cs"), doc, resource["ri"]]
        if labels is not None:
            found = self._write(self._sql["update_labels"], params + [labels, labels]).fetchone()[0]
        else:
            found = self._write(self._sql["update"], params).rowcount
        if not found:
            raise StorageError(f"update of unknown resource {resource['ri']}")

    def delete(self, ri: str) -> None:
        if self._holding() and self._batch.delete(ri):
            return
        self._write(self._sql["delete"], (ri, ri))

    def delete_subtree(self, path: str) -> int:
        low, high = _subtree_bounds(path)
        return int(self._write(self._sql["delete_subtree"], (path, low, high, path, low, high)).fetchone()[0])

    # -- queries ------------------------------------------------------------------------
    def children(self, pi: str, ty: int | None = None, *, limit: int | None = None,
                 offset: int = 0, newest_first: bool = False) -> list[dict]:
        order = "desc" if newest_first else "asc"
        limit = None if limit is None else int(limit)
        if ty is None:
            cursor = self._query(self._sql["children_" + order], (pi, limit, int(offset)))
        else:
            cursor = self._query(self._sql["children_ty_" + order], (pi, ty, limit, int(offset)))
        return [_loads(row[0]) for row in cursor.fetchall()]

    def edge_child(self, pi: str, ty: int, *, newest: bool, now: str | None = None) -> dict | None:
        name = "edge_newest" if newest else "edge_oldest"
        if now is None:
            row = self._query(self._sql[name], (pi, ty)).fetchone()
        else:
            row = self._query(self._sql[name + "_live"], (pi, ty, now)).fetchone()
        return _loads(row[0]) if row else None

    def child_stats(self, pi: str, ty: int) -> tuple[int, int]:
        count, size = self._query(self._sql["child_stats"], (pi, ty)).fetchone()
        return int(count), int(size)

    def descendants(self, path: str, *, types: Iterable[int] | None = None,
                    labels: Iterable[str] | None = None, max_level: int | None = None,
                    limit: int | None = None) -> Iterator[dict]:
        sql, params = self.descendants_query(path, types=types, labels=labels, max_level=max_level, limit=limit)
        for row in self._query(sql, params).fetchall():
            yield _loads(row[0])

    def descendants_query(self, path: str, *, types: Iterable[int] | None = None,
                          labels: Iterable[str] | None = None, max_level: int | None = None,
                          limit: int | None = None) -> tuple[str, list]:
        """The SQL of `descendants` and its parameters (tests EXPLAIN it)."""
        low, high = _subtree_bounds(path)
        resources = self._sql["resources"]
        where = ["r.path > %s", "r.path < %s"]
        params: list = [low, high]
        source = f"{resources} r"
        if labels is not None:
            # LATERAL ... OFFSET 0: one lookup by ri per labelled row, whatever the statistics
            # say (a fresh, not yet analysed table made it scan all containers per label)
            source = (f"(SELECT DISTINCT ri FROM {self._sql['labels']} WHERE lbl = ANY(%s) "
                      f"AND path > %s AND path < %s) l CROSS JOIN LATERAL "
                      f"(SELECT * FROM {resources} x WHERE x.ri = l.ri OFFSET 0) r")
            params = [[str(label) for label in labels], low, high] + params
        if types is not None:
            where.append("r.ty = ANY(%s)")
            params.append([int(t) for t in types])
        if max_level is not None:
            where.append("r.depth <= %s")
            params.append(path.count("/") + int(max_level))
        sql = f"SELECT r.doc FROM {source} WHERE {' AND '.join(where)} ORDER BY r.seq"
        if limit is not None:
            sql += " LIMIT %s"
            params.append(int(limit))
        return sql, params

    def expired(self, now: str, limit: int = 500) -> list[dict]:
        return [_loads(row[0]) for row in self._query(self._sql["expired"], (now, int(limit))).fetchall()]

    def count(self) -> int:
        return int(self._query(self._sql["count"], ()).fetchone()[0])

    # -- transactions -------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth == 0:
            self._ready()
        elif self._batch:
            self._flush_batch()           # a nested block may roll back to here
        self._depth += 1
        level = self._depth
        finished = False
        try:
            yield
            finished = True
        finally:
            self._depth = level - 1
            if finished:
                self._end(level)
            else:
                self._undo(level)

    def _end(self, level: int) -> None:
        if level == 1 and self._batch and not self._opened:
            try:                          # the whole block in one statement
                self._send_batch()
            except StorageError as failed:
                self._release_block_waiters(failed)
                raise
            self._release_block_waiters(None)
            self._flush.committed()
            return
        if self._opened < level:          # nothing was written in this block
            if level == 1:
                self._release_block_waiters(None)
            return
        conn = self._db
        healthy = conn.info.transaction_status == TransactionStatus.INTRANS
        if level > 1:
            if not healthy:
                self._undo(level)
                raise StorageError("a statement of this transaction failed; it was rolled back")
            self._opened = level - 1      # the savepoint stays on the server, unused
            return
        self._opened = 0
        error: StorageError | None = None
        if not healthy:
            with contextlib.suppress(psycopg.Error):
                conn.execute("ROLLBACK", prepare=False)
            error = StorageError("a statement of this transaction failed or the connection was lost; "
                                 "it was rolled back")
        else:
            try:
                conn.execute("COMMIT", prepare=False)
            except psycopg.Error as exc:
                error = _failure(exc)
        self._release_block_waiters(error)
        if error is not None:
            raise error
        self._flush.committed()

    def _undo(self, level: int) -> None:
        if level == 1:
            self._batch.clear()           # never sent
        if self._opened >= level:
            command = "ROLLBACK" if level == 1 else f"ROLLBACK TO SAVEPOINT sp{level}"
            try:
                self._db.execute(command, prepare=False)
            except psycopg.Error as exc:
                log.warning("%s failed: %s", command, exc)
            self._opened = level - 1
        if level == 1:
            self._opened = 0
            self._release_block_waiters(StorageError("the open transaction was rolled back"))

    def _release_block_waiters(self, error: StorageError | None) -> None:
        waiting, self._block_waiters = self._block_waiters, []
        for waiter in waiting:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)

    async def commit(self) -> None:
        if self._depth:
            # A block is open across an await (against the rules): changes made meanwhile
            # joined its transaction, so they are committed only when it ends.
            waiter = asyncio.get_running_loop().create_future()
            self._block_waiters.append(waiter)
            await waiter
        if self.durability == "power":
            await self._flush.wait()
        else:
            # Committed already; still yield once, as the other backends' group commit does,
            # so that a burst of writes never starves the loop's other tasks (notification
            # delivery, timers) and they run in the order they do on SQLite and TinyDB.
            await asyncio.sleep(0)

    def _run_barrier(self) -> None:
        """On the barrier's thread (or at close): flush the WAL past every earlier commit."""
        conn = self._barrier_conn
        try:
            if conn is None or conn.broken or conn.closed:
                conn = self._barrier_conn = connect(self._conninfo, self.url, "on")
            conn.execute(self._sql["barrier"])
        except psycopg.Error as exc:
            raise StorageError(f"flushing the PostgreSQL WAL failed: {exc}") from exc

    def statement(self, name: str) -> str:
        """The SQL behind one method (tests EXPLAIN it to check that an index serves it)."""
        return self._sql[name]

    @property
    def flush_barriers(self) -> int:
        """Barriers run so far (one per group of requests under "power")."""
        return self._flush.barriers


def open_postgresql(url: str, durability: str) -> PostgresStorage:
    return PostgresStorage(url, durability)
