"""Resource types: one module per type.  `default_types()` lists those this CSE serves."""
from __future__ import annotations

from .base import ResourceType
from .registry import TypeRegistry


def default_types() -> TypeRegistry:
    from .acp import AccessControlPolicy
    from .ae import AE
    from .container import Container
    from .content_instance import ContentInstance
    from .cse_base import CSEBase
    from .group import Group
    from .polling_channel import PollingChannel
    from .remote_cse import RemoteCSE
    from .request import RequestResource
    from .subscription import Subscription

    return TypeRegistry([CSEBase(), AE(), Container(), ContentInstance(), Group(), RemoteCSE(), Subscription(),
                         AccessControlPolicy(), RequestResource(), PollingChannel()])


__all__ = ["ResourceType", "TypeRegistry", "default_types"]
