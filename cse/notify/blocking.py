"""Blocking update (net 7, TS-0004 R4 Blocking_Update): an UPDATE of a resource
with such a subscription waits for the subscriber's answer before anything is written, and
fails when the subscriber refuses (4127 OPERATION_DENIED_BY_REMOTE_ENTITY, naming its rsc)
or cannot be reached in time (5107 REMOTE_ENTITY_NOT_REACHABLE), as ACME answers.

This is the one notification on the request path, because the TS makes it so; every other
notification is sent by `Delivery` after the response.  The question "has this resource a
blocking subscription?" is answered from the matcher's per-resource cache, which the UPDATE's
own event fills anyway, so an UPDATE of a resource without one pays a dict lookup.
The NOTIFY carries the modified attributes (nct 2, the only content type net 7 allows).
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..errors import RSC, OneM2MError
from ..primitives import Operation, Request
from ..tree import random_suffix
from .matching import BLOCKING_UPDATE

if TYPE_CHECKING:
    from ..config import NotificationSettings
    from ..context import Context
    from ..notification_target import TargetResolver
    from ..outbound import Outbound
    from .matching import Matcher, ReadCheck

log = logging.getLogger(__name__)


class BlockingUpdates:
    def __init__(self, matcher: "Matcher", resolver: "TargetResolver", outbound: "Outbound",
                 settings: "NotificationSettings", cse_id: str, may_read: "ReadCheck"):
        self.matcher = matcher
        self.resolver = resolver
        self.outbound = outbound
        self.settings = settings
        self.cse_id = cse_id
        self.may_read = may_read

    async def before_update(self, ctx: "Context", resource: dict, changes: dict, root: str) -> None:
        """Ask each blocking subscription's target; raise when one does not agree."""
        found = self.matcher.subscriptions_of(resource["ri"])
        if not found:
            return
        blocking = [s for s in found if BLOCKING_UPDATE in s.events
                    and (s.attributes is None or not s.attributes.isdisjoint(changes))]
        if not blocking:
            return
        self.may_read.begin()
        modified = {name: value for name, value in changes.items() if name[0] != "_"}
        for subscription in blocking:
            if not self.may_read(subscription, resource):
                continue
            sgn: dict = {"nev": {"net": BLOCKING_UPDATE, "rep": {root: modified}}, "sur": subscription.sur}
            if subscription.creator:
                sgn["cr"] = subscription.creator
            for target in subscription.targets:      # exactly one (checked at CREATE)
                await self._ask(subscription.ri, target, {"m2m:sgn": sgn}, subscription.doc)

    async def _ask(self, ri: str, target, pc: dict, doc: dict) -> None:
        resolver = self.resolver
        entity = resolver.entity(target)
        url = resolver.url_of(target, entity)
        if url is None:
            raise OneM2MError(RSC.REMOTE_ENTITY_NOT_REACHABLE,
                              f"blocking update: the subscriber {target.entry!r} of subscription {ri} cannot "
                              f"be reached: {resolver.describe_unreachable(target, entity)}")
        request = Request(op=Operation.NOTIFY, to=resolver.to_of(target), fr=self.cse_id,
                          rqi=f"bu-{ri}-{random_suffix(6)}", rvi=doc.get("_rvi"), pc=pc)
        response = await self.outbound.send(url, request,
                                            serialization=resolver.serialization_of(target, entity, doc.get("_ser")),
                                            timeout=self.settings.timeout)
        if 2000 <= response.rsc < 3000:
            return
        detail = ""
        if isinstance(response.pc, dict) and isinstance(response.pc.get("m2m:dbg"), str):
            detail = f": {response.pc['m2m:dbg']}"
        if response.rsc in (RSC.TARGET_NOT_REACHABLE, RSC.REQUEST_TIMEOUT):
            raise OneM2MError(RSC.REMOTE_ENTITY_NOT_REACHABLE,
                              f"blocking update: the subscriber {target.entry!r} of subscription {ri} did not "
                              f"answer{detail}")
        raise OneM2MError(RSC.OPERATION_DENIED_BY_REMOTE_ENTITY,
                          f"blocking update: the subscriber {target.entry!r} of subscription {ri} refused the "
                          f"update (rsc {response.rsc}{detail})")
