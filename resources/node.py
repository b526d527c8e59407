"""node (m2m:nod, ty 14): an M2M node, a device or a gateway (TS-0001 9.6.18, TS-0004 7.4.18).

Its mgmtObjs (resources/mgmt_obj.py) describe and manage the device.  Links:
* `hcl` (hostedCSELink) names the CSE on the node: this CSE's CSEBase (our own node) or a
  registered remoteCSE (a gateway's node); anything else is refused (4000).  A management
  action on a node whose hcl names a remoteCSE is sent to that CSE (mgmt_actions.py).
* `hael` (hostedAELinks) lists the AEs on the node.  This CSE keeps it: an AE created or
  updated with `nl` naming the node is added, one that is deleted or links elsewhere is
  removed (as ACME does); given in a request, each entry must be an AE of this CSE.  The
  AEs listed are the ones management actions are delivered to.
* Deleting the node removes `nl` from the AEs that named it.

The AE's side (`nl` must name a node of this CSE, 4000 otherwise; the AE needs UPDATE
rights on the node, 4103 otherwise, since it then gets the node's management actions) is
`check_node_link` and `relink`, called by resources/ae.py.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.access import Permission
from cse.errors import RSC, OneM2MError, bad_request
from cse.events import EventKind
from cse.resource_type import ResourceType
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.context import Context

LINKED_NODE = "_node"           # internal key of an AE: the node whose hael lists it


class Node(ResourceType):
    ty = Ty.NOD
    short_name = "nod"
    type_name = "node"
    parent_types = frozenset({Ty.CB})

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        self._check_links(ctx, resource)

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        if changes.keys() & {"hcl", "hael"}:
            self._check_links(ctx, resource)

    @staticmethod
    def _check_links(ctx: "Context", node: dict) -> None:
        hcl = node.get("hcl")
        if hcl is not None:
            cse = ctx.storage.get(hcl)
            if cse is None or cse.get("ty") not in (Ty.CB, Ty.CSR):
                raise bad_request(f"attribute 'hcl': {hcl!r} is not the CSEBase or a remoteCSE of this CSE "
                                  "(hostedCSELink names the CSE on the node)")
        for ae_id in node.get("hael") or ():
            ae = ctx.storage.get(ae_id)
            if ae is None or ae.get("ty") != Ty.AE:
                raise bad_request(f"attribute 'hael': {ae_id!r} is not an AE of this CSE")

    def on_delete(self, ctx: "Context", resource: dict, parent: dict | None) -> None:
        for ae_id in resource.get("hael") or ():
            ae = ctx.storage.get(ae_id)
            if ae is None or ae.get("ty") != Ty.AE or ae.get("nl") != resource["ri"]:
                continue
            ae.pop("nl", None)
            ae.pop(LINKED_NODE, None)
            ctx.storage.update(ae, changed=("nl",))
            ctx.emit(EventKind.UPDATED, ae, None, modified={"nl": None})


def check_node_link(ctx: "Context", nl: str) -> None:
    """An AE's nl must name a node of this CSE."""
    node = ctx.storage.get(nl)
    if node is None or node.get("ty") != Ty.NOD:
        what = "no resource" if node is None else f"a {ctx.tree.types.of(node).type_name}"
        raise bad_request(f"attribute 'nl': {nl!r} is {what} of this CSE, not a node (nodeLink names the "
                          "<node> of the device the AE runs on)")


def relink(ctx: "Context", ae: dict) -> None:
    """Keep the hael of the AE's old and new node in step with its nl (inside the write
    transaction of the AE's CREATE, UPDATE or DELETE; `ae` is written by the caller)."""
    old, new = ae.get(LINKED_NODE), ae.get("nl")
    if old == new:
        return
    if old is not None:
        _change_hael(ctx, old, ae["ri"], add=False)
        ae.pop(LINKED_NODE, None)
    if new is not None:
        check_node_link(ctx, new)
        node = ctx.storage.get(new)
        # Linking adds the AE to the node's hael, and management actions then reach it: only
        # an AE (or originator) that may update the node may do that.
        if node is not None and not any(ctx.access.allowed(ctx, who, Permission.UPDATE, node)
                                        for who in {ae["ri"], ctx.originator} if who):
            raise OneM2MError(RSC.ORIGINATOR_HAS_NO_PRIVILEGE,
                              f"attribute 'nl': AE {ae['ri']!r} has no UPDATE privilege on the node {node['_path']!r}, "
                              "so it cannot declare itself hosted there (it would receive the node's management "
                              "actions)")
        _change_hael(ctx, new, ae["ri"], add=True)
        ae[LINKED_NODE] = new


def _change_hael(ctx: "Context", node_ri: str, ae_ri: str, *, add: bool) -> None:
    node = ctx.storage.get(node_ri)
    if node is None or node.get("ty") != Ty.NOD:
        return
    links = list(node.get("hael") or ())
    if add == (ae_ri in links):
        return
    if add:
        links.append(ae_ri)
    else:
        links.remove(ae_ri)
    if links:
        node["hael"] = links
    else:
        node.pop("hael", None)
    node["lt"] = ctx.now_ts
    ctx.storage.update(node, changed=("hael",))
    ctx.emit(EventKind.UPDATED, node, None, modified={"hael": links or None})


__all__ = ["LINKED_NODE", "Node", "check_node_link", "relink"]
