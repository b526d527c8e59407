"""The expirationTime (et) a resource gets: what the originator asked for is a hint
(TS-0001 9.6.1.3: the Hosting CSE configures et).

* No et given: now + `cse.default_lifetime` (0: none).
* An et later than now + `cse.max_lifetime` is shortened to that (0: no cap).
* An et later than the parent's et is shortened to the parent's: a resource cannot outlive
  its parent, which takes its subtree with it when it expires.  A parent without et (the
  CSEBase; data stored before et was always set) sets no bound.
Without a default, a resource below a parent with an et gets the parent's (as ACME does).

Timestamps are compared as strings: the m2m:timestamp form (YYYYMMDDTHHMMSS[,ffffff])
sorts in time order, as the reaper and every et check already rely on.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .clock import format_timestamp

if TYPE_CHECKING:
    from .context import Context


def expiration(ctx: "Context", given: str | None, parent: dict | None) -> str | None:
    """The et to store for a resource below `parent` whose originator asked for `given`
    (already checked to be a future timestamp), or None for a resource without et."""
    settings = ctx.config.cse
    if given is None:
        lifetime = settings.default_lifetime
        if settings.max_lifetime:
            lifetime = min(lifetime, settings.max_lifetime)
        et = format_timestamp(ctx.now + lifetime) if lifetime > 0 else None
    else:
        et = given
        if settings.max_lifetime:
            limit = format_timestamp(ctx.now + settings.max_lifetime)
            if et > limit:
                et = limit
    bound = parent.get("et") if parent is not None else None
    if bound is not None and (et is None or et > bound):
        et = bound
    return et
