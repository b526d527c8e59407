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

from .node import relink

if TYPE_CHECKING:
    from cse.context import Context

# The AE-ID stem becomes the ri and (by default) the rn: only unreserved characters, so
# that every address form can name it (reference 2.3).
_AE_ID_STEM = re.compile(r"[A-Za-z0-9\-._~]+")
# Releases whose App-ID rule still tolerates a lower-case 'r' (TS-0001 R2a/R3); from R4 the
# App-ID starts with 'R' or 'N'.  A request without rvi is served as our newest release.
RELEASES_WITH_LOWER_R = frozenset({"1", "2", "2a", "3"})
POA_SCHEMES = ("http://", "https://", "mqtt://", "mqtts://", "coap://", "coaps://", "ws://", "wss://")


# Releases whose App-IDs may also start with a lower-case 'r' (tolerated up to R3, as ACME;
# from R4 on an App-ID starts with 'R' (registered) or 'N' (non-registered) only).
LENIENT_APP_ID_RELEASES = frozenset({"1", "2", "2a", "3"})


def check_app_id(api: str, rvi: str | None) -> None:
    """The App-ID rule of the request's release (a request without rvi is of the newest)."""
    first = api[0]
    if first in "RN" or (first == "r" and rvi in LENIENT_APP_ID_RELEASES):
        return
    if first == "r":
        raise bad_request(f"attribute 'api': App-ID {api!r} starts with 'r', which only releases 2a and 3 "
                          f"allow; from release 4 on (this request: {rvi or 'newest'}) it must start "
                          "with 'R' (registered) or 'N' (non-registered)")
    raise bad_request(f"attribute 'api': App-ID {api!r} must start with 'R' (registered) "
                      "or 'N' (non-registered)")


async def check_poa(ctx: "Context", poa: list[str]) -> None:
    """The form of each URL, then the outbound policy: the CSE will connect there."""
    for url in poa:
        if not url.startswith(POA_SCHEMES) or len(url) <= len(url.split("://")[0]) + 3:
            raise bad_request(f"attribute 'poa': {url!r} is not an http(s), mqtt(s), coap(s) or ws(s) URL")
    for url in poa:
        await ctx.outbound.policy.check_url(url, "poa")


def _is_cse_id(originator: str) -> bool:
    """/id-mn or //sp/id-mn (a CSE-ID), not /id-mn/Cxyz (an SP-relative AE-ID)."""
    if originator.startswith("//"):
        originator = "/" + originator[2:].partition("/")[2]
    return originator.startswith("/") and len(originator) > 1 and "/" not in originator[1:]


class AE(ResourceType):
    ty = Ty.AE
    short_name = "ae"
    type_name = "AE"
    parent_types = frozenset({Ty.CB})
    registration = True

    def default_name(self, resource: dict) -> str:
        return resource["aei"]

    def check_originator(self, ctx: "Context") -> None:
        """The originator decides the AE-ID; checked before the content (TS-0004 7.4.5.2.1)."""
        originator = ctx.originator or ""
        if _is_cse_id(originator):
            # A CSE-ID is no AE-ID: a CSE has no security association as an AE (TS-0004: 4107).
            raise OneM2MError(RSC.SECURITY_ASSOCIATION_REQUIRED,
                              f"originator {originator!r} is a CSE-ID; an AE registers with an AE-ID stem "
                              "('C...', 'S...'), 'C', 'S' or no originator")
        self._check_ae_id(ctx, self._ae_id(originator))

    @staticmethod
    def _check_ae_id(ctx: "Context", aei: str) -> None:
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

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        check_app_id(resource["api"], ctx.request.rvi if ctx.request is not None else None)
        if "poa" in resource:
            await check_poa(ctx, resource["poa"])
        aei = self._ae_id(ctx.originator or "")
        self._check_ae_id(ctx, aei)     # again: a generated ID is new
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

    # nl (nodeLink) must name a node here, whose hael then lists the AE (resources/node.py).
    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        relink(ctx, resource)

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if "nl" in changes:
            relink(ctx, resource)

    def on_delete(self, ctx: "Context", resource: dict, parent: dict | None) -> None:
        relink(ctx, {key: value for key, value in resource.items() if key != "nl"})
