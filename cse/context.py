"""Per-request context handed to resource hooks: the parts a hook may use, nothing more.

The parts are named by the small protocols below, not by their classes: the tree, access
control and the polling channels take a context themselves, and the resource types that the
tree holds take one in every hook, so naming the classes here would make each of those
modules import itself back through this one (tests/test_structure.py refuses any cycle).
A protocol lists what is used through a context; a hook that needs more of a part adds the
member here (mypy checks that the real part still fits).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Protocol

from .clock import format_timestamp
from .events import Event, EventKind

if TYPE_CHECKING:
    from .config import Config
    from .outbound import Outbound
    from .permissions import Permission
    from .primitives import Request, Response
    from .storage import Storage


class TypeView(Protocol):
    """What a hook asks of a resource type it looks up through `ctx.tree.types`
    (the class is `cse.resource_type.ResourceType`)."""

    @property
    def type_name(self) -> str: ...
    @property
    def short_name(self) -> str: ...
    @property
    def parent_types(self) -> frozenset: ...
    @property
    def has_acpi(self) -> bool: ...
    @property
    def parent_entity_only(self) -> bool: ...
    @property
    def subscribable(self) -> bool: ...
    @property
    def provisioned(self) -> bool: ...
    @property
    def schema(self) -> Any: ...
    @property
    def managed_by_link(self) -> bool: ...        # cse.resource_type.Schema (not imported here: no cycle)
    @property
    def fan_out_point(self) -> str | None: ...
    @property
    def virtual_children(self) -> frozenset[str]: ...
    def defines(self, name: str, resource: dict) -> bool: ...
    def default_name(self, resource: dict) -> str: ...
    def resolve_virtual(self, ctx: Context, resource: dict, name: str, op: int) -> dict: ...


class TypesView(Protocol):
    """The resource types of the CSE (`cse.type_registry.TypeRegistry`)."""

    @property
    def reserved_names(self) -> frozenset[str]: ...
    def get(self, ty: int) -> TypeView | None: ...
    def of(self, resource: dict) -> TypeView: ...


class TreeView(Protocol):
    """The resource tree (`cse.tree.Tree`)."""

    @property
    def types(self) -> TypesView: ...
    def new_resource_id(self, short_name: str) -> str: ...
    def get(self, ri: str, now_ts: str) -> dict | None: ...
    def get_by_path(self, path: str, now_ts: str) -> dict | None: ...
    def children(self, resource: dict, now_ts: str, ty: int | None = None) -> list[dict]: ...
    def insert(self, ctx: Context, resource: dict, parent: dict) -> None: ...
    def remove(self, ctx: Context, resource: dict, parent: dict | None, *,
               notify_parent: bool = True) -> None: ...


class AccessView(Protocol):
    """Access control (`cse.access.AccessControl`)."""

    def is_entity(self, originator: str | None, entity: dict) -> bool: ...
    def is_admin(self, originator: str | None) -> bool: ...
    def normalize(self, originator: str) -> str: ...
    def allowed(self, ctx: Context, originator: str | None, permission: Permission,
                resource: dict, attributes: frozenset[str] | None = None) -> bool: ...
    def check(self, ctx: Context, permission: Permission, resource: dict,
              attributes: frozenset[str] | None = None) -> None: ...
    def check_acpi_update(self, ctx: Context, resource: dict, changes: dict) -> None: ...
    def check_references(self, ctx: Context, acpi: Iterable[str]) -> None: ...
    def forget(self, acp: dict) -> None: ...
    def forget_subtree(self, path: str) -> None: ...
    def acp_created(self) -> None: ...


class PollingView(Protocol):
    """The pollingChannels' queues (`cse.polling.PollingChannels`)."""

    async def poll(self, ctx: RequestContext, pch: dict, owner: str) -> Response: ...
    def answer(self, ctx: RequestContext, pch: dict) -> Response: ...
    def close_channel(self, pch_ri: str, why: str) -> None: ...


@dataclass(slots=True)
class Context:
    config: "Config"
    storage: "Storage"
    tree: TreeView
    access: AccessView
    outbound: "Outbound"
    request: "Request | None"
    now: float
    # Sends a request through this CSE's dispatcher (access control, forwarding included),
    # for hooks that must look at other resources as the originator would (group members).
    dispatch: "Callable[[Request], Awaitable[Response]] | None" = None
    # The pollingChannels' queues (cse/polling.py), for the pollingChannel type's hooks.
    polling: PollingView | None = None
    events: list[Event] = field(default_factory=list)
    # In an UPDATE: what the changed attributes were before it (absent: None), for hooks
    # that react to a transition (a container's disr from true to false).
    previous: dict | None = None
    _now_ts: str | None = None

    @property
    def now_ts(self) -> str:
        if self._now_ts is None:
            self._now_ts = format_timestamp(self.now)
        return self._now_ts

    @property
    def originator(self) -> str | None:
        return self.request.fr if self.request is not None else None

    def emit(self, kind: EventKind, resource: dict, parent: dict | None = None, **extra) -> None:
        self.events.append(Event(kind, resource, parent, self.originator, **extra))


class RequestContext(Context):
    """The context of a request being served: the dispatcher makes one per request, and
    operations, fan-out, discovery and the request-only hooks (`prepare_create`,
    `prepare_update`, `serve_virtual`) get it, so `request` and `dispatch` are always
    there.  The CSE's own work (expiry, notifications) has a plain `Context` without a
    request.  Same fields and constructor; only the types are narrower."""

    __slots__ = ()
    request: Request
    dispatch: Callable[[Request], Awaitable[Response]]
