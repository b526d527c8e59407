"""NOTIFY requests addressed to an AE registered here: passed on to the AE's poa.

The dispatcher's `notify_handler`.  This is the registrar's half of a notification
that crosses CSEs: a subscription on an MN-CSE with `nu` = "/id-in/CEnergyApp" makes the
MN send a NOTIFY with `to` = that ID; forwarding brings it here, and this relay delivers
it to the AE.  It works the same for a NOTIFY sent from this CSE's own notifier to a
local AE-ID, so a notifier may hand every oneM2M-ID target to `dispatcher.handle`.

Like forwarding, this is a transit role: no access control on the AE resource (the AE
decides what it accepts, e.g. by checking `sur`), the AE's answer is relayed unchanged.
An AE with rr=false is not sent to: the NOTIFY waits in its <pollingChannel> until the AE
fetches it (cse/polling.py), and an AE without one is reported unreachable (5103).
A NOTIFY to a virtual child that serves requests itself (a pollingChannel's `pcu`, where
an AE answers what it fetched) is handed to that resource type.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cse.addressing import AddressParser
from cse.errors import RSC, OneM2MError
from cse.outbound import LOCAL_FAILURE, TIMED_OUT
from cse.polling import polling_url
from cse.resource_types import Ty

from .forwarding import debug_text, deadline_of, send_to_poa

if TYPE_CHECKING:
    from cse.config import Config
    from cse.context import RequestContext
    from cse.operations import Operations
    from cse.primitives import Request, Response
    from cse.tree import Tree



def preferred_serialization(csz: list[str] | None) -> str:
    """json unless the entity lists serializations and CBOR is the only one it takes."""
    if not csz:
        return "json"
    names = {value.split("/")[-1].split("+")[-1].lower() for value in csz}
    return "json" if "json" in names or "cbor" not in names else "cbor"


class NotifyRelay:
    def __init__(self, config: "Config", operations: "Operations", tree: "Tree"):
        self.addresses = AddressParser(config.cse.cse_id, config.cse.rn, config.cse.sp_id)
        self.operations = operations        # to locate the target as the dispatcher would
        self.types = tree.types

    async def handle(self, ctx: "RequestContext", request: "Request") -> "Response":
        address = self.addresses.parse(request.to)
        target = self.operations.locate(ctx, address)
        resource = target.resource
        if target.virtual is not None:
            rtype = self.types.of(resource)
            if target.virtual in rtype.served_virtual_children:
                return await rtype.serve_virtual(ctx, resource, target.virtual)
        if target.virtual is None and resource["ty"] == Ty.CB:
            raise OneM2MError(RSC.NOT_IMPLEMENTED, "this CSE takes no NOTIFY requests addressed to itself; "
                                                   "it delivers notifications to its registered AEs")
        if target.virtual is not None or resource["ty"] != Ty.AE:
            what = f"'{target.virtual}'" if target.virtual else self.types.of(resource).type_name
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"a NOTIFY cannot be addressed to {what} ({resource['_path']!r}); this CSE "
                              "delivers notifications to registered AEs only")
        return await self._to_ae(ctx, request, resource)

    async def _to_ae(self, ctx: "RequestContext", request: "Request", ae: dict) -> "Response":
        name = ae.get("aei", ae["ri"])
        if ae.get("rr") is False:
            poa = [polling_url(ae["ri"])]       # it fetches the NOTIFY from its pollingChannel
        else:
            poa = ae.get("poa") or []
        if not poa:
            raise OneM2MError(RSC.TARGET_NOT_REACHABLE, f"AE {name} has no point of access (poa)")
        deadline = deadline_of(request, ctx.now)
        timeout = deadline - ctx.now if deadline is not None else ctx.outbound.default_timeout
        outgoing = dataclasses.replace(request, remote_address=None, authenticated=False, accept=None)
        response = await send_to_poa(ctx.outbound, poa, outgoing, timeout=timeout,
                                     serialization=preferred_serialization(ae.get("csz")))
        failure = response.extra.get(LOCAL_FAILURE)
        if failure is not None:
            if failure == TIMED_OUT and deadline is not None:
                raise OneM2MError(RSC.REQUEST_TIMEOUT, f"the request expired before AE {name} answered")
            raise OneM2MError(RSC.TARGET_NOT_REACHABLE, f"AE {name} is not reachable: {debug_text(response)}")
        return response
