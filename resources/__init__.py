"""Resource types: one module per type.  `default_types()` lists those this CSE serves.

The base class, the registry and the type numbers are the core's (cse/resource_type.py,
cse/type_registry.py, cse/resource_types.py); modules here subclass and never the reverse.
"""
from __future__ import annotations

from cse.resource_type import ResourceType
from cse.type_registry import TypeRegistry


def default_types() -> TypeRegistry:
    from .acp import AccessControlPolicy
    from .action import Action
    from .announced import announced_types
    from .ae import AE
    from .container import Container
    from .content_instance import ContentInstance
    from .cross_resource_subscription import CrossResourceSubscription
    from .cse_base import CSEBase
    from .dependency import Dependency
    from .flex_container import flex_types
    from .group import Group
    from .mgmt_obj import MgmtObj
    from .node import Node
    from .polling_channel import PollingChannel
    from .remote_cse import RemoteCSE
    from .request import RequestResource
    from .schedule import Schedule
    from .subscription import Subscription
    from .time_series import TimeSeries
    from .time_series_instance import TimeSeriesInstance

    originals = [CSEBase(), AE(), Container(), ContentInstance(), Group(), RemoteCSE(), Subscription(),
                 AccessControlPolicy(), RequestResource(), PollingChannel(), Schedule(), *flex_types(),
                 TimeSeries(), TimeSeriesInstance(),
                 Node(), MgmtObj(), Action(), Dependency(), CrossResourceSubscription()]
    # Their announced variants (ty 10000+x), made from each declaration's x-announced.
    return TypeRegistry([*originals, *announced_types(originals)])


__all__ = ["ResourceType", "TypeRegistry", "default_types"]
