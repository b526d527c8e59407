"""Who may do what: originators x operations x resource types, with and without ACPs.

Originators: the owner AE (Cowner), another registered AE (Cother), the admin (CAdmin) and
an originator nobody registered (Cstranger).  Each case builds its own small tree:

    cse-in                     CSEBase
      owner                    AE of Cowner
        cnt                    container (with or without acpi)
          cin                  contentInstance
        acp                    ACP: pv grants Cowner everything, Cother CREATE+RETRIEVE;
                               pvs grants Cowner everything
"""
from __future__ import annotations

import pytest

OWNER, OTHER, ADMIN, STRANGER = "Cowner", "Cother", "CAdmin", "Cstranger"
ORIGINATORS = (OWNER, OTHER, ADMIN, STRANGER)
OPERATIONS = ("create", "retrieve", "update", "delete")
TARGETS = ("cb", "ae", "cnt", "cin", "acp")

ADDRESS = {"cb": "cse-in", "ae": "cse-in/owner", "cnt": "cse-in/owner/cnt",
           "cin": "cse-in/owner/cnt/cin", "acp": "cse-in/owner/acp"}

# What each operation does to each target, and the code it gets once access is granted.
CHILD = {"cb": (3, {"m2m:cnt": {"rn": "new"}}), "ae": (3, {"m2m:cnt": {"rn": "new"}}),
         "cnt": (4, {"m2m:cin": {"con": "x"}}), "cin": (4, {"m2m:cin": {"con": "x"}}),
         "acp": (3, {"m2m:cnt": {"rn": "new"}})}
UPDATE = {"cb": {"m2m:cb": {"lbl": ["x"]}}, "ae": {"m2m:ae": {"lbl": ["x"]}},
          "cnt": {"m2m:cnt": {"lbl": ["x"]}}, "cin": {"m2m:cin": {"lbl": ["x"]}},
          "acp": {"m2m:acp": {"lbl": ["x"]}}}
GRANTED = {
    ("cb", "create"): 2001, ("cb", "retrieve"): 2000, ("cb", "update"): 4005, ("cb", "delete"): 4005,
    ("ae", "create"): 2001, ("ae", "retrieve"): 2000, ("ae", "update"): 2004, ("ae", "delete"): 2002,
    ("cnt", "create"): 2001, ("cnt", "retrieve"): 2000, ("cnt", "update"): 2004, ("cnt", "delete"): 2002,
    ("cin", "create"): 4108, ("cin", "retrieve"): 2000, ("cin", "update"): 4005, ("cin", "delete"): 2002,
    ("acp", "create"): 4108, ("acp", "retrieve"): 2000, ("acp", "update"): 2004, ("acp", "delete"): 2002,
}

# Without any acpi: the default policy.  The CSEBase belongs to the admin; anybody may read
# it (what it supports).  Below the AE everything is the owner's.
DEFAULT_POLICY = {
    OWNER: {"cb": {"retrieve"}, "ae": set(OPERATIONS), "cnt": set(OPERATIONS),
            "cin": set(OPERATIONS), "acp": set(OPERATIONS)},
    OTHER: {"cb": {"retrieve"}, "ae": set(), "cnt": set(), "cin": set(), "acp": set()},
    ADMIN: {t: set(OPERATIONS) for t in TARGETS},
    # Not registered: not even the CSEBase (cse.unregistered_retrieve_base, docs/conformance.md).
    STRANGER: {"cb": set(), "ae": set(), "cnt": set(), "cin": set(), "acp": set()},
}
# With acpi = [acp] on the AE and the container: pv decides for them (and for the instance,
# through its container); pvs decides for the ACP itself.
WITH_ACP = {
    OWNER: DEFAULT_POLICY[OWNER],
    OTHER: {"cb": {"retrieve"}, "ae": {"create", "retrieve"}, "cnt": {"create", "retrieve"},
            "cin": {"create", "retrieve"}, "acp": set()},
    ADMIN: DEFAULT_POLICY[ADMIN],
    STRANGER: DEFAULT_POLICY[STRANGER],
}

ACP = {"m2m:acp": {"rn": "acp",
                   "pv": {"acr": [{"acor": [OWNER], "acop": 63}, {"acor": [OTHER], "acop": 3}]},
                   "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}}


async def build(core, with_acp: bool) -> dict:
    assert (await core.register_ae(OWNER, rn="owner")).rsc == 2001
    assert (await core.register_ae(OTHER, rn="other")).rsc == 2001
    created = await core.create("cse-in/owner", 1, ACP, fr=OWNER)
    assert created.rsc == 2001, created.pc
    acp_ri = created.pc["m2m:acp"]["ri"]
    assert (await core.create("cse-in/owner", 3, {"m2m:cnt": {"rn": "cnt"}}, fr=OWNER)).rsc == 2001
    assert (await core.create("cse-in/owner/cnt", 4, {"m2m:cin": {"rn": "cin", "con": "1"}},
                              fr=OWNER)).rsc == 2001
    if with_acp:
        for target, root in (("cse-in/owner", "m2m:ae"), ("cse-in/owner/cnt", "m2m:cnt")):
            response = await core.update(target, {root: {"acpi": [acp_ri]}}, fr=OWNER)
            assert response.rsc == 2004, response.pc
    return {"acp": acp_ri}


async def perform(core, originator: str, operation: str, target: str):
    address = ADDRESS[target]
    if operation == "create":
        ty, pc = CHILD[target]
        return await core.create(address, ty, pc, fr=originator)
    if operation == "retrieve":
        return await core.retrieve(address, fr=originator)
    if operation == "update":
        return await core.update(address, UPDATE[target], fr=originator)
    return await core.delete(address, fr=originator)


CASES = [(scenario, originator, operation, target)
         for scenario in ("default", "acp")
         for originator in ORIGINATORS for operation in OPERATIONS for target in TARGETS]


@pytest.mark.parametrize("scenario,originator,operation,target", CASES,
                         ids=[f"{s}-{o}-{op}-{t}" for s, o, op, t in CASES])
async def test_access_matrix(core, scenario, originator, operation, target):
    await build(core, with_acp=scenario == "acp")
    table = WITH_ACP if scenario == "acp" else DEFAULT_POLICY
    granted = operation in table[originator][target]
    response = await perform(core, originator, operation, target)
    if (target, operation) in (("cb", "delete"), ("cb", "update")):
        # The CSEBase is provisioned: changing it is refused for everyone, before any access
        # decision (that it cannot be changed is no secret).
        assert response.rsc == 4005
    elif granted:
        assert response.rsc == GRANTED[(target, operation)], response.pc
    else:
        assert response.rsc == 4103, response.pc
        message = response.pc["m2m:dbg"]
        assert originator in message and operation.upper() in message
        assert ADDRESS[target] in message


@pytest.mark.parametrize("scenario", ["default", "acp"])
async def test_refused_requests_change_nothing(core, scenario):
    await build(core, with_acp=scenario == "acp")
    before = {t: (await core.retrieve(ADDRESS[t])).pc for t in TARGETS}
    for originator in (OTHER, STRANGER):
        for operation in ("update", "delete"):
            for target in ("ae", "cnt", "cin", "acp"):
                await perform(core, originator, operation, target)
    after = {t: (await core.retrieve(ADDRESS[t])).pc for t in TARGETS}
    assert after == before
