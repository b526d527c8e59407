"""Announcement (TS-0001 10.2.18, TS-0004 7.4.26): copies of chosen resources, with chosen
attributes and a link (`lnk`) to the original, kept at other CSEs (`at`, announceTo).

Three parts, because the checks run inside a request, the events arrive after its commit
and the sending needs the dispatcher:
- `AnnouncementRules` (given to Operations): `at` names only registered CSEs (our registrar
  or a CSE registered with us), `aa` only the type's OA attributes, `ast` 2 is refused;
- `AnnouncementQueue` (an EventSink): which originals must be brought in line at their
  targets; one entry per resource (a burst of updates is one sync), bounded;
- `Announcer` (a service of Federation): works the queue off the request path.

A sync is idempotent: it reads the original as it is now and makes every target agree
(CREATE where no copy is recorded, UPDATE where one is, with nulls for attributes no longer
announced, DELETE where the target left `at`).  So a failed sync is simply retried (with
back-off), whatever happened in between: a target that was down or restarted converges,
nothing is sent twice into a copy and no copy is duplicated (the target names a copy after
its original, so a repeated CREATE conflicts and becomes an UPDATE).  The address of each
copy is recorded in the original's internal `_ann` ({CSE-ID: {"ri": address, "names": [...]}});
`at` keeps the CSE-IDs the client gave.  See docs/federation.md, "Announcement".
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError, bad_request
from cse.events import EventKind
from cse.primitives import Request, Response
from cse.resource_types import Ty
from cse.tasks import cancel_and_wait

if TYPE_CHECKING:
    from cse.config import Config
    from cse.context import Context
    from cse.events import Event
    from cse.primitives import Handler
    from cse.resource_type import ResourceType
    from cse.storage import Storage
    from cse.type_registry import TypeRegistry

log = logging.getLogger(__name__)

ANNOUNCE_KEYS = frozenset({"at", "aa", "ast"})
# Announced for every type when present (TS-0001 9.6.26: et, lbl, acpi are MA everywhere).
UNIVERSAL_MA = ("et", "lbl")


def _is_cse_id(value: str) -> bool:
    return value.startswith("/") and len(value) > 1 and "/" not in value[1:]


class AnnouncementRules:
    """The checks of `at`, `aa` and `ast` in a CREATE or UPDATE (Operations asks)."""

    def __init__(self, config: "Config", storage: "Storage", types: "TypeRegistry"):
        self.own_id = config.cse.cse_id
        self.registrar_id = config.registrar.cse_id if config.registrar.url else ""
        self.storage = storage
        self.types = types

    def registered(self, cse_id: str) -> bool:
        """Our registrar, or a CSE registered with us (its <remoteCSE>)."""
        if cse_id == self.registrar_id:
            return True
        record = self.storage.get(cse_id[1:])
        return record is not None and record.get("ty") == Ty.CSR and record.get("csi") == cse_id

    def check(self, ctx: "Context", rtype: "ResourceType", attributes: dict, parent: dict | None,
              resource: dict | None = None) -> None:
        """Refuse bad announcement attributes of a CREATE (`resource` None) or an UPDATE."""
        if not ANNOUNCE_KEYS & attributes.keys() or rtype.schema.announced is None:
            return
        if attributes.get("ast") == 2:
            raise OneM2MError(RSC.NOT_IMPLEMENTED, "announceSyncType 2 (bi-directional) is not supported "
                                                   "by this CSE; use 1 (uni-directional)")
        targets = attributes.get("at")
        if targets:
            seen: set[str] = set()
            for target in targets:
                if not _is_cse_id(target):
                    raise bad_request(f"attribute 'at': {target!r} is not a CSE-ID (/<id>); this CSE announces "
                                      "to CSE-IDs only")
                if target == self.own_id:
                    raise bad_request(f"attribute 'at': {target!r} is this CSE; a resource is not announced "
                                      "to its own hosting CSE")
                if target in seen:
                    raise bad_request(f"attribute 'at' names {target!r} twice")
                seen.add(target)
                if not self.registered(target):
                    raise bad_request(f"attribute 'at': {target!r} is not a registered CSE (neither this "
                                      "CSE's registrar nor a CSE registered with it)")
                if parent is not None and resource is None:
                    self._check_parent(rtype, parent, target)
        ma, oa = rtype.schema.announced
        for name in attributes.get("aa") or ():
            if name not in oa:
                why = "always announced (MA)" if name in ma or name in UNIVERSAL_MA + ("acpi",) \
                    else "not an attribute the type may announce (OA)"
                raise bad_request(f"attribute 'aa': {name!r} of {rtype.type_name} is {why}")

    def _check_parent(self, rtype: "ResourceType", parent: dict, target: str) -> None:
        """A type whose announced variant can only stand below its parent's (a
        contentInstance below a containerAnnc) needs the parent announced there."""
        announced = self.types.get(rtype.announced_ty) if rtype.announced_ty is not None else None
        if announced is None or Ty.CSR in announced.parent_types:
            return
        if target not in (parent.get("at") or ()):
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"attribute 'at': a {rtype.type_name} is announced to {target} only below its "
                              f"parent's announced resource, and the parent is not announced there")


@dataclass(slots=True)
class _Entry:
    deleted: dict | None        # the original is gone: its copies ({CSE-ID: record}) to delete
    attempts: int = 0
    due: float = 0.0


class AnnouncementQueue:
    """EventSink: the originals whose copies must be synced, one entry per resource, at
    most `capacity` (past that an entry is dropped, counted and logged).  New entries are
    taken in arrival order; failed ones wait for their retry time (a heap), so that taking
    the next one never walks the whole queue."""

    def __init__(self, capacity: int, types: "TypeRegistry"):
        self.capacity = capacity
        self.types = types
        self.entries: dict[str, _Entry] = {}            # every pending original
        self._ready: OrderedDict[str, None] = OrderedDict()
        self._waiting: list[tuple[float, int, str]] = []    # (due, sequence, ri)
        self._sequence = itertools.count()
        self.dropped = 0
        self.wake = asyncio.Event()

    def publish(self, events: "list[Event]") -> None:
        for event in events:
            resource = event.resource
            if event.kind is EventKind.DELETED:
                if resource.get("_ann"):
                    self._put(resource["ri"], dict(resource["_ann"]))
            elif event.kind is EventKind.CREATED:
                if resource.get("at"):
                    self._put(resource["ri"], None)
            elif event.kind is EventKind.UPDATED and (resource.get("at") or resource.get("_ann")):
                if event.modified is None or self._concerns(resource, event.modified):
                    self._put(resource["ri"], None)

    def _concerns(self, resource: dict, modified: dict) -> bool:
        rtype = self.types.get(resource["ty"])
        if rtype is None or rtype.schema.announced is None:
            return False
        ma, oa = rtype.schema.announced
        return any(name in ma or name in oa or name in ("at", "aa", "acpi") or name in UNIVERSAL_MA
                   for name in modified)

    def _put(self, ri: str, deleted: dict | None) -> None:
        entry = self.entries.get(ri)
        if entry is not None:               # one entry per original; a waiting one keeps its time
            if deleted is not None:
                entry.deleted = deleted
            return
        if len(self.entries) >= self.capacity:
            self.dropped += 1
            log.warning("announcement queue full (%d resources): the change of %s is not announced",
                        self.capacity, ri)
            return
        self.entries[ri] = _Entry(deleted)
        self._ready[ri] = None
        self.wake.set()

    def add(self, ri: str) -> None:
        """Sync `ri` (a re-sync asked for, not caused by an event)."""
        self._put(ri, None)

    def take(self, now: float) -> tuple[str, _Entry] | None:
        """The next original to sync (removed from the queue), or None."""
        if self._ready:
            ri, _ = self._ready.popitem(last=False)
            return ri, self.entries.pop(ri)
        while self._waiting and self._waiting[0][0] <= now:
            due, _, ri = heapq.heappop(self._waiting)
            entry = self.entries.get(ri)
            if entry is not None and entry.due == due:
                del self.entries[ri]
                return ri, entry
        return None

    def next_due(self) -> float | None:
        return self._waiting[0][0] if self._waiting else None

    def retry(self, ri: str, entry: _Entry) -> None:
        """`entry` failed: again at entry.due, unless the original changed meanwhile (then its
        new entry, taken at once, inherits the attempts)."""
        current = self.entries.get(ri)
        if current is not None:
            current.attempts = entry.attempts
            if entry.deleted is not None and current.deleted is None:
                current.deleted = entry.deleted
            return
        self.entries[ri] = entry
        heapq.heappush(self._waiting, (entry.due, next(self._sequence), ri))


class _Postpone(Exception):
    """Something this sync needs is not announced yet (the parent, an ACP): try later."""


class Announcer:
    """Works the queue off the request path: one sync at a time, failed ones retried with
    back-off (retry_min doubling up to retry_max)."""

    def __init__(self, config: "Config", storage: "Storage", types: "TypeRegistry", dispatch: "Handler",
                 queue: AnnouncementQueue):
        settings = config.announcement
        self.own_id = config.cse.cse_id
        self.own_rn = config.cse.rn
        self.retry_min = settings.retry_min
        self.retry_max = settings.retry_max
        self.storage = storage
        self.types = types
        self.dispatch = dispatch
        self.queue = queue
        self._task: asyncio.Task | None = None
        self._rqi = itertools.count(1)
        self._rqi_prefix = f"{self.own_id[1:]}-ann-{secrets.token_hex(3)}-"

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="announcer")

    def resync(self, cse_id: str) -> None:
        """`cse_id` lost what we had announced to it (our registration there was made anew):
        sync every original announced to it.  One walk over the announceable resources (by the
        type index), only at such a re-registration."""
        types = [int(rtype.ty) for rtype in self.types if rtype.announceable]
        count = 0
        for resource in self.storage.descendants(self.own_rn, types=types):
            if cse_id in (resource.get("at") or ()):
                self.queue.add(resource["ri"])
                count += 1
        if count:
            log.info("re-announcing %d resources to %s", count, cse_id)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    # -- the queue ----------------------------------------------------------------------------
    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        queue = self.queue
        while True:
            taken = queue.take(loop.time())
            if taken is None:
                queue.wake.clear()
                due = queue.next_due()
                delay = 3600.0 if due is None else due - loop.time()
                try:
                    await asyncio.wait_for(queue.wake.wait(), max(delay, 0.001))
                except asyncio.TimeoutError:
                    pass
                continue
            ri, entry = taken
            try:
                left = await self._sync(ri, entry.deleted)
            except _Postpone:
                left = entry.deleted if entry.deleted is not None else {}
            except Exception:                       # noqa: BLE001 - one resource must not stop the rest
                log.exception("announcing %s failed", ri)
                left = entry.deleted if entry.deleted is not None else {}
            if left is None:
                continue
            if entry.deleted is not None:
                entry.deleted = left                # the copies still to delete
            entry.attempts += 1
            entry.due = loop.time() + min(self.retry_min * 2 ** (entry.attempts - 1), self.retry_max)
            queue.retry(ri, entry)

    # -- one sync -----------------------------------------------------------------------------
    async def _sync(self, ri: str, deleted: dict | None) -> dict | None:
        """Bring the copies of `ri` in line.  None: done; else retry (for a deleted original:
        the copies still to delete)."""
        if deleted is not None:
            return await self._delete_all(deleted)
        resource = self.storage.get(ri)
        if resource is None:
            return None                              # deleted: its DELETED event came with _ann
        rtype = self.types.of(resource)
        targets = list(resource.get("at") or ())
        copies: dict = {csi: dict(record) for csi, record in (resource.get("_ann") or {}).items()}
        failed = False
        for csi in [csi for csi in copies if csi not in targets]:
            if await self._delete(copies[csi]["ri"]):
                del copies[csi]
            else:
                failed = True
        for csi in targets:
            try:
                content = self._content(rtype, resource, csi)
            except _Postpone:
                failed = True
                continue
            record = await self._bring(rtype, resource, csi, content, copies.get(csi))
            if record is None:
                failed = True
            else:
                copies[csi] = record
        current = self.storage.get(ri)
        if current is None:                          # deleted while we sent: undo what we made
            left = await self._delete_all(copies)
            return left
        if copies != (current.get("_ann") or {}):
            with self.storage.transaction():
                current = self.storage.get(ri)
                if current is not None:
                    current["_ann"] = copies
                    self.storage.update(current, changed=("_ann",))
            await self.storage.commit()
        return {} if failed else None

    def _content(self, rtype: "ResourceType", resource: dict, csi: str) -> dict:
        ma, oa = rtype.schema.announced or (frozenset(), frozenset())
        wanted = set(resource.get("aa") or ())
        content: dict = {"lnk": f"{self.own_id}/{resource['ri']}"}
        for name in (*UNIVERSAL_MA, *sorted(ma), *sorted(oa & wanted)):
            if name in resource:
                content[name] = resource[name]
        mapped = []
        for reference in resource.get("acpi") or ():
            policy = self.storage.get(reference) if isinstance(reference, str) else None
            if policy is None or policy.get("ty") != Ty.ACP:
                continue
            record = (policy.get("_ann") or {}).get(csi)
            if record is not None:
                mapped.append(record["ri"][len(csi) + 1:])      # the acpA's ri at the target
            elif csi in (policy.get("at") or ()):
                raise _Postpone(f"ACP {reference} is not announced to {csi} yet")
        if mapped:
            content["acpi"] = mapped
        return content

    def _announced_parent(self, resource: dict, csi: str) -> str:
        parent = self.storage.get(resource["pi"])
        if parent is not None and csi in (parent.get("at") or ()):
            record = (parent.get("_ann") or {}).get(csi)
            if record is None:
                raise _Postpone(f"the parent of {resource['ri']} is not announced to {csi} yet")
            return record["ri"]
        return f"{csi}/{self.own_id[1:]}"            # our <remoteCSE> there

    async def _bring(self, rtype: "ResourceType", resource: dict, csi: str, content: dict,
                     record: dict | None) -> dict | None:
        """The copy at `csi` made or updated; its record, or None (retry)."""
        root = f"m2m:{rtype.short_name}A"
        names = sorted(name for name in content if name != "lnk")
        if record is not None:
            body = {**content, **{name: None for name in record.get("names", ()) if name not in content}}
            response = await self._send(3, record["ri"], pc={root: body})
            if response.rsc == RSC.UPDATED:
                return {"ri": record["ri"], "names": names}
            if response.rsc != RSC.NOT_FOUND:
                log.info("announcement update of %s at %s: %s", resource["ri"], csi, response.rsc)
                return None
            # The copy is gone (the target lost it, e.g. restarted without its data): make it again.
        try:
            parent = self._announced_parent(resource, csi)
        except _Postpone:
            return None
        response = await self._send(1, parent, ty=int(rtype.announced_ty or 0), pc={root: content})
        if response.rsc == RSC.CREATED and isinstance(response.pc, dict):
            made = response.pc.get(root) or {}
            return {"ri": f"{csi}/{made.get('ri')}", "names": names}
        if response.rsc == RSC.CONFLICT:
            # Made by an earlier attempt whose answer was lost: it is named after the original.
            address = f"{parent}/{resource['ri']}"
            response = await self._send(3, address, pc={root: content})
            if response.rsc == RSC.UPDATED and isinstance(response.pc, dict):
                made = response.pc.get(root) or {}
                return {"ri": f"{csi}/{made.get('ri')}", "names": names}
        log.info("announcement of %s to %s: %s", resource["ri"], csi, response.rsc)
        return None

    async def _delete(self, address: str) -> bool:
        response = await self._send(4, address)
        return response.rsc in (RSC.DELETED, RSC.NOT_FOUND)

    async def _delete_all(self, copies: dict) -> dict | None:
        left = {csi: record for csi, record in copies.items() if not await self._delete(record["ri"])}
        return left or None

    async def _send(self, op: int, to: str, **fields: object) -> Response:
        request = Request(op=op, to=to, fr=self.own_id, rqi=f"{self._rqi_prefix}{next(self._rqi)}",
                          rvi="3", **fields)  # type: ignore[arg-type]
        return await self.dispatch(request)


__all__ = ["AnnouncementQueue", "AnnouncementRules", "Announcer"]
