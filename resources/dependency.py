"""dependency (m2m:depr, ty 66) [R4]: a condition (`evc` on the attribute of `rri`) that
its parent <action> needs (`sfc` false) or that is enough on its own (`sfc` true).  It counts
once the action lists it in `dep` (cse/automation.py combines them).

Checks as for an action's subject: `rri` must be a resource of this CSE the originator may
RETRIEVE, `sbjt` one of its attributes, `thld` of its type (4000).  Deleting a dependency
removes it from its action's `dep`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.automation import REFERENCED_KEY, check_criteria
from cse.events import EventKind
from cse.resource_type import ResourceType
from cse.resource_types import Ty

from .action import check_subject_attribute, local_subject

if TYPE_CHECKING:
    from cse.context import Context


class Dependency(ResourceType):
    ty = Ty.DEPR
    short_name = "depr"
    type_name = "dependency"
    parent_types = frozenset({Ty.ACTR})

    def validate_create(self, attributes: dict) -> None:
        super().validate_create(attributes)
        check_criteria(attributes["evc"])

    def validate_update(self, attributes: dict) -> None:
        super().validate_update(attributes)
        if attributes.get("evc") is not None:
            check_criteria(attributes["evc"])

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        referenced = await local_subject(ctx, resource["rri"], "rri")
        check_subject_attribute(ctx, resource["evc"], referenced, "evc")
        resource[REFERENCED_KEY] = referenced["ri"]

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if changes.get("rri") is not None or changes.get("evc") is not None:
            address = changes.get("rri") or resource["rri"]
            referenced = await local_subject(ctx, address, "rri")
            check_subject_attribute(ctx, changes.get("evc") or resource["evc"], referenced, "evc")
            changes[REFERENCED_KEY] = referenced["ri"]

    def on_delete(self, ctx: "Context", resource: dict, parent: dict | None) -> None:
        if parent is None or resource["ri"] not in (parent.get("dep") or ()):
            return
        parent["dep"] = [ri for ri in parent["dep"] if ri != resource["ri"]]
        ctx.storage.update(parent, changed=("dep",))
        ctx.emit(EventKind.UPDATED, parent, None, modified={"dep": parent["dep"]})
