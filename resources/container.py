"""container (m2m:cnt, ty 3): a bounded history of contentInstances.

Everything it does is what every instance container does (resources/instance_container.py):
cni/cbs/st counters, la/ol, oldest-first pruning by mni and mbs, mia, disr.
"""
from __future__ import annotations

from cse.resource_types import Ty

from .instance_container import InstanceContainer


class Container(InstanceContainer):
    ty = Ty.CNT
    short_name = "cnt"
    type_name = "container"
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.CNT, Ty.CSR, Ty.FCNT})
    instance_type = Ty.CIN
