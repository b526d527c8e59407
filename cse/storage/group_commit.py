"""Group commit, shared by the backends: every request that wrote during one event-loop
iteration waits for one flush, and each response waits for the flush that covers its own
writes.  Many writes in one durable step cost little more than one, so durability holds at
thousands of requests per second without skipping it.

The backend supplies `flush()` (make everything written so far durable, or raise
StorageError) and `busy()` (a transaction is half done: its changes must not be flushed
yet, so try again on the next iteration).
"""
from __future__ import annotations

import asyncio
import time
from typing import Callable

from .base import StorageError
from .commit_times import CommitTimes


class GroupCommit:
    def __init__(self, flush: Callable[[], None], busy: Callable[[], bool]):
        self._flush = flush
        self._busy = busy
        self.times = CommitTimes()
        self._waiters: list[asyncio.Future] = []
        self._scheduled = False

    async def wait(self) -> None:
        """Return once a flush that started after this call has succeeded."""
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.append(waiter)
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._run)
        await waiter

    def _run(self) -> None:
        self._scheduled = False
        if self._busy():
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)
            return
        started = time.perf_counter()
        try:
            self._flush()
        except StorageError as error:
            self.release(error)
        else:
            self.release(None)
        finally:
            self.times.add(time.perf_counter() - started)

    def release(self, error: BaseException | None) -> None:
        """Answer every waiter: the flush they waited for succeeded (None) or failed."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
