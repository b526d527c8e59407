"""schedule (m2m:sch, ty 18): time windows in the context of its parent (TS-0001 9.6.9,
TS-0004 7.4.9).

* Under a <subscription> it is the subscription's notificationSchedule: notifications go
  out only inside its windows (cse/notify/schedules.py decides what happens outside).  Its
  name is fixed, `notificationSchedule` (given by the CSE when absent, any other 4000, as
  ACME does), so a subscription has at most one.  The entries are copied into an internal
  key of the subscription (`NOTIFICATION_SCHEDULE_KEY`), and the change is reported as an
  update of the subscription: the notifier then finds the schedule with the subscription
  it already has in its cache, without one more storage query per event.
* Under a <CSEBase>, <node>, <AE> or <flexContainer> (an EV charger's allowed charging
  window, a device's communication window) it is stored and discoverable; the CSE itself
  does not act on it (docs/schedule.md).

`se` is validated with the parser that evaluates it (cse/schedule_entries.py): a bad
string is a 4000 naming the entry, the field and what is wrong.  `nco`
(networkCoordinated) belongs to a node's schedule only: elsewhere 4102 (TS-0004 7.4.9.2.1,
as ACME); `true` asks for coordination with the underlying network, which this CSE cannot
do: 5001.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError, bad_request
from cse.events import EventKind
from cse.notify.matching import NOTIFICATION_SCHEDULE_KEY
from cse.resource_type import ResourceType
from cse.resource_types import Ty
from cse.schedule_entries import parse_entries

if TYPE_CHECKING:
    from cse.context import Context

NOTIFICATION_SCHEDULE = "notificationSchedule"
# Parents whose <schedule> is the notification schedule of the parent.
NOTIFYING_PARENTS = frozenset({Ty.SUB, Ty.CRS})


class Schedule(ResourceType):
    ty = Ty.SCH
    short_name = "sch"
    type_name = "schedule"
    # TS-0001: CSEBase, node, subscription, crossResourceSubscription; AE and flexContainer
    # because issue 14 asks for an appliance's windows there (ACME allows neither).
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.NOD, Ty.SUB, Ty.CRS, Ty.FCNT})

    # -- content ------------------------------------------------------------------------
    def validate_create(self, attributes: dict) -> None:
        super().validate_create(attributes)
        parse_entries(attributes["se"]["sce"], "attribute 'se': sce")

    def validate_update(self, attributes: dict) -> None:
        super().validate_update(attributes)
        if attributes.get("se") is not None:
            parse_entries(attributes["se"]["sce"], "attribute 'se': sce")

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        if parent["ty"] in NOTIFYING_PARENTS:
            name = resource.get("rn")
            if name is None:
                resource["rn"] = NOTIFICATION_SCHEDULE
            elif name != NOTIFICATION_SCHEDULE:
                raise bad_request(f"a schedule under a {ctx.tree.types.of(parent).type_name} is its "
                                  f"notification schedule and must be named {NOTIFICATION_SCHEDULE!r}, "
                                  f"not {name!r}")
        self._check_coordination(ctx, resource.get("nco"), parent)

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if changes.get("nco") is not None:
            parent = ctx.storage.get(resource["pi"])
            if parent is None:
                raise OneM2MError(RSC.NOT_FOUND, f"the parent of {resource['ri']} no longer exists")
            self._check_coordination(ctx, changes["nco"], parent)

    @staticmethod
    def _check_coordination(ctx: "Context", nco: bool | None, parent: dict) -> None:
        if nco is None:
            return
        if parent["ty"] != Ty.NOD:
            raise OneM2MError(RSC.CONTENTS_UNACCEPTABLE,
                              "attribute 'nco' (networkCoordinated) applies only to the schedule of a "
                              f"node, not of a {ctx.tree.types.of(parent).type_name}")
        if nco:
            raise OneM2MError(RSC.NOT_IMPLEMENTED,
                              "attribute 'nco': coordinating a schedule with the underlying network is not "
                              "supported by this CSE (nco=true)")

    # -- the notification schedule of a subscription ------------------------------------
    def after_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        if parent["ty"] in NOTIFYING_PARENTS:
            _tell_parent(ctx, parent, resource["se"]["sce"])

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if changes.get("se") is not None:
            parent = ctx.storage.get(resource["pi"])
            if parent is not None and parent["ty"] in NOTIFYING_PARENTS:
                _tell_parent(ctx, parent, resource["se"]["sce"])

    def on_delete(self, ctx: "Context", resource: dict, parent: dict | None) -> None:
        if parent is not None and parent["ty"] in NOTIFYING_PARENTS:
            _tell_parent(ctx, parent, None)


def _tell_parent(ctx: "Context", parent: dict, entries: list[str] | None) -> None:
    """Keep the parent's copy of the entries (None: it has no schedule any more) and report
    the change as an update of the parent, after commit like every event."""
    if entries is None:
        if parent.pop(NOTIFICATION_SCHEDULE_KEY, None) is None:
            return
    else:
        parent[NOTIFICATION_SCHEDULE_KEY] = list(entries)
    ctx.storage.update(parent, changed=(NOTIFICATION_SCHEDULE_KEY,))
    ctx.emit(EventKind.UPDATED, parent, None, modified={NOTIFICATION_SCHEDULE_KEY: entries})
