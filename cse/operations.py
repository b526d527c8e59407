"""CREATE, RETRIEVE, UPDATE and DELETE on local resources (TS-0004 7.3.3).

Each operation: locate the target, check access, validate, run the type's hooks inside one
storage transaction, wait for the group commit, render the result.  Anything type-specific
is in `resources/<type>.py`; anything about the wire format is in `representation`.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Protocol


from .access import Permission
from .addressing import Address, not_found, split_virtual
from .clock import parse_timestamp
from .errors import RSC, OneM2MError, bad_request
from .events import EventKind
from .input_limits import check_labels, check_limits, check_sizes
from .lifetime import expiration
from .primitives import DesiredIdentifierResultType, FilterUsage, Response, ResultContent
from .resource_types import Ty
from .search import Walks, find, meets

if TYPE_CHECKING:
    from .access import AccessControl
    from .config import Config
    from .context import Context, RequestContext
    from .representation import Renderer
    from .resource_type import ResourceType
    from .storage import Storage
    from .tree import Tree

log = logging.getLogger(__name__)

PARTIAL_CONTENT = 1     # cnst when a list was cut by lim or the CSE's cap


class Target:
    """A located resource, and the virtual child (la, ol, ...) when one was addressed."""

    __slots__ = ("resource", "virtual")

    def __init__(self, resource: dict, virtual: str | None = None):
        self.resource = resource
        self.virtual = virtual


class Discoverer(Protocol):
    """Answers a RETRIEVE with fu=1 below `target` (cse/discovery.py)."""

    async def discover(self, ctx: "RequestContext", target: Target) -> Response: ...


class UpdateGate(Protocol):
    """Subscriptions with blocking update (net 7): their subscriber agrees before an UPDATE is
    written, or the UPDATE fails (cse/notify/blocking.py)."""

    async def before_update(self, ctx: "Context", resource: dict, changes: dict, root: str) -> None: ...


class AnnouncementCheck(Protocol):
    """Checks at/aa/ast of a CREATE (`resource` None) or UPDATE (cse/federation/announcement.py)."""

    def check(self, ctx: "Context", rtype: "ResourceType", attributes: dict, parent: dict | None,
              resource: dict | None = None) -> None: ...


class Operations:
    def __init__(self, config: "Config", storage: "Storage", tree: "Tree",
                 access: "AccessControl", renderer: "Renderer", discovery: Discoverer,
                 blocking: "UpdateGate | None" = None, walks: Walks | None = None,
                 announcement: AnnouncementCheck | None = None):
        self.config = config
        self.walks = walks            # one heavy walk at a time (cse/search.py)
        self.limits = config.limits
        self.storage = storage
        self.tree = tree
        self.types = tree.types
        self.access = access
        self.render = renderer
        self.discovery = discovery
        self.blocking = blocking        # net 7 subscriptions, asked before an UPDATE is written
        self.announcement = announcement    # at/aa/ast rules

    # -- locating -----------------------------------------------------------------------
    def locate(self, ctx: "RequestContext", address: Address) -> Target:
        now_ts = ctx.now_ts
        if address.ri is not None:
            head = self.tree.get(address.ri, now_ts)
            if head is None:
                raise not_found(address.local_to)
            if not address.rest:
                return Target(head)
            path = head["_path"] + "/" + "/".join(address.rest)
        else:
            path = address.structured
        split = split_virtual(path, self.types.reserved_names)
        if split is not None:
            # No resource can be named like a virtual one (refused at CREATE), so only the
            # parent is looked up: one index lookup for .../la instead of a miss and a hit.
            parent = self.tree.get_by_path(split[0], now_ts)
            if parent is not None:
                return Target(parent, split[1])
            raise not_found(address.local_to)
        resource = self.tree.get_by_path(path, now_ts)
        if resource is not None:
            return Target(resource)
        raise not_found(address.local_to)

    def resolve_virtual(self, ctx: "RequestContext", target: Target, op: int) -> dict:
        """The real resource behind a virtual address (e.g. the newest instance for `la`)."""
        rtype = self.types.of(target.resource)
        if target.virtual not in rtype.virtual_children:
            raise not_found(f"{target.resource['_path']}/{target.virtual}")
        return rtype.resolve_virtual(ctx, target.resource, target.virtual, op)

    # -- CREATE -------------------------------------------------------------------------
    async def create(self, ctx: "RequestContext", address: Address) -> Response:
        request = ctx.request
        rtype = self.types.for_create(request.ty)
        if not rtype.creatable:
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"a {rtype.type_name} cannot be created by a request")
        rtype, attributes = self._content(request.pc, rtype)
        _check_whole_resource(ctx, address)
        target = self.locate(ctx, address)
        if target.virtual is not None:
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"nothing can be created under the virtual resource '{target.virtual}'")
        parent = target.resource
        # Access first: an originator without rights learns nothing about the parent's type.
        if not rtype.registration:
            self.access.check(ctx, Permission.CREATE, parent)
        if parent["ty"] not in rtype.parent_types:
            parent_type = self.types.of(parent)
            if rtype.ty == Ty.SUB and not parent_type.subscribable:
                raise OneM2MError(RSC.TARGET_NOT_SUBSCRIBABLE,
                                  f"a {parent_type.type_name} cannot be subscribed to")
            raise OneM2MError(RSC.INVALID_CHILD_RESOURCE_TYPE,
                              f"a {rtype.type_name} cannot be created under a {parent_type.type_name}")
        if rtype.registration:
            rtype.check_originator(ctx)         # the originator before the attributes
        check_limits(self.limits, self.types.reserved_names, attributes, parent)
        rtype.check_release(attributes, request.rvi)
        rtype.validate_create(attributes)
        if self.announcement is not None:
            self.announcement.check(ctx, rtype, attributes, parent)
        if attributes.get("acpi"):
            self.access.check_references(ctx, attributes["acpi"])
        resource = self._new_resource(ctx, rtype, attributes, parent)
        await rtype.prepare_create(ctx, resource, parent)
        if "rn" not in resource:
            resource["rn"] = rtype.default_name(resource)
        resource["_path"] = parent["_path"] + "/" + resource["rn"]
        with self.storage.transaction():
            if rtype.prepare_create_may_wait:
                # Re-read: the parent may have changed or gone while prepare_create waited.
                current = self.tree.get(parent["ri"], ctx.now_ts)
                if current is None:
                    raise not_found(address.local_to)
                parent = current
            if self._take_place(ctx, resource, rtype):
                current = self.storage.get(parent["ri"])     # its counters changed
                if current is None:
                    raise not_found(address.local_to)
                parent = current
            self.tree.insert(ctx, resource, parent)
        await self.storage.commit()
        return self._created(ctx, resource, attributes)

    def _take_place(self, ctx: "RequestContext", resource: dict, rtype: "ResourceType") -> bool:
        """The path, and the ri of an AE or remoteCSE (chosen by the registering entity),
        must be free.  An expired holder is absent for every request, so it is removed now
        (with its subtree and events, as the reaper would); a live one is a conflict.
        Returns whether something was removed."""
        removed = False
        holders = [self.storage.get_by_path(resource["_path"])]
        if rtype.registration:
            holders.append(self.storage.get(resource["ri"]))
        for holder in holders:
            if holder is None or self.storage.get(holder["ri"]) is None:    # gone with the first
                continue
            et = holder.get("et")
            if et is None or et > ctx.now_ts:
                raise OneM2MError(RSC.CONFLICT, f"a resource named {resource['rn']!r} already exists "
                                                f"under {resource['_path'].rpartition('/')[0]!r}")
            self.tree.remove(ctx, holder, self.storage.get(holder["pi"]))
            removed = True
        return removed

    def _content(self, pc: object, rtype: "ResourceType",
                 resource: dict | None = None) -> tuple["ResourceType", dict]:
        """The attributes of a CREATE of `rtype` (resource None) or of an UPDATE of
        `resource`, and the declaration that governs them: the type decides which JSON
        roots it accepts, and which of its members a root names (`for_root`)."""
        if pc is None:
            expected = self._expected_root(rtype, resource)
            raise bad_request(f"the request has no content; expected {{\"{expected}\": {{...}}}}")
        if not isinstance(pc, dict) or len(pc) != 1:
            expected = self._expected_root(rtype, resource)
            raise bad_request(f"the content must be one object {{\"{expected}\": {{...}}}}")
        (root, attributes), = pc.items()
        governing = rtype.for_root(root, resource)
        if governing is None:
            other = self.types.by_root(root)
            hint = f" (that is a {other.type_name})" if other else ""
            raise bad_request(f"content root {root!r} does not match the resource type "
                              f"{rtype.ty}; expected {self._expected_root(rtype, resource)!r}{hint}")
        if not isinstance(attributes, dict):
            raise bad_request(f"the value of {root!r} must be an object of attributes")
        return governing, attributes

    @staticmethod
    def _expected_root(rtype: "ResourceType", resource: dict | None) -> str:
        return rtype.root if resource is None else rtype.root_of(resource)

    def _new_resource(self, ctx: "RequestContext", rtype: "ResourceType", attributes: dict,
                      parent: dict) -> dict:
        now_ts = ctx.now_ts
        resource = {"ty": int(rtype.ty), "ri": self.tree.new_resource_id(rtype.short_name),
                    "pi": parent["ri"], "ct": now_ts, "lt": now_ts}
        resource.update(attributes)
        if "cr" in attributes:
            resource["cr"] = ctx.originator
        if rtype.has_et:
            et = attributes.get("et")
            if et is not None and parse_timestamp(et, "et") <= ctx.now:
                raise bad_request(f"attribute 'et' ({et}) is not in the future")
            et = expiration(ctx, et, parent)
            if et is not None:
                resource["et"] = et
        resource["_org"] = ctx.originator
        # Resources below an AE stay the AE's; directly below the CSEBase the creator owns
        # what it made.
        owned_by_creator = self.types.of(parent).children_owned_by_creator
        resource["_own"] = ctx.originator if owned_by_creator else parent.get("_own")
        return resource

    def _created(self, ctx: "RequestContext", resource: dict, given: dict) -> Response:
        rcn = ctx.request.rcn
        drt = ctx.request.drt
        location = resource["_path"] if drt != DesiredIdentifierResultType.UNSTRUCTURED else resource["ri"]
        if rcn is None or rcn == ResultContent.ATTRIBUTES:
            pc = self.render.resource(resource)
        elif rcn == ResultContent.NOTHING:
            pc = None
        elif rcn == ResultContent.HIERARCHICAL_ADDRESS:
            pc = {"m2m:uri": location}
        elif rcn == ResultContent.HIERARCHICAL_ADDRESS_ATTRIBUTES:
            pc = {"m2m:rce": {**self.render.resource(resource), "uri": location}}
        else:  # MODIFIED_ATTRIBUTES
            pc = self.render.modified(resource, given)
        return Response(rsc=RSC.CREATED, pc=pc, content_location=location)

    # -- RETRIEVE -----------------------------------------------------------------------
    async def retrieve(self, ctx: "RequestContext", address: Address) -> Response:
        request = ctx.request
        names = self._attribute_list(request.pc, request.atrl, address.attribute)
        target = self.locate(ctx, address)
        fc = request.fc or {}
        if fc.get("fu") == FilterUsage.DISCOVERY:
            return await self.discovery.discover(ctx, target)
        resource = target.resource
        if target.virtual is not None:
            self.access.check(ctx, Permission.RETRIEVE, resource,
                              frozenset(names) if names is not None else None)
            rtype = self.types.of(resource)
            if target.virtual in rtype.served_virtual_children:     # e.g. the long poll of pcu
                return await rtype.serve_virtual(ctx, resource, target.virtual)
            resource = self.resolve_virtual(ctx, target, request.op)
        else:
            self.access.check(ctx, Permission.RETRIEVE, resource,
                              frozenset(names) if names is not None else None)
            rtype = self.types.of(resource)
            rtype.check_retrieve(ctx, resource)
            resource = rtype.as_retrieved(ctx, resource)
        rcn = request.rcn if request.rcn is not None else ResultContent.ATTRIBUTES
        if rcn == ResultContent.DISCOVERY_RESULT_REFERENCES:
            raise bad_request("result content 11 (discovery result references) needs discovery (fu=1)")
        if rcn == ResultContent.ATTRIBUTES and fc:
            self._check_condition(ctx, resource, fc)
        if names is not None:
            if rcn != ResultContent.ATTRIBUTES:
                raise bad_request("a partial retrieve (attribute list) needs rcn=1")
            response = Response(rsc=RSC.OK, pc=self.render.partial(resource, names))
        elif rcn == ResultContent.ATTRIBUTES:
            response = Response(rsc=RSC.OK, pc=self.render.resource(resource))
        else:
            response = await self._with_children(ctx, resource, rcn, RSC.OK)
        rtype = self.types.of(resource)
        if rtype.counts_retrievals(resource):
            with self.storage.transaction():
                rtype.on_retrieved(ctx, resource)
            await self.storage.commit()
        return response

    def _check_condition(self, ctx: "RequestContext", resource: dict, fc: dict) -> None:
        """Conditional operation on the target itself (RETRIEVE rcn=1, UPDATE, DELETE
        without a child list): it must meet the criteria."""
        if not meets(ctx, resource, fc, Permission.RETRIEVE):
            raise OneM2MError(RSC.NOT_FOUND, f"resource {resource['_path']!r} does not meet the "
                                             "filter criteria of this conditional operation")

    def _attribute_list(self, pc: object, atrl: list[str] | None, attribute: str | None) -> list[str] | None:
        names: list[str] | None = None
        if pc is not None:
            if not (isinstance(pc, dict) and len(pc) == 1 and "m2m:atrl" in pc):
                raise bad_request("a RETRIEVE request may only carry an attribute list {\"m2m:atrl\": [...]}")
            names = pc["m2m:atrl"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise bad_request("m2m:atrl must be a list of attribute names")
        if atrl:
            names = (names or []) + list(atrl)
        if attribute:
            names = (names or []) + [attribute]
        return names

    async def _with_children(self, ctx: "RequestContext", resource: dict, rcn: int, rsc: int) -> Response:
        """rcn 4, 5, 6, 8 for RETRIEVE and DELETE: children selected by fc, paged by ofst/lim."""
        drt = ctx.request.drt
        fc = ctx.request.fc
        direct = rcn == ResultContent.ATTRIBUTES_AND_CHILD_REFERENCES
        page = await find(ctx, resource, fc, Permission.RETRIEVE, max_level=1 if direct else None,
                          transform=self._retrievable_children(ctx), walks=self.walks)
        if direct:
            pc = self.render.with_child_references(resource, page.items, drt)
        elif rcn == ResultContent.CHILD_REFERENCES:
            pc = self.render.child_reference_list(page.items, drt)
        else:
            pc = self.render.with_children(resource, page.items,
                                           include_self=rcn == ResultContent.ATTRIBUTES_AND_CHILDREN)
        response = Response(rsc=rsc, pc=pc)
        if page.partial:
            response.cnst = PARTIAL_CONTENT
            response.cnot = page.next_offset
        return response

    def _retrievable_children(self, ctx: "RequestContext"):
        """Leaves out of a child list (rcn 4/5/6/8) what a RETRIEVE of its own would refuse
        for type reasons (instances of a container with disr); the verdict depends on the
        type and the parent only, so it is asked once per parent."""
        verdicts: dict[tuple[int, str], bool] = {}

        def keep(child: dict) -> dict | None:
            key = (child["ty"], child["pi"])
            allowed = verdicts.get(key)
            if allowed is None:
                try:
                    self.types.of(child).check_retrieve(ctx, child)
                    allowed = True
                except OneM2MError:
                    allowed = False
                verdicts[key] = allowed
            return child if allowed else None

        return keep

    # -- UPDATE -------------------------------------------------------------------------
    async def update(self, ctx: "RequestContext", address: Address) -> Response:
        request = ctx.request
        _check_whole_resource(ctx, address)
        target = self.locate(ctx, address)
        if target.virtual is not None:
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"the virtual resource '{target.virtual}' cannot be updated")
        resource = target.resource
        rtype = self.types.of(resource)
        if rtype.provisioned:          # public knowledge, like its DELETE: no access question
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"the {rtype.type_name} is provisioned and cannot be updated")
        # Access first, so that neither the type nor the attributes of a resource are
        # revealed to an originator without rights.  acpi is governed by selfPrivileges.
        given = _attributes_of(request.pc)
        if rtype.has_acpi and given is not None and "acpi" in given:
            self.access.check_acpi_update(ctx, resource, given)
        else:
            self.access.check(ctx, Permission.UPDATE, resource, given.keys() if given is not None else None)
        if not rtype.updatable:
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"a {rtype.type_name} cannot be updated")
        if request.fc:
            self._check_condition(ctx, resource, request.fc)
        rtype, changes = self._content(request.pc, rtype, resource)
        check_sizes(self.limits, changes)
        rtype.check_release(changes, request.rvi)
        rtype.validate_update(changes)
        if self.announcement is not None:
            self.announcement.check(ctx, rtype, changes, None, resource)
        check_labels(self.limits, changes)
        if changes.get("acpi"):
            self.access.check_references(ctx, changes["acpi"])
        if "et" in changes:
            self._update_expiration(ctx, resource, changes)
        await rtype.prepare_update(ctx, resource, changes)
        if self.blocking is not None:
            await self.blocking.before_update(ctx, resource, changes, rtype.root_of(resource))
        with self.storage.transaction():
            # Re-read: another request may have changed it while prepare_update waited.
            current = self.storage.get(resource["ri"])
            if current is None:
                raise not_found(address.local_to)
            before = dict(current) if request.rcn == ResultContent.MODIFIED_ATTRIBUTES else None
            ctx.previous = {name: current.get(name) for name in changes}
            for name, value in changes.items():
                if value is None:
                    current.pop(name, None)
                else:
                    current[name] = value
            current["lt"] = ctx.now_ts
            if "st" in current:
                current["st"] += 1
            rtype.on_update(ctx, current, changes)
            self.storage.update(current, changed=changes.keys())
            ctx.emit(EventKind.UPDATED, current, None, modified=changes)
        await self.storage.commit()
        rcn = request.rcn if request.rcn is not None else ResultContent.ATTRIBUTES
        if rcn == ResultContent.NOTHING:
            pc = None
        elif rcn == ResultContent.MODIFIED_ATTRIBUTES:
            pc = self.render.modified(current, changes, before)
        else:
            pc = self.render.resource(current)
        return Response(rsc=RSC.UPDATED, pc=pc)

    def _update_expiration(self, ctx: "Context", resource: dict, changes: dict) -> None:
        """A new et is capped like at CREATE (cse/lifetime.py); et null asks the CSE to
        choose again (TS-0001 9.6.1.3), which gives the default lifetime."""
        et = changes["et"]
        if et is not None and parse_timestamp(et, "et") <= ctx.now:
            raise bad_request(f"attribute 'et' ({et}) is not in the future")
        parent = self.storage.get(resource["pi"]) if resource.get("pi") else None
        changes["et"] = expiration(ctx, et, parent)

    # -- DELETE -------------------------------------------------------------------------
    async def delete(self, ctx: "RequestContext", address: Address) -> Response:
        request = ctx.request
        if request.pc is not None:
            raise bad_request("a DELETE request carries no content")
        _check_whole_resource(ctx, address)
        target = self.locate(ctx, address)
        resource = target.resource
        if target.virtual is not None:
            self.access.check(ctx, Permission.DELETE, resource)
            resource = self.resolve_virtual(ctx, target, request.op)
        else:
            rtype = self.types.of(resource)
            if rtype.provisioned:      # public knowledge: no access question
                raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"the {rtype.type_name} cannot be deleted")
            self.access.check(ctx, Permission.DELETE, resource)
        rtype = self.types.of(resource)
        if not rtype.deletable:
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, f"a {rtype.type_name} cannot be deleted")
        rtype.check_delete(ctx, resource)
        rcn = request.rcn if request.rcn is not None else ResultContent.NOTHING
        if request.fc and rcn in (ResultContent.NOTHING, ResultContent.ATTRIBUTES):
            self._check_condition(ctx, resource, request.fc)   # with a child list, fc selects children
        if rcn == ResultContent.NOTHING:
            response = Response(rsc=RSC.DELETED)
        elif rcn == ResultContent.ATTRIBUTES:
            response = Response(rsc=RSC.DELETED, pc=self.render.resource(resource))
        else:
            response = await self._with_children(ctx, resource, rcn, RSC.DELETED)
        with self.storage.transaction():
            parent = self.storage.get(resource["pi"])
            self.tree.remove(ctx, resource, parent)
        await self.storage.commit()
        return response


def _check_whole_resource(ctx: "RequestContext", address: Address) -> None:
    """CREATE, UPDATE and DELETE act on whole resources: an attribute address (#lbl,
    atrl) would otherwise be dropped and widen the operation to the resource."""
    if address.attribute is not None or ctx.request.atrl:
        raise bad_request("only a RETRIEVE may address single attributes (#attribute or atrl); "
                          f"operation {ctx.request.op} acts on the whole resource")


def _attributes_of(pc: object) -> dict | None:
    """The attributes of a one-root content ({"m2m:x": {...}}), without judging the root."""
    if isinstance(pc, dict) and len(pc) == 1:
        attributes = next(iter(pc.values()))
        if isinstance(attributes, dict):
            return attributes
    return None
