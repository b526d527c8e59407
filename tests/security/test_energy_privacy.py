"""The use case's privacy promises, end to end in the core: nobody reads a neighbour's meter,
an energy application reads only what homes granted, a grid operator may command a home's
appliance only once the home allowed it (e.g. during a fault)."""
from __future__ import annotations

import pytest

HOMES = ("Chome1", "Chome2")


def acp(rn: str, owner: str, grants: list[tuple[list[str], int]], **extra) -> dict:
    return {"m2m:acp": {"rn": rn, "pv": {"acr": [{"acor": [owner], "acop": 63}] +
                                         [{"acor": who, "acop": ops, **extra} for who, ops in grants]},
                        "pvs": {"acr": [{"acor": [owner], "acop": 63}]}}}


@pytest.fixture
async def town(core):
    """Two homes: AE with a `power` meter container (shared read-only with the energy app)
    and a `heater` command container (shared with nobody yet)."""
    for home in HOMES:
        name = home[1:]
        assert (await core.register_ae(home, rn=name)).rsc == 2001
        created = await core.create(f"cse-in/{name}", 1, acp("share", home, [(["CEnergyApp"], 2 | 32)]), fr=home)
        assert created.rsc == 2001, created.pc
        share = created.pc["m2m:acp"]["ri"]
        assert (await core.create(f"cse-in/{name}", 3, {"m2m:cnt": {"rn": "power", "acpi": [share],
                                                                   "lbl": ["energy"]}}, fr=home)).rsc == 2001
        assert (await core.create(f"cse-in/{name}/power", 4, {"m2m:cin": {"con": "1530"}}, fr=home)).rsc == 2001
        assert (await core.create(f"cse-in/{name}", 3, {"m2m:cnt": {"rn": "heater"}}, fr=home)).rsc == 2001
    for originator in ("CEnergyApp", "CGrid"):
        assert (await core.register_ae(originator, rn=originator[1:].lower())).rsc == 2001
    return core


async def test_nobody_reads_a_neighbours_meter(town):
    for address in ("cse-in/home1/power/la", "cse-in/home1/power", "cse-in/home1"):
        response = await town.retrieve(address, fr="Chome2")
        assert response.rsc == 4103, (address, response.pc)
    response = await town.retrieve("cse-in", fr="Chome2", fc={"fu": 1, "lbl": ["energy"]})
    assert response.pc["m2m:uril"] == ["cse-in/home2/power"]


async def test_energy_app_reads_and_discovers_only_what_homes_shared(town):
    for home in ("home1", "home2"):
        latest = await town.retrieve(f"cse-in/{home}/power/la", fr="CEnergyApp")
        assert latest.rsc == 2000 and latest.pc["m2m:cin"]["con"] == "1530"
        assert (await town.retrieve(f"cse-in/{home}/heater", fr="CEnergyApp")).rsc == 4103
        response = await town.create(f"cse-in/{home}/power", 4, {"m2m:cin": {"con": "0"}}, fr="CEnergyApp")
        assert response.rsc == 4103
    response = await town.retrieve("cse-in", fr="CEnergyApp", fc={"fu": 1, "ty": [3]})
    assert sorted(response.pc["m2m:uril"]) == ["cse-in/home1/power", "cse-in/home2/power"]


async def test_grid_operator_commands_only_homes_that_allowed_it(town):
    # Home 1 allows the grid operator to read and command its heater; home 2 not yet.
    created = await town.create("cse-in/home1", 1, acp("grid", "Chome1", [(["CGrid"], 1 | 2)]), fr="Chome1")
    assert (await town.update("cse-in/home1/heater", {"m2m:cnt": {"acpi": [created.pc["m2m:acp"]["ri"]]}},
                              fr="Chome1")).rsc == 2004
    # A group with home 2's heater is refused: the operator may not even read it.
    response = await town.create("cse-in/grid", 9, {"m2m:grp": {
        "rn": "shed", "mnm": 10, "mid": ["cse-in/home1/heater", "cse-in/home2/heater"]}}, fr="CGrid")
    assert response.rsc == 5105
    response = await town.create("cse-in/grid", 9, {"m2m:grp": {
        "rn": "shed", "mnm": 10, "mid": ["cse-in/home1/heater"]}}, fr="CGrid")
    assert response.rsc == 2001, response.pc
    response = await town.create("cse-in/grid/shed/fopt", 4, {"m2m:cin": {"con": "off"}}, fr="CGrid")
    assert [answer["rsc"] for answer in response.pc["m2m:agr"]["m2m:rsp"]] == [2001]
    # During a fault home 2 grants command rights for a time window that covers now.
    created = await town.create("cse-in/home2", 1, acp("fault", "Chome2", [(["CGrid"], 1 | 2)],
                                                       acco=[{"actw": ["* * * * * * *"]}]), fr="Chome2")
    assert (await town.update("cse-in/home2/heater", {"m2m:cnt": {"acpi": [created.pc["m2m:acp"]["ri"]]}},
                              fr="Chome2")).rsc == 2004
    assert (await town.update("cse-in/grid/shed", {"m2m:grp": {
        "mid": ["cse-in/home1/heater", "cse-in/home2/heater"]}}, fr="CGrid")).rsc == 2004
    response = await town.create("cse-in/grid/shed/fopt", 4, {"m2m:cin": {"con": "off"}}, fr="CGrid")
    assert [answer["rsc"] for answer in response.pc["m2m:agr"]["m2m:rsp"]] == [2001, 2001]
    # Home 2 withdraws the grant: the next command reaches home 1 only.
    assert (await town.delete("cse-in/home2/fault", fr="Chome2")).rsc == 2002
    response = await town.create("cse-in/grid/shed/fopt", 4, {"m2m:cin": {"con": "off"}}, fr="CGrid")
    assert [answer["rsc"] for answer in response.pc["m2m:agr"]["m2m:rsp"]] == [2001, 4103]
    # A neighbour cannot use the operator's fan-out point.
    response = await town.create("cse-in/grid/shed/fopt", 4, {"m2m:cin": {"con": "on"}}, fr="Chome1")
    assert response.rsc == 4103


async def test_members_access_control_policy_governs_the_fan_out_point(town):
    created = await town.create("cse-in/grid", 1, acp("partners", "CGrid", [(["Chome1"], 1)]), fr="CGrid")
    macp = created.pc["m2m:acp"]["ri"]
    response = await town.create("cse-in/grid", 9, {"m2m:grp": {
        "rn": "own", "mnm": 10, "mid": ["cse-in/grid"], "macp": [macp]}}, fr="CGrid")
    assert response.rsc == 2001, response.pc
    # Chome1 may use the fan-out point (macp), but the member itself still refuses it.
    response = await town.create("cse-in/grid/own/fopt", 3, {"m2m:cnt": {"rn": "x"}}, fr="Chome1")
    assert [answer["rsc"] for answer in response.pc["m2m:agr"]["m2m:rsp"]] == [4103]
    response = await town.create("cse-in/grid/own/fopt", 3, {"m2m:cnt": {"rn": "x"}}, fr="Chome2")
    assert response.rsc == 4103
