"""The TinyDB backend's snapshot file (`db.json`): how it is read (through TinyDB, decoded
with orjson) and how compaction writes it (joined from the stored documents, fsynced,
renamed over the old one, then the journals it contains deleted), in a thread or inline.

This module never writes a file in place: a snapshot is complete under its final name or
not there.  The journal and the in-memory state are `tinydb.py`'s.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import orjson
from tinydb.storages import Storage as TinyStorage

from .base import StorageError
from .journal import fsync_directory, journal_generations, journal_path

SNAPSHOT_NAME = "db.json"
FORMAT = 1

_dumps = orjson.dumps
_loads = orjson.loads


class SnapshotFile(TinyStorage):
    """TinyDB storage that reads the snapshot with orjson.  Snapshots are written by
    `write_snapshot`, never through TinyDB (see there), so writing is refused."""

    def __init__(self, path: str):
        self.path = path
        self.size = 0
        self._data: dict | None = None

    def read(self) -> dict | None:
        if self._data is None:
            try:
                raw = Path(self.path).read_bytes()
            except FileNotFoundError:
                return None
            if not raw:
                return None
            self._data = _loads(raw)
            self.size = len(raw)
        return self._data

    def write(self, data: dict) -> None:
        raise StorageError(f"{self.path} is only written by compaction")


def write_snapshot(path: Path, generation: int, seqs: list[int], docs: list[bytes]) -> int:
    """Write TinyDB's JSON layout ({"meta": {"1": ...}, "resources": {"<doc_id>": document}})
    straight from the stored documents, fsynced; returns the size.

    TinyDB's own writer would decode every document into a dict and encode the whole
    database in one call: on 100,000 resources that held the GIL (and the garbage
    collector busy) long enough to stall the request loop for hundreds of milliseconds.
    Joining the already-encoded documents creates no Python containers at all."""
    order = sorted(range(len(seqs)), key=seqs.__getitem__)
    meta = _dumps({"1": {"generation": generation, "format": FORMAT}})
    size = 0
    with open(path, "wb") as handle:
        parts = [b'{"meta":%b,"resources":{' % meta]
        pending = 0
        separator = b""
        for position in order:
            part = b'%b"%d":%b' % (separator, seqs[position], docs[position])
            separator = b","
            parts.append(part)
            pending += len(part)
            if pending >= 1 << 20:
                size += handle.write(b"".join(parts))
                parts, pending = [], 0
        parts.append(b"}}")
        size += handle.write(b"".join(parts))
        handle.flush()
        os.fsync(handle.fileno())
    return size


class Compaction:
    """Writes one snapshot (in a thread or inline); `error` is set when it failed."""

    def __init__(self, directory: Path, generation: int, seqs: list[int], docs: list[bytes]):
        self.directory = directory
        self.generation = generation
        self.seqs = seqs
        self.docs = docs
        self.size = 0
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self._run_logged, name="tinydb-compaction", daemon=True)
        self.thread.start()

    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def wait(self) -> None:
        if self.thread is not None:
            self.thread.join()

    def _run_logged(self) -> None:
        try:
            self.run()
        except BaseException as exc:  # reported by the owner on the loop thread
            self.error = exc

    def run(self) -> None:
        directory = self.directory
        temporary = directory / (SNAPSHOT_NAME + ".tmp")
        self.size = write_snapshot(temporary, self.generation, self.seqs, self.docs)
        self.seqs, self.docs = [], []
        os.replace(temporary, directory / SNAPSHOT_NAME)
        fsync_directory(directory)
        for generation in journal_generations(directory):
            if generation < self.generation:
                journal_path(directory, generation).unlink(missing_ok=True)
