"""The PostgreSQL flush barrier: what durability "power" waits for before a response goes out.

Every transaction of the storage commits with synchronous_commit=off: the commit is
visible at once and survives a crash of the CSE, but the server may not have flushed its
WAL yet.  A barrier is one tiny transaction with synchronous_commit=on on a second
connection: it updates its own row of `cse_flush_barrier`, so it writes WAL and a commit
record, and returns only once the WAL is flushed up to that record.  (A transaction that
writes no WAL, e.g. `SELECT pg_current_xact_id()` alone, is committed without waiting for
the flush whatever synchronous_commit says: the test caught that.)  The WAL is one
sequence, so that flush also covers every commit record written before the barrier
started: every transaction the storage had committed by then.

The barrier runs on a thread of its own (a blocking psycopg connection, used only there),
so the event loop keeps serving while the disk syncs; `FlushBarrier` shares one barrier
among every request that committed before it started (a group commit), and starts the next
one for the requests that committed while it ran.  One barrier is in flight at a time.

This module must never touch the storage's own connection (it belongs to the loop thread).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import Callable

from .base import StorageError

log = logging.getLogger(__name__)


class FlushBarrier:
    """Group commit over an asynchronous barrier.

    `committed()` is called (on the loop thread) after each commit of the storage;
    `await wait()` returns once a barrier that started after the latest such commit has
    succeeded (or raises StorageError when it failed).  `run_barrier` is the blocking call
    that makes the WAL durable; it runs on the barrier's thread."""

    def __init__(self, run_barrier: Callable[[], None]):
        self._run_barrier = run_barrier
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._commits = 0            # commits made by the storage so far
        self._flushed = 0            # commits covered by the last successful barrier
        self._running_covers = 0     # commits the barrier in flight covers
        self._running: asyncio.Future | None = None
        self._waiters: list[tuple[int, asyncio.Future]] = []
        self.barriers = 0            # barriers run so far (tests and benchmarks read it)

    def open(self) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-flush")

    def close(self) -> None:
        """Stop the thread after the barrier in flight; the caller flushes once more."""
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def committed(self) -> None:
        self._commits += 1

    @property
    def pending(self) -> bool:
        return self._commits > self._flushed

    async def wait(self) -> None:
        target = self._commits
        if target <= self._flushed:
            return
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append((target, waiter))
        if self._running is None:
            self._start(loop)
        await waiter

    def _start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._executor is None:
            self._release_all(StorageError("the storage is closed"))
            return
        self._running_covers = self._commits
        self.barriers += 1
        self._running = loop.run_in_executor(self._executor, self._run_barrier)
        self._running.add_done_callback(lambda done: self._finished(loop, done))

    def _finished(self, loop: asyncio.AbstractEventLoop, done: asyncio.Future) -> None:
        self._running = None
        error = done.exception() if not done.cancelled() else StorageError("the flush was cancelled")
        if error is not None and not isinstance(error, StorageError):
            error = StorageError(f"flushing the WAL failed: {error}")
        covered = self._running_covers
        if error is None:
            self._flushed = max(self._flushed, covered)
        waiting, self._waiters = self._waiters, []
        for target, waiter in waiting:
            if target <= covered:
                if not waiter.done():
                    if error is None:
                        waiter.set_result(None)
                    else:
                        waiter.set_exception(error)
            else:
                self._waiters.append((target, waiter))
        if error is not None:
            log.error("PostgreSQL flush barrier failed: %s", error)
        if self._waiters:
            self._start(loop)

    def _release_all(self, error: BaseException) -> None:
        waiting, self._waiters = self._waiters, []
        for _, waiter in waiting:
            if not waiter.done():
                waiter.set_exception(error)
