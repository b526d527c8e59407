"""The append-only change journal in front of the TinyDB snapshot file.

One line per group commit: `<crc32 hex> <json list of operations>\n`, where an operation is
["p", seq, document] (the resource now has this document) or ["d", ri] (it is gone).
Both are idempotent, so replaying a journal over a snapshot that already holds some of its
changes gives the same state.  A line that a crash cut short (or that a power loss left
as garbage) can only be at the end: it was never acknowledged, and opening drops it.  A bad
line followed by good ones means the file was damaged after the fact, and opening refuses.

Journals are numbered by generation: the snapshot records the first generation it does not
contain, and every journal from that generation on is replayed in order.

This module only reads and writes journal files; it knows nothing about resources.
"""
from __future__ import annotations

import os
import zlib
from pathlib import Path

import orjson

_PREFIX = "journal."


class JournalCorrupt(Exception):
    """A journal line that is not the last one is damaged."""


def journal_path(directory: Path, generation: int) -> Path:
    return directory / f"{_PREFIX}{generation:010d}"


def journal_generations(directory: Path) -> list[int]:
    generations = []
    for entry in directory.iterdir():
        name = entry.name
        if name.startswith(_PREFIX) and name[len(_PREFIX):].isdigit():
            generations.append(int(name[len(_PREFIX):]))
    return sorted(generations)


def encode_put(seq: int, doc: bytes) -> bytes:
    return b'["p",%d,%b]' % (seq, doc)


def encode_delete(ri: str) -> bytes:
    return b'["d",%b]' % orjson.dumps(ri)


def frame(operations: list[bytes]) -> bytes:
    payload = b"[" + b",".join(operations) + b"]"
    return b"%08x %b\n" % (zlib.crc32(payload), payload)


def _decode(line: bytes) -> list | None:
    if len(line) < 11 or line[8:9] != b" ":
        return None
    try:
        crc = int(line[:8], 16)
    except ValueError:
        return None
    payload = line[9:]
    if zlib.crc32(payload) != crc:
        return None
    try:
        operations = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None
    return operations if isinstance(operations, list) else None


def read_journal(path: Path) -> tuple[list[list], int]:
    """The batches of operations in the file and the length of its valid part."""
    data = path.read_bytes()
    batches: list[list] = []
    position = 0
    while position < len(data):
        end = data.find(b"\n", position)
        if end < 0:
            break
        batch = _decode(data[position:end])
        if batch is None:
            break
        batches.append(batch)
        position = end + 1
    if position < len(data):
        for later in data[position:].split(b"\n")[1:]:
            if _decode(later) is not None:
                raise JournalCorrupt(f"journal {path} is damaged at byte {position} "
                                     "(good entries follow a bad one)")
    return batches, position


def fsync_directory(directory: Path) -> None:
    """Make a created, renamed or removed name in `directory` survive a power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """Appends framed batches; a failed append leaves the file as it was."""

    _write = staticmethod(os.write)      # replaced in tests to simulate a full disk

    def __init__(self, path: Path, sync: bool, valid_length: int | None = None):
        self.path = path
        self.sync = sync
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = os.fstat(self.fd).st_size
        if valid_length is not None and valid_length < self.size:
            os.ftruncate(self.fd, valid_length)    # drop a torn tail before appending
            self.size = valid_length

    def append(self, data: bytes) -> None:
        try:
            view = memoryview(data)
            while view:
                written = self._write(self.fd, view)
                view = view[written:]
            if self.sync:
                os.fdatasync(self.fd)
        except OSError:
            try:
                os.ftruncate(self.fd, self.size)
            except OSError:
                pass
            raise
        self.size += len(data)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
