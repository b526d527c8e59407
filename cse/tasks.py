"""Ending background tasks: the one way every part of the CSE stops what it started.

Cancelling a task is a request, not a fact: the task ends at its next `await`, and its
`finally` blocks may still run.  A part that stops must therefore wait until its tasks
have really ended, or the next part to stop (say, storage) closes under their feet.
Waiting with `asyncio.wait` rather than `await task` keeps a cancellation of the waiter
itself from being swallowed along with the task's.
This module must never keep a task it was given.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Iterable

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: "asyncio.Task | Iterable[asyncio.Task | None] | None", *,
                          grace: float = 0.0, log_failures: bool = True) -> set[asyncio.Task]:
    """Let `tasks` finish for up to `grace` seconds, cancel those still running, and wait
    until every one has ended.  Returns the tasks that had to be cancelled.

    A task that failed is logged here (its error would otherwise be reported by asyncio
    as never retrieved, long after the fact), unless `log_failures` is False because
    the owner reports its tasks' failures itself."""
    if tasks is None:
        return set()
    given = {tasks} if isinstance(tasks, asyncio.Task) else {t for t in tasks if t is not None}
    given.discard(asyncio.current_task())   # a task stopping its owner ends by itself afterwards
    running = {task for task in given if not task.done()}
    if running and grace > 0:
        _, running = await asyncio.wait(running, timeout=grace)
    for task in running:
        task.cancel()
    if running:
        await asyncio.wait(running)
    for task in given:
        if not task.cancelled() and task.exception() is not None and log_failures:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())
    return running
