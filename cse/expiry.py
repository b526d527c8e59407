"""Background removal of expired resources.

Lookups already treat an expired resource as absent; this task removes them for good (with
their subtrees, parent counters and deletion events) shortly after their et.
"""
from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Callable

from .tasks import cancel_and_wait

if TYPE_CHECKING:
    from .config import Config
    from .context import Context
    from .events import EventSink
    from .primitives import Request
    from .tree import Tree

log = logging.getLogger(__name__)


class ExpiryReaper:
    def __init__(self, config: "Config", tree: "Tree", events: "EventSink",
                 new_context: "Callable[[Request | None], Context]"):
        self.config = config
        self.storage = tree.storage
        self.tree = tree
        self.events = events
        # A context for the CSE's own work, as the dispatcher makes it (hooks and events need one).
        self.new_context = new_context
        self._task: asyncio.Task | None = None

    async def reap_once(self, batch: int = 500) -> int:
        """Remove what has expired by now; returns how many resources were removed."""
        ctx = self.new_context(None)
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

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="expiry")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
