"""Access decisions: may this originator perform this operation on this resource?

Every operation asks `AccessControl.check` (or `allowed` for silent filtering, as in
discovery results) exactly once per resource.  Without accessControlPolicy support the
TS default policy applies (TS-0001 9.6.2): the admin originator may do everything, the
originator that created a resource and the AE that owns the subtree may do everything on
it, and nobody else has any right.
"""
from __future__ import annotations

import enum
from typing import TYPE_CHECKING

from .errors import RSC, OneM2MError

if TYPE_CHECKING:
    from .config import Config
    from .context import Context


class Permission(enum.IntFlag):
    CREATE = 1
    RETRIEVE = 2
    UPDATE = 4
    DELETE = 8
    NOTIFY = 16
    DISCOVER = 32
    ALL = 63


CSE_BASE_TY = 5


class AccessControl:
    def __init__(self, config: "Config"):
        self.admin = config.cse.admin_originator
        self.cse_id = config.cse.cse_id

    def is_admin(self, originator: str | None) -> bool:
        return originator == self.admin or originator == self.cse_id

    def allowed(self, ctx: "Context", originator: str | None, permission: Permission,
                resource: dict) -> bool:
        if self.is_admin(originator):
            return True
        if originator is None:
            return False
        if resource["ty"] == CSE_BASE_TY:
            # Registered entities may read the CSEBase to learn what it supports.
            return permission in (Permission.RETRIEVE, Permission.DISCOVER)
        return originator == resource.get("_own") or originator == resource.get("_org")

    def check(self, ctx: "Context", permission: Permission, resource: dict) -> None:
        if not self.allowed(ctx, ctx.originator, permission, resource):
            raise OneM2MError(
                RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                f"originator {ctx.originator!r} has no {permission.name} privilege on "
                f"{resource.get('_path', resource.get('ri'))!r}")
