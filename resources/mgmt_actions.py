"""Management actions: what an UPDATE of an executable mgmtObj attribute (fwr `ud`, swr
`in`/`un`/`act`/`dea`, rbo `rbo`/`far`, dvc `ena`/`dis`, evl `lga`/`lgo`) does.

This CSE has no external device-management protocol (OMA DM, LwM2M, TR-069); the device
is a oneM2M entity, and the action is delivered to it in oneM2M primitives
(docs/device-management.md has the exact protocol):

* to every AE hosted on the node (the node's `hael`, each AE's `nl` naming the node): a
  NOTIFY whose m2m:sgn carries the mgmtObj as it will be after the UPDATE (`nev.rep`,
  `net` 1; of the executable attributes only the ones started), `sur` the mgmtObj's
  SP-relative ID and `cr` the originator of the UPDATE; it goes through the AE's poa, or its
  pollingChannel when rr=false, or hop by hop when the AE is elsewhere (as notifications do);
* to the CSE on the node, when `hcl` names a registered remoteCSE (a gateway's own node):
  an UPDATE with the started actions of the same-named mgmtObj under the node's address on
  that CSE (`mgca` when it is a oneM2M address, else `<cb of the remoteCSE>/<node rn>`),
  sent through forwarding as the originator of the UPDATE.

The UPDATE waits for those answers, at most `[management] action_timeout` seconds (other
requests run meanwhile: this is a prepare_update hook, before any write).
* Some device accepted (2xxx): the UPDATE is stored and answered 2004, with each started
  action's status attribute (uds, ins, acts, cas) at "in process" (m2m:status 3), or the
  status the hosting CSE answered with.  The device reports the outcome later by updating
  the status itself (1 successful, 2 failure), with whatever else changed (fwr `vr`).
* Nobody accepted: the UPDATE is refused and changes nothing it carried, but the status
  attribute records the failed attempt (sus 2; evl lgst 5), written by this CSE so that
  subscribers hear of it.  The answer says why: 6020 no device known or reachable, 6021 no
  answer in time, 4127 the device refused (its code and message quoted).

What this module must never do: write inside the UPDATE's transaction, or wait unbounded.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from cse.errors import RSC, OneM2MError
from cse.federation.forwarding import routed_url
from cse.notification_target import TargetResolver, parse_target
from cse.outbound import LOCAL_FAILURE, TIMED_OUT
from cse.primitives import Operation, Request, Response
from cse.representation import attributes as public_attributes
from cse.resource_types import Ty
from cse.tree import random_suffix

from .mgmt_kinds import Action, Kind

if TYPE_CHECKING:
    from cse.context import Context

IN_PROCESS, SUCCESSFUL, FAILURE = 3, 1, 2
# Internal key of a mgmtObj: how often a status attribute was written (by the CSE or the
# device), so that a report that overtook the device's acceptance is not overwritten.
STATUS_WRITES = "_sw"
# Answers that mean "it did not get there" (sent by us or by a CSE on the way), not a refusal.
UNREACHABLE = (RSC.TARGET_NOT_REACHABLE, RSC.REMOTE_ENTITY_NOT_REACHABLE)


@dataclass(frozen=True, slots=True)
class Route:
    """One way to the device: who it is (for messages) and how to send the action."""

    who: str
    send: Callable[[], Awaitable[Response]]
    # The hosting CSE answers with its mgmtObj, whose status attributes we then show.
    hosting_cse: bool = False


def started_actions(kind: Kind, changes: dict) -> list[Action]:
    return [action for name, action in kind.actions.items() if changes.get(name) is True]


async def perform(ctx: "Context", kind: Kind, resource: dict, changes: dict) -> None:
    """Deliver the actions `changes` starts; fill their status into `changes` when a device
    accepted, else record the failure and raise the refusal."""
    actions = started_actions(kind, changes)
    if not actions:
        return
    node = ctx.storage.get(resource["pi"])
    if node is None:
        raise OneM2MError(RSC.NOT_FOUND, f"the node of {resource['_path']!r} no longer exists")
    # The mgmtObj as it will be; of its executable attributes only those started now, so
    # that the device knows what to do (a `ud` true from an earlier update is left out).
    started = {action.name for action in actions}
    after = {key: value for key, value in {**resource, **changes}.items()
             if value is not None and (key not in kind.actions or key in started)}
    routes, why_none = device_routes(ctx, kind, node, resource, after, actions)
    if not routes:
        await _record_failure(ctx, kind, resource, actions)
        raise OneM2MError(RSC.MGMT_SESSION_CANNOT_BE_ESTABLISHED,
                          f"{_named(actions)} of {resource['_path']!r} cannot be delivered: {why_none}")
    before = resource.get(STATUS_WRITES, 0)
    responses = await asyncio.gather(*(route.send() for route in routes))
    accepted = [(route, response) for route, response in zip(routes, responses) if 2000 <= response.rsc < 3000]
    if accepted:
        # A quick device may have reported its outcome already (its UPDATE can overtake its
        # answer to our NOTIFY): then "in process" must not overwrite it.  No await from
        # here to the write, so nothing can change in between.
        current = ctx.storage.get(resource["ri"]) or resource
        reported = current.get(STATUS_WRITES, 0) != before
        for action in actions:
            if action.status is not None and not reported:
                value = action.status_value(IN_PROCESS)
                if value is not None:
                    changes[action.status] = value
        for route, response in accepted:
            if route.hosting_cse:
                _copy_status(kind, [a for a in actions if a.status in changes], response, changes)
        return
    await _record_failure(ctx, kind, resource, actions)
    raise _refusal(resource, actions, list(zip(routes, responses)))


def device_routes(ctx: "Context", kind: Kind, node: dict, resource: dict, after: dict,
                  actions: list[Action]) -> tuple[list[Route], str]:
    """The ways to the device hosting `node`, and why there is none when the list is empty."""
    config = ctx.config
    timeout = config.management.action_timeout
    originator = ctx.originator
    routes: list[Route] = []
    resolver = TargetResolver(config, ctx.storage, ctx.outbound)
    sgn = {"nev": {"rep": {kind.root: public_attributes(after)}, "net": 1},
           "sur": f"{config.cse.cse_id}/{resource['ri']}"}
    if originator:
        sgn["cr"] = originator
    problems: list[str] = []
    for ae_id in node.get("hael") or ():
        ae = ctx.storage.get(ae_id)
        if ae is None or ae.get("ty") != Ty.AE or ae.get("nl") != node["ri"]:
            continue
        if ae_id == originator:
            problems.append(f"AE {ae_id} is the originator itself (a device reports outcomes through the status "
                            "attributes; it does not start actions on its own node)")
            continue
        target = parse_target(ae_id)
        url = resolver.url_of(target, ae)
        if url is None:
            problems.append(f"AE {ae_id} {resolver.describe_unreachable(target, ae).split(' ', 1)[1]}")
            continue
        request = Request(op=Operation.NOTIFY, to=resolver.to_of(target), fr=config.cse.cse_id,
                          rqi=f"mgmt-{resource['ri']}-{random_suffix(6)}", pc={"m2m:sgn": sgn})
        serialization = resolver.serialization_of(target, ae, None)
        routes.append(Route(f"AE {ae_id}", _sender(ctx, url, request, serialization, timeout)))
    hosting = _hosting_cse_route(ctx, kind, node, resource, actions, timeout)
    if isinstance(hosting, Route):
        routes.append(hosting)
    elif hosting:
        problems.append(hosting)
    if not routes and not problems:
        problems.append(f"no AE is hosted on node {node['_path']!r} (no AE with nl naming it) and its hcl names "
                        "no registered CSE")
    return routes, "; ".join(problems)


def _hosting_cse_route(ctx: "Context", kind: Kind, node: dict, resource: dict, actions: list[Action],
                       timeout: float) -> Route | str | None:
    hcl = node.get("hcl")
    if not hcl:
        return None
    cse = ctx.storage.get(hcl)
    if cse is None:
        return f"its hcl {hcl!r} names no resource of this CSE"
    if cse.get("ty") == Ty.CB:
        return None if node.get("hael") else (f"its hcl names this CSE, which performs no management actions on "
                                              "itself; let the node's management AE register with nl naming the node")
    if cse.get("ty") != Ty.CSR or not cse.get("csi"):
        return f"its hcl {hcl!r} is not a CSEBase or remoteCSE"
    mgca = node.get("mgca")
    node_address = mgca if isinstance(mgca, str) and mgca.startswith(cse["csi"] + "/") else \
        f"{cse['cb'] if str(cse.get('cb', '')).startswith('/') else cse['csi']}/{node['rn']}"
    request = Request(op=Operation.UPDATE, to=f"{node_address}/{resource['rn']}",
                      fr=ctx.originator or ctx.config.cse.cse_id, rqi=f"mgmt-{resource['ri']}-{random_suffix(6)}",
                      pc={kind.root: {action.name: True for action in actions}})
    return Route(f"the hosting CSE {cse['csi']} ({request.to})",
                 _sender(ctx, routed_url(cse["csi"]), request, "json", timeout), hosting_cse=True)


def _sender(ctx: "Context", url: str, request: Request, serialization: str,
            timeout: float) -> Callable[[], Awaitable[Response]]:
    async def send() -> Response:
        return await ctx.outbound.send(url, request, serialization=serialization, timeout=timeout)
    return send


def _copy_status(kind: Kind, actions: list[Action], response: Response, changes: dict) -> None:
    """The hosting CSE's view of the status attributes, from its answer to our UPDATE."""
    pc = response.pc
    shown = pc.get(kind.root) if isinstance(pc, dict) else None
    if not isinstance(shown, dict):
        return
    for action in actions:
        if action.status is not None and shown.get(action.status) is not None:
            changes[action.status] = shown[action.status]


async def _record_failure(ctx: "Context", kind: Kind, resource: dict, actions: list[Action]) -> None:
    """Write the failed attempt into the status attributes, as this CSE (a request of its own,
    so that it is stored, notified and access-checked like every change)."""
    status: dict = {}
    for action in actions:
        if action.status is not None:
            value = action.status_value(FAILURE)
            if value is not None:
                status[action.status] = value
    if not status or ctx.dispatch is None:
        return
    await ctx.dispatch(Request(op=Operation.UPDATE, to=resource["ri"], fr=ctx.config.cse.cse_id,
                               rqi=f"mgmt-status-{resource['ri']}-{random_suffix(6)}", pc={kind.root: status}))


def _named(actions: list[Action]) -> str:
    return "the management action " + " and ".join(repr(action.name) for action in actions)


def _detail(response: Response) -> str:
    pc = response.pc
    if isinstance(pc, dict) and isinstance(pc.get("m2m:dbg"), str):
        return pc["m2m:dbg"]
    return ""


def _refusal(resource: dict, actions: list[Action], answers: list[tuple[Route, Response]]) -> OneM2MError:
    parts = []
    refused = timed_out = False
    for route, response in answers:
        detail = _detail(response)
        if response.extra.get(LOCAL_FAILURE) == TIMED_OUT or response.rsc == RSC.REQUEST_TIMEOUT:
            timed_out = True
            parts.append(f"{route.who} did not answer in time{': ' + detail if detail else ''}")
        elif response.rsc in UNREACHABLE:
            parts.append(f"{route.who} is not reachable{': ' + detail if detail else ''}")
        else:
            refused = True
            parts.append(f"{route.who} refused it (rsc {response.rsc}{': ' + detail if detail else ''})")
    if refused:
        rsc = RSC.OPERATION_DENIED_BY_REMOTE_ENTITY
    elif timed_out:
        rsc = RSC.MGMT_SESSION_ESTABLISHMENT_TIMEOUT
    else:
        rsc = RSC.MGMT_SESSION_CANNOT_BE_ESTABLISHED
    return OneM2MError(rsc, f"{_named(actions)} of {resource['_path']!r} was not performed: {'; '.join(parts)}")


def count_status_writes(kind: Kind, resource: dict, changes: dict) -> None:
    """Called in the write transaction of every UPDATE of a mgmtObj."""
    if any(action.status in changes for action in kind.actions.values() if action.status is not None):
        resource[STATUS_WRITES] = resource.get(STATUS_WRITES, 0) + 1


__all__ = ["STATUS_WRITES", "count_status_writes", "device_routes", "perform", "started_actions"]
