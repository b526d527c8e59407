"""contentInstance (m2m:cin, ty 4): one immutable reading in a container.

cs is computed from con; the parent's mbs refuses an instance larger than the whole
container (5207) and its mia caps the instance's et.  A contentInstance has no acpi: the
container's access rules apply, and the container's disr blocks reading it.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from cse.clock import format_timestamp
from cse.errors import RSC, OneM2MError
from cse.resource_type import ResourceType
from cse.resource_types import Ty

from .container import check_retrieval_enabled

if TYPE_CHECKING:
    from cse.context import Context


def content_size(con: object) -> int:
    if isinstance(con, str):
        return len(con) if con.isascii() else len(con.encode("utf-8"))
    return len(orjson.dumps(con))


class ContentInstance(ResourceType):
    ty = Ty.CIN
    short_name = "cin"
    type_name = "contentInstance"
    parent_types = frozenset({Ty.CNT})
    has_acpi = False
    updatable = False
    subscribable = False

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        size = content_size(resource["con"])
        mbs = parent.get("mbs")
        if mbs is not None and size > mbs:
            raise OneM2MError(RSC.NOT_ACCEPTABLE,
                              f"content size {size} exceeds the container's maxByteSize (mbs) {mbs}")
        resource["cs"] = size
        resource["st"] = parent.get("st", 0) + 1
        mia = parent.get("mia")
        if mia is not None:
            limit = format_timestamp(ctx.now + mia)
            if resource.get("et") is None or resource["et"] > limit:
                resource["et"] = limit

    def check_retrieve(self, ctx: "Context", resource: dict) -> None:
        parent = ctx.storage.get(resource["pi"])
        if parent is not None:
            check_retrieval_enabled(parent)

    check_delete = check_retrieve

    def default_name(self, resource: dict) -> str:
        return "cin_" + resource["ri"][3:]

