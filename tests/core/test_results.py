"""Result content (rcn) of CREATE, RETRIEVE, UPDATE and DELETE, and drt."""
import pytest


@pytest.fixture
async def tree(core):
    await core.register_ae("Cmeter", rn="meter")
    await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "energy"}}, fr="Cmeter")
    for value in ("1", "2"):
        await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": value, "rn": f"r{value}"}}, fr="Cmeter")
    return core


async def test_create_result_contents(tree):
    body = {"m2m:cnt": {"rn": "c0"}}
    nothing = await tree.create("cse-in/meter", 3, body, fr="Cmeter", rcn=0)
    assert nothing.rsc == 2001 and nothing.pc is None
    address = await tree.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "c2"}}, fr="Cmeter", rcn=2)
    assert address.pc == {"m2m:uri": "cse-in/meter/c2"}
    both = await tree.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "c3"}}, fr="Cmeter", rcn=3)
    assert both.pc["m2m:rce"]["uri"] == "cse-in/meter/c3"
    assert both.pc["m2m:rce"]["m2m:cnt"]["rn"] == "c3"
    unstructured = await tree.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "c4"}}, fr="Cmeter", rcn=2, drt=2)
    assert unstructured.pc["m2m:uri"].startswith("cnt")
    modified = await tree.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "c9", "mni": 5}}, fr="Cmeter", rcn=9)
    attributes = modified.pc["m2m:cnt"]
    assert "rn" not in attributes and "mni" not in attributes
    assert {"ri", "ct", "cni", "st"} <= attributes.keys()


async def test_retrieve_with_children(tree):
    response = await tree.retrieve("cse-in/meter", fr="Cmeter", rcn=4)
    ae = response.pc["m2m:ae"]
    assert ae["rn"] == "meter"
    containers = {c["rn"]: c for c in ae["m2m:cnt"]}
    assert set(containers) == {"power", "energy"}
    assert [c["con"] for c in containers["power"]["m2m:cin"]] == ["1", "2"]


async def test_retrieve_children_only_and_level(tree):
    response = await tree.retrieve("cse-in/meter", fr="Cmeter", rcn=8, fc={"lvl": 1})
    ae = response.pc["m2m:ae"]
    assert "rn" not in ae
    assert sorted(c["rn"] for c in ae["m2m:cnt"]) == ["energy", "power"]
    assert all("m2m:cin" not in c for c in ae["m2m:cnt"])


async def test_retrieve_child_references(tree):
    response = await tree.retrieve("cse-in/meter/power", fr="Cmeter", rcn=5)
    container = response.pc["m2m:cnt"]
    assert container["rn"] == "power"
    assert [c["val"] for c in container["ch"]] == ["cse-in/meter/power/r1", "cse-in/meter/power/r2"]
    assert all(c["typ"] == 4 for c in container["ch"])
    references = await tree.retrieve("cse-in/meter", fr="Cmeter", rcn=6, drt=2)
    values = [r["val"] for r in references.pc["m2m:rrl"]["rrf"]]
    assert len(values) == 4 and all("/" not in v for v in values)


async def test_child_lists_honour_filter_criteria_and_limit(tree):
    response = await tree.retrieve("cse-in/meter", fr="Cmeter", rcn=6, fc={"ty": [4]})
    assert [r["nm"] for r in response.pc["m2m:rrl"]["rrf"]] == ["r1", "r2"]
    response = await tree.retrieve("cse-in/meter", fr="Cmeter", rcn=6, fc={"lim": 1})
    assert len(response.pc["m2m:rrl"]["rrf"]) == 1


async def test_update_result_contents_and_attribute_removal(tree):
    response = await tree.update("cse-in/meter/power", {"m2m:cnt": {"lbl": ["a"], "mni": 10}}, fr="Cmeter")
    first = response.pc["m2m:cnt"]
    assert first["lbl"] == ["a"] and first["st"] == 3 and first["lt"] >= first["ct"]
    removed = await tree.update("cse-in/meter/power", {"m2m:cnt": {"mni": None}}, fr="Cmeter", rcn=0)
    assert removed.rsc == 2004 and removed.pc is None
    state = (await tree.retrieve("cse-in/meter/power", fr="Cmeter")).pc["m2m:cnt"]
    assert "mni" not in state and state["st"] == 4
    modified = await tree.update("cse-in/meter/power", {"m2m:cnt": {"lbl": ["b"]}}, fr="Cmeter", rcn=9)
    assert "lbl" not in modified.pc["m2m:cnt"] and "lt" in modified.pc["m2m:cnt"]
    # Only what the CSE changed beyond the request: not what stayed as it was.
    assert modified.pc["m2m:cnt"].keys() == {"lt", "st"}
    pruned = await tree.update("cse-in/meter/power", {"m2m:cnt": {"mni": 0}}, fr="Cmeter", rcn=9)
    assert pruned.pc["m2m:cnt"].keys() == {"lt", "st", "cni", "cbs"}


@pytest.mark.parametrize("attributes, words", [
    ({"rn": "x"}, "'rn'"), ({"ri": "x"}, "'ri'"), ({"cni": 1}, "'cni'"), ({"cr": None}, "'cr'"),
    ({"et": "19990101T000000"}, "not in the future"), ({"mni": -2}, "'mni'"),
    ({"zzz": 1}, "'zzz' is not defined"),
])
async def test_bad_updates(tree, attributes, words):
    response = await tree.update("cse-in/meter/power", {"m2m:cnt": attributes}, fr="Cmeter")
    assert response.rsc == 4000, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_empty_update_and_wrong_root(tree):
    # An empty UPDATE is answered as ACME does: 2004 with the resource (docs/conformance.md).
    assert (await tree.update("cse-in/meter/power", {"m2m:cnt": {}}, fr="Cmeter")).rsc == 2004
    response = await tree.update("cse-in/meter/power", {"m2m:ae": {"lbl": []}}, fr="Cmeter")
    assert response.rsc == 4000 and "does not match" in response.pc["m2m:dbg"]


async def test_delete_result_contents(tree):
    response = await tree.delete("cse-in/meter/power", fr="Cmeter", rcn=4)
    assert response.rsc == 2002
    assert [c["con"] for c in response.pc["m2m:cnt"]["m2m:cin"]] == ["1", "2"]
    response = await tree.delete("cse-in/meter/energy", fr="Cmeter", rcn=1)
    assert response.pc["m2m:cnt"]["rn"] == "energy"
    assert (await tree.delete("cse-in/meter", fr="Cmeter", rcn=3)).rsc == 4000
