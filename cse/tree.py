"""The resource tree on top of storage: identifiers, expiry-aware lookups, insert and remove.

Both the dispatcher and resource hooks (a container pruning its oldest instance) change the
tree through these few functions, so parent bookkeeping, subtree removal and events are
written once.
"""
from __future__ import annotations

import random
import string
import time
from typing import TYPE_CHECKING, Callable

from .events import EventKind
from .resource_types import Ty

if TYPE_CHECKING:
    from .config import Config
    from .context import Context
    from .storage import Storage
    from .type_registry import TypeRegistry

_ID_ALPHABET = string.ascii_letters + string.digits
_ID_ALPHABET_SORTED = string.digits + string.ascii_uppercase + string.ascii_lowercase
_rng = random.SystemRandom()


def random_suffix(length: int = 10) -> str:
    return "".join(_rng.choices(_ID_ALPHABET, k=length))


def base62(value: int, width: int) -> str:
    """`value` in `width` digits of _ID_ALPHABET, whose ASCII order is its numeric order,
    so that fixed-width strings compare like the numbers they encode."""
    digits = []
    for _ in range(width):
        value, digit = divmod(value, 62)
        digits.append(_ID_ALPHABET_SORTED[digit])
    if value:
        raise ValueError(f"does not fit in {width} base-62 digits")
    return "".join(reversed(digits))


class ResourceIds:
    """New resource identifiers that sort in creation order:
    <type short name><7 digits: ms time of the series><4 digits: counter><4 random>.

    Why ordered: storage indexes ri and the structured path (which for a contentInstance
    ends in its ri).  Random keys land on random index pages, so every commit rewrites many
    pages: with random IDs the core's cost of creating an instance doubled between 0 and
    100,000 stored ones (bench/README.md).  Increasing keys land on the last pages.
    The series restarts (with a later time) after 62**4 IDs and at every start of the CSE;
    the random tail keeps IDs unique should the wall clock go back between two starts.  It
    is for uniqueness only, not secrecy, so it comes from a seeded PRNG: SystemRandom
    costs one getrandom() system call per character, which showed in profiles."""

    COUNTER_DIGITS = 4
    COUNTER_LIMIT = 62 ** COUNTER_DIGITS

    def __init__(self, now_ms: Callable[[], int] | None = None):
        self._now_ms = now_ms or (lambda: time.time_ns() // 1_000_000)
        self._series = -1
        self._prefix = ""
        self._counter = self.COUNTER_LIMIT
        self._tail = random.Random(_rng.getrandbits(64))

    def new(self, short_name: str) -> str:
        if self._counter >= self.COUNTER_LIMIT:
            self._series = max(self._now_ms(), self._series + 1)
            self._prefix = base62(self._series, 7)
            self._counter = 0
        counter = base62(self._counter, self.COUNTER_DIGITS)
        self._counter += 1
        return short_name + self._prefix + counter + "".join(self._tail.choices(_ID_ALPHABET, k=4))


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
        self._ids = ResourceIds()

    # -- identifiers --------------------------------------------------------------------
    def new_resource_id(self, short_name: str) -> str:
        # Unique within this process by construction; the unique index would refuse a
        # duplicate rather than overwrite anything.
        return self._ids.new(short_name)

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
        subscribed: dict[str, dict] = {}
        if self.types.may_have_children(resource["ty"]):
            subscriptions = list(self.storage.descendants(resource["_path"], types=(Ty.SUB,)))
            for subscription in subscriptions:
                pi = subscription["pi"]
                if pi != resource["ri"] and pi not in subscribed:
                    below = self.storage.get(pi)
                    if below is not None:
                        subscribed[pi] = below
            self.storage.delete_subtree(resource["_path"])
            # ACPs in the subtree go with it; their on_delete hooks are not called.
            ctx.access.forget_subtree(resource["_path"])
        else:
            subscriptions = []
            self.storage.delete(resource["ri"])
        if resource["ty"] == Ty.SUB:
            subscriptions.append(resource)
        ctx.emit(EventKind.DELETED, resource, parent, removed_subscriptions=subscriptions,
                 removed_subscribed=subscribed, notify_parent=notify_parent)
