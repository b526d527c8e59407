"""pollingChannel (m2m:pch, ty 15): where an entity that cannot be reached fetches its requests.

TS-0001 9.6.21 / 10.2.x, TS-0004 7.4.21.  An AE or CSE behind NAT (rr=false) creates one
under its own <AE> or <remoteCSE>; requests for it wait in memory (`cse/polling.py`) until it
fetches them through the virtual child `pcu` (pollingChannelURI):

    RETRIEVE <pch>/pcu        waits for the next request: 2000 {"m2m:rqp": {...}}, or 4008
                              when none arrived before rqet / polling.long_poll_max
    NOTIFY   <pch>/pcu        {"m2m:rsp": {"rsc": ..., "rqi": <of the fetched request>, ...}}:
                              the entity's answer, handed to whoever sent the request
    CREATE/UPDATE/DELETE pcu  4005

Rules here: at most one per AE/remoteCSE (a second one: 4005); no acpi - only the parent
entity may use the channel (cse/access.py: `parent_entity_only`), and only it may poll or
answer, not even the admin, who would take its requests away.  Deleting the channel
answers the requests and polls still waiting in it.
This module holds no state and never sends anything; the channels are `ctx.polling`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError
from cse.polling import entity_name
from cse.primitives import Operation
from cse.resource_type import ResourceType
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.context import Context, RequestContext
    from cse.primitives import Response

POLLING_CHANNEL_URI = "pcu"


class PollingChannel(ResourceType):
    ty = Ty.PCH
    short_name = "pch"
    type_name = "pollingChannel"
    parent_types = frozenset({Ty.AE, Ty.CSR})
    has_acpi = False
    parent_entity_only = True
    subscribable = False
    virtual_children = frozenset({POLLING_CHANNEL_URI})
    served_virtual_children = frozenset({POLLING_CHANNEL_URI})

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        # The parent's rules may let others create children of an AE; not this one.
        if not (ctx.access.is_entity(ctx.originator, parent) or ctx.access.is_admin(ctx.originator)):
            raise OneM2MError(RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                              f"originator {ctx.originator!r} may not create a pollingChannel for "
                              f"{entity_name(parent)}: only that entity itself may")

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        # Inside the write transaction, so two concurrent CREATEs cannot both pass.
        for existing in ctx.tree.children(parent, ctx.now_ts, self.ty):
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"{entity_name(parent)} already has a pollingChannel ({existing['rn']!r}); "
                              "an AE or CSE has at most one")

    def on_delete(self, ctx: "Context", resource: dict, parent: dict | None) -> None:
        if ctx.polling is not None:
            ctx.polling.close_channel(resource["ri"], "the pollingChannel was deleted")

    def resolve_virtual(self, ctx: "Context", resource: dict, name: str, op: int) -> dict:
        raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                          f"the pollingChannelURI '{name}' can only be retrieved (to fetch requests) "
                          "and notified (to answer them)")

    async def serve_virtual(self, ctx: "RequestContext", resource: dict, name: str) -> "Response":
        channels = ctx.polling
        if channels is None:
            raise OneM2MError(RSC.NOT_IMPLEMENTED, "this CSE holds no requests in polling channels")
        parent = ctx.tree.get(resource["pi"], ctx.now_ts)
        if parent is None:
            raise OneM2MError(RSC.NOT_FOUND, f"the owner of {ctx.request.to!r} no longer exists")
        owner = entity_name(parent)
        if not ctx.access.is_entity(ctx.originator, parent):
            raise OneM2MError(RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                              f"originator {ctx.originator!r} may not use {ctx.request.to!r}: only {owner}, "
                              "whose pollingChannel it is, fetches and answers its requests")
        op = ctx.request.op
        if op == Operation.RETRIEVE:
            return await channels.poll(ctx, resource, owner)
        if op == Operation.NOTIFY:
            return channels.answer(ctx, resource)
        raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"operation {op} is not allowed on a pollingChannelURI")
