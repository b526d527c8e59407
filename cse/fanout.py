"""Fan-out through a group: `<group>/fopt[/relative path]` (TS-0001 10.2.7.x, reference section 10).

A request addressed to a group's fan-out point is sent again, through `Dispatcher.handle`,
to every member with `to` = member + relative path and the group request identifier `gid`;
the originator (`fr`) and everything else stay as they were.  Because the copies go through
the dispatcher, a member on another CSE is reached by the dispatcher's remote handler with
no code here, and each member applies its own access control for the original originator.
The answers are collected in one m2m:agr, in `mid` order, each m2m:rsp carrying the member's
ID in `fr`; the fan-out itself answers 2000 whatever the members answered.

Access to the fan-out point: the group's macp when it has one, else the group's own rules.
A CREATE of a subscription through fopt creates one at each member, carrying the group's
ID in gpi (TS-0001 10.2.7.10); nfu (aggregation of member notifications at the group host)
is not supported and refused by the subscription type.
The same (gid, group) arriving while it is being fanned out is a loop: 4104.
With rset, answers that arrive later are left out; none at all is 5209.

This module never changes the group and never looks inside the members' answers.
"""
from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Iterable

from .access import Permission
from .addressing import Address, not_found
from .clock import format_timestamp, parse_abs_rel
from .errors import RSC, OneM2MError, bad_request
from .filters import DISCOVERY
from .primitives import Handler, Operation, Request, Response
from .resource_types import Ty
from .tree import random_suffix

if TYPE_CHECKING:
    from .context import RequestContext

PERMISSIONS = {Operation.CREATE: Permission.CREATE, Operation.RETRIEVE: Permission.RETRIEVE,
               Operation.UPDATE: Permission.UPDATE, Operation.DELETE: Permission.DELETE,
               Operation.NOTIFY: Permission.NOTIFY}


class FanOut:
    def __init__(self, dispatch: Handler, fan_out_points: Iterable[str], max_parallel: int = 64):
        # The dispatcher's own entry point: each member request takes the whole path again.
        self.dispatch = dispatch
        # The names of fan-out points (a group's fopt), as the resource types declare them.
        self.points = tuple(sorted(fan_out_points))
        self.max_parallel = max_parallel
        self._active: set[tuple[str, str]] = set()
        # Member requests still running after an rset deadline (kept until they finish).
        self._late: set[asyncio.Task] = set()

    def addresses_fanout(self, request: Request) -> bool:
        """Cheap test before parsing: can `to` name a fan-out point at all?"""
        to = request.to
        for point in self.points:
            if point in to:
                return True
        return False

    async def handle(self, ctx: "RequestContext", address: Address) -> Response | None:
        """The aggregated answer, or None when `address` is not a fan-out point."""
        located = self._locate(ctx, address)
        if located is None:
            return None
        group, relative = located
        request = ctx.request
        self._check_access(ctx, group)
        members = group.get("mid") or []
        if not members:
            raise OneM2MError(RSC.NO_MEMBERS, f"group {group['_path']!r} has no members to fan out to")
        if request.gid is not None and (not isinstance(request.gid, str) or not request.gid):
            raise bad_request("the group request identifier (gid) must be a non-empty string")
        gid = request.gid or f"{ctx.config.cse.cse_id.lstrip('/')}-g{random_suffix(12)}"
        key = (gid, group["ri"])
        if key in self._active:
            raise OneM2MError(RSC.GROUP_REQUEST_IDENTIFIER_EXISTS,
                              f"group request {gid!r} reached {group['_path']!r} again (a loop of groups)")
        self._active.add(key)
        try:
            answers = await self._send(ctx, group, members, relative, address.attribute, gid)
        finally:
            self._active.discard(key)
        return Response(rsc=RSC.OK, pc={"m2m:agr": {"m2m:rsp": answers}})

    # -- steps --------------------------------------------------------------------------
    def _locate(self, ctx: "RequestContext", address: Address) -> tuple[dict, str] | None:
        tree = ctx.tree
        now_ts = ctx.now_ts
        if address.structured is not None:
            segments = address.structured.split("/")
            at = self._first_point(segments, 1)
            if at is None:
                return None
            group = tree.get_by_path("/".join(segments[:at]), now_ts)
        else:
            segments = list(address.rest)
            at = self._first_point(segments, 0)
            if at is None:
                return None
            group = tree.get(address.ri, now_ts) if address.ri is not None else None
            if group is not None and at > 0:
                group = tree.get_by_path(group["_path"] + "/" + "/".join(segments[:at]), now_ts)
        if group is None or tree.types.of(group).fan_out_point != segments[at]:
            raise not_found(address.local_to)
        return group, "/".join(segments[at + 1:])

    def _first_point(self, segments: list[str], start: int) -> int | None:
        """Index of the first segment from `start` on that names a fan-out point."""
        for at in range(start, len(segments)):
            if segments[at] in self.points:
                return at
        return None

    def _check_access(self, ctx: "RequestContext", group: dict) -> None:
        request = ctx.request
        permission = PERMISSIONS[Operation(request.op)]
        if request.op == Operation.RETRIEVE and (request.fc or {}).get("fu") == DISCOVERY:
            permission = Permission.DISCOVER
        # The fan-out point is governed by macp; the group's own rules when there is none.
        subject = {**group, "acpi": group["macp"]} if group.get("macp") else group
        if not ctx.access.allowed(ctx, ctx.originator, permission, subject):
            rules = "membersAccessControlPolicyIDs (macp)" if group.get("macp") else "the group's access rules"
            raise OneM2MError(RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                              f"originator {ctx.originator!r} has no {permission.name} privilege on the "
                              f"fan-out point of {group['_path']!r} ({rules})")

    def _member_request(self, ctx: "RequestContext", member: str, relative: str, attribute: str | None,
                        gid: str, group_ri: str) -> Request:
        request = ctx.request
        to = member + ("/" + relative if relative else "") + ("#" + attribute if attribute else "")
        changes: dict = {"to": to, "gid": gid, "oet": None}   # oet was already waited for
        if request.op == Operation.CREATE and request.ty == Ty.SUB and isinstance(request.pc, dict) \
                and isinstance(request.pc.get("m2m:sub"), dict):
            group_id = f"{ctx.config.cse.cse_id}/{group_ri}"
            changes["pc"] = {"m2m:sub": {**request.pc["m2m:sub"], "gpi": group_id}}
        for name in ("rqet", "rset"):                          # relative times stay anchored
            value = getattr(request, name)
            if value is not None:
                changes[name] = format_timestamp(parse_abs_rel(value, ctx.now, name))
        return dataclasses.replace(request, **changes)

    async def _send(self, ctx: "RequestContext", group: dict, members: list[str], relative: str,
                    attribute: str | None, gid: str) -> list[dict]:
        limit = asyncio.Semaphore(self.max_parallel)
        handle = self.dispatch

        async def one(member_request: Request) -> Response:
            async with limit:
                return await handle(member_request)

        tasks = [asyncio.ensure_future(one(self._member_request(ctx, m, relative, attribute, gid, group["ri"])))
                 for m in members]
        timeout = None
        if ctx.request.rset is not None:
            timeout = max(0.0, parse_abs_rel(ctx.request.rset, ctx.now, "rset") - ctx.now)
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            self._late.add(task)
            task.add_done_callback(self._late.discard)
        if not done:
            raise OneM2MError(RSC.GROUP_MEMBERS_NOT_RESPONDED,
                              f"no member of {group['_path']!r} answered before the result expiration "
                              "time (rset)")
        answers = []
        for member, task in zip(members, tasks):
            if task in done:
                answer = task.result().to_primitive()
                answer["rsc"] = int(answer["rsc"])
                answer["fr"] = member
                answers.append(answer)
        return answers
