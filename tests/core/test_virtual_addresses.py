"""Addresses ending in a virtual resource name (la, ol): what a client reads, and the errors."""
import pytest


@pytest.fixture
async def meter(core):
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    for name in ("power", "empty"):
        assert (await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": name}}, fr="Cmeter")).rsc == 2001
    for watts in ("1530", "1610", "1700"):
        assert (await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": watts}}, fr="Cmeter")).rsc == 2001
    container = (await core.retrieve("cse-in/meter/power", fr="Cmeter")).pc["m2m:cnt"]
    return core, container["ri"]


@pytest.mark.parametrize("to, con", [
    ("cse-in/meter/power/la", "1700"),
    ("cse-in/meter/power/ol", "1530"),
    ("/id-in/cse-in/meter/power/la", "1700"),
    ("{ri}/la", "1700"),
    ("{ri}/ol", "1530"),
])
async def test_latest_and_oldest_by_structured_and_unstructured_address(meter, to, con):
    core, ri = meter
    response = await core.retrieve(to.format(ri=ri), fr="Cmeter")
    assert response.rsc == 2000
    assert response.pc["m2m:cin"]["con"] == con


@pytest.mark.parametrize("to, rsc, words", [
    ("cse-in/meter/empty/la", 4004, "holds no contentInstance"),
    ("cse-in/meter/empty/ol", 4004, "holds no contentInstance"),
    ("cse-in/meter/missing/la", 4004, "cse-in/meter/missing/la"),
    ("cse-in/meter/la", 4004, "cse-in/meter/la"),          # an AE has no latest instance
    ("cse-in/meter/power/fopt", 4004, "fopt"),             # virtual, but not of a container
    ("cse-in/meter/power/la/la", 4004, "la/la"),
    ("cnt-unknown/la", 4004, "cnt-unknown/la"),
])
async def test_virtual_addresses_that_name_nothing(meter, to, rsc, words):
    core, _ = meter
    response = await core.retrieve(to, fr="Cmeter")
    assert response.rsc == rsc
    assert words in response.pc["m2m:dbg"]


@pytest.mark.parametrize("name", ["la", "ol"])
async def test_a_resource_cannot_take_a_virtual_name(meter, name):
    core, _ = meter
    response = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": name}}, fr="Cmeter")
    assert response.rsc == 4000
    assert "reserved for a virtual resource" in response.pc["m2m:dbg"]


async def test_nothing_can_be_created_under_la(meter):
    core, _ = meter
    response = await core.create("cse-in/meter/power/la", 4, {"m2m:cin": {"con": "1"}}, fr="Cmeter")
    assert response.rsc == 4005
    assert "virtual resource 'la'" in response.pc["m2m:dbg"]


async def test_delete_la_removes_the_newest_instance(meter):
    core, _ = meter
    assert (await core.delete("cse-in/meter/power/la", fr="Cmeter")).rsc == 2002
    latest = await core.retrieve("cse-in/meter/power/la", fr="Cmeter")
    assert latest.pc["m2m:cin"]["con"] == "1610"
