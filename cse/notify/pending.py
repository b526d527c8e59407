"""The store of undelivered notifications: what a clean shutdown could not deliver is kept in
an internal key of the CSEBase (never on the wire: internal keys start with "_"), read back
and removed at the next start, and resent before anything new.

At most `limit` (notification.max_persisted) are kept; beyond that the newest are dropped,
counted in the log.  An unreadable record (a file edited by hand, an older format) is logged
and skipped, never fatal.  Nothing here survives a crash: only a clean shutdown writes.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..delivery import Notification
from ..errors import OneM2MError

if TYPE_CHECKING:
    from ..storage import Storage
    from .commits import Commits

log = logging.getLogger(__name__)

PENDING_KEY = "_pending_notifications"


class PendingStore:
    def __init__(self, storage: "Storage", cse_id: str, limit: int, commits: "Commits"):
        self.storage = storage
        self.base_ri = cse_id.lstrip("/")
        self.limit = limit
        self.commits = commits

    def take(self) -> list[Notification]:
        """What the last clean shutdown kept, oldest first, removed from the store (the
        removal is committed in the background)."""
        base = self.storage.get(self.base_ri)
        if base is None or not base.get(PENDING_KEY):
            return []
        records = base.pop(PENDING_KEY)
        with self.storage.transaction():
            self.storage.update(base, changed=(PENDING_KEY,))
        self.commits.schedule()
        taken = []
        for record in records:
            try:
                taken.append(Notification.from_record(record))
            except (OneM2MError, KeyError, TypeError) as error:
                log.error("discarding an unreadable persisted notification: %r", error)
        log.info("resending %d notification(s) left undelivered at the last shutdown", len(taken))
        return taken

    def keep(self, left: list[Notification]) -> None:
        """Add `left` after what the store holds, at most `limit` in all (the oldest are
        kept); the caller commits."""
        base = self.storage.get(self.base_ri)
        if base is None:
            log.error("shutdown: no CSEBase to keep %d undelivered notification(s) in; dropped",
                      min(len(left), self.limit))
            return
        stored = base.get(PENDING_KEY) or []
        room = max(0, self.limit - len(stored))
        kept = left[:room]
        if len(left) > room:
            log.warning("shutdown: %d undelivered notification(s) beyond notification.max_persisted "
                        "(%d) are dropped", len(left) - room, self.limit)
        base[PENDING_KEY] = stored + [n.to_record() for n in kept]
        with self.storage.transaction():
            self.storage.update(base, changed=(PENDING_KEY,))
        log.info("shutdown: %d undelivered notification(s) kept for the next start", len(kept))
