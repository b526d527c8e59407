"""action (m2m:actr, ty 65) [R4]: local automation.  When the subject resource's attribute
meets `evc` (and the `dep`endencies hold), the CSE sends `apv` to `orc` as the action's
creator would, and keeps the response in `air` (docs/automation.md).

The evaluation runs off the request path (cse/automation.py); this module checks what a
CREATE or UPDATE may say:
* `evc` {sbjt, optr, thld}: `sbjt` must be an attribute of the subject resource (`sri`, or
  the parent when absent), `thld` must be a value of that attribute's type, magnitude
  operators (3-6) need numbers (4000);
* the subject must be a resource of this CSE the originator may RETRIEVE (4000, as ACME;
  one on another CSE: 5001, the evaluation reads it from local storage);
* `ecp` (evalControlParam) only with evm periodic (period in ms) or continuous (number of
  executions), 4000 otherwise;
* `apv` must be a request primitive: `op` 1-4 (CREATE, RETRIEVE, UPDATE, DELETE), `fr`
  absent or the creator (actions never act under another name), `to` absent or equal to
  `orc`; `pc` present for CREATE and UPDATE, `ty` present exactly for CREATE (4000);
* `dep` (UPDATE only) lists direct <dependency> children (4000).
"""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from cse.automation import CONTINUOUS, PERIODIC, SUBJECT_KEY, check_criteria, is_number
from cse.errors import RSC, OneM2MError, bad_request
from cse.primitives import Request
from cse.resource_type import ResourceType
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.context import Context

_numbers = itertools.count(1)
PRIMITIVE_MEMBERS = frozenset({"op", "fr", "to", "rqi", "rvi", "ty", "pc"})


async def local_subject(ctx: "Context", address: str, what: str) -> dict:
    """The stored resource at `address`, if the originator may RETRIEVE it there (a RETRIEVE
    through the dispatcher as the originator, so every address form and ACP applies)."""
    if ctx.dispatch is None:
        raise OneM2MError(RSC.INTERNAL_SERVER_ERROR, "this CSE cannot resolve resources for automation")
    response = await ctx.dispatch(Request(op=2, to=address, fr=ctx.originator, rqi=f"auto-check-{next(_numbers)}"))
    if response.rsc != RSC.OK:
        reason = response.pc.get("m2m:dbg") if isinstance(response.pc, dict) else None
        raise bad_request(f"attribute '{what}': {address!r} is not a resource the originator may retrieve "
                          f"({response.rsc}{': ' + reason if reason else ''})")
    body = next(iter(response.pc.values())) if isinstance(response.pc, dict) and response.pc else None
    stored = ctx.storage.get(body.get("ri", "")) if isinstance(body, dict) else None
    if stored is None:
        raise OneM2MError(RSC.NOT_IMPLEMENTED, f"attribute '{what}': {address!r} is on another CSE; automation "
                                               "evaluates resources of this CSE only")
    return stored


def check_subject_attribute(ctx: "Context", evc: dict, subject: dict, where: str) -> None:
    """`sbjt` must be an attribute of the subject, and `thld` a value of its type."""
    rtype = ctx.tree.types.of(subject)
    name = evc["sbjt"]
    if not rtype.defines(name, subject) or name.startswith("_"):
        raise bad_request(f"attribute '{where}': sbjt {name!r} is not an attribute of the subject "
                          f"{rtype.type_name} {subject['ri']}")
    if name in rtype.schema.rules:
        try:
            rtype.schema.check_value(rtype.type_name, name, evc["thld"])
        except OneM2MError as error:
            raise bad_request(f"attribute '{where}': thld does not fit {name!r}: {error.message}") from None
    elif name in subject and is_number(subject[name]) != is_number(evc["thld"]):
        raise bad_request(f"attribute '{where}': thld {evc['thld']!r} is not of the type of {name!r}")


class Action(ResourceType):
    ty = Ty.ACTR
    short_name = "actr"
    type_name = "action"
    # ACME's parents (the digest), minus those this CSE does not serve (state).
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.CNT, Ty.CSR, Ty.FCNT, Ty.GRP, Ty.NOD, Ty.TS})

    def validate_create(self, attributes: dict) -> None:
        super().validate_create(attributes)
        check_criteria(attributes["evc"])
        _check_control(attributes.get("evm"), attributes.get("ecp"))

    def validate_update(self, attributes: dict) -> None:
        super().validate_update(attributes)
        if attributes.get("evc") is not None:
            check_criteria(attributes["evc"])

    async def prepare_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        subject = parent if resource.get("sri") is None else await local_subject(ctx, resource["sri"], "sri")
        check_subject_attribute(ctx, resource["evc"], subject, "evc")
        _check_primitive(resource["apv"], resource["orc"], ctx.originator)
        resource[SUBJECT_KEY] = subject["ri"]

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        merged = {**resource, **{name: value for name, value in changes.items()}}
        _check_control(merged.get("evm"), merged.get("ecp"))
        if "sri" in changes or changes.get("evc") is not None:
            if merged.get("sri") is None:
                subject = ctx.storage.get(resource["pi"])
                if subject is None:
                    raise OneM2MError(RSC.NOT_FOUND, f"the parent of {resource['ri']} no longer exists")
            else:
                subject = await local_subject(ctx, merged["sri"], "sri")
            check_subject_attribute(ctx, merged["evc"], subject, "evc")
            changes[SUBJECT_KEY] = subject["ri"]
        if "apv" in changes or "orc" in changes:
            _check_primitive(merged["apv"], merged["orc"], resource["_org"])
        for dependency in changes.get("dep") or ():
            child = ctx.storage.get(dependency)
            if child is None or child.get("ty") != Ty.DEPR or child.get("pi") != resource["ri"]:
                raise bad_request(f"attribute 'dep': {dependency!r} is not a dependency directly below "
                                  "this action (give its resource ID)")


def _check_control(evm: int | None, ecp: int | None) -> None:
    if ecp is not None and evm not in (PERIODIC, CONTINUOUS):
        raise bad_request(f"attribute 'ecp' (evalControlParam) applies to evm 2 (periodic: period in ms) "
                          f"and 3 (continuous: number of executions), not to evm {evm}")


def _check_primitive(apv: Any, orc: str, creator: str | None) -> None:
    unknown = sorted(set(apv) - PRIMITIVE_MEMBERS)
    if unknown:
        raise bad_request(f"attribute 'apv' is not a request primitive: unknown member(s) {', '.join(unknown)}")
    op = apv.get("op")
    if not isinstance(op, int) or isinstance(op, bool) or op not in (1, 2, 3, 4):
        raise bad_request(f"attribute 'apv': op {op!r} is not 1 (CREATE), 2 (RETRIEVE), 3 (UPDATE) or 4 (DELETE)")
    if apv.get("fr") is not None and apv["fr"] != creator:
        raise bad_request(f"attribute 'apv': fr {apv['fr']!r} must be the action's creator {creator!r} "
                          "(the action is sent with the creator's rights)")
    if apv.get("to") is not None and apv["to"] != orc:
        raise bad_request(f"attribute 'apv': to {apv['to']!r} differs from orc {orc!r} (the primitive goes to orc)")
    if op in (1, 3) and not isinstance(apv.get("pc"), dict):
        raise bad_request("attribute 'apv': a CREATE or UPDATE primitive needs pc (the content)")
    if (op == 1) != (apv.get("ty") is not None):
        raise bad_request("attribute 'apv': ty is required for a CREATE primitive and only there")
    if apv.get("ty") is not None and (not isinstance(apv["ty"], int) or isinstance(apv["ty"], bool)):
        raise bad_request(f"attribute 'apv': ty {apv['ty']!r} is not a resource type number")
    for name in ("rqi", "rvi"):
        if apv.get(name) is not None and not isinstance(apv[name], str):
            raise bad_request(f"attribute 'apv': {name} must be a string")
