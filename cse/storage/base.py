"""The storage interface every backend implements, and nothing else.

Why synchronous: the core runs on one event loop and relies on the reads and writes of one
request never interleaving with another's; plain method calls that do not yield give that
without locks.  Backends keep these calls to microseconds (indexes, page cache) and put
the one slow thing, making changes durable, behind the awaitable `commit()`, which batches
the changes of all requests that finished in the same loop iteration (group commit).

A stored resource is a dict of oneM2M short names plus internal keys that start with "_"
(never sent on the wire):
    _path  structured CSE-relative address, e.g. "cse-in/meter/power"
    _org   originator that created it (default access rights)
Backends index ri, _path, (pi, ty, creation order), et, ty and lbl.
"""
from __future__ import annotations

import abc
import contextlib
from typing import TYPE_CHECKING, Iterable, Iterator

if TYPE_CHECKING:
    from .commit_times import CommitTimes


class StorageError(Exception):
    """The backend failed (disk full, corrupt file); reported as 5000 by the core."""


class Storage(abc.ABC):
    """Resource store.  All methods run on the event-loop thread."""

    url: str = ""
    # How long its commits took (the /metrics histogram); None for a backend that does not count.
    commit_times: "CommitTimes | None" = None

    @abc.abstractmethod
    def open(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    # -- single resources -------------------------------------------------------------
    @abc.abstractmethod
    def get(self, ri: str) -> dict | None: ...

    @abc.abstractmethod
    def get_by_path(self, path: str) -> dict | None: ...

    @abc.abstractmethod
    def insert(self, resource: dict) -> None:
        """Store a new resource; ri and _path must be unique: a duplicate raises
        StorageError, inside a transaction() block at the latest when the block ends (the
        PostgreSQL backend sends a block's writes together), and then the whole block is
        rolled back.  So never catch StorageError inside a block and carry on in it."""

    @abc.abstractmethod
    def update(self, resource: dict, changed: Iterable[str] | None = None) -> None:
        """Replace the stored document of resource["ri"].  `changed` names the attributes
        that changed (None: unknown), so indexes of untouched attributes are left alone.
        An unknown ri raises StorageError (inside a block: at the latest at its end)."""

    @abc.abstractmethod
    def delete(self, ri: str) -> None:
        """Remove one resource (children are the caller's business)."""

    @abc.abstractmethod
    def delete_subtree(self, path: str) -> int:
        """Remove the resource at `path` and everything below it; returns how many."""

    # -- queries ----------------------------------------------------------------------
    @abc.abstractmethod
    def children(self, pi: str, ty: int | None = None, *, limit: int | None = None,
                 offset: int = 0, newest_first: bool = False) -> list[dict]:
        """Direct children in creation order (or reverse), optionally of one type."""

    @abc.abstractmethod
    def edge_child(self, pi: str, ty: int, *, newest: bool, now: str | None = None) -> dict | None:
        """The newest or oldest child of type `ty` that has not expired at `now`.

        Served by an index: cost must not depend on how many children there are."""

    @abc.abstractmethod
    def child_stats(self, pi: str, ty: int) -> tuple[int, int]:
        """(number of children of type ty, sum of their cs): what a container's cni and cbs
        must equal.  The core keeps those as counters and never calls this; tests and tools
        use it to check them."""

    @abc.abstractmethod
    def descendants(self, path: str, *, types: Iterable[int] | None = None,
                    labels: Iterable[str] | None = None, max_level: int | None = None,
                    limit: int | None = None) -> Iterator[dict]:
        """Resources strictly below `path`, parents before children, filtered by an
        index on ty or lbl when given (any of the listed types / labels)."""

    @abc.abstractmethod
    def expired(self, now: str, limit: int = 500) -> list[dict]:
        """Resources whose et is at or before `now`, soonest first."""

    @abc.abstractmethod
    def count(self) -> int: ...

    # -- transactions -----------------------------------------------------------------
    @abc.abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All writes inside are applied together or not at all."""

    @abc.abstractmethod
    async def commit(self) -> None:
        """Return once every change made so far is durable (per the durability setting)."""
