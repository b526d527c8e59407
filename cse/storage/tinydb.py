"""TinyDB backend: a directory holding a TinyDB snapshot file and a change journal.

TinyDB's JSON storage rewrites the whole file on each write and has no transactions, so
it is not trusted with acknowledged changes directly:

- Every resource lives in memory (`memory_index`): reads and queries never touch a file,
  and the indexes keep inserting into or reading `la` from a big container cheap.
- Writes change the memory state at once and, inside `transaction()`, leave undo entries,
  so a failed request is rolled back completely (savepoints nest).
- The group commit appends the final state of every resource changed since the last one
  to the journal as one checksummed line, before any response that depends on it goes
  out ("process": written to the OS, survives kill -9; "power": also fdatasync'ed).
- Compaction writes all resources into a new TinyDB file (`db.json`, one document per
  resource, doc_id = creation sequence; TinyDB's layout, written by `tiny_snapshot.write_snapshot`) off
  the request path, fsyncs it, renames it over the old one and only then deletes the
  journals it contains.  It runs when the journal has
  grown past the snapshot's size (at least `compact_min_bytes`) and at close, so a clean
  shutdown leaves a single TinyDB file.
- Opening loads the snapshot and replays the journals after it; a torn last line (a crash
  during a write that was never acknowledged) is dropped.

One process at a time: the directory is locked while open.  This module never writes a file
in place that a crash could leave half-written, and never touches the journal format
itself (`journal`).
"""
from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
from pathlib import Path
from typing import Iterable, Iterator

import orjson
from tinydb import TinyDB

from .base import Storage, StorageError
from .group_commit import GroupCommit
from .journal import (JournalCorrupt, JournalWriter, encode_delete, encode_put, frame, fsync_directory,
                      journal_generations, journal_path, read_journal)
from .memory_index import ResourceIndex, Row, label_tuple
from .tiny_snapshot import FORMAT, SNAPSHOT_NAME, Compaction, SnapshotFile

log = logging.getLogger(__name__)

LOCK_NAME = "lock"
COMPACT_MIN_BYTES = 8 * 1024 * 1024

_dumps = orjson.dumps
_loads = orjson.loads


def _stored_bytes(value: object) -> bytes:
    """orjson.dumps for documents kept in memory.  orjson hands back bytes objects that
    hold a 4 KiB allocation whatever their length; copying keeps only what is used
    (100,000 stored contentInstances: about 400 MB less)."""
    return memoryview(_dumps(value)).tobytes()


# Undo entry kinds.
_INSERTED, _UPDATED, _DELETED = 1, 2, 3


def _row(seq: int, resource: dict, doc: bytes) -> Row:
    return Row(seq, resource["ri"], resource.get("pi") or "", resource["ty"], resource["_path"],
               resource.get("et"), resource.get("cs"), label_tuple(resource.get("lbl")), doc)


def _encode(resource: dict) -> bytes:
    try:
        return _stored_bytes(resource)
    except TypeError as exc:     # orjson.JSONEncodeError
        raise StorageError(f"resource {resource.get('ri')!r} cannot be stored: {exc}") from exc


class TinyDbStorage(Storage):
    """Resources in memory, changes in a journal, folded into a TinyDB file (module docstring)."""

    def __init__(self, directory: str, durability: str = "process", *,
                 compact_min_bytes: int = COMPACT_MIN_BYTES):
        self.directory = Path(directory)
        self.url = f"tinydb://{directory}"
        self.durability = durability
        self.compact_min_bytes = compact_min_bytes
        # Empty until open() loads it; `_opened` says whether it is the directory's state.
        self._index = ResourceIndex()
        self._opened = False
        self._journal: JournalWriter | None = None
        self._generation = 0
        self._snapshot_size = 0
        self._compaction: Compaction | None = None
        self._lock_fd = -1
        self._pending: dict[str, None] = {}     # ri changed since the last group commit
        self._undo: list[tuple] = []
        self._depth = 0
        self._group = GroupCommit(self._commit_now, lambda: self._depth > 0)
        self.commit_times = self._group.times

    @property
    def _sync(self) -> bool:
        return self.durability == "power"

    @property
    def _open_journal(self) -> JournalWriter:
        if self._journal is None:
            raise StorageError(f"{self.url} is not open")
        return self._journal

    # -- lifecycle ----------------------------------------------------------------------
    def open(self) -> None:
        if self._opened:
            raise StorageError(f"{self.url} is already open")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock()
            self._load()
        except (OSError, ValueError, KeyError, IndexError, TypeError, JournalCorrupt) as exc:
            self._unlock()
            raise StorageError(f"cannot open TinyDB storage {self.directory}: {exc}") from exc

    def _lock(self) -> None:
        fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError(f"{self.directory} is in use by another CSE process") from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)     # releases the flock
            self._lock_fd = -1

    def _load(self) -> None:
        directory = self.directory
        (directory / (SNAPSHOT_NAME + ".tmp")).unlink(missing_ok=True)
        state: dict[str, Row] = {}
        generation = 0
        snapshot = directory / SNAPSHOT_NAME
        if snapshot.exists():
            db = TinyDB(str(snapshot), storage=SnapshotFile)
            try:
                meta = db.table("meta").all()
                if meta:
                    if meta[0].get("format") != FORMAT:
                        raise ValueError(f"{snapshot} has format {meta[0].get('format')!r}, "
                                         f"this version reads {FORMAT}")
                    generation = int(meta[0]["generation"])
                for document in db.table("resources"):      # one Document at a time
                    state[document["ri"]] = _row(document.doc_id, document, _stored_bytes(document))
                opened = db.storage
                self._snapshot_size = opened.size if isinstance(opened, SnapshotFile) else 0
            finally:
                db.close()
        live = []
        for number in journal_generations(directory):
            if number < generation:     # already in the snapshot (compaction was cut short)
                journal_path(directory, number).unlink(missing_ok=True)
            else:
                live.append(number)
        valid_length = None
        for number in live:
            batches, valid_length = read_journal(journal_path(directory, number))
            for batch in batches:
                for operation in batch:
                    if operation[0] == "p":
                        resource = operation[2]
                        state[resource["ri"]] = _row(operation[1], resource, _stored_bytes(resource))
                    elif operation[0] == "d":
                        state.pop(operation[1], None)
                    else:
                        raise JournalCorrupt(f"unknown journal operation {operation[0]!r}")
        index = ResourceIndex()
        index.load(state.values())
        del state
        current = live[-1] if live else generation
        self._journal = JournalWriter(journal_path(directory, current), self._sync,
                                      valid_length if live else None)
        if self._sync and not live:
            fsync_directory(directory)
        self._generation = current
        self._index = index
        self._opened = True

    def close(self) -> None:
        if not self._opened:
            return
        error: StorageError | None = None
        try:
            self._finish_compaction(wait=True)
            try:
                self._flush()
            except OSError as exc:
                error = StorageError(f"writing the journal of {self.directory} failed: {exc}")
            self._group.release(error)
            if error is None and self._journal is not None and self._journal.size > 0:
                try:
                    self._compact(background=False)
                except Exception as exc:     # the journal still holds everything
                    log.error("compacting %s at close failed (the journal is kept): %s",
                              self.directory, exc)
        finally:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            self._index = ResourceIndex()
            self._opened = False
            self._unlock()
        if error is not None:
            raise error

    # -- single resources ---------------------------------------------------------------
    def get(self, ri: str) -> dict | None:
        row = self._index.rows.get(ri)
        return _loads(row.doc) if row is not None else None

    def get_by_path(self, path: str) -> dict | None:
        row = self._index.by_path.get(path)
        return _loads(row.doc) if row is not None else None

    def insert(self, resource: dict) -> None:
        index = self._index
        ri = resource["ri"]
        path = resource["_path"]
        if ri in index.rows:
            raise StorageError(f"constraint violated: a resource with ri {ri!r} exists")
        if path in index.by_path:
            raise StorageError(f"constraint violated: a resource at {path!r} exists")
        row = _row(index.next_seq, resource, _encode(resource))
        index.add(row)
        self._pending[ri] = None
        if self._depth:
            self._undo.append((_INSERTED, row))

    def update(self, resource: dict, changed: Iterable[str] | None = None) -> None:
        ri = resource["ri"]
        row = self._index.rows.get(ri)
        if row is None:
            raise StorageError(f"update of unknown resource {ri}")
        doc = _encode(resource)
        labels = label_tuple(resource.get("lbl")) if changed is None or "lbl" in changed else None
        if self._depth:
            self._undo.append((_UPDATED, row, row.doc, row.et, row.cs, row.labels))
        self._index.change(row, doc, resource.get("et"), resource.get("cs"), labels)
        self._pending[ri] = None

    def delete(self, ri: str) -> None:
        row = self._index.rows.get(ri)
        if row is None:
            return
        self._remove(row)
        if not self._depth:
            self._index.sweep()

    def delete_subtree(self, path: str) -> int:
        index = self._index
        root = index.by_path.get(path)
        if root is None:
            return 0
        rows = index.subtree(root)
        for row in reversed(rows):       # children first, so ancestor counts stay right
            self._remove(row)
        if not self._depth:
            index.sweep()
        return len(rows)

    def _remove(self, row: Row) -> None:
        self._index.remove(row)
        self._pending[row.ri] = None
        if self._depth:
            self._undo.append((_DELETED, row))

    # -- queries ------------------------------------------------------------------------
    def children(self, pi: str, ty: int | None = None, *, limit: int | None = None,
                 offset: int = 0, newest_first: bool = False) -> list[dict]:
        rows = self._index.children_of(pi, ty, newest_first)
        offset = max(0, int(offset))
        stop = None if limit is None or limit < 0 else offset + int(limit)
        return [_loads(row.doc) for row in itertools.islice(rows, offset, stop)]

    def edge_child(self, pi: str, ty: int, *, newest: bool, now: str | None = None) -> dict | None:
        row = self._index.edge(pi, ty, newest, now)
        return _loads(row.doc) if row is not None else None

    def child_stats(self, pi: str, ty: int) -> tuple[int, int]:
        siblings = self._index.child_list(pi, ty)
        return (len(siblings), siblings.cs_total) if siblings is not None else (0, 0)

    def descendants(self, path: str, *, types: Iterable[int] | None = None,
                    labels: Iterable[str] | None = None, max_level: int | None = None,
                    limit: int | None = None) -> Iterator[dict]:
        type_set = None if types is None else {int(t) for t in types}
        label_list = None if labels is None else list(labels)
        level = None if max_level is None else int(max_level)
        count = None if limit is None else max(int(limit), 0)
        rows = self._index.descendants(path, type_set, label_list, level, count)
        for row in itertools.islice(rows, count):
            yield _loads(row.doc)

    def expired(self, now: str, limit: int = 500) -> list[dict]:
        return [_loads(row.doc) for row in self._index.expired(now, limit)]

    def count(self) -> int:
        return len(self._index.rows)

    # -- transactions -------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        mark = len(self._undo)
        self._depth += 1
        try:
            yield
        except BaseException:
            self._rollback_to(mark)
            raise
        finally:
            self._depth -= 1
            if not self._depth:
                self._undo.clear()
                self._index.sweep()

    def _rollback_to(self, mark: int) -> None:
        undo = self._undo
        index = self._index
        while len(undo) > mark:
            entry = undo.pop()
            kind, row = entry[0], entry[1]
            if kind == _INSERTED:
                index.remove(row)
            elif kind == _DELETED:
                index.revive(row)
            else:
                _, _, doc, et, cs, labels = entry
                index.change(row, doc, et, cs, labels)
            self._pending[row.ri] = None

    async def commit(self) -> None:
        if not self._pending:
            return
        await self._group.wait()

    def _commit_now(self) -> None:
        if self._index is None:          # closed meanwhile: close() flushed and released
            return
        try:
            self._flush()
        except OSError as exc:
            log.error("writing the journal of %s failed: %s", self.directory, exc)
            raise StorageError(f"commit failed: {exc}") from exc
        self._maybe_compact()

    def _flush(self) -> None:
        """Append the current state of every changed resource as one journal line.
        On failure nothing is written and the changes stay pending for the next commit."""
        pending = self._pending
        if not pending:
            return
        rows = self._index.rows
        operations = []
        for ri in pending:
            row = rows.get(ri)
            operations.append(encode_delete(ri) if row is None else encode_put(row.seq, row.doc))
        self._open_journal.append(frame(operations))
        pending.clear()

    # -- compaction ---------------------------------------------------------------------
    def wait_for_compaction(self) -> None:
        """Block until a running background compaction has finished (tools and tests)."""
        self._finish_compaction(wait=True)

    def _maybe_compact(self) -> None:
        if not self._finish_compaction(wait=False):
            return
        if self._open_journal.size >= max(self.compact_min_bytes, self._snapshot_size):
            try:
                self._compact(background=True)
            except OSError as exc:
                log.error("cannot start compacting %s: %s", self.directory, exc)

    def _finish_compaction(self, wait: bool) -> bool:
        """Collect a finished compaction; False while one is still running."""
        job = self._compaction
        if job is None:
            return True
        if wait:
            job.wait()
        elif job.running():
            return False
        self._compaction = None
        if job.error is not None:
            log.error("compacting %s failed (its journals are kept): %s", self.directory, job.error)
        else:
            self._snapshot_size = job.size
        return True

    def _compact(self, background: bool) -> None:
        """Start a new journal, then write everything up to it into a new snapshot.
        Call only between group commits (nothing pending, no open transaction)."""
        generation = self._generation + 1
        journal = JournalWriter(journal_path(self.directory, generation), self._sync)
        if self._sync:
            fsync_directory(self.directory)
        self._open_journal.close()
        self._journal = journal
        self._generation = generation
        rows = list(self._index.rows.values())
        # Two flat lists (ints, bytes): no tuples, so building them wakes no garbage collection.
        job = Compaction(self.directory, generation, [row.seq for row in rows], [row.doc for row in rows])
        del rows
        if background:
            self._compaction = job
            job.start()
        else:
            job.run()
            self._snapshot_size = job.size


def open_tinydb(path: str, durability: str) -> TinyDbStorage:
    return TinyDbStorage(os.path.abspath(path), durability)
