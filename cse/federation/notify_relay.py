"""NOTIFY requests addressed to an AE registered here: passed on to the AE's poa.

The dispatcher's `notify_handler`.  This is the registrar's half of a notification
that crosses CSEs: a subscription on an MN-CSE with `nu` = "/id-in/CEnergyApp" makes the
MN send a NOTIFY with `to` = that ID; forwarding brings it here, and this relay delivers
it to the AE.  It works the same for a NOTIFY sent from this CSE's own notifier to a
local AE-ID, so a notifier may hand every oneM2M-ID target to `dispatcher.handle`.

NOTIFY is access-controlled like every other operation (TS-0001 9.6.2, notify privilege =
acop 16): the originator must have NOTIFY on the <AE> (an ACP grant, or the default policy:
the AE itself, this CSE, the admin), or be a CSE this CSE knows, which sends the
notifications of subscriptions it hosts and relays those of CSEs behind it (`may_notify`).
Anybody else, an unregistered originator above all, is refused with 4103 and nothing
reaches the AE.  The AE's answer is relayed unchanged.
An AE with rr=false is not sent to: the NOTIFY waits in its <pollingChannel> until the AE
fetches it (cse/polling.py), and an AE without one is reported unreachable (5103).
A NOTIFY to a virtual child that serves requests itself (a pollingChannel's `pcu`, where
an AE answers what it fetched) is handed to that resource type.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from cse.access import Permission
from cse.addressing import AddressParser
from cse.errors import RSC, OneM2MError, bad_request
from cse.outbound import LOCAL_FAILURE, TIMED_OUT, live_entity_id
from cse.polling import polling_url
from cse.releases import release_for
from cse.resource_types import Ty

from .forwarding import debug_text, deadline_of, send_to_poa

if TYPE_CHECKING:
    from cse.config import Config
    from cse.context import Context, RequestContext
    from cse.operations import Operations
    from cse.primitives import Request, Response
    from cse.tree import Tree

    from .routing import Routes


def preferred_serialization(csz: list[str] | None) -> str:
    """json unless the entity lists serializations and CBOR is the only one it takes."""
    if not csz:
        return "json"
    names = {value.split("/")[-1].split("+")[-1].lower() for value in csz}
    return "json" if "json" in names or "cbor" not in names else "cbor"


class NotifyRelay:
    def __init__(self, config: "Config", operations: "Operations", tree: "Tree", routes: "Routes"):
        self.addresses = AddressParser(config.cse.cse_id, config.cse.rn, config.cse.sp_id)
        self.operations = operations        # to locate the target as the dispatcher would
        self.types = tree.types
        self.routes = routes                # which CSEs this CSE knows (may_notify)
        self.cse_id = config.cse.cse_id
        self.sp_id = config.cse.sp_id
        self.has_registrar = bool(config.registrar.url)
        self.releases = list(config.cse.supported_releases)

    async def handle(self, ctx: "RequestContext", request: "Request") -> "Response":
        address = self.addresses.parse(request.to)
        target = self.operations.locate(ctx, address)
        resource = target.resource
        if target.virtual is not None:
            rtype = self.types.of(resource)
            if target.virtual in rtype.served_virtual_children:
                return await rtype.serve_virtual(ctx, resource, target.virtual)
        if target.virtual is None and resource["ty"] == Ty.CB:
            # 4000 as ACME answers: over HTTP this is also what a POST without ty becomes, a
            # CREATE that forgot its type (docs/conformance.md).
            raise bad_request("the CSEBase takes no NOTIFY requests addressed to itself (it delivers "
                              "notifications to its registered AEs); over HTTP a POST without ty is a "
                              "NOTIFY: a CREATE needs ty in the Content-Type (e.g. application/json;ty=3)")
        if target.virtual is not None or resource["ty"] != Ty.AE:
            what = f"'{target.virtual}'" if target.virtual else self.types.of(resource).type_name
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"a NOTIFY cannot be addressed to {what} ({resource['_path']!r}); this CSE "
                              "delivers notifications to registered AEs only")
        return await self._to_ae(ctx, request, resource)

    def may_notify(self, ctx: "Context", originator: str | None, ae: dict) -> bool:
        """NOTIFY privilege on the AE, or a CSE known here: a registree (or a CSE below one),
        our registrar, or, on a CSE with a registrar, a CSE of our SP reached through it."""
        if ctx.access.allowed(ctx, originator, Permission.NOTIFY, ae):
            return True
        cse_id = self._cse_id_of(originator)
        if cse_id is None or cse_id == self.cse_id:
            return False
        if self.routes.registree_of(cse_id, ctx.now_ts) is not None:
            return True
        if self.routes.record(cse_id, ctx.now_ts) is not None:      # our registrar
            return True
        return self.has_registrar and not self.routes.came_from_below(cse_id, ctx.now_ts)

    def _cse_id_of(self, originator: str | None) -> str | None:
        """The SP-relative CSE-ID when `originator` is one (/id-mn, //sp/id-mn), else None."""
        if not originator:
            return None
        if originator.startswith("//"):
            sp, _, rest = originator[2:].partition("/")
            if "//" + sp != self.sp_id:
                return None         # another SP domain: only an ACP grant lets it notify
            originator = "/" + rest
        if not originator.startswith("/") or "/" in originator[1:] or len(originator) < 2:
            return None
        return originator

    async def _to_ae(self, ctx: "RequestContext", request: "Request", ae: dict) -> "Response":
        if not self.may_notify(ctx, request.fr, ae):
            raise OneM2MError(RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                              f"originator {request.fr!r} has no NOTIFY privilege on {request.to!r}")
        name = ae.get("aei", ae["ri"])
        live = ctx.outbound.live_url(live_entity_id(name, ctx.config.cse.cse_id))
        if live is not None:
            poa = [live]                        # it opened a connection to us (WebSocket)
        elif ae.get("rr") is False:
            poa = [polling_url(ae["ri"])]       # it fetches the NOTIFY from its pollingChannel
        else:
            poa = ae.get("poa") or []
        if not poa:
            raise OneM2MError(RSC.TARGET_NOT_REACHABLE, f"AE {name} has no point of access (poa)")
        deadline = deadline_of(request, ctx.now)
        timeout = deadline - ctx.now if deadline is not None else ctx.outbound.default_timeout
        # The AE gets the request in the newest release it registered with (its srv), not
        # the one the notifying CSE spoke to us.
        rvi = release_for(ae.get("srv"), self.releases, request.rvi)
        outgoing = dataclasses.replace(request, remote_address=None, authenticated=False, accept=None, rvi=rvi)
        response = await send_to_poa(ctx.outbound, poa, outgoing, timeout=timeout,
                                     serialization=preferred_serialization(ae.get("csz")))
        failure = response.extra.get(LOCAL_FAILURE)
        if failure is not None:
            if failure == TIMED_OUT and deadline is not None:
                raise OneM2MError(RSC.REQUEST_TIMEOUT, f"the request expired before AE {name} answered")
            raise OneM2MError(RSC.TARGET_NOT_REACHABLE, f"AE {name} is not reachable: {debug_text(response)}")
        return response
