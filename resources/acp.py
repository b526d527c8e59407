"""accessControlPolicy (m2m:acp, ty 1): rules for the resources that link it (`pv`) and for
itself (`pvs`) (TS-0001 9.6.2, TS-0004 7.4.2).

The rules are checked here beyond the schema (schedule strings, IP blocks, unsupported
features) with the same compiler the access decisions use, so whatever is stored can be
evaluated.  An ACP has no acpi: its `pvs` governs it (see cse/access.py).  Every change
tells the access-control cache, which holds compiled ACPs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.policy import compile_rules
from cse.resource_type import ResourceType
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.context import Context


class AccessControlPolicy(ResourceType):
    ty = Ty.ACP
    short_name = "acp"
    type_name = "accessControlPolicy"
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.CSR})
    has_acpi = False

    def validate_create(self, attributes: dict) -> None:
        super().validate_create(attributes)
        self._compile(attributes)

    def validate_update(self, attributes: dict) -> None:
        super().validate_update(attributes)
        self._compile(attributes)

    @staticmethod
    def _compile(attributes: dict) -> None:
        for name in ("pv", "pvs"):
            if attributes.get(name) is not None:
                compile_rules(attributes[name], name, lambda originator: originator)

    def after_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        ctx.access.acp_created()

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        ctx.access.forget(resource)

    def on_delete(self, ctx: "Context", resource: dict, parent: dict | None) -> None:
        ctx.access.forget(resource)
