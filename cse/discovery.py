"""Discovery (RETRIEVE with fc/fu=1, TS-0004 7.3.3.17 / 10.2.6): addresses of the resources
below the target that meet the filter criteria and that the originator may DISCOVER.

The walk (index use, expiry, criteria, access, paging) is `search.find`; this module adds
what only discovery has: the result forms (m2m:uril, or m2m:rrl for rcn=6), applyRelativePath
(arp), leaving out resources of inactive AE registrations, and the partial-content marks
(cnst/cnot) when lim or the CSE's cap cut the answer.  It never changes the tree.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .access import Permission
from .addressing import split_virtual
from .errors import OneM2MError, bad_request
from .primitives import Operation, Response, ResultContent
from .representation import identifier
from .search import Walks, find

if TYPE_CHECKING:
    from .context import Context, RequestContext
    from .operations import Target
    from .representation import Renderer

PARTIAL_CONTENT = 1
RESULT_FORMS = (None, ResultContent.CHILD_REFERENCES, ResultContent.DISCOVERY_RESULT_REFERENCES)


class Discovery:
    def __init__(self, renderer: "Renderer", walks: Walks | None = None):
        self.render = renderer
        self.walks = walks            # one heavy walk at a time (shared with the child lists)

    async def discover(self, ctx: "RequestContext", target: "Target") -> Response:
        request = ctx.request
        if target.virtual is not None:
            raise bad_request(f"discovery cannot start at the virtual resource '{target.virtual}'; "
                              "address its parent")
        if request.rcn not in RESULT_FORMS:
            raise bad_request(f"result content {request.rcn} is not valid for discovery (fu=1); use 11 "
                              "(or none) for m2m:uril or 6 for m2m:rrl")
        if request.pc is not None or request.atrl or "#" in request.to:
            raise bad_request("discovery (fu=1) returns addresses; an attribute list is not allowed")
        if ctx.tree.types.of(target.resource).provisioned:
            # The CSEBase: an originator that may not discover it (an unregistered one, by
            # the default policy) is refused, not answered with an empty list.
            ctx.access.check(ctx, Permission.DISCOVER, target.resource)
        fc = request.fc or {}        # fu=1 is in it: the dispatcher came here because of it
        transform = None
        if "arp" in fc:
            transform = _RelativePath(ctx, fc["arp"])
        page = await find(ctx, target.resource, fc, Permission.DISCOVER, skip_inactive=True,
                          transform=transform, walks=self.walks)
        if request.rcn == ResultContent.CHILD_REFERENCES:
            pc = self.render.child_reference_list(page.items, request.drt)
            prefix = _remote_prefix(ctx)
            if prefix:
                for reference in pc["m2m:rrl"]["rrf"]:
                    reference["val"] = prefix + reference["val"]
        else:
            prefix = _remote_prefix(ctx)
            pc = {"m2m:uril": [prefix + identifier(r, request.drt) for r in page.items]}
        response = Response(rsc=2000, pc=pc)
        if page.partial:
            response.cnst = PARTIAL_CONTENT
            response.cnot = page.next_offset
        return response


def _remote_prefix(ctx: "Context") -> str:
    """"<CSE-ID>/" when the originator is on another CSE: a CSE-relative address ("cse-in/x")
    means nothing there, the SP-relative one ("/id-in/cse-in/x") works from anywhere in the
    SP domain (TS-0004 7.3.3.17: addresses in the form the originator can use)."""
    originator = ctx.originator or ""
    if originator.startswith("/") and ctx.access.normalize(originator).startswith("/"):
        return ctx.config.cse.cse_id + "/"
    return ""


class _RelativePath:
    """arp: the resource at <match>/<relative path> instead of the match (TS-0001 8.1.2,
    "applyRelativePath").  `..` climbs; a last name `la`/`ol` selects that instance.  A
    combined path that names nothing, or a resource the originator may not discover,
    leaves the match out."""

    def __init__(self, ctx: "RequestContext", relative: str):
        segments = relative.strip("/").split("/")
        if relative.startswith("/") or any(not s for s in segments):
            raise bad_request(f"filter criteria 'arp': {relative!r} is not a relative path")
        self.ctx = ctx
        self.segments = segments

    def __call__(self, match: dict) -> dict | None:
        parts = match["_path"].split("/")
        for segment in self.segments:
            if segment == "..":
                parts.pop()
                if not parts:
                    return None
            elif segment != ".":
                parts.append(segment)
        path = "/".join(parts)
        ctx = self.ctx
        resource = ctx.tree.get_by_path(path, ctx.now_ts)
        if resource is None:
            resource = self._virtual(path)
        if resource is None or not ctx.access.allowed(ctx, ctx.originator, Permission.DISCOVER, resource):
            return None
        return resource

    def _virtual(self, path: str) -> dict | None:
        ctx = self.ctx
        split = split_virtual(path, ctx.tree.types.reserved_names)
        if split is None:
            return None
        parent = ctx.tree.get_by_path(split[0], ctx.now_ts)
        if parent is None:
            return None
        rtype = ctx.tree.types.of(parent)
        if split[1] not in rtype.virtual_children:
            return None
        try:
            return rtype.resolve_virtual(ctx, parent, split[1], Operation.RETRIEVE)
        except OneM2MError:        # e.g. an empty container has no `la`
            return None
