"""timeSeriesInstance (m2m:tsi, ty 30): one reading of a timeSeries.

Everything an instance does comes from resources/instance.py (cs from con, the container's
mbs, mia and st, no acpi, no UPDATE, the container's disr).  What this module adds: dgt
(dataGenerationTime, mandatory) as an absolute timestamp or a time relative to now in ms
(stored as an absolute timestamp), unique in its timeSeries (4105 CONFLICT, TS-0004
7.4.39.2.1), and snr (sequenceNr), the originator's own counter, stored as given.
The dgt's instant is kept as `_dgt` (seconds since the epoch) for the parent's checks and
for missing-data detection.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from cse.clock import LATEST, format_timestamp, parse_abs_rel, parse_timestamp
from cse.errors import bad_request
from cse.resource_types import Ty

from .instance import Instance
from .time_series import TimeSeries, conflict

if TYPE_CHECKING:
    from cse.context import Context

DGT_INSTANT = "_dgt"
EARLIEST = -62135596800.0        # 0001-01-01T00:00:00Z, the first instant a timestamp can spell


class TimeSeriesInstance(Instance):
    ty = Ty.TSI
    short_name = "tsi"
    type_name = "timeSeriesInstance"
    parent_types = frozenset({Ty.TS})

    def on_create(self, ctx: "Context", resource: dict, parent: dict) -> None:
        dgt = resource["dgt"]
        if type(dgt) is str:
            if not dgt:
                raise bad_request("timeSeriesInstance attribute 'dgt': '' violates minLength 1")
        elif type(dgt) is not int:
            raise bad_request(f"timeSeriesInstance attribute 'dgt': {dgt!r} is not of type string or integer")
        if isinstance(dgt, str) and not dgt.strip().lstrip("-").isdigit():
            instant = parse_timestamp(dgt, "attribute 'dgt'")
        else:
            absolute = parse_abs_rel(dgt, ctx.now, "attribute 'dgt'")
            if not EARLIEST <= absolute <= LATEST:
                raise bad_request(f"attribute 'dgt': {dgt} ms from now is out of range (years 1-9999)")
            resource["dgt"] = format_timestamp(absolute)
            instant = parse_timestamp(resource["dgt"])      # to the microsecond, as a given one
        container = ctx.tree.types.of(parent)
        if isinstance(container, TimeSeries) and container.holds_dgt(ctx, parent, instant):
            raise conflict(parent["_path"], resource["dgt"])
        resource[DGT_INSTANT] = instant
        super().on_create(ctx, resource, parent)
