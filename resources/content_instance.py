"""contentInstance (m2m:cin, ty 4): one immutable reading in a container.

Everything it does is what every instance does (resources/instance.py): cs from con, the
container's mbs, mia and st, no acpi, no UPDATE, the container's disr.
"""
from __future__ import annotations

from cse.resource_types import Ty

from .instance import Instance


class ContentInstance(Instance):
    ty = Ty.CIN
    short_name = "cin"
    type_name = "contentInstance"
    parent_types = frozenset({Ty.CNT})

