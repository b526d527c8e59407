"""flexContainerInstance (ty 58): one snapshot of a flexContainer's custom attributes (and
lbl), made by the CSE when the flexContainer changes (resources/flex_container.py says
when).  A client can neither create nor update one (4005); it can read and delete it, also
through the flexContainer's `la` / `ol`.

It answers under its flexContainer's root (`{"cod:eneCn": {"ty": 58, ...}}`, as ACME does),
carries the flexContainer's cs and st at the time, `org` (who made the change), and an et
bounded by the flexContainer's mia.  As every instance (resources/instance.py) it has no
acpi: the flexContainer's access rules apply.

What this module must never do: change the flexContainer (its counters are the base's).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.clock import format_timestamp
from cse.resource_types import Ty

from .device_models import DeviceModels
from .instance import Instance

if TYPE_CHECKING:
    from cse.context import Context

ROOT_KEY = "_root"


class FlexContainerInstance(Instance):
    ty = Ty.FCI
    short_name = "fci"
    type_name = "flexContainerInstance"
    parent_types = frozenset({Ty.FCNT})
    creatable = False

    def __init__(self, models: DeviceModels):
        super().__init__()
        self.models = models

    def root_of(self, resource: dict) -> str:
        return resource.get(ROOT_KEY, self.root)

    def defines(self, name: str, resource: dict) -> bool:
        if name in self.schema.rules:
            return True
        spec = self.models.by_root.get(resource.get(ROOT_KEY, ""))
        return spec is not None and name in spec.points

    def content_size(self, resource: dict) -> int:
        return resource.get("cs", 0)

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        # The flexContainer's own cs and st: the instance is that state (its st already moved
        # on with the UPDATE that made the instance).
        resource["cs"] = parent.get("cs", 0)
        resource["st"] = parent.get("st", 0)
        mia = parent.get("mia")
        if mia is not None:
            limit = format_timestamp(ctx.now + mia)
            if resource.get("et") is None or resource["et"] > limit:
                resource["et"] = limit
