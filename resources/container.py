"""container (m2m:cnt, ty 3): a bounded history of contentInstances.

The container keeps cni (number), cbs (bytes) and st (state tag) as counters, updated with
each child in the same transaction, and serves `la`/`ol` from the storage index, so the cost
of a new reading or of reading the latest one does not depend on how many are stored.
When mni or mbs is exceeded (or lowered by an UPDATE) the oldest instances are removed;
those removals are not reported as child deletions (TS-0004 7.4.7.2.1).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.clock import format_timestamp, parse_timestamp
from cse.errors import RSC, OneM2MError, not_found
from cse.resource_type import ResourceType
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.context import Context

COUNTERS = ("cni", "cbs", "st", "lt")


def check_retrieval_enabled(container: dict) -> None:
    if container.get("disr"):
        raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                          f"retrieval of the instances of {container['_path']!r} is disabled (disr)")


class Container(ResourceType):
    ty = Ty.CNT
    short_name = "cnt"
    type_name = "container"
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.CNT, Ty.CSR})
    instance_type = Ty.CIN
    virtual_children = frozenset({"la", "ol"})

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        resource["cni"] = 0
        resource["cbs"] = 0
        resource["st"] = 0

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if "mni" in changes or "mbs" in changes:
            self._prune(ctx, resource)
        if changes.get("mia") is not None:
            self._apply_max_age(ctx, resource, changes["mia"])

    def _apply_max_age(self, ctx: "Context", resource: dict, mia: int) -> None:
        """A new mia also bounds the instances already stored (rare, so a full pass is fine)."""
        for instance in ctx.storage.children(resource["ri"], Ty.CIN):
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
        instance = ctx.storage.edge_child(resource["ri"], Ty.CIN, newest=(name == "la"), now=ctx.now_ts)
        if instance is None:
            raise not_found(f"{resource['_path']}/{name}: the container holds no contentInstance")
        return instance

    def on_child_created(self, ctx: "Context", resource: dict, child: dict) -> None:
        if child["ty"] != Ty.CIN:
            return
        resource["cni"] += 1
        resource["cbs"] += child["cs"]
        resource["st"] = child["st"]
        resource["lt"] = child["ct"]
        self._prune(ctx, resource)
        ctx.storage.update(resource, changed=COUNTERS)

    def on_child_deleted(self, ctx: "Context", resource: dict, child: dict) -> None:
        if child["ty"] != Ty.CIN:
            return
        resource["cni"] = max(0, resource["cni"] - 1)
        resource["cbs"] = max(0, resource["cbs"] - child.get("cs", 0))
        ctx.storage.update(resource, changed=COUNTERS)

    def _prune(self, ctx: "Context", resource: dict) -> None:
        """Remove oldest instances until mni and mbs hold (counters adjusted here)."""
        mni = resource.get("mni")
        mbs = resource.get("mbs")
        while (mni is not None and resource["cni"] > mni) or (mbs is not None and resource["cbs"] > mbs):
            oldest = ctx.storage.edge_child(resource["ri"], Ty.CIN, newest=False)
            if oldest is None:
                resource["cni"], resource["cbs"] = 0, 0
                break
            ctx.tree.remove(ctx, oldest, None, notify_parent=False)
            resource["cni"] -= 1
            resource["cbs"] -= oldest.get("cs", 0)
