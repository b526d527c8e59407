"""group (m2m:grp, ty 9): resources addressed together (TS-0001 9.6.13, TS-0004 7.4.13).

What the group itself keeps: the member list `mid` (duplicates removed), `cnm`, and whether
every member's type was checked (`mtv`).  On CREATE and on an UPDATE of `mid` each member is
RETRIEVEd through the CSE's dispatcher with the originator's identity, the same path a
fan-out takes, so local and remote members, the members' own access control and their
types are checked one way:
    member absent (local)             4004
    originator may not read it        5105 RECEIVER_HAS_NO_PRIVILEGE
    remote member not reachable       kept, mtv = false
    type differs from mt (not mixed)  csy 1 drop the member (default), 2 refuse (4110),
                                      3 make the group mixed (mt = 0)
    specialization differs from spty  the same as a type that differs (spty: the cnd of a
                                      flexContainer group, mt 28; the mgd of an mgmtObj
                                      group, mt 13)
    more members than mnm             6010 (also when mnm is lowered below cnm)
A member `<group>/fopt` is a sub-group; its own mt is its type for these checks.

The fan-out point `fopt` is served by `cse/fanout.py`; this module never sends requests
other than the member checks and never touches the members.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from cse.addressing import AddressParser, split_virtual
from cse.errors import RSC, OneM2MError, bad_request
from cse.primitives import Operation, Request
from cse.resource_type import ResourceType
from cse.resource_types import Ty, is_onem2m_type

if TYPE_CHECKING:
    from cse.context import Context, RequestContext

FANOUT_POINT = "fopt"
MIXED = 0
# Member types with specializations: (spty value type, its description, the member attribute).
SPECIALIZED = {Ty.FCNT: (str, "a containerDefinition (cnd) string", "cnd"),
               Ty.MGO: (int, "a mgmtDefinition (mgd) number", "mgd")}
ABANDON_MEMBER, ABANDON_GROUP, SET_MIXED = 1, 2, 3


class Group(ResourceType):
    ty = Ty.GRP
    short_name = "grp"
    type_name = "group"
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.CSR})
    virtual_children = frozenset({FANOUT_POINT})
    fan_out_point = FANOUT_POINT

    def validate_create(self, attributes: dict) -> None:
        super().validate_create(attributes)
        mt = attributes.get("mt", MIXED)
        if mt != MIXED and not is_onem2m_type(mt):
            raise bad_request(f"group attribute 'mt': {mt} is neither 0 (mixed) nor a oneM2M resource type")
        spty = attributes.get("spty")
        if spty is not None:
            expected = SPECIALIZED.get(mt)
            if expected is None:
                raise bad_request(f"group attribute 'spty' applies to a group of flexContainers (mt {int(Ty.FCNT)}) "
                                  f"or mgmtObjs (mt {int(Ty.MGO)}), not to mt {mt}")
            if not isinstance(spty, expected[0]) or isinstance(spty, bool):
                raise bad_request(f"group attribute 'spty': {spty!r} is not {expected[1]}")

    async def prepare_create(self, ctx: "RequestContext", resource: dict, parent: dict) -> None:
        resource.setdefault("mt", MIXED)
        members, validated, mt = await self._validate_members(
            ctx, resource["mid"], resource["mt"], resource.get("csy", ABANDON_MEMBER), resource["mnm"],
            resource.get("spty"))
        resource.update(mid=members, cnm=len(members), mtv=validated, mt=mt, ssi=False)

    async def prepare_update(self, ctx: "RequestContext", resource: dict, changes: dict) -> None:
        if changes.get("mid") is None:
            return
        mnm = changes.get("mnm") or resource["mnm"]
        members, validated, mt = await self._validate_members(
            ctx, changes["mid"], resource["mt"], resource.get("csy", ABANDON_MEMBER), mnm, resource.get("spty"))
        # Applied with the request's own changes in the same transaction.
        changes.update(mid=members, cnm=len(members), mtv=validated)
        if mt != resource["mt"]:
            changes["mt"] = mt

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if resource["mnm"] < resource.get("cnm", 0):
            raise OneM2MError(RSC.MAX_NUMBER_OF_MEMBER_EXCEEDED,
                              f"maxNrOfMembers (mnm) {resource['mnm']} is below the current number of "
                              f"members (cnm) {resource['cnm']}")

    def resolve_virtual(self, ctx: "Context", resource: dict, name: str, op: int) -> dict:
        raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                          f"{resource['_path']}/{name} is the group's fan-out point, not a resource")

    # -- member checks ------------------------------------------------------------------
    async def _validate_members(self, ctx: "RequestContext", mid: list[str], mt: int, csy: int,
                                mnm: int, spty: int | str | None = None) -> tuple[list[str], bool, int]:
        """(members kept, all types verified, memberType after csy)."""
        unique = list(dict.fromkeys(mid))
        if len(unique) > mnm:
            raise OneM2MError(RSC.MAX_NUMBER_OF_MEMBER_EXCEEDED,
                              f"memberIDs (mid) lists {len(unique)} members, more than maxNrOfMembers "
                              f"(mnm) {mnm}")
        inspected = await asyncio.gather(*(self._inspect(ctx, member) for member in unique))
        kept: list[str] = []
        identities: set[tuple] = set()
        validated = True
        for member, (identity, member_type, specialization) in zip(unique, inspected):
            if identity is not None:
                if identity in identities:       # the same resource under another address
                    continue
                identities.add(identity)
            if member_type is None:
                validated = False
            elif mt != MIXED and (member_type != mt or (spty is not None and specialization != spty)):
                if csy == ABANDON_GROUP:
                    if member_type != mt:
                        what, expected = f"type {member_type}", f"memberType (mt) is {mt}"
                    else:
                        what, expected = f"specialization {specialization!r}", f"specializationType (spty) is {spty!r}"
                    raise OneM2MError(RSC.GROUP_MEMBER_TYPE_INCONSISTENT,
                                      f"member {member!r} has {what}, the group's {expected} and "
                                      "consistencyStrategy (csy) is ABANDON_GROUP")
                if csy == SET_MIXED:
                    mt = MIXED
                else:
                    continue
            kept.append(member)
        return kept, validated, mt

    async def _inspect(self, ctx: "RequestContext", member: str) -> tuple[tuple | None, int | None, object]:
        """(identity, type, specialization) of one member, or (None, None, None) for a remote
        member that could not be reached; refusals raise."""
        if ctx.dispatch is None:
            raise OneM2MError(RSC.INTERNAL_SERVER_ERROR, "the group type needs a dispatcher to check members")
        target, sub_group = member, False
        parser = AddressParser(ctx.config.cse.cse_id, ctx.config.cse.rn, ctx.config.cse.sp_id)
        try:
            address = parser.parse(member)
        except OneM2MError:
            raise bad_request(f"group member {member!r} (mid) is not a resource address") from None
        if "#" in member:
            raise bad_request(f"group member {member!r} (mid) names an attribute, not a resource")
        split = split_virtual(member, ctx.tree.types.reserved_names)
        if split is not None:
            if split[1] != FANOUT_POINT:
                raise bad_request(f"group member {member!r} (mid) is a virtual resource; only a "
                                  f"sub-group's fan-out point (<group>/{FANOUT_POINT}) may be a member")
            target, sub_group = split[0], True
        request = ctx.request
        answer = await ctx.dispatch(Request(op=Operation.RETRIEVE, to=target, fr=ctx.originator,
                                             rqi=f"{request.rqi}-mid", rvi=request.rvi))
        remote = address.remote_cse is not None
        if answer.rsc == RSC.OK:
            attributes = next(iter(answer.pc.values())) if isinstance(answer.pc, dict) and answer.pc else {}
            if not isinstance(attributes, dict):        # a remote CSE's odd answer
                attributes = {}
            member_type = attributes.get("ty")
            specialization = attributes.get(SPECIALIZED[member_type][2]) if member_type in SPECIALIZED else None
            if sub_group:
                if member_type != Ty.GRP:
                    raise bad_request(f"group member {member!r} (mid) ends in /{FANOUT_POINT} but "
                                      f"{target!r} is not a group")
                member_type = attributes.get("mt", MIXED)
                specialization = attributes.get("spty")
            identity = (address.remote_sp, address.remote_cse, attributes.get("ri", target), sub_group)
            return identity, member_type, specialization
        if answer.rsc in (RSC.ORIGINATOR_HAS_NO_PRIVILEGE, RSC.RECEIVER_HAS_NO_PRIVILEGE):
            raise OneM2MError(RSC.RECEIVER_HAS_NO_PRIVILEGE,
                              f"group member {member!r} (mid) may not be retrieved by {ctx.originator!r}")
        if remote:
            return None, None, None
        if answer.rsc == RSC.NOT_FOUND:
            raise OneM2MError(RSC.NOT_FOUND, f"group member {member!r} (mid) does not exist")
        detail = answer.pc.get("m2m:dbg", "") if isinstance(answer.pc, dict) else ""
        raise OneM2MError(answer.rsc, f"group member {member!r} (mid) cannot be used: {detail}")
