"""The resource tree on top of storage: identifiers, expiry-aware lookups, insert and remove.

Both the dispatcher and resource hooks (a container pruning its oldest instance) change the
tree through these few functions, so parent bookkeeping, subtree removal and events are
written once.
"""
from __future__ import annotations

import random
import string
from typing import TYPE_CHECKING

from .events import EventKind

if TYPE_CHECKING:
    from resources.registry import TypeRegistry

    from .config import Config
    from .context import Context
    from .storage import Storage

SUBSCRIPTION_TY = 23
_ID_ALPHABET = string.ascii_letters + string.digits
_rng = random.SystemRandom()


def random_suffix(length: int = 10) -> str:
    return "".join(_rng.choices(_ID_ALPHABET, k=length))


def visible(resource: dict) -> dict:
    """The wire representation: internal keys (leading "_") removed."""
    return {k: v for k, v in resource.items() if k[0] != "_"}


class Tree:
    def __init__(self, config: "Config", storage: "Storage", types: "TypeRegistry"):
        self.config = config
        self.storage = storage
        self.types = types
        self.cse_name = config.cse.rn
        self.cse_ri = config.cse.cse_id.lstrip("/")

    # -- identifiers --------------------------------------------------------------------
    @staticmethod
    def new_resource_id(short_name: str) -> str:
        # 62**10 possibilities: a collision is astronomically unlikely, and the unique
        # index would refuse it rather than overwrite anything.
        return short_name + random_suffix()

    # -- lookups (an expired resource is treated as absent) -----------------------------
    def get(self, ri: str, now_ts: str) -> dict | None:
        resource = self.storage.get(ri)
        if resource is None:
            return None
        et = resource.get("et")
        return None if et is not None and et <= now_ts else resource

    def get_by_path(self, path: str, now_ts: str) -> dict | None:
        resource = self.storage.get_by_path(path)
        if resource is None:
            return None
        et = resource.get("et")
        return None if et is not None and et <= now_ts else resource

    def parent_of(self, resource: dict, now_ts: str) -> dict | None:
        pi = resource.get("pi")
        return self.storage.get(pi) if pi else None

    def children(self, resource: dict, now_ts: str, ty: int | None = None) -> list[dict]:
        return [c for c in self.storage.children(resource["ri"], ty)
                if c.get("et") is None or c["et"] > now_ts]

    # -- changes (call inside storage.transaction()) ------------------------------------
    def insert(self, ctx: "Context", resource: dict, parent: dict) -> None:
        rtype = self.types.of(resource)
        rtype.on_create(ctx, resource, parent)
        self.storage.insert(resource)
        rtype.after_create(ctx, resource, parent)
        self.types.of(parent).on_child_created(ctx, parent, resource)
        ctx.emit(EventKind.CREATED, resource, parent)

    def remove(self, ctx: "Context", resource: dict, parent: dict | None, *,
               notify_parent: bool = True) -> None:
        """Remove a resource and its subtree, telling its type and its parent's type."""
        rtype = self.types.of(resource)
        rtype.on_delete(ctx, resource, parent)
        if parent is not None:
            self.types.of(parent).on_child_deleted(ctx, parent, resource)
        if self.types.may_have_children(resource["ty"]):
            subscriptions = list(self.storage.descendants(resource["_path"], types=(SUBSCRIPTION_TY,)))
            self.storage.delete_subtree(resource["_path"])
            # ACPs in the subtree go with it; their on_delete hooks are not called.
            ctx.access.forget_subtree(resource["_path"])
        else:
            subscriptions = []
            self.storage.delete(resource["ri"])
        if resource["ty"] == SUBSCRIPTION_TY:
            subscriptions.append(resource)
        ctx.emit(EventKind.DELETED, resource, parent, removed_subscriptions=subscriptions,
                 notify_parent=notify_parent)
