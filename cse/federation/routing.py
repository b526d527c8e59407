"""Where a request for another CSE goes next (TS-0004 7.3.2.6, reference 11.2).

Reads the remoteCSE records under the CSEBase and the registrar settings; decides, never
sends.  The rules, in order:
1. a registered CSE with that CSE-ID, or one that lists it in `dcse`: that CSE;
2. otherwise, on a CSE that has a registrar, requests from below (this CSE, its AEs, its
   registrees and their descendants) go up to the registrar;
3. otherwise the target is unknown here (4004).  Not sending requests that came from
   above back up is what keeps a correctly configured tree free of loops.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from cse.clock import format_timestamp
from cse.errors import RSC, OneM2MError
from cse.resource_types import Ty

if TYPE_CHECKING:
    from cse.clock import Clock
    from cse.config import Config
    from cse.storage import Storage
    from cse.tree import Tree



class RecordGeneration(Protocol):
    """What routing needs of the remoteCSE type: a number that moves whenever a record changed."""

    generation: int


@dataclass(frozen=True, slots=True)
class Hop:
    """The next CSE on the way: its CSE-ID, where to reach it, and whether it can be."""

    cse_id: str
    poa: tuple[str, ...]
    reachable: bool = True          # False when its record says rr=false
    via_registrar: bool = False


class Routes:
    def __init__(self, config: "Config", storage: "Storage", tree: "Tree",
                 remote_cse_type: "RecordGeneration | None", clock: "Clock"):
        self.own_id = config.cse.cse_id
        self.own_sp = config.cse.sp_id.lstrip("/")
        self.cse_ri = config.cse.cse_id.lstrip("/")
        self.registrar = config.registrar
        self.storage = storage
        self.tree = tree
        self.remote_cse_type = remote_cse_type     # its `generation` says when records changed
        self.clock = clock
        # descendant CSE-ID -> ri of the registree record that lists it in dcse
        self._descendants: dict[str, str] = {}
        self._generation = -1

    # -- lookups ------------------------------------------------------------------------
    def record(self, cse_id: str, now_ts: str) -> dict | None:
        """The remoteCSE record of `cse_id` (registree or registrar), if any."""
        resource = self.tree.get(cse_id[1:], now_ts) if len(cse_id) > 1 else None
        if resource is None or resource["ty"] != Ty.CSR or resource.get("csi") != cse_id:
            return None
        return resource

    def _descendant_index(self) -> dict[str, str]:
        generation = self.remote_cse_type.generation if self.remote_cse_type is not None else 0
        if generation != self._generation:
            index: dict[str, str] = {}
            for record in self.storage.children(self.cse_ri, Ty.CSR):
                if record.get("_registrar"):
                    continue
                for descendant in record.get("dcse") or ():
                    index.setdefault(descendant, record["ri"])
            self._descendants = index
            self._generation = generation
        return self._descendants

    def may_relay(self, neighbour: str, originator: str) -> bool:
        """Whether CSE `neighbour` may hand us a request of `originator` (over MQTT the topic
        names the hop's sender, TS-0010 6.4, so this is what a relayed `fr` is judged by).

        Never one of this CSE's own entities (a neighbour claiming to relay for our admin
        would become it).  Our registrar relays for anyone else; a registree for itself, its
        AEs and descendants, and for originators we know nothing about (S-AE-IDs), but not
        for a CSE we know to be elsewhere (our registrar, another registree's subtree)."""
        now_ts = format_timestamp(self.clock.now())
        record = self.record(neighbour, now_ts)
        if record is None or not originator.startswith("/"):
            return False
        if originator.startswith("//"):
            sp, _, rest = originator[2:].partition("/")
            if sp != self.own_sp:
                return bool(record.get("_registrar"))   # other SP domains are reached through it
            originator = "/" + rest
        head = "/" + originator[1:].split("/", 1)[0]
        if head == self.own_id:
            return False
        local = self.tree.get(head[1:], now_ts)
        if local is not None and local["ty"] == Ty.AE:     # an S-AE registered here
            return False
        if record.get("_registrar") or head == neighbour or head in (record.get("dcse") or ()):
            return True
        return head != self.registrar.cse_id and self.registree_of(head, now_ts) is None

    def registree_of(self, cse_id: str, now_ts: str) -> dict | None:
        """The record of the registree through which `cse_id` is reached (itself or an
        ancestor listing it in dcse)."""
        record = self.record(cse_id, now_ts)
        if record is not None:
            return record
        ri = self._descendant_index().get(cse_id)
        return self.tree.get(ri, now_ts) if ri is not None else None

    def descendants(self) -> list[str]:
        """CSE-IDs registered below this CSE (what our registrar should list in our dcse).

        Never this CSE or its registrar, which the registrar would refuse: a record stored
        before a registrar was configured may still name it."""
        found: set[str] = set()
        for record in self.storage.children(self.cse_ri, Ty.CSR):
            if not record.get("_registrar"):
                found.add(record["csi"])
                found.update(record.get("dcse") or ())
        found.discard(self.own_id)
        found.discard(self.registrar.cse_id)
        return sorted(found)

    def former_registrars(self) -> list[str]:
        """CSE-IDs of local records of a registrar other than the configured one."""
        return sorted(record["csi"] for record in self.storage.children(self.cse_ri, Ty.CSR)
                      if record.get("_registrar") and record["csi"] != self.registrar.cse_id)

    # -- the decision -------------------------------------------------------------------
    def next_hop(self, cse_id: str, originator: str, now_ts: str, sp_id: str | None = None) -> Hop:
        """`sp_id` is set when the target is in another M2M SP domain (absolute address)."""
        if sp_id is None:
            record = self.registree_of(cse_id, now_ts)
            if record is not None:
                return Hop(record["csi"], tuple(record.get("poa") or ()), reachable=record.get("rr", True))
        target = f"{sp_id}{cse_id}" if sp_id else cse_id
        if self.registrar.url and self.came_from_below(originator, now_ts):
            registrar = self.record(self.registrar.cse_id, now_ts)
            poa = tuple(registrar.get("poa") or ()) if registrar is not None else ()
            return Hop(self.registrar.cse_id, poa or (self.registrar.url,), via_registrar=True)
        if sp_id is not None:
            raise OneM2MError(RSC.NOT_FOUND, f"{target} is in another M2M service provider domain; "
                                             "this CSE does not route between domains")
        if self.registrar.url:
            raise OneM2MError(RSC.NOT_FOUND,
                              f"CSE {target} is not registered with {self.own_id} nor below it, and a "
                              f"request from {originator!r} (from above) is not sent back up")
        raise OneM2MError(RSC.NOT_FOUND, f"CSE {target} is not registered with {self.own_id} nor below it")

    def came_from_below(self, originator: str, now_ts: str) -> bool:
        """True for this CSE, its AEs, its registrees and their descendants (by `fr`)."""
        if originator.startswith("//"):
            sp, _, rest = originator[2:].partition("/")
            if sp != self.own_sp:
                return False
            originator = "/" + rest
        if not originator.startswith("/"):
            return True                         # CSE-relative: one of our AEs, over Mca
        head = "/" + originator[1:].split("/", 1)[0]
        if head == self.own_id:
            return True
        if head == self.registrar.cse_id:
            return False
        record = self.registree_of(head, now_ts)
        if record is not None and not record.get("_registrar"):
            return True
        # An SP-relative S-AE-ID (/Sxyz) of an AE registered here.
        local = self.tree.get(head[1:], now_ts)
        return local is not None and local["ty"] == Ty.AE
