"""What every instance container shares: a bounded history of instances, oldest first
(container with contentInstances; timeSeries with timeSeriesInstances; a flexContainer that
keeps flexContainerInstances).

The container keeps cni (number), cbs (bytes, the sum of the instances' cs) and st (state
tag) as counters, updated with each instance in the same transaction, and serves `la`
(latest) and `ol` (oldest) from the storage index, so the cost of a new instance or of
reading the latest one does not depend on how many are stored.  When mni or mbs is
exceeded (or lowered by an UPDATE) the oldest instances are removed; those removals are not
reported as child deletions (TS-0004 7.4.7.2.1).  A new mia bounds the et of the instances
already stored; the instance side (resources/instance.py) caps the et of new ones.

A subclass names its ty, names, parents and `instance_type`; it overrides hooks only for
what its type adds (e.g. missing-data detection of a timeSeries).
This module never creates an instance and never sends anything.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from cse.clock import format_timestamp, parse_timestamp
from cse.errors import RSC, OneM2MError, not_found
from cse.resource_type import ResourceType
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.context import Context

LATEST = "la"
OLDEST = "ol"
COUNTERS = ("cni", "cbs", "st", "lt")


def check_retrieval_enabled(container: dict) -> None:
    """disr (disableRetrieval) refuses reading and deleting the instances: 4005."""
    if container.get("disr"):
        raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                          f"retrieval of the instances of {container['_path']!r} is disabled (disr)")


class InstanceContainer(ResourceType):
    instance_type: ClassVar[Ty]
    virtual_children = frozenset({LATEST, OLDEST})

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        resource["cni"] = 0
        resource["cbs"] = 0
        resource["st"] = 0

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if "disr" in changes and not changes["disr"] and ctx.previous and ctx.previous.get("disr"):
            self._remove_instances(ctx, resource)
        if "mni" in changes or "mbs" in changes:
            self._prune(ctx, resource)
        if changes.get("mia") is not None:
            self._apply_max_age(ctx, resource, changes["mia"])

    def _remove_instances(self, ctx: "Context", resource: dict) -> None:
        """disr from true to false (or null) deletes the instances kept while retrieval
        was disabled (as ACME does): what was never readable does not become readable."""
        for instance in list(ctx.storage.children(resource["ri"], self.instance_type)):
            ctx.tree.remove(ctx, instance, None, notify_parent=False)
        resource["cni"] = 0
        resource["cbs"] = 0

    def _apply_max_age(self, ctx: "Context", resource: dict, mia: int) -> None:
        """A new mia also bounds the instances already stored (rare, so a full pass is fine)."""
        for instance in ctx.storage.children(resource["ri"], self.instance_type):
            limit = format_timestamp(parse_timestamp(instance["ct"]) + mia)
            if limit <= ctx.now_ts:
                ctx.tree.remove(ctx, instance, None)
                resource["cni"] -= 1
                resource["cbs"] -= instance.get("cs", 0)
            elif instance.get("et") is None or instance["et"] > limit:
                instance["et"] = limit
                ctx.storage.update(instance, changed=("et",))

    def resolve_virtual(self, ctx: "Context", resource: dict, name: str, op: int) -> dict:
        check_retrieval_enabled(resource)
        instance = ctx.storage.edge_child(resource["ri"], self.instance_type, newest=(name == LATEST),
                                          now=ctx.now_ts)
        if instance is None:
            instance_type = ctx.tree.types.get(self.instance_type)
            what = instance_type.type_name if instance_type is not None else "instance"
            raise not_found(f"{resource['_path']}/{name}: the {self.type_name} holds no {what}")
        return instance

    def on_child_created(self, ctx: "Context", resource: dict, child: dict) -> None:
        if child["ty"] != self.instance_type:
            return
        resource["cni"] += 1
        resource["cbs"] += child["cs"]
        resource["st"] = child["st"]
        resource["lt"] = child["ct"]
        self._prune(ctx, resource)
        ctx.storage.update(resource, changed=COUNTERS)

    def on_child_deleted(self, ctx: "Context", resource: dict, child: dict) -> None:
        if child["ty"] != self.instance_type:
            return
        resource["cni"] = max(0, resource["cni"] - 1)
        resource["cbs"] = max(0, resource["cbs"] - child.get("cs", 0))
        ctx.storage.update(resource, changed=COUNTERS)

    def _prune(self, ctx: "Context", resource: dict) -> None:
        """Remove oldest instances until mni and mbs hold (counters adjusted here)."""
        mni = resource.get("mni")
        mbs = resource.get("mbs")
        while (mni is not None and resource["cni"] > mni) or (mbs is not None and resource["cbs"] > mbs):
            oldest = ctx.storage.edge_child(resource["ri"], self.instance_type, newest=False)
            if oldest is None:
                resource["cni"], resource["cbs"] = 0, 0
                break
            ctx.tree.remove(ctx, oldest, None, notify_parent=False)
            resource["cni"] -= 1
            resource["cbs"] -= oldest.get("cs", 0)
