"""Announced resources (ty 10000+x, TS-0001 9.6.26, TS-0004 7.4.26): the copy another CSE
keeps of a resource announced to this one, with `lnk` naming the original.

One generic declaration serves every announced type: it is made from the original's
declaration (its x-announced MA/OA attributes and their value schemas), so a type becomes
announceable by declaring x-announced in its schema, nothing more.  The root is the
original's plus "A" (`m2m:cntA`), the short name likewise.

Rules at this (the target) CSE:
- only the CSE hosting the original (the CSE-ID in `lnk`) creates, updates or deletes an
  announced resource, or creates announced children below it (`managed_by_link`, checked by
  cse/access.py instead of the acpi); RETRIEVE and DISCOVERY follow its own acpi;
- its rn is the original's resource ID (the last segment of `lnk`): unique below one
  parent, so a CREATE repeated after a lost answer conflicts (4105) instead of making a
  duplicate (the announcing CSE then updates the existing copy).
"""
from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError
from cse.resource_type import ResourceType, Schema
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.context import Context


def link_cse(lnk: object) -> str | None:
    """The CSE-ID in an SP-relative `lnk` ("/id-mn/cnt1" -> "/id-mn")."""
    if not isinstance(lnk, str) or not lnk.startswith("/") or lnk.startswith("//"):
        return None
    head, _, rest = lnk[1:].partition("/")
    return "/" + head if head and rest else None


class Announced(ResourceType):
    """The announced variant of `original`."""

    managed_by_link = True

    def __init__(self, original: ResourceType):
        if original.announced_ty is None or original.schema.announced is None:
            raise ValueError(f"{original.type_name} is not announceable")
        self.original = original
        super().__init__()

    def _load_schema(self) -> Schema:
        ma, oa = self.original.schema.announced or (frozenset(), frozenset())
        source = self.original.schema.properties
        properties = {"lnk": {"type": "string", "minLength": 1, "pattern": "^/[^/]"}}
        presence = {"lnk": "M O"}
        for name in sorted(ma | oa):
            properties[name] = copy.deepcopy(source[name])
            presence[name] = "O O"
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"{self.short_name}.json",
            "title": f"{self.type_name} (m2m:{self.short_name}, ty {int(self.ty)}): announced {self.original.type_name}",
            "type": "object",
            "x-common": ["universal", "common", "accessControlled"],
            "properties": properties,
            "x-presence": presence,
        }
        return Schema(self.short_name, self.ty, document=document)

    def default_name(self, resource: dict) -> str:
        name = str(resource.get("lnk", "")).rpartition("/")[2]
        return name or super().default_name(resource)

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        hosting = link_cse(resource.get("lnk"))
        if hosting is None:
            raise OneM2MError(RSC.BAD_REQUEST, f"attribute 'lnk' of {self.type_name} must be the SP-relative "
                                               "address of the original (/<CSE-ID>/<resource>)")
        if ctx.access.normalize(ctx.originator or "") != hosting:
            raise OneM2MError(RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                              f"a {self.type_name} is created only by the CSE hosting its original "
                              f"({hosting}), not by {ctx.originator!r}")

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if self.original.ty == Ty.ACP:
            ctx.access.forget(resource)       # an announced ACP is evaluated like an ACP

    def on_delete(self, ctx: "Context", resource: dict, parent: dict | None) -> None:
        if self.original.ty == Ty.ACP:
            ctx.access.forget(resource)


def announced_type(original: ResourceType, announceable: frozenset[Ty]) -> Announced:
    """The announced variant of `original`, a class of its own (its declaration is class
    data, as for every type).  `announceable`: the types announced by this CSE, whose
    variants may be its parents."""
    parents: set[Ty] = set()
    for parent in original.parent_types:
        if parent in (Ty.CB, Ty.CSR):
            parents.add(Ty.CSR)           # below the announcing CSE's <remoteCSE> at the target
        elif parent in announceable and parent.announced is not None:
            parents.add(parent.announced)
    declaration = {"ty": original.announced_ty, "short_name": original.short_name + "A",
                   "type_name": original.type_name + "Annc", "parent_types": frozenset(parents),
                   "__doc__": f"The announced variant of {original.type_name}."}
    variant = type(f"{type(original).__name__}Annc", (Announced,), declaration)
    return variant(original)


def announced_types(types: list[ResourceType]) -> list[Announced]:
    """The announced variant of every announceable type in `types`."""
    announceable = frozenset(rtype.ty for rtype in types if rtype.announceable)
    return [announced_type(rtype, announceable) for rtype in types if rtype.announceable]
