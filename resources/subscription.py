"""subscription (m2m:sub, ty 23): who wants to hear about changes of its parent, and how.

This module checks what the schema cannot (which events and content types go together,
which child types exist, whether a target can be sent to) and verifies every notification
target that is not the originator itself (TS-0004 7.4.8.2.1; its ID in any form or any address
of its own <AE>/<remoteCSE> resource counts as itself): a verification request
(m2m:sgn with vrq) that must be answered with success, else the CREATE or UPDATE fails
with 5204 naming the target.  Both happen in the prepare_* hooks, before anything is
written.  Matching events and sending notifications is the notifier's (cse/notify.py);
this module never sends a notification.
"""
from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from cse.access import Permission
from cse.clock import parse_duration
from cse.errors import RSC, OneM2MError, bad_request
from cse.notification_target import TargetResolver, parse_target, same_entity
from cse.primitives import Operation, Request
from cse.resource_type import ResourceType
from cse.resource_types import Ty
from cse.tree import random_suffix

if TYPE_CHECKING:
    from cse.context import Context

# Types TS-0004 lets a <subscription> be created under (those this CSE implements are
# found in the registry; a type whose module says `subscribable = False` is still refused).
SUBSCRIBABLE_PARENTS = frozenset({Ty.ACP, Ty.AE, Ty.CNT, Ty.CB, Ty.DLV, Ty.EVCG, Ty.EXIN, Ty.GRP, Ty.LCP,
                                  Ty.MSSP, Ty.MGC, Ty.MGO, Ty.NOD, Ty.CSR, Ty.REQ, Ty.SCH, Ty.ASAR, Ty.SVSN,
                                  Ty.STCL, Ty.STCG, Ty.SMD, Ty.FCNT, Ty.TS})
# The virtual child notificationTargetSelfReference (TS-0004 R4), not served here.
NOTIFICATION_TARGET_SELF_REFERENCE = "ntsr"
SUPPORTED_EVENTS = frozenset({1, 2, 3, 4, 7, 8})
UNSUPPORTED_EVENTS = {5: "retrieve of a container without child resources", 6: "trigger received for AE"}
BLOCKING_UPDATE = 7
# Attributes a blocking subscription may not have (TS-0004 R4; ACME's list).
NOT_WITH_BLOCKING = ("exc", "gpi", "nfu", "bn", "rl", "psn", "pn", "nsp", "ln", "nec", "acrs")
UNSUPPORTED_CRITERIA = {"gq": "geoQuery"}
UNSUPPORTED_CONTENT = {4: "trigger payload"}
MODIFIED_ATTRIBUTES = 2
UPDATE_EVENT = 1
# The operations an operationMonitor can watch: those that change something (and so make an
# event); RETRIEVE (2) and NOTIFY (5) would put matching on every read: refused with 5001.
MONITORED_OPS = (1, 3, 4)


def _check_operation_monitor(enc: dict) -> None:
    """om: a list of {ops, org} (either may be left out, not both), alone (not with net)."""
    if "net" in enc:
        raise bad_request("attribute 'enc': operationMonitor (om) and notificationEventType (net) cannot be "
                          "given together")
    monitors = enc["om"]
    if not monitors:
        raise bad_request("attribute 'enc': operationMonitor (om) needs at least one entry")
    for entry in monitors:
        if not isinstance(entry, dict) or not set(entry) <= {"ops", "org"} or not entry:
            raise bad_request(f"attribute 'enc': om entry {entry!r} must be an object with ops and/or org")
        ops = entry.get("ops")
        if ops is not None and (not isinstance(ops, int) or isinstance(ops, bool) or ops not in MONITORED_OPS):
            raise OneM2MError(RSC.NOT_IMPLEMENTED if ops in (2, 5) else RSC.BAD_REQUEST,
                              f"attribute 'enc': om ops {ops!r}: this CSE monitors CREATE (1), UPDATE (3) "
                              "and DELETE (4)")
        org = entry.get("org")
        if org is not None and (not isinstance(org, str) or not org):
            raise bad_request(f"attribute 'enc': om org {org!r} must be an originator ID")


def _default_batch_duration(ctx: "Context", batch: dict | None) -> None:
    """bn with only num gets the CSE's duration written into it (TS-0004 7.4.8.2.1: the
    hosting CSE sets what the originator left out; ACME writes its default too)."""
    if batch is not None and "dur" not in batch:
        seconds = ctx.config.notification.default_batch_duration
        batch["dur"] = f"PT{seconds:g}S"


MISSING_DATA_EVENT = 8
TIMESERIES_CONTENT = 5
MISSING_DATA_MEMBERS = frozenset({"num", "dur"})


def _check_missing_data(enc: dict, parent_type: str, under_timeseries: bool, content_type: int) -> None:
    """net 8 (report on missing data points), its md criteria and nct 5 go together, and
    only under a timeSeries (TS-0004 7.4.8.2.1; the notifications: cse/notify/missing_data.py)."""
    events = set(enc.get("net") or [UPDATE_EVENT])
    if MISSING_DATA_EVENT not in events:
        if "md" in enc:
            raise bad_request("attribute 'enc': missing data criteria (md) apply only with notificationEventType 8")
        if content_type == TIMESERIES_CONTENT:
            raise bad_request("attribute 'nct': 5 (timeSeries notification) applies only to net 8 (missing data)")
        return
    if not under_timeseries:
        raise bad_request(f"attribute 'enc': notificationEventType 8 (report on missing data points) applies "
                          f"only to a timeSeries, not to a {parent_type}")
    if events != {MISSING_DATA_EVENT}:
        raise bad_request(f"attribute 'enc': notificationEventType 8 (missing data) cannot be combined with "
                          f"{sorted(events - {MISSING_DATA_EVENT})}: their notification contents differ")
    if content_type != TIMESERIES_CONTENT:
        raise bad_request(f"attribute 'nct': net 8 (missing data) is notified with nct 5 (timeSeries "
                          f"notification), not {content_type}")
    md = enc.get("md")
    if md is None:
        return
    unknown = sorted(set(md) - MISSING_DATA_MEMBERS)
    if unknown:
        raise bad_request(f"attribute 'enc': md has no member {unknown[0]!r} (only num and dur)")
    num = md.get("num")
    if num is not None and (not isinstance(num, int) or isinstance(num, bool) or num < 1):
        raise bad_request(f"attribute 'enc': md num {num!r} is not a positive integer")
    if md.get("dur") is not None and parse_duration(md["dur"], "attribute 'enc': md dur") <= 0:
        raise bad_request("attribute 'enc': md dur must be longer than zero")


def _is_valid_event_category(ec: int) -> bool:
    return ec in (2, 3, 4) or 100 <= ec <= 999


class Subscription(ResourceType):
    ty = Ty.SUB
    short_name = "sub"
    type_name = "subscription"
    parent_types = SUBSCRIBABLE_PARENTS
    subscribable = False
    reserved_child_names = frozenset({NOTIFICATION_TARGET_SELF_REFERENCE})

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        parent_type = ctx.tree.types.of(parent)
        if not parent_type.subscribable:
            raise OneM2MError(RSC.TARGET_NOT_SUBSCRIBABLE,
                              f"a {parent_type.type_name} cannot be subscribed to")
        # TS-0004 7.4.8.2.1: the subscriber must be allowed to read what it subscribes to.
        ctx.access.check(ctx, Permission.RETRIEVE, parent)
        enc = dict(resource.get("enc") or {})
        if "om" not in enc:         # operationMonitor alone is a criterion of its own
            enc.setdefault("net", [UPDATE_EVENT])
        resource["enc"] = enc
        events = enc.get("net", ())
        resource.setdefault("nct", TIMESERIES_CONTENT if MISSING_DATA_EVENT in events
                            else MODIFIED_ATTRIBUTES if BLOCKING_UPDATE in events else 1)
        self._check(ctx, resource, parent)
        if BLOCKING_UPDATE in events:
            self._check_blocking(ctx, resource, parent)
        _default_batch_duration(ctx, resource.get("bn"))
        await self._check_destinations(ctx, resource)
        self._check_quota(ctx, resource, None)
        request = ctx.request
        if request is not None:
            if request.accept:
                resource["_ser"] = request.accept
            if request.rvi:
                resource["_rvi"] = request.rvi
        await self._verify(ctx, resource, resource["nu"])

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if changes.get("enc") is not None:
            enc = changes["enc"]
            if BLOCKING_UPDATE in (enc.get("net") or ()) or BLOCKING_UPDATE in resource.get("enc", {}).get("net", ()):
                raise bad_request("attribute 'enc': a blocking update subscription (net 7) is made by CREATE "
                                  "only; its enc cannot be updated, nor can net 7 be added")
            changes["enc"] = enc if "om" in enc else {"net": [UPDATE_EVENT], **enc}
        if changes.get("nse") and not resource.get("nse"):
            # Statistics start afresh when switched on (TS-0004 R4); nsi comes with the first count.
            changes["nsi"] = None
        _default_batch_duration(ctx, changes.get("bn"))
        merged = {**resource, **changes}
        merged = {k: v for k, v in merged.items() if v is not None}
        parent = ctx.storage.get(resource["pi"])
        if parent is None:
            raise OneM2MError(RSC.NOT_FOUND,
                              f"the subscribed-to resource of {resource['ri']} no longer exists")
        self._check(ctx, merged, parent)
        if BLOCKING_UPDATE in merged.get("enc", {}).get("net", ()):
            self._check_blocking_attributes(merged)
        if changes.get("nu") or changes.get("su"):
            await self._check_destinations(ctx, changes)
        if changes.get("nu"):
            self._check_quota(ctx, merged, resource["ri"])
        if changes.get("nu"):
            known = set(resource.get("nu") or ())
            await self._verify(ctx, resource, [entry for entry in changes["nu"] if entry not in known])

    # -- rules the schema cannot express ---------------------------------------------------
    def _check(self, ctx: "Context", sub: dict, parent: dict) -> None:
        for entry in sub.get("nu") or ():
            self._check_target(ctx, entry, "nu")
        if sub.get("su"):
            self._check_target(ctx, sub["su"], "su")
        enc = sub.get("enc") or {}
        for member, name in UNSUPPORTED_CRITERIA.items():
            if member in enc:
                raise OneM2MError(RSC.NOT_IMPLEMENTED,
                                  f"attribute 'enc': member '{member}' ({name}) is not supported by this CSE")
        if "om" in enc:
            _check_operation_monitor(enc)
        events = enc.get("net") or ([] if "om" in enc else [UPDATE_EVENT])
        for event in events:
            if event in UNSUPPORTED_EVENTS:
                raise OneM2MError(RSC.NOT_IMPLEMENTED,
                                  f"attribute 'enc': notificationEventType {event} "
                                  f"({UNSUPPORTED_EVENTS[event]}) is not supported by this CSE")
        if BLOCKING_UPDATE in events and len(events) > 1:
            raise bad_request("attribute 'enc': net 7 (blocking update) must be the only notificationEventType "
                              f"of its subscription, not one of {sorted(events)}")
        types = ctx.tree.types
        parent_type = types.of(parent)
        _check_missing_data(enc, parent_type.type_name, parent["ty"] == Ty.TS, sub.get("nct", 1))
        for child_ty in enc.get("chty") or ():
            child_type = types.get(child_ty)
            if child_type is None or parent["ty"] not in child_type.parent_types:
                raise bad_request(f"attribute 'enc': chty {child_ty} is not a resource type that can be a "
                                  f"child of a {parent_type.type_name}")
        for name in enc.get("atr") or ():
            if not parent_type.defines(name, parent):
                raise bad_request(f"attribute 'enc': atr {name!r} is not an attribute of "
                                  f"{parent_type.type_name}")
        content_type = sub.get("nct", MODIFIED_ATTRIBUTES if BLOCKING_UPDATE in events else 1)
        if content_type in UNSUPPORTED_CONTENT:
            raise OneM2MError(RSC.NOT_IMPLEMENTED,
                              f"attribute 'nct': {content_type} ({UNSUPPORTED_CONTENT[content_type]}) is not "
                              "supported by this CSE")
        if BLOCKING_UPDATE in events:
            if content_type != MODIFIED_ATTRIBUTES:
                raise bad_request(f"attribute 'nct': net 7 (blocking update) sends the modified attributes "
                                  f"(nct 2), not nct {content_type}")
        elif content_type == MODIFIED_ATTRIBUTES and set(events) != {UPDATE_EVENT}:
            raise bad_request(f"attribute 'nct': 2 (modified attributes) applies only to net 1 "
                              f"(update of the resource), not to net {sorted(events)}")
        batch = sub.get("bn")
        if batch is not None and "dur" in batch:
            if parse_duration(batch["dur"], "attribute 'bn': dur") <= 0:
                raise bad_request("attribute 'bn': dur must be longer than zero")
        ec = sub.get("nec")
        if ec is not None and not _is_valid_event_category(ec):
            raise bad_request(f"attribute 'nec': {ec} is not an event category (2, 3, 4 or 100..999)")

    def _check_blocking(self, ctx: "Context", sub: dict, parent: dict) -> None:
        """net 7 at CREATE: one target, none of the policy attributes, only net and atr in
        enc, and no other blocking subscription on the resource (4124)."""
        self._check_blocking_attributes(sub)
        for other in ctx.storage.children(parent["ri"], Ty.SUB):
            if BLOCKING_UPDATE in (other.get("enc") or {}).get("net", ()):
                raise OneM2MError(RSC.BLOCKING_SUBSCRIPTION_ALREADY_EXISTS,
                                  "a blocking update subscription (net 7) already exists for this resource")

    @staticmethod
    def _check_blocking_attributes(sub: dict) -> None:
        if len(sub.get("nu") or ()) != 1:
            raise bad_request("attribute 'nu': a blocking update subscription (net 7) has exactly one "
                              "notification target")
        present = [name for name in NOT_WITH_BLOCKING if sub.get(name) is not None]
        if present:
            raise bad_request(f"a blocking update subscription (net 7) cannot have {', '.join(present)}")
        others = sorted(set(sub.get("enc") or {}) - {"net", "atr"})
        if others:
            raise bad_request(f"attribute 'enc': a blocking update subscription (net 7) takes only net and atr, "
                              f"not {', '.join(others)}")

    @staticmethod
    def _check_target(ctx: "Context", entry: str, attribute: str) -> None:
        target = parse_target(entry, attribute)
        if target.url is not None and not ctx.outbound.supports(target.url):
            scheme = target.url.split("://", 1)[0]
            raise bad_request(f"attribute '{attribute}': {entry!r}: this CSE has no binding that sends "
                              f"over {scheme}")

    @staticmethod
    async def _check_destinations(ctx: "Context", sub: dict) -> None:
        """The outbound policy (cse/outbound_policy.py) on every URL target: 4000 at once
        rather than a notification that can never leave."""
        policy = ctx.outbound.policy
        for entry in sub.get("nu") or ():
            await policy.check_url(entry, "nu")
        if sub.get("su"):
            await policy.check_url(sub["su"], "su")

    @staticmethod
    def _check_quota(ctx: "Context", sub: dict, replacing: str | None) -> None:
        """notification.max_subscriptions_per_originator / max_targets_per_originator: past
        either the CREATE (or UPDATE of nu) is refused with 5207 NOT_ACCEPTABLE, so that one
        originator cannot make the CSE hold notifications for any number of targets.  The
        count walks the subscriptions (an index on ty): a subscription CREATE is rare next
        to the notifications it causes."""
        settings, cse = ctx.config.notification, ctx.config.cse
        originator = ctx.originator
        if not originator or originator in (cse.admin_originator, cse.cse_id) or \
                not (settings.max_subscriptions_per_originator or settings.max_targets_per_originator):
            return
        count = 1
        targets = {parse_target(entry).key for entry in sub.get("nu") or ()}
        root = ctx.storage.get_by_path(cse.rn)
        for doc in ctx.storage.descendants(root["_path"] if root else cse.rn, types=(Ty.SUB,)):
            if doc.get("_org") != originator or doc.get("ri") == replacing:
                continue
            count += 1
            for entry in doc.get("nu") or ():
                try:
                    targets.add(parse_target(entry).key)
                except OneM2MError:
                    continue
        most = settings.max_subscriptions_per_originator
        if replacing is None and most and count > most:
            raise OneM2MError(RSC.NOT_ACCEPTABLE, f"originator {originator!r} already holds {count - 1} "
                              f"subscriptions, the most this CSE accepts "
                              f"(notification.max_subscriptions_per_originator {most})")
        most = settings.max_targets_per_originator
        if most and len(targets) > most:
            raise OneM2MError(RSC.NOT_ACCEPTABLE, f"the subscriptions of originator {originator!r} would "
                              f"notify {len(targets)} distinct targets, more than this CSE accepts "
                              f"(notification.max_targets_per_originator {most})")

    # -- verification -----------------------------------------------------------------------
    @classmethod
    async def verify_targets(cls, ctx: "Context", resource: dict, entries: list[str]) -> None:
        """Send a verification request to every entry that is not the originator itself
        (5204 naming each failure); the crossResourceSubscription type verifies its nu too."""
        await cls._verify(cls, ctx, resource, entries)  # type: ignore[arg-type]

    async def _verify(self, ctx: "Context", resource: dict, entries: list[str]) -> None:
        config = ctx.config
        originator = ctx.originator
        resolver = TargetResolver(config, ctx.storage, ctx.outbound)
        targets = [target for target in map(parse_target, entries)
                   if not self._is_originator(ctx, resolver, target)]
        if not targets:
            return
        sgn = {"vrq": True, "sur": f"{config.cse.cse_id}/{resource['ri']}"}
        if originator:
            sgn["cr"] = originator
        failures = await asyncio.gather(*(self._verify_one(ctx, resolver, t, resource, sgn) for t in targets))
        failed = [f for f in failures if f]
        if failed:
            raise OneM2MError(RSC.SUBSCRIPTION_VERIFICATION_INITIATION_FAILED, "; ".join(failed))

    @staticmethod
    def _is_originator(ctx: "Context", resolver: TargetResolver, target) -> bool:
        """Whether a target names the originator itself: its ID in any form, or any address
        (structured or unstructured) of its own <AE> / <remoteCSE> resource."""
        config = ctx.config
        if same_entity(target.entry, ctx.originator, config.cse.cse_id, config.cse.sp_id):
            return True
        if target.url is not None or not ctx.originator:
            return False
        entity = resolver.entity(target)
        return entity is not None and ctx.access.is_entity(ctx.originator, entity)

    @staticmethod
    async def _verify_one(ctx: "Context", resolver: TargetResolver, target, resource: dict,
                          sgn: dict) -> str | None:
        entity = resolver.entity(target)
        url = resolver.url_of(target, entity)
        if url is None:
            return (f"notification target {target.entry!r} cannot be verified: "
                    f"{resolver.describe_unreachable(target, entity)}")
        request = Request(op=Operation.NOTIFY, to=resolver.to_of(target), fr=ctx.config.cse.cse_id,
                          rqi=f"vrq-{resource['ri']}-{random_suffix(6)}",
                          rvi=resource.get("_rvi"), pc={"m2m:sgn": sgn})
        response = await ctx.outbound.send(
            url, request, serialization=resolver.serialization_of(target, entity, resource.get("_ser")),
            timeout=ctx.config.notification.verification_timeout)
        if 2000 <= response.rsc < 3000:
            return None
        detail = ""
        if isinstance(response.pc, dict) and isinstance(response.pc.get("m2m:dbg"), str):
            detail = f": {response.pc['m2m:dbg']}"
        if response.rsc in (RSC.TARGET_NOT_REACHABLE, RSC.REQUEST_TIMEOUT):
            return f"notification target {target.entry!r} could not be reached for verification{detail}"
        return (f"notification target {target.entry!r} refused the verification request "
                f"(rsc {response.rsc}{detail})")
