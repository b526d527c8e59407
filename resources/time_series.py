"""timeSeries (m2m:ts, ty 29): the readings of one periodic data source, each a
timeSeriesInstance identified by its dataGenerationTime (dgt).

What every instance container does comes from resources/instance_container.py (cni/cbs/st
counters, la/ol, oldest-first pruning by mni and mbs, mia).  What this module adds:

* dgt is unique in one timeSeries (TS-0004 7.4.39.2.1: a second instance with the same dgt is
  refused with 4105 CONFLICT).  The timeSeries keeps the dgt instants and ri of its 64
  latest readings (by dgt) and a floor below which readings are not in that window, so a
  reading newer than the floor, the normal case also when concurrent requests arrive
  slightly out of order, is checked in O(1) (a hit is confirmed with one lookup of the
  holder, which may have been deleted or pruned since).  Only a reading older than the 64
  latest looks through the stored instances (bounded by mni).
* The rules of the missing-data parameters (TS-0004 7.4.38.2): peid <= pei/2 (peid defaults
  to pei/2), mdd true needs pei and an mdt > peid, a change of pei/peid/mdt/mdn only while
  detection is paused (mdd false) and never together with mdd.  Switching mdd on clears
  mdlt and mdc; monitoring then starts with the next instance, whose dgt is kept as the
  start of the period grid (`_mdt0`).  The timers themselves are cse/missing_data.py's:
  this module never starts a timer and never sends anything.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import TYPE_CHECKING

from cse.clock import parse_timestamp
from cse.errors import RSC, OneM2MError, bad_request
from cse.resource_types import Ty

from .instance_container import InstanceContainer

if TYPE_CHECKING:
    from cse.context import Context

# Internal keys (never on the wire).  The window of the latest readings: the dgt instants
# of the RECENT latest (by dgt) readings, sorted, with their ri; every stored reading whose
# dgt is above the floor is in it.
WINDOW = "_dgtw"
WINDOW_RI = "_dgtr"
FLOOR = "_dgtf"
RECENT = 64
# The dgt of the instance that started missing-data monitoring (t0 of TS-0001 10.2.4.29).
MONITOR_START = "_mdt0"
PARAMETERS = ("pei", "peid", "mdt", "mdn")


def default_delta(pei: int, mdt: int | None) -> int:
    """peid when the originator gives none (a local policy in the TS): half the period, as
    ACME does, but below mdt when mdt is shorter, so that the two stay valid together."""
    peid = pei // 2
    if mdt is not None and mdt <= peid:
        peid = mdt // 2
    return peid


def check_parameters(resource: dict) -> None:
    """The missing-data parameters of a timeSeries as they would be stored: 4000 if they do
    not go together."""
    pei, peid, mdt = resource.get("pei"), resource.get("peid"), resource.get("mdt")
    if peid is not None and pei is not None and peid * 2 > pei:
        raise bad_request(f"attribute 'peid' ({peid} ms) must not exceed half of 'pei' ({pei} ms)")
    if resource.get("mdd"):
        if pei is None:
            raise bad_request("missing data detection (mdd true) needs a periodicInterval (pei)")
        if mdt is None:
            raise bad_request("missing data detection (mdd true) needs a missingDataDetectTimer (mdt)")
        if mdt <= (peid or 0):
            raise bad_request(f"attribute 'mdt' ({mdt} ms) must be longer than 'peid' ({peid} ms)")


class TimeSeries(InstanceContainer):
    ty = Ty.TS
    short_name = "ts"
    type_name = "timeSeries"
    parent_types = frozenset({Ty.CB, Ty.AE, Ty.CNT, Ty.CSR, Ty.FCNT})
    instance_type = Ty.TSI

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        super().on_create(ctx, resource, parent)
        if resource.get("pei") is not None and resource.get("peid") is None:
            resource["peid"] = default_delta(resource["pei"], resource.get("mdt"))
        check_parameters(resource)
        if resource.get("mdd"):
            resource["mdlt"] = []
            resource["mdc"] = 0

    async def prepare_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        touched = [name for name in PARAMETERS if name in changes]
        if "mdd" in changes and touched:
            raise bad_request(f"attribute 'mdd' cannot be changed together with {', '.join(touched)}: "
                              "pause detection (mdd false), change the parameters, then resume")
        if resource.get("mdd") and touched:
            raise bad_request(f"{', '.join(touched)} cannot be changed while missing data detection runs "
                              "(mdd true): pause it first")

    def on_update(self, ctx: "Context", resource: dict, changes: dict) -> None:
        super().on_update(ctx, resource, changes)
        if changes.get("pei") is not None and "peid" not in changes:
            resource["peid"] = changes["peid"] = default_delta(resource["pei"], resource.get("mdt"))
        if "pei" in changes and changes["pei"] is None and resource.get("peid") is not None:
            resource.pop("peid")
            changes["peid"] = None
        check_parameters(resource)
        if "mdd" in changes:
            resource.pop(MONITOR_START, None)       # monitoring restarts with the next instance
            if resource.get("mdd"):
                resource["mdlt"] = []
                resource["mdc"] = 0
        elif any(name in changes for name in PARAMETERS) and "mdlt" in resource:
            resource["mdlt"] = []                   # TS-0001 10.2.4.23: new parameters, new list
            resource["mdc"] = 0

    def on_child_created(self, ctx: "Context", resource: dict, child: dict) -> None:
        instant = child.get("_dgt") if child["ty"] == Ty.TSI else None
        if instant is not None:
            floor = resource.get(FLOOR)
            if floor is None or instant > floor:
                window = resource.setdefault(WINDOW, [])
                ris = resource.setdefault(WINDOW_RI, [])
                i = bisect_left(window, instant)
                if i < len(window) and window[i] == instant:
                    ris[i] = child["ri"]            # the former holder is gone
                else:
                    window.insert(i, instant)
                    ris.insert(i, child["ri"])
                if len(window) > RECENT:
                    resource[FLOOR] = window.pop(0)
                    ris.pop(0)
            if resource.get("mdd") and resource.get("pei") and MONITOR_START not in resource:
                resource[MONITOR_START] = instant
        super().on_child_created(ctx, resource, child)

    def holds_dgt(self, ctx: "Context", resource: dict, instant: float) -> bool:
        """Whether a live instance with a dgt at `instant` is stored: from the window of
        the latest readings (one lookup to confirm a hit), or, for a dgt at or below its
        floor, by looking through the stored instances."""
        floor = resource.get(FLOOR)
        if floor is None or instant > floor:
            window = resource.get(WINDOW) or ()
            i = bisect_left(window, instant)
            if i == len(window) or window[i] != instant:
                return False
            return _live(ctx, ctx.storage.get(resource[WINDOW_RI][i]))
        for instance in ctx.storage.children(resource["ri"], Ty.TSI):
            stored = instance.get("_dgt")
            if stored is None:
                stored = parse_timestamp(instance["dgt"], "dgt")
            if stored == instant and _live(ctx, instance):
                return True
        return False


def _live(ctx: "Context", instance: dict | None) -> bool:
    """Stored and not expired (the reaper may not have removed it yet)."""
    return instance is not None and (instance.get("et") is None or instance["et"] > ctx.now_ts)


def conflict(path: str, dgt: object) -> OneM2MError:
    return OneM2MError(RSC.CONFLICT, f"the timeSeries {path!r} already holds an instance with dgt {dgt}")
