"""CSEBase (m2m:cb, ty 5): the root of this CSE's tree, provisioned from the configuration.

It is created at start-up (`provision`), never by a request, and cannot be updated or
deleted through the API (`provisioned`: refused before access control).  What an
originator creates directly below it is that originator's own.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError
from cse.resource_type import ResourceType
from cse.resource_types import CseType, Ty

if TYPE_CHECKING:
    from cse.config import Config
    from cse.context import Context
    from cse.storage import Storage


class CSEBase(ResourceType):
    ty = Ty.CB
    short_name = "cb"
    type_name = "CSEBase"
    parent_types = frozenset()
    creatable = False
    updatable = False
    deletable = False
    provisioned = True
    children_owned_by_creator = True

    def validate_update(self, attributes: dict) -> None:
        raise OneM2MError(RSC.OPERATION_NOT_ALLOWED, "the CSEBase is provisioned and cannot be updated")

    def as_retrieved(self, ctx: "Context", resource: dict) -> dict:
        # currentTime (ctm, R4): the CSE's clock when it answers, so a peer can see the offset.
        return {**resource, "ctm": ctx.now_ts}


def provision(config: "Config", storage: "Storage", now_ts: str, supported_types: list[int],
              poa: list[str]) -> dict:
    """Create the CSEBase on first start; on later starts refresh what the config decides."""
    ri = config.cse.cse_id.lstrip("/")
    existing = storage.get(ri)
    attributes = {
        "cst": int(CseType.named(config.cse.type)),
        "csi": config.cse.cse_id,
        "srt": supported_types,
        "poa": poa,
        "srv": list(config.cse.supported_releases),
        "csz": ["application/json", "application/cbor"],
        "spi": config.cse.sp_id,              # SP-ID (R5, as ACME sends it)
    }
    if config.cse.type == "IN":
        attributes["ici"] = config.cse.cse_id     # IN-CSE-ID: an IN-CSE is its own
    with storage.transaction():
        if existing is None:
            if storage.get_by_path(config.cse.rn) is not None or storage.count() > 0:
                raise RuntimeError(f"storage {storage.url} holds the tree of another CSE; "
                                   f"it has no CSEBase {ri!r}")
            base = {"ty": int(Ty.CB), "ri": ri, "rn": config.cse.rn, "pi": "", "ct": now_ts, "lt": now_ts,
                    **attributes, "_path": config.cse.rn, "_own": config.cse.admin_originator,
                    "_org": config.cse.admin_originator}
            storage.insert(base)
        else:
            if existing["rn"] != config.cse.rn:
                raise RuntimeError(f"storage {storage.url} holds CSEBase {existing['rn']!r}, but the "
                                   f"configuration names it {config.cse.rn!r}; resource names cannot change")
            base = existing
            stale = [k for k in ("ici",) if k in base and k not in attributes]    # no longer an IN-CSE
            if stale or any(base.get(k) != v for k, v in attributes.items()):
                for name in stale:
                    del base[name]
                base.update(attributes)
                base["lt"] = now_ts
                storage.update(base, changed=[*attributes, *stale])
    return base
