"""Walking a subtree for resources that meet filter criteria and that the originator may see.

Discovery (fu=1) and the child lists of RETRIEVE/DELETE (rcn 4/5/6/8) answer the same
question with different permissions and renderings, so the walk is written once here:
candidates come from the storage index (ty, lbl) where the criteria allow it, then expiry,
the criteria, access control and paging (ofst, lim, the CSE's own cap) are applied in that
order.  Paging counts only resources the originator is shown, so a page boundary never
depends on resources it cannot see.

Fairness: a walk can look at tens of thousands of resources (an unindexed discovery, rcn=4
on a container with 10,000 instances).  `find` gives the event loop back after every
SLICE candidates, so the cheap requests that arrive meanwhile (an `la` retrieve) are served
between slices instead of after the whole walk; each storage batch is fetched whole before
the walk goes on (no cursor stays open across a pause).  A walk that runs concurrently
with writes sees each resource at most once: batches are in creation order and skip what
an earlier batch returned.

This module never renders anything and never changes storage.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .filters import Criteria, attribute_groups, attributes_match
from .resource_types import Ty

if TYPE_CHECKING:
    from .access import Permission
    from .context import Context

REGS_INACTIVE = 2
# Candidates looked at between two pauses of a walk (about a millisecond of work).
SLICE = 128


class Walks:
    """Lets one walk run at a time (shared by discovery and the child lists).

    The loop is single-threaded, so serialising walks costs no throughput; what it saves is
    latency for everyone else: between two slices of the running walk a cheap request waits
    for that walk's next piece of work only, not for the pieces of every heavy request that
    happens to be in the ready queue (a storage batch of a big walk is one piece)."""

    def __init__(self) -> None:
        self._gate = asyncio.Semaphore(1)

    async def __aenter__(self) -> None:
        await self._gate.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._gate.release()


@dataclass(slots=True)
class Page:
    """One page of results; `partial` when matches remained after it (lim or the CSE cap),
    then `next_offset` is the ofst that continues the list."""

    items: list[Any]
    partial: bool
    next_offset: int


class Related:
    """Answers clbl/chty/catr (some child has ...) and palb/pty/patr (the parent has ...)
    for candidates below `root_path`, with one index query or lookup per request.

    Only children and parents the originator may see with `permission` count, so a hidden
    resource cannot be probed through its neighbours' conditions."""

    def __init__(self, ctx: "Context", fc: dict, root_path: str, max_level: int | None,
                 visible: Callable[[dict], bool]):
        self.ctx = ctx
        self.fc = fc
        self.root_path = root_path
        # Children of candidates lie at most one level below the deepest candidate.
        self.child_level = None if max_level is None else max_level + 1
        self.visible = visible
        self._parents_with: dict[str, set[str]] = {}
        self._parents: dict[str, dict | None] = {}
        self._children: dict[str, list[dict]] = {}
        self._catr = attribute_groups(fc["catr"]) if "catr" in fc else {}
        self._patr = attribute_groups(fc["patr"]) if "patr" in fc else {}

    def _alive(self, resource: dict) -> bool:
        et = resource.get("et")
        return et is None or et > self.ctx.now_ts

    def _parents_having(self, name: str) -> set[str]:
        """ri of every resource below the root with a visible child meeting clbl or chty."""
        found = self._parents_with.get(name)
        if found is None:
            if name == "clbl":
                rows = self.ctx.storage.descendants(self.root_path, labels=self.fc["clbl"],
                                                    max_level=self.child_level)
            else:
                rows = self.ctx.storage.descendants(self.root_path, types=self.fc["chty"],
                                                    max_level=self.child_level)
            found = {row["pi"] for row in rows if self._alive(row) and self.visible(row)}
            self._parents_with[name] = found
        return found

    def _children_of(self, resource: dict) -> list[dict]:
        children = self._children.get(resource["ri"])
        if children is None:
            children = [c for c in self.ctx.storage.children(resource["ri"])
                        if self._alive(c) and self.visible(c)]
            self._children[resource["ri"]] = children
        return children

    def _parent_of(self, resource: dict) -> dict | None:
        pi = resource.get("pi")
        if not pi:
            return None
        if pi not in self._parents:
            parent = self.ctx.storage.get(pi)
            self._parents[pi] = parent if parent is not None and self._alive(parent) \
                and self.visible(parent) else None
        return self._parents[pi]

    def __call__(self, name: str, resource: dict) -> bool:
        if name in ("clbl", "chty"):
            return resource["ri"] in self._parents_having(name)
        if name == "catr":
            return any(attributes_match(child, self._catr) for child in self._children_of(resource))
        parent = self._parent_of(resource)
        if parent is None:
            return False
        if name == "palb":
            return not set(self.fc["palb"]).isdisjoint(parent.get("lbl") or ())
        if name == "pty":
            return parent.get("ty") in self.fc["pty"]
        return attributes_match(parent, self._patr)   # patr


class Expired:
    """Whether a resource, or one of its ancestors below the root, has expired: what lies
    below an expired resource is gone with it, even before the reaper removes it.

    An index-narrowed walk (ty=4) never sees the ancestors, so they are looked up: from the
    expiry index, which holds few entries because the reaper empties it within a second or
    so; when it holds more than `sample`, by reading each ancestor (cached)."""

    def __init__(self, ctx: "Context", root_path: str, sample: int = 1000):
        self.ctx = ctx
        self.now_ts = ctx.now_ts
        self.root_depth = root_path.count("/")
        waiting = ctx.storage.expired(self.now_ts, sample)
        self.known = len(waiting) < sample
        self.paths = {r["_path"] for r in waiting}
        self._ancestors: dict[str, bool] = {}

    def __call__(self, resource: dict) -> bool:
        et = resource.get("et")
        if et is not None and et <= self.now_ts:
            return True
        if self.known and not self.paths:
            return False
        segments = resource["_path"].split("/")
        for depth in range(self.root_depth + 2, len(segments)):
            ancestor = "/".join(segments[:depth])
            if self.known:
                if ancestor in self.paths:
                    return True
            else:
                gone = self._ancestors.get(ancestor)
                if gone is None:
                    gone = self.ctx.tree.get_by_path(ancestor, self.now_ts) is None
                    self._ancestors[ancestor] = gone
                if gone:
                    return True
        return False


class InactiveRegistrations:
    """Whether a resource lies below an AE whose registration is INACTIVE (regs=2): such
    resources are left out of discovery results (TS-0004 discovery procedure).

    The first few AEs are read one by one; a walk that meets many reads the inactive ones
    among all AEs once (one indexed query instead of thousands of lookups)."""

    LOOKUPS_BEFORE_BULK = 1000

    def __init__(self, ctx: "Context"):
        self.ctx = ctx
        self._inactive: dict[str, bool] = {}
        self._all_inactive: set[str] | None = None

    def __call__(self, resource: dict) -> bool:
        segments = resource["_path"].split("/", 2)
        if len(segments) < 3:          # the CSEBase or one of its direct children
            return False
        head = segments[0] + "/" + segments[1]
        if self._all_inactive is not None:
            return head in self._all_inactive
        inactive = self._inactive.get(head)
        if inactive is None:
            if len(self._inactive) >= self.LOOKUPS_BEFORE_BULK:
                self._all_inactive = {ae["_path"] for ae in self.ctx.storage.descendants(
                    segments[0], types=(Ty.AE,), max_level=1) if ae.get("regs") == REGS_INACTIVE}
                return head in self._all_inactive
            owner = self.ctx.storage.get_by_path(head)
            inactive = owner is not None and owner["ty"] == Ty.AE and owner.get("regs") == REGS_INACTIVE
            self._inactive[head] = inactive
        return inactive


def meets(ctx: "Context", resource: dict, fc: dict, permission: "Permission") -> bool:
    """Whether one resource meets fc (conditional retrieval of a target); related conditions
    count the children and parent visible with `permission`."""
    criteria = Criteria(fc)
    if criteria.empty:
        return True
    related = None
    if criteria.related:
        def visible(other: dict) -> bool:
            return ctx.access.allowed(ctx, ctx.originator, permission, other)
        related = Related(ctx, fc, resource["_path"], 0, visible)
    return criteria.matches(resource, related)


async def find(ctx: "Context", root: dict, fc: dict | None, permission: "Permission", *,
               max_level: int | None = None, skip_inactive: bool = False,
               transform: Callable[[dict], dict | None] | None = None, walks: Walks | None = None) -> Page:
    """`_find` below, one walk at a time when `walks` is given."""
    if walks is None:
        return await _find(ctx, root, fc, permission, max_level=max_level, skip_inactive=skip_inactive,
                           transform=transform)
    async with walks:
        return await _find(ctx, root, fc, permission, max_level=max_level, skip_inactive=skip_inactive,
                           transform=transform)


async def _find(ctx: "Context", root: dict, fc: dict | None, permission: "Permission", *,
                max_level: int | None = None, skip_inactive: bool = False,
                transform: Callable[[dict], dict | None] | None = None) -> Page:
    """Resources strictly below `root` (parents before children, then creation order) that
    meet `fc`, that the originator holds `permission` on, paged by fc's ofst and lim.

    `max_level` overrides fc's lvl (rcn 5 lists direct children only).  `transform` maps a
    match to the resource to return instead (arp) or None to drop it; results are then
    de-duplicated by resource ID."""
    fc = fc or {}
    criteria = Criteria(fc)
    level = fc.get("lvl") if max_level is None else max_level
    types, labels = criteria.index_hints()
    offset = fc.get("ofst", 0)
    cap = ctx.config.limits.max_result_resources
    wanted = cap if fc.get("lim") is None else min(fc["lim"], cap)
    originator = ctx.originator
    allowed = ctx.access.allowed

    def visible(resource: dict) -> bool:
        return allowed(ctx, originator, permission, resource)

    related = Related(ctx, fc, root["_path"], level, visible) if criteria.related else None
    inactive = InactiveRegistrations(ctx) if skip_inactive else None
    conditional = not criteria.empty and not criteria.answered_by_index
    items: list[Any] = []
    seen: set[str] = set()
    skipped = 0
    partial = False
    expired = Expired(ctx, root["_path"])
    looked_at = 0
    for candidate in _candidates(ctx, root, types, labels, level, offset + wanted + 1):
        looked_at += 1
        if looked_at % SLICE == 0:
            await asyncio.sleep(0)     # let other requests in (see "Fairness" above)
        if expired(candidate):
            continue
        if inactive is not None and inactive(candidate):
            continue
        if conditional and not criteria.matches(candidate, related):
            continue
        if not visible(candidate):
            continue
        item = candidate
        if transform is not None:
            transformed = transform(candidate)
            if transformed is None or transformed["ri"] in seen or expired(transformed):
                continue
            item = transformed
            seen.add(item["ri"])
        if skipped < offset:
            skipped += 1
            continue
        if len(items) >= wanted:
            partial = True
            break
        items.append(item)
    return Page(items, partial, offset + len(items))


def _candidates(ctx: "Context", root: dict, types: list[int] | None, labels: list[str] | None,
                level: int | None, first_batch: int) -> Iterator[dict]:
    """Storage rows in order, fetched in growing batches: a page that fills early (ty=4&lim=100
    among 80,000 readings) costs what the page needs, not what the whole match set would,
    while a walk that drops many candidates re-reads at most a third more than it uses.
    Direct children (lvl=1, rcn 5) come from the children index."""
    batch = max(first_batch, 64)
    storage = ctx.storage
    if level == 1 and labels is None and (types is None or len(types) == 1):
        ty = types[0] if types else None
        offset = 0
        while True:
            rows = storage.children(root["ri"], ty, limit=batch, offset=offset)
            yield from rows
            if len(rows) < batch:
                return
            offset += len(rows)
            batch *= 4
    consumed = 0
    while True:
        position = 0
        for candidate in storage.descendants(root["_path"], types=types, labels=labels, max_level=level,
                                             limit=batch):
            position += 1
            if position <= consumed:       # seen in an earlier batch (creation order: new ones come later)
                continue
            consumed += 1
            yield candidate
        if position < batch:
            return
        batch *= 4
