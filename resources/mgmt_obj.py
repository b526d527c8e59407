"""mgmtObj (ty 13): one management object of a <node> (TS-0001 9.6.15, TS-0004 7.4.15 and
Annex D).  Which one (firmware, battery, reboot, ...) is its specialization, selected by
`mgd` (mgmtDefinition) and answering under its own root (`m2m:fwr`, `m2m:bat`, ...).

The specializations are data: one file per kind in schemas/mgmt_objs/ (`fwr.json`,
`bat.json`, ...), each giving its mgd, its attributes with value schemas and presence, the
executable attributes that start a management action (`x-actions`: which status attribute
reports the outcome), the pairs that may not be started together (`x-exclusive`) and how
many a node may have (`x-per-node`).  The common part every kind shares is schemas/mgo.json.
A new specialization is one more file; nothing here changes (docs/device-management.md).

A kind is served by a member of this type bound to it (`for_root`), as flexContainer's
specializations are: the core hands a request's content to the member for its root, whose
schema is the common part plus the kind's attributes.  A stored mgmtObj finds its kind by
its `mgd`.

Rules beyond the schema:
* the root names the kind and `mgd` must be that kind's number (else 4000 naming both);
* a node has at most one memory, reboot and eventLog (TS-0001 Table 9.6.18-1; else 4105);
* an UPDATE setting an executable attribute to true (fwr `ud`, swr `in`/`un`/`act`/`dea`,
  rbo `rbo`/`far`, dvc `ena`/`dis`, evl `lga`/`lgo`) is a management action, delivered to
  the device before the UPDATE is answered (resources/mgmt_actions.py); two exclusive ones
  in one UPDATE are refused (4000).
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError, bad_request
from cse.resource_type import ResourceType, Schema
from cse.resource_types import Ty

from .mgmt_actions import count_status_writes, perform
from .mgmt_kinds import KINDS_DIR, UNSERVED, UNSERVED_ROOTS, Kind, load_kinds

if TYPE_CHECKING:
    from cse.context import Context

class MgmtObj(ResourceType):
    ty = Ty.MGO
    short_name = "mgo"
    type_name = "mgmtObj"
    parent_types = frozenset({Ty.NOD})

    def __init__(self, kinds_dir: Path = KINDS_DIR):
        super().__init__()
        self.kinds: dict[int, Kind] = load_kinds(kinds_dir)
        self.by_root: dict[str, Kind] = {kind.root: kind for kind in self.kinds.values()}
        # Only messages show it: a mgmtObj always answers under its specialization's root.
        self.root = "<specialization root, e.g. m2m:fwr>"
        self.kind: Kind | None = None
        self._members = {kind.root: self._member(kind) for kind in self.kinds.values()}

    def _member(self, kind: Kind) -> "MgmtObj":
        """This type bound to one specialization (made once, in the constructor)."""
        member = copy.copy(self)
        member.kind = kind
        member.root = kind.root
        member.type_name = f"{kind.name} mgmtObj"  # type: ignore[misc]  # one bound copy per kind
        member.schema = Schema(self.short_name, self.ty, document=kind.document)
        member._default_name_prefix = kind.sn + "_"
        return member

    # -- roots ------------------------------------------------------------------------------
    def kind_of(self, resource: dict) -> Kind | None:
        return self.kinds.get(resource.get("mgd"))  # type: ignore[arg-type]

    def root_of(self, resource: dict) -> str:
        kind = self.kind_of(resource)
        return kind.root if kind is not None else self.root

    def accepts_root(self, root: str, resource: dict | None = None) -> bool:
        if resource is None:
            return root in self.by_root
        return root == self.root_of(resource)

    def for_root(self, root: str, resource: dict | None = None) -> ResourceType | None:
        if resource is not None:
            kind = self.kind_of(resource)
            return self._members[kind.root] if kind is not None and root == kind.root else None
        member = self._members.get(root)
        if member is None and root in UNSERVED_ROOTS:
            raise OneM2MError(RSC.NOT_IMPLEMENTED, f"the mgmtObj specialization {root!r} (CMDH) is not "
                                                   "supported by this CSE")
        return member

    def defines(self, name: str, resource: dict) -> bool:
        kind = self.kind_of(resource)
        if kind is None:
            return name in self.schema.rules
        return name in self._members[kind.root].schema.rules

    def default_name(self, resource: dict) -> str:
        return self._default_name_prefix + resource["ri"][len(self.short_name):]

    # -- content (on the member of the request's root) --------------------------------------
    def validate_create(self, attributes: dict) -> None:
        kind = self.kind
        assert kind is not None, "the core validates content with the member for_root gave"
        mgd = attributes.get("mgd")
        if isinstance(mgd, int) and not isinstance(mgd, bool) and mgd != kind.mgd:
            other = self.kinds.get(mgd)
            if other is not None:
                said = f"is {other.label}"
            elif mgd in UNSERVED:
                said = f"is {UNSERVED[mgd]}, which this CSE does not support"
            else:
                said = "is no mgmtDefinition known to this CSE"
            raise bad_request(f"attribute 'mgd': {mgd} {said}, but the content root {kind.root!r} is "
                              f"{kind.label}; the root and mgd must name the same specialization")
        super().validate_create(attributes)
        self._check_exclusive(attributes)

    def validate_update(self, attributes: dict) -> None:
        super().validate_update(attributes)
        self._check_exclusive(attributes)

    def _check_exclusive(self, attributes: dict) -> None:
        kind = self.kind
        if kind is None:
            return
        for group in kind.exclusive:
            started = [name for name in group if attributes.get(name) is True]
            if len(started) > 1:
                raise bad_request(f"{kind.label}: {' and '.join(repr(n) for n in started)} cannot both be "
                                  "true in one request (they are opposite management actions)")

    # -- lifecycle ---------------------------------------------------------------------------
    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        kind = self.kind_of(resource)
        if kind is None:
            return
        for action in kind.actions.values():      # uds, ins, acts: "uninitialized" until an action
            if action.status is not None and action.failed is None:
                resource.setdefault(action.status, {"acn": "", "sus": 0})
        if kind.per_node is None:
            return
        same = [child for child in ctx.storage.children(parent["ri"], Ty.MGO) if child.get("mgd") == kind.mgd]
        if len(same) >= kind.per_node:
            raise OneM2MError(RSC.CONFLICT, f"node {parent['_path']!r} already has a {kind.name} mgmtObj "
                                            f"({same[0]['rn']}); a node has at most {kind.per_node}")

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        kind = self.kind_of(resource)
        if kind is not None:
            count_status_writes(kind, resource, changes)

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        kind = self.kind_of(resource)
        if kind is not None:
            await perform(ctx, kind, resource, changes)


__all__ = ["MgmtObj"]
