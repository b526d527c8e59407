"""Receiver checks on the request primitive itself (TS-0004 7.3.2.1) and addressing forms."""
import pytest

from cse.primitives import Request


@pytest.fixture
async def tree(core):
    await core.register_ae("Cmeter", rn="meter")
    response = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    core.container_ri = response.pc["m2m:cnt"]["ri"]
    await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "42"}}, fr="Cmeter")
    return core


@pytest.mark.parametrize("to", [
    "cse-in/meter/power",
    "-/meter/power",
    "/id-in/cse-in/meter/power",
    "/id-in/-/meter/power",
    "//onem2m.example.net/id-in/cse-in/meter/power",
    "cse-in/meter/power/",
    "Cmeter/power",
])
async def test_every_address_form_reaches_the_container(tree, to):
    response = await tree.retrieve(to, fr="Cmeter")
    assert response.rsc == 2000, (to, response.pc)
    assert response.pc["m2m:cnt"]["rn"] == "power"


async def test_unstructured_and_hybrid_addresses(tree):
    ri = tree.container_ri
    assert (await tree.retrieve(ri, fr="Cmeter")).pc["m2m:cnt"]["rn"] == "power"
    assert (await tree.retrieve(f"/id-in/{ri}", fr="Cmeter")).rsc == 2000
    assert (await tree.retrieve(f"{ri}/la", fr="Cmeter")).pc["m2m:cin"]["con"] == "42"


@pytest.mark.parametrize("to", ["cse-in", "-", "/id-in", "/id-in/cse-in", "id-in", "//onem2m.example.net/id-in"])
async def test_cse_base_addresses(tree, to):
    response = await tree.retrieve(to, fr="Cmeter")
    assert response.rsc == 2000 and response.pc["m2m:cb"]["csi"] == "/id-in"


@pytest.mark.parametrize("to, rsc", [
    ("cse-in/nothing", 4004), ("cse-in/meter/power/nothing", 4004), ("unknownRi", 4004),
    ("cse-in//meter", 4000), ("/id-other/cse/x", 4004), ("//other.sp/id-x/y", 4004), ("//", 4000),
    ("cse-in/meter#", 4000),
])
async def test_bad_or_unknown_addresses(tree, to, rsc):
    response = await tree.retrieve(to, fr="Cmeter")
    assert response.rsc == rsc, response.pc
    assert response.pc["m2m:dbg"]


async def test_partial_retrieve_by_hash_and_by_attribute_list(tree):
    response = await tree.retrieve("cse-in/meter/power#cni", fr="Cmeter")
    assert response.pc == {"m2m:cnt": {"cni": 1}}
    response = await tree.retrieve("cse-in/meter/power", fr="Cmeter", pc={"m2m:atrl": ["rn", "st"]})
    assert response.pc == {"m2m:cnt": {"rn": "power", "st": 1}}
    response = await tree.retrieve("cse-in/meter/power", fr="Cmeter", atrl=["nope"])
    assert response.rsc == 4000 and "'nope'" in response.pc["m2m:dbg"]


@pytest.mark.parametrize("op, fields", [
    (4, {"to": "cse-in/meter/power#lbl"}),
    (4, {"to": "cse-in/meter/power", "atrl": ["lbl"]}),
    (3, {"to": "cse-in/meter/power#lbl", "pc": {"m2m:cnt": {"mni": 5}}}),
    (3, {"to": "cse-in/meter/power", "atrl": ["lbl"], "pc": {"m2m:cnt": {"mni": 5}}}),
    (1, {"to": "cse-in/meter/power#lbl", "ty": 4, "pc": {"m2m:cin": {"con": "x"}}}),
])
async def test_only_retrieve_addresses_single_attributes(tree, op, fields):
    """An attribute address must not widen to the whole resource (a DELETE of one
    attribute used to delete the container)."""
    response = await tree.cse.dispatcher.handle(Request(op=op, fr="Cmeter", rqi="a", rvi="3", **fields))
    assert response.rsc == 4000, response.pc
    assert "attribute" in response.pc["m2m:dbg"] and "RETRIEVE" in response.pc["m2m:dbg"]
    state = (await tree.retrieve("cse-in/meter/power", fr="Cmeter")).pc["m2m:cnt"]
    assert state["cni"] == 1 and "mni" not in state


@pytest.mark.parametrize("fields, rsc, words", [
    ({"op": 9}, 4000, "operation"),
    ({"op": "1"}, 4000, "operation"),
    ({"rqi": ""}, 4000, "rqi"),
    ({"fr": None}, 4000, "originator"),
    ({"fr": 5}, 4000, "originator"),
    ({"rvi": "9"}, 4001, "release version"),
    ({"ty": 3}, 4000, "only allowed in CREATE"),
    ({"rcn": 2}, 4000, "not valid for operation 2"),
    ({"rcn": "x"}, 4000, "rcn"),
    ({"drt": 3}, 4000, "drt"),
    ({"rt": "2"}, 4000, "response type"),
    ({"rt": 2, "rtu": "http://x"}, 4000, "list of strings"),
    ({"rt": 9}, 4000, "response type"),
    ({"rqet": "20000101T000000"}, 4008, "expired"),
    ({"rqet": "-1000"}, 4008, "expired"),
    ({"rqet": "soon"}, 4000, "rqet"),
    ({"rset": "20000101T000000"}, 4008, "expired"),
    ({"oet": "20990101T000000", "rqet": "5000"}, 4000, "oet"),
    ({"fc": {"lim": "ten"}}, 4000, "'lim'"),
    ({"fc": {"bogus": 1}}, 4000, "unknown member 'bogus'"),
    ({"fc": "x"}, 4000, "fc"),
    ({"pc": {"m2m:cnt": {}}}, 4000, "attribute list"),
])
async def test_bad_retrieve_primitives(tree, fields, rsc, words):
    request = {"op": 2, "to": "cse-in/meter/power", "fr": "Cmeter", "rqi": "r1", "rvi": "3"}
    request.update(fields)
    response = await tree.cse.dispatcher.handle(Request(**request))
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]
    assert response.rqi == request["rqi"]


@pytest.mark.parametrize("fields, rsc, words", [
    ({"ty": None}, 4000, "resource type"),
    ({"ty": "3"}, 4000, "not an integer"),
    ({"ty": 999}, 4000, "not a oneM2M resource type"),
    ({"ty": 12}, 5001, "not supported"),    # mgmtCmd
    ({"ty": 5}, 4005, "CSEBase"),
    ({"pc": None}, 4000, "no content"),
    ({"pc": []}, 4000, "one object"),
    ({"pc": {"m2m:cnt": {}, "m2m:cin": {}}}, 4000, "one object"),
    ({"pc": {"m2m:cin": {"con": "x"}}}, 4000, "does not match"),
    ({"pc": {"m2m:cnt": "x"}}, 4000, "object of attributes"),
    ({"fc": {"ty": [3]}}, 4000, "not allowed in a CREATE"),
    ({"rcn": 4}, 4000, "not valid"),
    ({"to": "cse-in/meter/power/la"}, 4005, "virtual"),
])
async def test_bad_create_primitives(tree, fields, rsc, words):
    request = {"op": 1, "to": "cse-in/meter", "fr": "Cmeter", "rqi": "c1", "rvi": "3", "ty": 3,
               "pc": {"m2m:cnt": {}}}
    request.update(fields)
    response = await tree.cse.dispatcher.handle(Request(**request))
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_wrong_parent_type_and_duplicate_name(tree):
    response = await tree.create("cse-in/meter/power", 2, {"m2m:ae": {"api": "Nx", "rr": True, "srv": ["3"]}},
                                 fr="Cnew")
    assert response.rsc == 4108
    cin = await tree.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "1", "rn": "r1"}}, fr="Cmeter")
    assert cin.rsc == 2001
    response = await tree.create("cse-in/meter/power/r1", 3, {"m2m:cnt": {}}, fr="Cmeter")
    assert response.rsc == 4108
    response = await tree.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    assert response.rsc == 4105 and "'power' already exists" in response.pc["m2m:dbg"]


async def test_missing_rvi_is_served_as_the_newest_supported_release(tree):
    response = await tree.cse.dispatcher.handle(Request(op=2, to="cse-in/meter", fr="Cmeter", rqi="x"))
    assert response.rsc == 2000 and response.rvi == "5"


async def test_operation_execution_time_in_the_near_future_is_honoured(tree):
    response = await tree.retrieve("cse-in/meter/power", fr="Cmeter", oet="50")
    assert response.rsc == 2000


async def test_cse_base_cannot_be_changed_or_removed(tree):
    assert (await tree.delete("cse-in")).rsc == 4005
    assert (await tree.update("cse-in", {"m2m:cb": {"lbl": ["x"]}})).rsc == 4005


async def test_delete_with_content_is_refused(tree):
    response = await tree.delete("cse-in/meter/power", fr="Cmeter", pc={"m2m:cnt": {}})
    assert response.rsc == 4000


async def test_notify_to_the_cse_base_is_refused(tree):
    # 4000 as ACME (docs/conformance.md): the CSEBase is no notification target.
    response = await tree.request(5, "cse-in", "Cmeter", pc={"m2m:sgn": {}})
    assert response.rsc == 4000 and "NOTIFY" in response.pc["m2m:dbg"]
