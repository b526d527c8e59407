"""crossResourceSubscription (m2m:crs, ty 48) [R3]: one notification when events on all of
several resources happen within a time window (cse/crossresource.py watches and notifies;
docs/automation.md).

Checks of CREATE and UPDATE (4000 unless said otherwise):
* at least one of `rrat` (resources) and `srat` (existing <subscription>s); each must be a
  resource of this CSE the originator may RETRIEVE (one on another CSE: 5001), an `srat`
  entry a subscription;
* `encs` with `rrat` only, one entry for all or one per `rrat` entry; its members: net 1-4,
  atr, chty and the filter members of an enc (others 5001);
* `tws` a positive duration up to one day; `nu` entries sendable, and verified like a
  subscription's (5204 when a target refuses);
* `nec`, `nse`, `eem`: 5001.

The CSE does not create <subscription>s on the `rrat` resources (so `rrats` stays absent)
and does not add itself to the `srat` subscriptions' nu: it watches their events directly
with the same criteria (docs/conformance.md).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cse.clock import parse_duration
from cse.crossresource import TARGETS_KEY, encs_entries
from cse.errors import RSC, OneM2MError, bad_request
from cse.filters import check_filter_criteria
from cse.notify.matching import FILTER_MEMBERS
from cse.notification_target import parse_target
from cse.resource_type import ResourceType
from cse.resource_types import Ty

from .action import local_subject
from .subscription import Subscription

if TYPE_CHECKING:
    from cse.context import Context

MAX_WINDOW = 86400.0
ENC_MEMBERS = frozenset({"net", "atr", "chty", *FILTER_MEMBERS})


class CrossResourceSubscription(ResourceType):
    ty = Ty.CRS
    short_name = "crs"
    type_name = "crossResourceSubscription"
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.CSR})

    def validate_create(self, attributes: dict) -> None:
        super().validate_create(attributes)
        rrat, srat = attributes.get("rrat") or [], attributes.get("srat") or []
        if not rrat and not srat:
            raise bad_request("a crossResourceSubscription needs rrat (resources) or srat (subscriptions) "
                              "as targets")
        encs = attributes.get("encs")
        if encs is not None and not rrat:
            raise bad_request("attribute 'encs' applies to rrat targets; srat subscriptions bring their own enc")
        if rrat:
            entries = encs_entries(encs) if isinstance(encs, dict) else None
            if not isinstance(entries, list) or len(entries) not in (1, len(rrat)):
                raise bad_request(f"attribute 'encs' must give one eventNotificationCriteria for all rrat "
                                  f"entries or one per entry ({len(rrat)}), as {{\"encn\": [...]}}")
            for entry in entries:
                _check_enc(entry)
        _check_window(attributes["tws"])
        self._check_targets(attributes)

    def validate_update(self, attributes: dict) -> None:
        super().validate_update(attributes)
        if attributes.get("tws") is not None:
            _check_window(attributes["tws"])
        self._check_targets(attributes)

    @staticmethod
    def _check_targets(attributes: dict) -> None:
        for entry in attributes.get("nu") or ():
            parse_target(entry)
        if attributes.get("su") is not None:
            parse_target(attributes["su"], "su")

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        targets: list[list[Any]] = []
        rrat = resource.get("rrat") or []
        entries = encs_entries(resource["encs"]) if rrat else []
        for number, address in enumerate(rrat):
            watched = await local_subject(ctx, address, "rrat")
            targets.append([watched["ri"], None, entries[number if len(entries) > 1 else 0]])
        for address in resource.get("srat") or ():
            subscription = await local_subject(ctx, address, "srat")
            if subscription["ty"] != Ty.SUB:
                raise bad_request(f"attribute 'srat': {address!r} is a {ctx.tree.types.of(subscription).type_name}, "
                                  "not a subscription")
            targets.append([subscription["pi"], subscription["ri"], subscription.get("enc") or {}])
        resource[TARGETS_KEY] = targets
        for entry in resource["nu"]:
            Subscription._check_target(ctx, entry, "nu")      # the same rule as a subscription's nu
        await Subscription.verify_targets(ctx, resource, resource["nu"])

    def on_child_created(self, ctx: "Context", resource: dict, child: dict) -> None:
        if child["ty"] == Ty.SCH:
            raise OneM2MError(RSC.NOT_IMPLEMENTED, "a notificationSchedule of a crossResourceSubscription is not "
                                                   "supported by this CSE")

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if changes.get("nu"):
            known = set(resource.get("nu") or ())
            for entry in changes["nu"]:
                Subscription._check_target(ctx, entry, "nu")
            await Subscription.verify_targets(ctx, resource, [e for e in changes["nu"] if e not in known])


def _check_window(tws: Any) -> None:
    seconds = parse_duration(tws, "attribute 'tws'")
    if not 0 < seconds <= MAX_WINDOW:
        raise bad_request(f"attribute 'tws': the time window must be longer than 0 and at most one day "
                          f"({MAX_WINDOW:.0f} s), not {seconds:g} s")


def _check_enc(enc: Any) -> None:
    if not isinstance(enc, dict):
        raise bad_request("attribute 'encs': each entry must be an eventNotificationCriteria object")
    unknown = sorted(set(enc) - ENC_MEMBERS)
    if unknown:
        raise OneM2MError(RSC.NOT_IMPLEMENTED, f"attribute 'encs': member(s) {', '.join(unknown)} are not "
                                               "supported in a crossResourceSubscription")
    net = enc.get("net", [1])
    if not isinstance(net, list) or not net or any(n not in (1, 2, 3, 4) or isinstance(n, bool) for n in net):
        raise bad_request(f"attribute 'encs': net {net!r} must list event types 1 (update) to 4 (child deleted)")
    atr = enc.get("atr")
    if atr is not None and (not isinstance(atr, list) or not all(isinstance(a, str) and a for a in atr)):
        raise bad_request("attribute 'encs': atr must be a list of attribute names")
    chty = enc.get("chty")
    if chty is not None and (not isinstance(chty, list) or not all(isinstance(c, int) and not isinstance(c, bool)
                                                                    for c in chty)):
        raise bad_request("attribute 'encs': chty must be a list of resource types")
    filters = {name: enc[name] for name in FILTER_MEMBERS if name in enc}
    if filters:
        check_filter_criteria(filters)
