"""remoteCSE (m2m:csr, ty 16): another CSE this one is connected with (TS-0001 10.2.2.7).

Two kinds live under the CSEBase, told apart by the internal key `_registrar`:
- a registree's record: created by a CSE registering here (CREATE with `fr` = its CSE-ID);
  the registration rules below apply, not the CSEBase's access control;
- the record of this CSE's own registrar: created by this CSE itself (`fr` = its own
  CSE-ID) once its registration upwards succeeded.
Either way `ri` is the CSE-ID without "/" (so `/id-in/id-mn` addresses the record of
`/id-mn`).  A registree owns its record, so it can keep its poa up to date; the record
of the registrar is this CSE's own.
Routing (`cse/federation`) reads these records and learns of their changes from the
events of each request, like any other listener; this type keeps no state for it.
This module never sends anything.
"""
from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError, bad_request
from cse.resource_type import ResourceType
from cse.resource_types import Ty

from .ae import check_poa

if TYPE_CHECKING:
    from cse.config import Config
    from cse.context import Context


# A CSE-ID becomes the ri and rn of its record: only unreserved characters (as csi's schema).
_CSE_ID = re.compile(r"/[A-Za-z0-9\-._~]+")


def sp_relative_cse_id(originator: str, config: "Config") -> str | None:
    """The SP-relative CSE-ID an originator names ("/id-mn", or "//this-sp/id-mn"), else None."""
    if originator.startswith("//"):
        sp, _, rest = originator[2:].partition("/")
        if sp != config.cse.sp_id.lstrip("/"):
            return None
        originator = "/" + rest
    if originator.startswith("/") and len(originator) > 1 and "/" not in originator[1:]:
        return originator
    return None


def _registrar_id(config: "Config") -> str | None:
    """The CSE-ID of the CSE this one registers with, if it has one."""
    return config.registrar.cse_id if config.registrar.url else None


class RemoteCSE(ResourceType):
    ty = Ty.CSR
    short_name = "csr"
    type_name = "remoteCSE"
    parent_types = frozenset({Ty.CB})
    registration = True

    def default_name(self, resource: dict) -> str:
        return resource["ri"]

    def check_originator(self, ctx: "Context") -> None:
        """Who may register, before any attribute is looked at (TS-0004 7.4.4.2.1)."""
        self._registering_cse(ctx)

    def _registering_cse(self, ctx: "Context") -> tuple[str | None, bool]:
        """(CSE-ID of the registering CSE, whether this is our record of our own registrar);
        the CSE-ID is None for our own record, whose csi comes from the content."""
        config = ctx.config
        own_id = config.cse.cse_id
        originator = ctx.originator or ""
        if originator == own_id:
            return None, True                   # this CSE records the registrar it registered with
        if config.cse.type == "ASN":
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              "an ASN-CSE accepts no CSE registrations (it has no registrees)")
        if not originator.startswith("/"):
            # TS-0004 7.4.4.2.1: an AE-ID as originator of a CSE registration -> 4005.
            raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                              f"originator {originator!r} cannot register a CSE: a CSE registers "
                              "with its SP-relative CSE-ID (e.g. /id-mn) as originator")
        csi = sp_relative_cse_id(originator, config)
        if csi is None or not _CSE_ID.fullmatch(csi):     # else its ri would be unaddressable
            raise bad_request(f"originator {originator!r} is not an SP-relative CSE-ID of this SP "
                              "domain (e.g. /id-mn) and cannot register a CSE")
        if csi == own_id:
            raise bad_request(f"CSE {own_id} cannot register with itself")
        if not any(fnmatch.fnmatchcase(csi, pattern) for pattern in config.cse.allowed_cse_originators):
            raise OneM2MError(RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                              f"CSE {csi} may not register here (cse.allowed_cse_originators)")
        if csi == _registrar_id(config):
            # Checked here, not only by the record below: before our registration has
            # made that record, whoever claimed the registrar's ID would take its routes.
            raise OneM2MError(RSC.CONFLICT, f"CSE {csi} is this CSE's registrar; it cannot also "
                                            "register here (registration loop)")
        existing = ctx.tree.get(csi[1:], ctx.now_ts)
        if existing is not None and existing["ty"] == self.ty and not existing.get("_registrar"):
            raise OneM2MError(RSC.ORIGINATOR_HAS_ALREADY_REGISTERED,
                              f"CSE {csi} is already registered ({existing['_path']!r}); update or "
                              "delete that remoteCSE")
        return csi, False

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        config = ctx.config
        own_id = config.cse.cse_id
        csi, registrar = self._registering_cse(ctx)
        if registrar:
            csi = resource.get("csi")
            if csi is None:
                raise bad_request("attribute 'csi' is needed when a CSE records its own registrar")
            if csi == own_id:
                raise bad_request(f"CSE {own_id} cannot register with itself")
        # TS-0001: the Hosting CSE sets csi from the originator, whatever was sent.
        assert csi is not None
        if len(csi) > config.limits.max_rn_length:
            raise bad_request(f"the CSE-ID is longer than {config.limits.max_rn_length} characters; "
                              "it is also the remoteCSE's resource name")
        cb = resource["cb"]
        if not self._names_cse_base(cb, csi, config):
            raise bad_request(f"attribute 'cb': {cb!r} is not the address of the CSEBase of {csi}; "
                              f"expected {csi}/<CSEBase name> or {csi}")
        self._check_reachability(resource, csi, config)
        if resource.get("poa"):
            await check_poa(ctx, resource["poa"])
        ri = csi[1:]
        existing = ctx.tree.get(ri, ctx.now_ts)
        if existing is not None:
            if existing.get("_registrar"):
                raise OneM2MError(RSC.CONFLICT, f"CSE {csi} is this CSE's registrar; it cannot also "
                                                "register here (registration loop)")
            if existing["ty"] == self.ty:
                raise OneM2MError(RSC.ORIGINATOR_HAS_ALREADY_REGISTERED,
                                  f"CSE {csi} is already registered ({existing['_path']!r}); update or "
                                  "delete that remoteCSE")
            raise OneM2MError(RSC.CONFLICT, f"resource ID {ri!r}, which the remoteCSE of {csi} would "
                                            f"take, is already used by {existing['_path']!r}")
        resource["ri"] = ri
        resource["csi"] = csi
        if registrar:
            # Ours: only this CSE (and its admin) keeps it up to date.
            resource["_own"] = resource["_org"] = own_id
            resource["_registrar"] = True
        else:
            # The registree keeps its own record (poa, dcse) up to date.
            resource["_own"] = resource["_org"] = csi

    @staticmethod
    def _names_cse_base(cb: str, csi: str, config: "Config") -> bool:
        """Every form that names the CSEBase of CSE `csi` (TS-0001 10.2.2.7, TS-0004 7.4.4):
        `/csi/rn` and `/csi` (SP-relative), and both with this SP's ID in front (absolute)."""
        own_sp = config.cse.sp_id
        if cb.startswith(own_sp + "/"):
            cb = cb[len(own_sp):]
        if cb == csi:
            return True
        rest = cb[len(csi) + 1:] if cb.startswith(csi + "/") else ""
        return bool(rest) and "/" not in rest

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        merged = {**resource, **{k: v for k, v in changes.items() if v is not None}}
        for name in ("poa", "dcse"):
            if name in changes and changes[name] is None:
                merged.pop(name, None)
        self._check_reachability(merged, resource["csi"], ctx.config)
        if changes.get("poa"):
            await check_poa(ctx, changes["poa"])

    @staticmethod
    def _check_reachability(resource: dict, csi: str, config: "Config") -> None:
        dcse = resource.get("dcse") or ()
        # Neither this CSE nor its registrar can be below a registree; listed in our dcse
        # upwards, the registrar would also refuse every update of our registration.
        above = (config.cse.cse_id, csi, _registrar_id(config))
        for descendant in dcse:
            if descendant in above:
                raise bad_request(f"attribute 'dcse': {descendant} cannot be a descendant of {csi} "
                                  "(that would make a routing loop)")
        if len(set(dcse)) != len(dcse):
            raise bad_request("attribute 'dcse' lists a CSE-ID more than once")
