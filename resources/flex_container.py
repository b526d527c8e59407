"""flexContainer (ty 28): a resource whose custom attributes follow a specialization, one
TS-0023 device, module or action class (resources/device_models.py, the class files in
schemas/device_models/).  The JSON root is the specialization's (`cod:eneCn`), the type is
28, and the specialization is also named by `cnd` (TS-0004 7.4.37.2.1).

CREATE: the root names the specialization (unknown: 4125 SPECIALIZATION_SCHEMA_NOT_FOUND,
as is an unknown cnd); cnd must be a cnd of the same class (else 4000); every other key is a
flexContainer attribute (fcnt.json) or a data point of the class, of its SDT type and within
its range, and the data points of cardinality 1 must be there (else 4000, naming the
attribute and the class).  UPDATE: the root the resource was created under, no cnd, the
same value checks; null deletes an optional data point, never a mandatory one.  Every
UPDATE moves st on by one (the core does it), cs is recomputed (see `content_size`).

Instances (flexContainerInstance, ty 58; resources/flex_container_instance.py), on the
instance-container base (cni/cbs, la/ol, oldest-first pruning by mni/mbs, mia):
* the history is kept when fcied is present (true or false, ACME's 2025 "fcinEnabled") or,
  without fcied, when one of mni/mbs/mia is set (the TS-0004 R4 rule); then cni/cbs exist
  and the CREATE makes the first instance;
* an UPDATE that changes a custom attribute or lbl makes one while instances are enabled
  (fcied true, or no fcied and a limit set), as does one that sets fcied to true;
* fcied set to false keeps only the newest instance; fcied set to null, or (without fcied)
  the last limit removed, deletes the history (instances, cni, cbs and, with fcied, the
  limits);
* mni/mbs/mia of 0 are refused (4000: remove a limit with null), and so is a cs larger than
  mbs while the history is kept: no instance could hold it.

A specialization is served by a member of this type bound to it (`for_root`): the core
hands a request's content to the member for its root, so the checks know the class.
Everything that reads a stored resource finds its specialization by the root it keeps.

What this module must never do: send anything, or change a resource other than the
flexContainer and its instances.
"""
from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import TYPE_CHECKING

from cse.lifetime import expiration
from cse.errors import RSC, OneM2MError, bad_request
from cse.resource_type import ResourceType
from cse.resource_types import Ty

from .device_models import MODELS_DIR, DeviceModels, Specialization, load_device_models
from .instance import content_size
from .instance_container import InstanceContainer

if TYPE_CHECKING:
    from cse.context import Context

LIMITS = ("mni", "mbs", "mia")
ENABLED = "fcied"
ROOT_KEY = "_root"              # internal: the root the resource was created under
# Copied into each instance besides the custom attributes, and changing it makes one (ACME).
SNAPSHOT_EXTRA = ("lbl",)


def history_kept(resource: dict) -> bool:
    """Whether the flexContainer keeps instances (cni/cbs, la/ol have something to show)."""
    return ENABLED in resource or any(resource.get(name) is not None for name in LIMITS)


def instances_enabled(resource: dict) -> bool:
    """Whether a change of a custom attribute makes an instance now."""
    if ENABLED in resource:
        return resource[ENABLED] is True
    return any(resource.get(name) is not None for name in LIMITS)


def custom_content_size(resource: dict, spec: Specialization | None) -> int:
    """cs: the bytes of the custom attributes as JSON text (a string's UTF-8 length without
    quotes, a number or boolean its JSON text, e.g. 1234.5 -> 6 and true -> 4, a list its
    JSON text), summed; the universal and flexContainer attributes do not count."""
    if spec is None:
        return 0
    return sum(content_size(resource[name]) for name in spec.points if name in resource)


class FlexContainer(InstanceContainer):
    ty = Ty.FCNT
    short_name = "fcnt"
    type_name = "flexContainer"
    # TS-0004 7.4.37.1 plus flexContainer (TS-0001 Table 9.6.35-1) and node (TS-0023 flexNode).
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.CSR, Ty.CNT, Ty.FCNT, Ty.NOD})
    instance_type = Ty.FCI

    def __init__(self, models_dir: Path = MODELS_DIR):
        super().__init__()
        self.models: DeviceModels = load_device_models(models_dir, reserved=self.schema.rules)
        # Only messages show it: a flexContainer always answers under its specialization's.
        self.root = "<specialization root, e.g. cod:eneCn>"
        # prepare_create only records the root; it never waits.
        self.prepare_create_may_wait = False
        self.specialization: Specialization | None = None
        self._members = {root: self._member(spec) for root, spec in self.models.by_root.items()}

    def _member(self, spec: Specialization) -> "FlexContainer":
        """This type bound to one specialization (made once, in the constructor)."""
        member = copy.copy(self)
        member.specialization = spec
        member.root = spec.root
        return member

    # -- roots ------------------------------------------------------------------------------
    @property
    def _bound(self) -> Specialization:
        """The specialization of a member made by `for_root`: only those check content."""
        if self.specialization is None:
            raise OneM2MError(RSC.SPECIALIZATION_SCHEMA_NOT_FOUND,
                              "a flexContainer is created and updated under its specialization's root "
                              "(e.g. cod:eneCn), which names the custom attributes it may have")
        return self.specialization

    def spec_of(self, resource: dict) -> Specialization | None:
        return self.models.by_root.get(resource.get(ROOT_KEY, ""))

    def root_of(self, resource: dict) -> str:
        return resource.get(ROOT_KEY, self.root)

    def accepts_root(self, root: str, resource: dict | None = None) -> bool:
        if resource is None:
            return root in self.models.by_root
        return root == self.root_of(resource)

    def for_root(self, root: str, resource: dict | None = None) -> ResourceType | None:
        if resource is not None:
            if root != self.root_of(resource):
                return None
            if root not in self._members:
                raise OneM2MError(RSC.SPECIALIZATION_SCHEMA_NOT_FOUND,
                                  f"the specialization {root!r} of {resource['_path']!r} is no longer known to "
                                  "this CSE (its class file is gone)")
            return self._members[root]
        member = self._members.get(root)
        if member is not None:
            return member
        if root.startswith("m2m:"):
            return None             # another oneM2M type's root: the core's 4000 names it
        close = difflib.get_close_matches(root, self.models.by_root, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise OneM2MError(RSC.SPECIALIZATION_SCHEMA_NOT_FOUND,
                          f"no flexContainer specialization has the root {root!r}{hint}; this CSE knows "
                          f"{len(self.models)} TS-0023 classes (docs/device-models.md)")

    def defines(self, name: str, resource: dict) -> bool:
        if name in self.schema.rules:
            return True
        spec = self.spec_of(resource)
        return spec is not None and name in spec.points

    # -- content checks (on the member of the request's root) ------------------------------
    def _split(self, attributes: dict) -> tuple[dict, dict]:
        rules = self.schema.rules
        own = {name: value for name, value in attributes.items() if name in rules}
        custom = {name: value for name, value in attributes.items() if name not in rules}
        return own, custom

    def _unknown(self, spec: Specialization, name: str) -> OneM2MError:
        points = ", ".join(sorted(spec.points))
        return bad_request(f"attribute {name!r} is not defined for flexContainer {spec.label}; its data points "
                           f"are {points}")

    def _check_value(self, spec: Specialization, name: str, value: object) -> None:
        point = spec.points[name]
        problem = point.type.problem(value)
        if problem is not None:
            raise bad_request(f"{spec.label} attribute {name!r} ({point.name}): {problem}")

    def validate_create(self, attributes: dict) -> None:
        spec = self._bound
        own, custom = self._split(attributes)
        super().validate_create(own)
        cnd = own["cnd"]
        cls = self.models.by_cnd.get(cnd)
        if cls is None:
            raise OneM2MError(RSC.SPECIALIZATION_SCHEMA_NOT_FOUND,
                              f"attribute 'cnd': no specialization {cnd!r} is known to this CSE; the root "
                              f"{spec.root!r} is {spec.cls.cnd!r}")
        if cls is not spec.cls:
            raise bad_request(f"attribute 'cnd': {cnd!r} is the class {cls.name!r}, but the content root "
                              f"{spec.root!r} is the class {spec.cls.name!r} (cnd {spec.cnd!r})")
        for name, value in custom.items():
            if name not in spec.points:
                raise self._unknown(spec, name)
            if value is None:
                raise bad_request(f"{spec.label} attribute {name!r} cannot be null in CREATE")
            self._check_value(spec, name, value)
        missing = [name for name in spec.mandatory if name not in custom]
        if missing:
            described = ", ".join(f"{name!r} ({spec.points[name].name})" for name in missing)
            raise bad_request(f"{spec.label}: mandatory data point{'s' if len(missing) > 1 else ''} {described} "
                              "missing (cardinality 1 in the class)")

    def validate_update(self, attributes: dict) -> None:
        spec = self._bound
        own, custom = self._split(attributes)
        if own:
            super().validate_update(own)
        for name, value in custom.items():
            if name not in spec.points:
                raise self._unknown(spec, name)
            if value is None:
                if spec.points[name].mandatory:
                    raise bad_request(f"{spec.label}: mandatory data point {name!r} ({spec.points[name].name}) "
                                      "cannot be deleted (null)")
                continue
            self._check_value(spec, name, value)
        if ENABLED in own and own[ENABLED] is None:
            given = [name for name in LIMITS if own.get(name) is not None]
            if given:
                raise bad_request(f"fcied null removes the instance history with mni, mbs and mia; "
                                  f"{', '.join(given)} cannot be set in the same UPDATE")

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        resource[ROOT_KEY] = self._bound.root

    # -- lifecycle (the stored resource names its specialization) ----------------------------
    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        resource["st"] = 0
        resource["cs"] = custom_content_size(resource, self.spec_of(resource))
        if history_kept(resource):
            resource["cni"] = 0
            resource["cbs"] = 0
            _check_fits(resource)

    def after_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        if history_kept(resource):
            self._record(ctx, resource)

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        spec = self.spec_of(resource)
        points = spec.points if spec is not None else {}
        content_changed = any(name in points or name in SNAPSHOT_EXTRA for name in changes)
        resource["cs"] = custom_content_size(resource, spec)
        was_kept = "cni" in resource
        if ENABLED in changes and changes[ENABLED] is None:
            for name in LIMITS:
                resource.pop(name, None)
        if not history_kept(resource):
            if was_kept:
                self._drop_history(ctx, resource)
            return
        _check_fits(resource)
        if not was_kept:
            resource["cni"] = 0
            resource["cbs"] = 0
            self._record(ctx, resource)
            return
        super().on_update(ctx, resource, changes)      # new mni/mbs prune, a new mia bounds
        if changes.get(ENABLED) is False:
            self._keep_newest(ctx, resource, 1)
        if instances_enabled(resource) and (content_changed or changes.get(ENABLED) is True):
            self._record(ctx, resource)

    # -- instances ----------------------------------------------------------------------------
    def _record(self, ctx: "Context", resource: dict) -> None:
        """A new flexContainerInstance with the current custom attributes (the instance
        type fills cs, st and et; the base counts and prunes)."""
        spec = self.spec_of(resource)
        instance_type = ctx.tree.types.get(self.instance_type)
        if instance_type is None:
            raise OneM2MError(RSC.NOT_IMPLEMENTED, f"fcied: this CSE keeps no {self.instance_type.name} "
                                                   "instances (not a registered type)")
        now_ts = ctx.now_ts
        instance = {"ty": int(self.instance_type), "ri": ctx.tree.new_resource_id(instance_type.short_name),
                    "pi": resource["ri"], "ct": now_ts, "lt": now_ts}
        instance["rn"] = instance_type.default_name(instance)
        for name in (*SNAPSHOT_EXTRA, *(spec.points if spec is not None else ())):
            if name in resource:
                value = resource[name]
                instance[name] = copy.deepcopy(value) if isinstance(value, (list, dict)) else value
        if ctx.originator:
            instance["org"] = ctx.originator
        et = expiration(ctx, None, resource)
        if et is not None:
            instance["et"] = et
        instance.update({"_path": f"{resource['_path']}/{instance['rn']}", ROOT_KEY: resource.get(ROOT_KEY),
                         "_org": ctx.originator or resource.get("_org"), "_own": resource.get("_own")})
        ctx.tree.insert(ctx, instance, resource)

    def _keep_newest(self, ctx: "Context", resource: dict, count: int) -> None:
        while resource["cni"] > count:
            oldest = ctx.storage.edge_child(resource["ri"], self.instance_type, newest=False)
            if oldest is None:
                break
            ctx.tree.remove(ctx, oldest, None, notify_parent=False)
            resource["cni"] -= 1
            resource["cbs"] -= oldest.get("cs", 0)

    def _drop_history(self, ctx: "Context", resource: dict) -> None:
        for instance in ctx.storage.children(resource["ri"], self.instance_type):
            ctx.tree.remove(ctx, instance, None, notify_parent=False)
        resource.pop("cni", None)
        resource.pop("cbs", None)


def _check_fits(resource: dict) -> None:
    mbs = resource.get("mbs")
    if mbs is not None and resource["cs"] > mbs:
        raise bad_request(f"the custom attributes take {resource['cs']} bytes (cs), more than maxByteSize (mbs) "
                          f"{mbs}: no flexContainerInstance could hold them")


def flex_types(models_dir: Path = MODELS_DIR) -> list[ResourceType]:
    """flexContainer and flexContainerInstance, sharing one set of class files."""
    from .flex_container_instance import FlexContainerInstance

    container = FlexContainer(models_dir)
    return [container, FlexContainerInstance(container.models)]


__all__ = ["FlexContainer", "custom_content_size", "flex_types", "history_kept", "instances_enabled"]
