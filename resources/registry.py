"""Lookup of resource types by ty, by short name and by JSON root ("m2m:cnt")."""
from __future__ import annotations

from typing import Iterable

from cse.errors import RSC, OneM2MError

from .base import ResourceType

# Types defined by oneM2M that this CSE may not implement (TS-0004 6.3.4.2.1):
# creating one is "not implemented" (5001) rather than a malformed request (4000).
KNOWN_ONEM2M_TYPES = frozenset(range(1, 67)) | frozenset(range(10001, 10067))


class TypeRegistry:
    def __init__(self, types: Iterable[ResourceType]):
        self._by_ty: dict[int, ResourceType] = {}
        self._by_root: dict[str, ResourceType] = {}
        self._child_types: set[int] | None = None
        for rtype in types:
            self.add(rtype)

    def add(self, rtype: ResourceType) -> None:
        self._by_ty[rtype.ty] = rtype
        self._by_root[rtype.root] = rtype
        self._child_types = None

    def get(self, ty: int) -> ResourceType | None:
        return self._by_ty.get(ty)

    def of(self, resource: dict) -> ResourceType:
        return self._by_ty[resource["ty"]]

    def by_root(self, root: str) -> ResourceType | None:
        return self._by_root.get(root)

    def for_create(self, ty: object) -> ResourceType:
        if not isinstance(ty, int) or isinstance(ty, bool):
            raise OneM2MError(RSC.BAD_REQUEST, f"resource type {ty!r} is not an integer")
        rtype = self._by_ty.get(ty)
        if rtype is None:
            if ty in KNOWN_ONEM2M_TYPES:
                raise OneM2MError(RSC.NOT_IMPLEMENTED, f"resource type {ty} is not supported by this CSE")
            raise OneM2MError(RSC.BAD_REQUEST, f"resource type {ty} is not a oneM2M resource type")
        return rtype

    @property
    def supported(self) -> list[int]:
        return sorted(self._by_ty)

    def may_have_children(self, ty: int) -> bool:
        if self._child_types is None:
            self._child_types = {p for t in self._by_ty.values() for p in t.parent_types}
        return ty in self._child_types

    def __iter__(self):
        return iter(self._by_ty.values())
