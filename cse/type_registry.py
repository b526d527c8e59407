"""The resource types a CSE serves, looked up by ty, by short name and by JSON root, and
what follows from all of them together (reserved child names, fan-out points, which types
can have children).

Built once from a list of `ResourceType`s (resources.default_types() lists this CSE's);
nothing is added later, so everything derived is computed here, in the constructor.
"""
from __future__ import annotations

from typing import Iterable, Iterator

from .errors import RSC, OneM2MError
from .resource_type import ResourceType
from .resource_types import Ty, is_onem2m_type


class TypeRegistry:
    def __init__(self, types: Iterable[ResourceType]):
        self._by_ty: dict[int, ResourceType] = {}
        self._by_root: dict[str, ResourceType] = {}
        for rtype in types:
            if rtype.ty in self._by_ty:
                raise ValueError(f"resource type {rtype.ty!r} is listed twice")
            self._by_ty[int(rtype.ty)] = rtype
            self._by_root[rtype.root] = rtype
        # Types that answer under a family of roots (flexContainer specializations), asked in
        # order for a root that no type has as its own.
        self._root_families = tuple(t for t in self._by_ty.values() if t.owns_root_family)
        self._child_types = frozenset(p for t in self._by_ty.values() for p in t.parent_types)
        # No resource may be named like a virtual child of any type: an address ending in
        # such a name is then always the virtual child of its parent (cse/addressing.py).
        self.reserved_names: frozenset[str] = frozenset(
            name for t in self._by_ty.values() for name in t.virtual_names)
        self.fan_out_points: frozenset[str] = frozenset(
            t.fan_out_point for t in self._by_ty.values() if t.fan_out_point is not None)
        for rtype in self._by_ty.values():
            if rtype.fan_out_point is not None and rtype.fan_out_point not in rtype.virtual_children:
                raise ValueError(f"{rtype.type_name}: its fan-out point {rtype.fan_out_point!r} must be "
                                 "one of its virtual_children")

    def get(self, ty: int) -> ResourceType | None:
        return self._by_ty.get(ty)

    def of(self, resource: dict) -> ResourceType:
        return self._by_ty[resource["ty"]]

    def by_root(self, root: str) -> ResourceType | None:
        rtype = self._by_root.get(root)
        if rtype is None:
            for family in self._root_families:
                if family.accepts_root(root):
                    return family
        return rtype

    def for_create(self, ty: object) -> ResourceType:
        if not isinstance(ty, int) or isinstance(ty, bool):
            raise OneM2MError(RSC.BAD_REQUEST, f"resource type {ty!r} is not an integer")
        rtype = self._by_ty.get(ty)
        if rtype is None:
            if is_onem2m_type(ty):
                raise OneM2MError(RSC.NOT_IMPLEMENTED, f"resource type {ty} is not supported by this CSE")
            raise OneM2MError(RSC.BAD_REQUEST, f"resource type {ty} is not a oneM2M resource type")
        return rtype

    @property
    def supported(self) -> list[int]:
        return sorted(int(ty) for ty in self._by_ty)

    def may_have_children(self, ty: int) -> bool:
        return ty in self._child_types

    def __iter__(self) -> Iterator[ResourceType]:
        return iter(self._by_ty.values())


__all__ = ["TypeRegistry", "Ty"]
