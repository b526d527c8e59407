"""Access rights an AE hands out: the operation bits and the `acr` entries of an
`<accessControlPolicy>` (TS-0001 9.6.2), so firmware says "the energy application may read
and subscribe to my readings" instead of writing bit masks.

    from client.access import Access, grant, subscriber
    rules = [grant(["/id-in/CEnergyApp"], Access.RETRIEVE | Access.DISCOVER),
             grant(["/id-in/CEnergyApp"], Access.CREATE, child_types=[SUBSCRIPTION])]
    # the same, shorter:
    rules = subscriber(["/id-in/CEnergyApp"])
    acp = await meter.create_acp(meter.ae_address, rn="share-readings", rules=rules)
    await meter.create(meter.ae_address, {"m2m:cnt": {"rn": "power", "acpi": [acp["ri"]]}})

Only content is built here; sending is `CseClient.create_acp`.  Nothing here knows a CSE's
internals: the members are those of the TS (`acor`, `acop`, `acod`/`chty`).
"""
from __future__ import annotations

from enum import IntFlag
from typing import Iterable

CONTENT_INSTANCE = 4
SUBSCRIPTION = 23


class Access(IntFlag):
    """accessControlOperations bits (TS-0004 6.3.4.2.4)."""

    CREATE = 1
    RETRIEVE = 2
    UPDATE = 4
    DELETE = 8
    NOTIFY = 16
    DISCOVER = 32
    ALL = 63


def grant(originators: Iterable[str], operations: Access | int, *,
          child_types: Iterable[int] | None = None) -> dict:
    """One access control rule: `originators` (AE-IDs, CSE-IDs, `all`, `C*` patterns where
    the CSE supports them) may do `operations`.  `child_types` restricts CREATE to
    children of those types (acod/chty): CREATE of `[SUBSCRIPTION]` lets a partner
    subscribe without letting it write readings."""
    names = [originators] if isinstance(originators, str) else list(originators)
    if not names or not all(isinstance(name, str) and name for name in names):
        raise ValueError("a grant needs at least one originator ID")
    operations = int(operations)
    if not 0 < operations <= int(Access.ALL):
        raise ValueError(f"operations must be a combination of Access flags, not {operations}")
    rule: dict = {"acor": names, "acop": operations}
    if child_types is not None:
        types = list(child_types)
        if not types or not all(isinstance(t, int) and not isinstance(t, bool) for t in types):
            raise ValueError("child_types must be a non-empty list of resource type numbers")
        rule["acod"] = [{"chty": types}]
    return rule


def subscriber(originators: Iterable[str]) -> list[dict]:
    """What a partner needs to find, read and subscribe to a container, and nothing more:
    RETRIEVE and DISCOVER, and CREATE of subscriptions only (a subscription needs CREATE
    and RETRIEVE on its parent, TS-0004 7.3.8.2)."""
    return [grant(originators, Access.RETRIEVE | Access.DISCOVER),
            grant(originators, Access.CREATE, child_types=[SUBSCRIPTION])]


def commander(originators: Iterable[str]) -> list[dict]:
    """What a partner needs to find a command container and put commands in it: DISCOVER,
    and CREATE of contentInstances only (it can neither read the commands of others nor
    change or delete anything)."""
    return [grant(originators, Access.DISCOVER),
            grant(originators, Access.CREATE, child_types=[CONTENT_INSTANCE])]


__all__ = ["Access", "CONTENT_INSTANCE", "SUBSCRIPTION", "commander", "grant", "subscriber"]
