"""Commits of the notifier's own writes (exc, nsi, the deletion of an exhausted subscription,
taking the kept notifications at start), made off the request path.

`schedule` is synchronous: it starts one commit task when none is running, so however many
writes one publish makes, they cost one background commit.  Its failure is logged: the
request that caused the write has been answered already.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..storage import Storage

log = logging.getLogger(__name__)


class Commits:
    def __init__(self, storage: "Storage"):
        self.storage = storage
        self._task: asyncio.Task | None = None

    def schedule(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._commit())

    async def _commit(self) -> None:
        try:
            await self.storage.commit()
        except Exception:
            log.exception("committing a subscription change made by the notifier failed")

    async def wait(self) -> None:
        """Until the commit scheduled last has finished (never raises)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
