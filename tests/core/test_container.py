"""container / contentInstance semantics: counters, limits, la/ol, disr, immutability."""
import pytest

METER = "Cmeter"


@pytest.fixture
async def meter(core):
    await core.register_ae(METER, rn="meter")
    return core


async def make_container(core, rn="power", **attributes):
    response = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": rn, **attributes}}, fr=METER)
    assert response.rsc == 2001, response.pc
    return response.pc["m2m:cnt"]


async def post(core, con, container="cse-in/meter/power", **attributes):
    return await core.create(container, 4, {"m2m:cin": {"con": con, **attributes}}, fr=METER)


async def container_state(core, path="cse-in/meter/power"):
    return (await core.retrieve(path, fr=METER)).pc["m2m:cnt"]


async def test_counters_and_state_tags_follow_instances(meter):
    await make_container(meter)
    first = (await post(meter, "abc")).pc["m2m:cin"]
    second = (await post(meter, "ünï")).pc["m2m:cin"]
    assert first["cs"] == 3 and second["cs"] == len("ünï".encode())
    assert (first["st"], second["st"]) == (1, 2)
    state = await container_state(meter)
    assert state["cni"] == 2 and state["cbs"] == 3 + len("ünï".encode()) and state["st"] == 2
    await meter.delete(f"cse-in/meter/power/{first['rn']}", fr=METER)
    state = await container_state(meter)
    assert state["cni"] == 1 and state["cbs"] == len("ünï".encode())


async def test_mni_removes_oldest_first(meter):
    await make_container(meter, mni=3)
    for value in range(6):
        await post(meter, str(value))
    state = await container_state(meter)
    assert state["cni"] == 3
    assert (await meter.retrieve("cse-in/meter/power/ol", fr=METER)).pc["m2m:cin"]["con"] == "3"
    assert (await meter.retrieve("cse-in/meter/power/la", fr=METER)).pc["m2m:cin"]["con"] == "5"


async def test_mbs_removes_oldest_until_it_fits(meter):
    await make_container(meter, mbs=10)
    for con in ("aaaa", "bbbb", "cccc"):
        assert (await post(meter, con)).rsc == 2001
    state = await container_state(meter)
    assert state["cbs"] == 8 and state["cni"] == 2
    assert (await meter.retrieve("cse-in/meter/power/ol", fr=METER)).pc["m2m:cin"]["con"] == "bbbb"


async def test_instance_larger_than_mbs_is_not_acceptable(meter):
    await make_container(meter, mbs=4)
    response = await post(meter, "too long")
    assert response.rsc == 5207 and "mbs" in response.pc["m2m:dbg"]
    assert (await container_state(meter))["cni"] == 0


async def test_lowering_mni_and_mbs_prunes_at_once(meter):
    await make_container(meter)
    for value in range(5):
        await post(meter, f"v{value}")
    response = await meter.update("cse-in/meter/power", {"m2m:cnt": {"mni": 2}}, fr=METER)
    assert response.rsc == 2004 and response.pc["m2m:cnt"]["cni"] == 2
    response = await meter.update("cse-in/meter/power", {"m2m:cnt": {"mbs": 2}}, fr=METER)
    assert response.pc["m2m:cnt"]["cni"] == 1 and response.pc["m2m:cnt"]["cbs"] == 2
    assert (await meter.retrieve("cse-in/meter/power/la", fr=METER)).pc["m2m:cin"]["con"] == "v4"


async def test_mia_caps_instance_expiry_and_removes_old_ones(meter, clock):
    await make_container(meter, mia=60)
    cin = (await post(meter, "old")).pc["m2m:cin"]
    assert cin["et"] > cin["ct"]
    clock.advance(61)
    assert (await meter.retrieve("cse-in/meter/power/la", fr=METER)).rsc == 4004
    await post(meter, "new")
    assert (await meter.retrieve("cse-in/meter/power/ol", fr=METER)).pc["m2m:cin"]["con"] == "new"
    removed = await meter.cse.reaper.reap_once()
    assert removed == 1
    assert (await container_state(meter))["cni"] == 1


async def test_lowering_mia_removes_instances_older_than_it(meter, clock):
    await make_container(meter)
    await post(meter, "old")
    clock.advance(100)
    await post(meter, "young")
    response = await meter.update("cse-in/meter/power", {"m2m:cnt": {"mia": 50}}, fr=METER)
    assert response.pc["m2m:cnt"]["cni"] == 1
    assert (await meter.retrieve("cse-in/meter/power/ol", fr=METER)).pc["m2m:cin"]["con"] == "young"


async def test_la_and_ol_of_empty_container_are_not_found(meter):
    await make_container(meter)
    for name in ("la", "ol"):
        response = await meter.retrieve(f"cse-in/meter/power/{name}", fr=METER)
        assert response.rsc == 4004 and "no contentInstance" in response.pc["m2m:dbg"]


async def test_delete_la_and_ol_remove_newest_and_oldest(meter):
    await make_container(meter)
    for value in ("a", "b", "c"):
        await post(meter, value)
    assert (await meter.delete("cse-in/meter/power/la", fr=METER)).rsc == 2002
    assert (await meter.delete("cse-in/meter/power/ol", fr=METER)).rsc == 2002
    state = await container_state(meter)
    assert state["cni"] == 1
    assert (await meter.retrieve("cse-in/meter/power/la", fr=METER)).pc["m2m:cin"]["con"] == "b"


@pytest.mark.parametrize("operation", ["create", "update"])
async def test_la_cannot_be_created_or_updated(meter, operation):
    await make_container(meter)
    await post(meter, "x")
    if operation == "create":
        response = await post(meter, "y", container="cse-in/meter/power/la")
    else:
        response = await meter.update("cse-in/meter/power/la", {"m2m:cin": {"lbl": ["a"]}}, fr=METER)
    assert response.rsc == 4005


async def test_content_instance_cannot_be_updated(meter):
    await make_container(meter)
    rn = (await post(meter, "x")).pc["m2m:cin"]["rn"]
    response = await meter.update(f"cse-in/meter/power/{rn}", {"m2m:cin": {"lbl": ["a"]}}, fr=METER)
    assert response.rsc == 4005


async def test_disabled_retrieval_blocks_instances(meter):
    await make_container(meter, disr=True)
    rn = (await post(meter, "x")).pc["m2m:cin"]["rn"]
    for to in ("cse-in/meter/power/la", "cse-in/meter/power/ol", f"cse-in/meter/power/{rn}"):
        assert (await meter.retrieve(to, fr=METER)).rsc == 4005
    assert (await meter.delete(f"cse-in/meter/power/{rn}", fr=METER)).rsc == 4005
    # Enabling retrieval again deletes what was kept while it was disabled (as ACME does).
    response = await meter.update("cse-in/meter/power", {"m2m:cnt": {"disr": False}}, fr=METER)
    assert response.pc["m2m:cnt"]["cni"] == 0
    assert (await meter.retrieve("cse-in/meter/power/la", fr=METER)).rsc == 4004
    assert (await post(meter, "y")).rsc == 2001
    assert (await meter.retrieve("cse-in/meter/power/la", fr=METER)).pc["m2m:cin"]["con"] == "y"


@pytest.mark.parametrize("to, op, rcn", [
    ("cse-in/meter/power", "retrieve", 4), ("cse-in/meter/power", "retrieve", 8),
    ("cse-in/meter", "retrieve", 4), ("cse-in/meter", "retrieve", 8),
    ("cse-in/meter/power", "delete", 4), ("cse-in/meter/power", "delete", 8),
])
async def test_disabled_retrieval_also_hides_instances_in_child_lists(meter, to, op, rcn):
    """rcn 4/8 show children in full: with disr the readings must not appear there either."""
    await make_container(meter, disr=True)
    await post(meter, "secret")
    await meter.create("cse-in/meter/power", 3, {"m2m:cnt": {"rn": "open"}}, fr=METER)
    await post(meter, "visible", container="cse-in/meter/power/open")
    response = await getattr(meter, op)(to, fr=METER, rcn=rcn)
    assert response.rsc in (2000, 2002), response.pc
    assert "secret" not in str(response.pc)
    assert "visible" in str(response.pc) and "open" in str(response.pc)


async def test_nested_containers_and_deleting_a_container_removes_instances(meter):
    await make_container(meter)
    assert (await meter.create("cse-in/meter/power", 3, {"m2m:cnt": {"rn": "sub"}}, fr=METER)).rsc == 2001
    await post(meter, "x", container="cse-in/meter/power/sub")
    assert (await meter.delete("cse-in/meter/power", fr=METER)).rsc == 2002
    assert meter.cse.storage.count() == 2       # CSEBase and AE


@pytest.mark.parametrize("attributes, rsc, words", [
    ({"con": "x", "cs": 1}, 4000, "'cs'"),
    ({}, 4000, "mandatory attribute 'con'"),
    ({"con": "x", "cnf": "not a media type"}, 4000, "'cnf'"),
    ({"con": "x", "st": 3}, 4000, "'st'"),
    ({"con": "x", "cr": "Cm"}, 4000, "'cr' must be null"),
    ({"con": "x", "et": "2000"}, 4000, "'et'"),
    ({"con": "x", "et": "20000101T000000"}, 4000, "not in the future"),
    ({"con": "x", "lbl": "notalist"}, 4000, "'lbl'"),
    ({"con": "x", "acpi": ["x"]}, 4000, "'acpi' is not defined"),
])
async def test_bad_content_instances(meter, attributes, rsc, words):
    await make_container(meter)
    response = await meter.create("cse-in/meter/power", 4, {"m2m:cin": attributes}, fr=METER)
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]


@pytest.mark.parametrize("attributes, words", [
    ({"mni": -1}, "'mni'"), ({"mbs": "10"}, "'mbs'"), ({"cni": 3}, "'cni'"), ({"cbs": 0}, "'cbs'"),
    ({"disr": "no"}, "'disr'"), ({"rn": "la"}, "reserved"), ({"rn": "a/b"}, "'rn'"),
    ({"rn": ""}, "'rn'"), ({"lbl": [1]}, "'lbl'"), ({"unknown": 1}, "'unknown' is not defined"),
    ({"rn": ".."}, "dot segment"), ({"rn": "."}, "dot segment"),
])
async def test_bad_containers(meter, attributes, words):
    response = await meter.create("cse-in/meter", 3, {"m2m:cnt": attributes}, fr=METER)
    assert response.rsc == 4000, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_creator_is_set_when_requested(meter):
    await make_container(meter, cr=None)
    cin = (await post(meter, "x", cr=None)).pc["m2m:cin"]
    assert cin["cr"] == METER
    assert (await container_state(meter))["cr"] == METER
    plain = (await post(meter, "y")).pc["m2m:cin"]
    assert "cr" not in plain


async def test_content_may_be_structured_json(meter):
    await make_container(meter)
    cin = (await post(meter, {"w": 1530, "t": "20250301T101500"})).pc["m2m:cin"]
    assert cin["con"] == {"w": 1530, "t": "20250301T101500"} and cin["cs"] > 0
