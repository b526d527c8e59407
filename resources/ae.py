"""AE (m2m:ae, ty 2): an application entity's registration (TS-0001 10.2.2.2, TS-0004 7.4.5).

The originator of the CREATE decides the AE-ID: empty or "C" asks the CSE for a new
C-stem, "S" for a new S-stem, and a full "Cxyz"/"Sxyz" asks for that stem, refused with
4117 while an AE with it exists.  The AE-ID is also the resource ID; the AE owns its subtree.
"""
from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING

from cse.errors import RSC, OneM2MError, bad_request
from cse.resource_type import ResourceType
from cse.resource_types import Ty
from cse.tree import random_suffix

if TYPE_CHECKING:
    from cse.context import Context

# The AE-ID stem becomes the ri and (by default) the rn: only unreserved characters, so
# that every address form can name it (reference 2.3).
_AE_ID_STEM = re.compile(r"[A-Za-z0-9\-._~]+")
POA_SCHEMES = ("http://", "https://", "mqtt://", "mqtts://", "coap://", "coaps://", "ws://", "wss://")


async def check_poa(ctx: "Context", poa: list[str]) -> None:
    """The form of each URL, then the outbound policy: the CSE will connect there."""
    for url in poa:
        if not url.startswith(POA_SCHEMES) or len(url) <= len(url.split("://")[0]) + 3:
            raise bad_request(f"attribute 'poa': {url!r} is not an http(s), mqtt(s), coap(s) or ws(s) URL")
    for url in poa:
        await ctx.outbound.policy.check_url(url, "poa")


class AE(ResourceType):
    ty = Ty.AE
    short_name = "ae"
    type_name = "AE"
    parent_types = frozenset({Ty.CB})
    registration = True

    def default_name(self, resource: dict) -> str:
        return resource["aei"]

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        api = resource["api"]
        if api[0] not in "RNr":
            raise bad_request(f"attribute 'api': App-ID {api!r} must start with 'R' (registered) "
                              "or 'N' (non-registered)")
        if "poa" in resource:
            await check_poa(ctx, resource["poa"])
        aei = self._ae_id(ctx.originator or "")
        if len(aei) > ctx.config.limits.max_rn_length:
            raise bad_request(f"the AE-ID (originator) is longer than {ctx.config.limits.max_rn_length} "
                              "characters; it is also the AE's resource name")
        allowed = ctx.config.cse.allowed_ae_originators
        if not any(fnmatch.fnmatchcase(aei, pattern) for pattern in allowed):
            raise OneM2MError(RSC.APP_RULE_VALIDATION_FAILED,
                              f"originator {aei!r} may not register an AE here")
        if ctx.tree.get(aei, ctx.now_ts) is not None:
            raise OneM2MError(RSC.ORIGINATOR_HAS_ALREADY_REGISTERED,
                              f"originator {aei!r} is already registered; delete or update that AE")
        resource["ri"] = resource["aei"] = aei
        resource["_own"] = resource["_org"] = aei

    @staticmethod
    def _ae_id(originator: str) -> str:
        if originator in ("", "C"):
            return "C" + random_suffix(12)
        if originator == "S":
            return "S" + random_suffix(12)
        if originator[0] in "CS" and _AE_ID_STEM.fullmatch(originator):
            return originator
        # 4126 like an AE-ID outside `allowed_ae_originators` (README): the registration rules
        # refuse it, the request itself is well formed.
        raise OneM2MError(RSC.APP_RULE_VALIDATION_FAILED,
                          f"originator {originator!r} cannot register an AE: use an AE-ID stem "
                          "('C...' or 'S...' of letters, digits and - . _ ~), 'C', 'S' or no originator")

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if changes.get("poa"):
            await check_poa(ctx, changes["poa"])
