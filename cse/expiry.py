"""Background removal of expired resources.

Lookups already treat an expired resource as absent; this task removes them for good (with
their subtrees, parent counters and deletion events) shortly after their et.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .dispatcher import Dispatcher
    from .events import EventSink

log = logging.getLogger(__name__)


class ExpiryReaper:
    def __init__(self, dispatcher: "Dispatcher", events: "EventSink"):
        self.dispatcher = dispatcher
        self.config = dispatcher.config
        self.storage = dispatcher.storage
        self.tree = dispatcher.tree
        self.events = events
        self._task: asyncio.Task | None = None

    async def reap_once(self, batch: int = 500) -> int:
        """Remove what has expired by now; returns how many resources were removed."""
        ctx = self.dispatcher.context(None)
        removed = 0
        with self.storage.transaction():
            for resource in self.storage.expired(ctx.now_ts, batch):
                if self.storage.get(resource["ri"]) is None:   # went with an expired ancestor
                    continue
                parent = self.storage.get(resource["pi"]) if resource.get("pi") else None
                self.tree.remove(ctx, resource, parent)
                removed += 1
        await self.storage.commit()
        if ctx.events:
            self.events.publish(ctx.events)
        return removed

    async def _run(self) -> None:
        interval = self.config.cse.expiry_interval
        while True:
            try:
                while await self.reap_once() >= 500:
                    await asyncio.sleep(0)
            except Exception:
                log.exception("removing expired resources failed; retrying")
            await asyncio.sleep(interval)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="expiry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
