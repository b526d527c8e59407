"""What every instance shares (contentInstance; later timeSeriesInstance and
flexContainerInstance): one immutable entry in the history of an instance container
(resources/instance_container.py).

cs is the size of the content as stored; the container's mbs refuses an instance larger
than the whole container (5207), its mia caps the instance's et, and its st moves on by
one.  An instance has no acpi (the container's access rules apply), cannot be updated or
subscribed to, and the container's disr blocks reading and deleting it.  [R4] dcnt
(deletionCnt): the instance is deleted after that many RETRIEVEs.
A subclass names its ty, names and parents, and overrides `content_size` when its content
is not `con`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import orjson

from cse.clock import format_timestamp
from cse.errors import RSC, OneM2MError
from cse.resource_type import ResourceType

from .instance_container import check_retrieval_enabled

if TYPE_CHECKING:
    from cse.context import Context


def content_size(con: object) -> int:
    """Bytes of `con` as stored: a string's UTF-8 length, anything else's JSON length."""
    if isinstance(con, str):
        return len(con) if con.isascii() else len(con.encode("utf-8"))
    return len(orjson.dumps(con))


class Instance(ResourceType):
    has_acpi = False
    updatable = False
    subscribable = False

    def content_size(self, resource: dict) -> int:
        return content_size(resource["con"])

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        size = self.content_size(resource)
        mbs = parent.get("mbs")
        if mbs is not None and size > mbs:
            container = ctx.tree.types.of(parent).type_name
            raise OneM2MError(RSC.NOT_ACCEPTABLE,
                              f"content size {size} exceeds the {container}'s maxByteSize (mbs) {mbs}")
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

    def counts_retrievals(self, resource: dict) -> bool:
        return resource.get("dcnt") is not None

    def on_retrieved(self, ctx: "Context", resource: dict) -> None:
        """[R4] deletionCnt: each RETRIEVE (also through la/ol) counts down; the one that
        reaches 0 still gets the instance, which is deleted then (as ACME does).  The
        response shows the count before the retrieval."""
        current = ctx.storage.get(resource["ri"])
        if current is None or current.get("dcnt") is None:
            return
        if current["dcnt"] <= 1:
            ctx.tree.remove(ctx, current, ctx.storage.get(current["pi"]))
        else:
            current["dcnt"] -= 1
            ctx.storage.update(current, changed=("dcnt",))
