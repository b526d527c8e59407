"""Default access rules without access control policies (TS-0001 9.6.2): the AE owns its
subtree, the admin originator may do everything, nobody else may do anything."""
import pytest

OPERATIONS = ["create", "retrieve", "update", "delete"]


@pytest.fixture
async def homes(core):
    for originator, rn in (("Chome1", "home1"), ("Chome2", "home2")):
        await core.register_ae(originator, rn=rn)
        await core.create(f"cse-in/{rn}", 3, {"m2m:cnt": {"rn": "power"}}, fr=originator)
        await core.create(f"cse-in/{rn}/power", 4, {"m2m:cin": {"con": "1", "rn": "r"}}, fr=originator)
    return core


async def attempt(core, operation, target, originator):
    if operation == "create":
        return await core.create(target, 4 if target.endswith("power") else 3,
                                 {"m2m:cin": {"con": "2"}} if target.endswith("power") else {"m2m:cnt": {}},
                                 fr=originator)
    if operation == "retrieve":
        return await core.retrieve(target, fr=originator)
    if operation == "update":
        return await core.update(target, {"m2m:cnt": {"lbl": ["x"]}} if target.endswith("power")
                                 else {"m2m:ae": {"lbl": ["x"]}}, fr=originator)
    return await core.delete(target, fr=originator)


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("target", ["cse-in/home1", "cse-in/home1/power"])
@pytest.mark.parametrize("originator, allowed", [
    ("Chome1", True), ("CAdmin", True), ("Chome2", False), ("Cunknown", False)])
async def test_matrix(homes, operation, target, originator, allowed):
    response = await attempt(homes, operation, target, originator)
    if allowed:
        assert response.rsc in (2000, 2001, 2002, 2004), response.pc
    else:
        assert response.rsc == 4103, response.pc
        assert originator in response.pc["m2m:dbg"]


async def test_other_home_cannot_read_the_latest_reading(homes):
    response = await homes.retrieve("cse-in/home1/power/la", fr="Chome2")
    assert response.rsc == 4103
    assert (await homes.retrieve("cse-in/home1/power/la", fr="Chome1")).rsc == 2000


async def test_admin_created_resource_below_an_ae_stays_the_aes(homes):
    await homes.create("cse-in/home1", 3, {"m2m:cnt": {"rn": "byadmin"}}, fr="CAdmin")
    assert (await homes.retrieve("cse-in/home1/byadmin", fr="Chome1")).rsc == 2000


async def test_only_admin_creates_containers_directly_under_the_cse_base(homes):
    assert (await homes.create("cse-in", 3, {"m2m:cnt": {"rn": "x"}}, fr="Chome1")).rsc == 4103
    assert (await homes.create("cse-in", 3, {"m2m:cnt": {"rn": "x"}}, fr="CAdmin")).rsc == 2001
    assert (await homes.retrieve("cse-in", fr="Chome1")).rsc == 2000


async def test_child_lists_leave_out_what_the_originator_may_not_read(homes):
    response = await homes.retrieve("cse-in", fr="Chome1", rcn=6)
    paths = [r["val"] for r in response.pc["m2m:rrl"]["rrf"]]
    assert "cse-in/home1/power" in paths
    assert not any(p.startswith("cse-in/home2") for p in paths)
