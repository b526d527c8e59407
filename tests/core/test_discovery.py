"""Discovery (fu=1): what an energy application finds below a resource, and what it may not."""
import pytest

from cse.clock import format_timestamp
from server.compose import build_cse
from tests.conftest import CoreClient, make_config
from tests.core.energy_home import build_home


async def discover(core, to="cse-in", fr="CAdmin", **fc):
    extra = {name: fc.pop(name) for name in ("rcn", "drt") if name in fc}
    response = await core.retrieve(to, fr=fr, fc={"fu": 1, **fc}, **extra)
    assert response.rsc == 2000, response.pc
    return response


async def uris(core, to="cse-in", fr="CAdmin", **fc):
    return (await discover(core, to, fr, **fc)).pc["m2m:uril"]


@pytest.fixture
async def home(core, clock):
    return await build_home(core, clock)


async def test_find_all_meters_by_label_and_by_type(core, home):
    assert await uris(core, lbl=["type:meter"]) == ["cse-in/m0", "cse-in/m1"]
    assert await uris(core, ty=[2]) == ["cse-in/m0", "cse-in/m1", "cse-in/plug"]
    assert await uris(core, ty=[3], lbl=["zone:1"]) == ["cse-in/m0/power"]
    # several labels or types are alternatives
    assert await uris(core, lbl=["zone:2", "type:plug"]) == ["cse-in/m1", "cse-in/m1/power", "cse-in/plug"]
    assert await uris(core, ty=[2, 3], lbl=["zone:2"]) == ["cse-in/m1", "cse-in/m1/power"]


async def test_results_exclude_the_target_and_list_parents_first(core, home):
    found = await uris(core, "cse-in/m0")
    assert found == ["cse-in/m0/power", "cse-in/m0/power/r0", "cse-in/m0/power/r1", "cse-in/m0/power/r2"]


async def test_readings_above_a_threshold_since_a_time(core, home, clock):
    # readings of 5 bytes or more created at or after m0's last one (cra is inclusive)
    found = await uris(core, ty=[4], sza=5, cra=home["m0"])
    assert found == ["cse-in/m0/power/r2", "cse-in/m1/power/r2", "cse-in/plug/state/s0"]
    found = await uris(core, ty=[4], szb=5, crb=home["m0"])
    assert found == ["cse-in/m0/power/r0", "cse-in/m0/power/r1"]


async def test_state_tag_modification_and_expiry_conditions(core, home, clock):
    # containers carry st = number of instances (3 for meters, 1 for the plug)
    assert await uris(core, ty=[3], stb=3) == ["cse-in/m0/power", "cse-in/m1/power"]
    assert await uris(core, ty=[3], sts=2) == ["cse-in/plug/state"]
    clock.advance(10)
    since = format_timestamp(clock.now())
    clock.advance(1)
    await core.update("cse-in/m1/power", {"m2m:cnt": {"mni": 50}}, fr="Cm1")
    assert await uris(core, ms=since) == ["cse-in/m1/power"]
    assert "cse-in/m1/power" not in await uris(core, us=since)
    expiry = format_timestamp(clock.now() + 3600)
    await core.update("cse-in/plug/state", {"m2m:cnt": {"et": expiry}}, fr="Cplug")
    assert await uris(core, exb=format_timestamp(clock.now() + 7200)) == ["cse-in/plug/state"]
    assert "cse-in/plug/state" not in await uris(core, exa=format_timestamp(clock.now() + 7200))


async def test_content_type_and_any_attribute(core, home):
    assert await uris(core, cty=["application/json"]) == ["cse-in/plug/state/s0"]
    assert await uris(core, ty=[3], atr=[{"nm": "mni", "val": "5"}]) == ["cse-in/plug/state"]
    assert await uris(core, atr=[{"nm": "rn", "val": "m*"}]) == ["cse-in/m0", "cse-in/m1"]
    assert await uris(core, atr=[{"nm": "con", "val": "17000"}]) == ["cse-in/m0/power/r2",
                                                                     "cse-in/m1/power/r2"]
    assert await uris(core, atr=[{"nm": "api", "val": "Nmeter"}, {"nm": "rn", "val": "plug"}]) \
        == ["cse-in/plug"]


async def test_filter_operation_or(core, home):
    found = await uris(core, fo=2, ty=[2], cty=["application/json"])
    assert found == ["cse-in/m0", "cse-in/m1", "cse-in/plug", "cse-in/plug/state/s0"]


async def test_level_limits_the_depth(core, home):
    assert await uris(core, lvl=1) == ["cse-in/m0", "cse-in/m1", "cse-in/plug"]
    assert await uris(core, "cse-in/m0", lvl=1) == ["cse-in/m0/power"]
    assert await uris(core, lvl=0) == []
    assert len(await uris(core, lvl=2)) == 6


async def test_limit_marks_the_answer_partial_and_offset_continues_it(core, home):
    response = await discover(core, ty=[4], lim=3)
    assert response.pc["m2m:uril"] == ["cse-in/m0/power/r0", "cse-in/m0/power/r1", "cse-in/m0/power/r2"]
    assert (response.cnst, response.cnot) == (1, 3)
    pages, offset = [], 0
    while True:
        response = await discover(core, ty=[4], lim=2, ofst=offset)
        pages.extend(response.pc["m2m:uril"])
        if response.cnst is None:
            break
        offset = response.cnot
    assert pages == await uris(core, ty=[4])
    assert len(pages) == 7
    # exactly as many as exist: complete, not partial
    response = await discover(core, ty=[4], lim=7)
    assert response.cnst is None and response.cnot is None
    response = await discover(core, ty=[4], ofst=100)
    assert response.pc["m2m:uril"] == [] and response.cnst is None
    response = await discover(core, ty=[4], lim=0)
    assert response.pc["m2m:uril"] == [] and (response.cnst, response.cnot) == (1, 0)


async def test_the_cse_caps_large_answers(clock):
    cse = build_cse(make_config(**{"limits.max_result_resources": 4}), clock=clock)
    await cse.start()
    try:
        core = CoreClient(cse)
        await build_home(core, clock)
        response = await discover(core, ty=[4], lim=100)
        assert len(response.pc["m2m:uril"]) == 4
        assert (response.cnst, response.cnot) == (1, 4)
    finally:
        await cse.stop()


async def test_unstructured_ids_and_reference_lists(core, home):
    ids = await uris(core, ty=[2], drt=2)
    assert ids == ["Cm0", "Cm1", "Cplug"]
    response = await discover(core, ty=[3], rcn=6, drt=1)
    refs = response.pc["m2m:rrl"]["rrf"]
    assert [(r["nm"], r["typ"], r["val"]) for r in refs] == [
        ("power", 3, "cse-in/m0/power"), ("power", 3, "cse-in/m1/power"), ("state", 3, "cse-in/plug/state")]
    response = await discover(core, ty=[2], rcn=11)
    assert response.pc == {"m2m:uril": ["cse-in/m0", "cse-in/m1", "cse-in/plug"]}


async def test_apply_relative_path_returns_latest_readings(core, home):
    latest = await uris(core, ty=[3], lbl=["unit:W"], arp="la")
    assert latest == ["cse-in/m0/power/r2", "cse-in/m1/power/r2"]
    owners = await uris(core, ty=[4], arp="../..")
    assert owners == ["cse-in/m0", "cse-in/m1", "cse-in/plug"]      # de-duplicated
    assert await uris(core, ty=[2], arp="power/ol") == ["cse-in/m0/power/r0", "cse-in/m1/power/r0"]
    assert await uris(core, ty=[2], arp="nothing") == []
    assert await uris(core, ty=[2], arp="../../..") == []


async def test_conditions_on_children_and_parents(core, home):
    assert await uris(core, clbl=["unit:W"]) == ["cse-in/m0", "cse-in/m1"]
    assert await uris(core, chty=[4]) == ["cse-in/m0/power", "cse-in/m1/power", "cse-in/plug/state"]
    assert await uris(core, chty=[3], lbl=["type:plug"]) == ["cse-in/plug"]
    assert await uris(core, catr=[{"nm": "con", "val": "17000"}]) == ["cse-in/m0/power", "cse-in/m1/power"]
    assert await uris(core, palb=["zone:2"]) == ["cse-in/m1/power"] + [f"cse-in/m1/power/r{i}" for i in range(3)]
    assert await uris(core, palb=["zone:2"], ty=[3]) == ["cse-in/m1/power"]
    assert await uris(core, pty=[3], palb=["zone:1"]) == [f"cse-in/m0/power/r{i}" for i in range(3)]
    assert await uris(core, patr=[{"nm": "rn", "val": "state"}]) == ["cse-in/plug/state/s0"]
    assert await uris(core, lvl=1, fo=2, clbl=["zone:2"], ty=[99]) == ["cse-in/m1"]


async def test_only_resources_the_originator_may_discover_are_listed(core, home):
    # default rules: an AE sees its own subtree; the CSEBase is discoverable by everyone
    assert await uris(core, fr="Cm1", ty=[3]) == ["cse-in/m1/power"]
    assert await uris(core, fr="Cm1", lbl=["type:meter"]) == ["cse-in/m1"]
    assert await uris(core, "cse-in/m0", fr="Cm1") == []
    # related conditions do not reveal hidden resources either
    assert await uris(core, fr="Cm1", clbl=["zone:1"]) == []
    # paging counts only what the originator is shown
    response = await discover(core, fr="Cm1", ty=[4], lim=2)
    assert response.pc["m2m:uril"] == ["cse-in/m1/power/r0", "cse-in/m1/power/r1"]
    assert (response.cnst, response.cnot) == (1, 2)


async def test_resources_of_inactive_registrations_are_left_out(core, home):
    await core.update("cse-in/m0", {"m2m:ae": {"regs": 2}}, fr="Cm0")
    assert await uris(core, ty=[3]) == ["cse-in/m1/power", "cse-in/plug/state"]
    assert "cse-in/m0" in await uris(core, ty=[2])        # the AE itself is still there


async def test_expired_resources_are_not_found(core, home, clock):
    expiry = format_timestamp(clock.now() + 5)
    await core.create("cse-in/plug", 3, {"m2m:cnt": {"rn": "brief", "et": expiry}}, fr="Cplug")
    assert "cse-in/plug/brief" in await uris(core, ty=[3])
    clock.advance(6)
    assert "cse-in/plug/brief" not in await uris(core, ty=[3])


@pytest.mark.parametrize("to, fields, rsc, words", [
    ("cse-in/m0/power/la", {}, 4000, "virtual resource 'la'"),
    ("cse-in/nothing", {}, 4004, "does not exist"),
    ("cse-in", {"rcn": 1}, 4000, "not valid for discovery"),
    ("cse-in", {"rcn": 4}, 4000, "not valid for discovery"),
    ("cse-in", {"atrl": ["rn"]}, 4000, "attribute list"),
    ("cse-in", {"pc": {"m2m:atrl": ["rn"]}}, 4000, "attribute list"),
    ("cse-in#rn", {}, 4000, "attribute list"),
    ("cse-in", {"fc": {"fu": 1, "arp": "/abs"}}, 4000, "not a relative path"),
    ("cse-in", {"fc": {"fu": 1, "smf": "x"}}, 5001, "semantic"),
    ("cse-in", {"fc": {"fu": 1, "ty": "2"}}, 4000, "list of integers"),
])
async def test_bad_discovery_requests(core, home, to, fields, rsc, words):
    fields.setdefault("fc", {"fu": 1})
    response = await core.retrieve(to, **fields)
    assert response.rsc == rsc
    assert words in response.pc["m2m:dbg"]


async def test_discovery_without_matches_is_an_empty_list(core, home):
    response = await discover(core, lbl=["zone:99"])
    assert response.pc == {"m2m:uril": []}
    assert response.cnst is None


async def test_the_walk_goes_on_past_many_resources_the_originator_may_not_see(core):
    # 300 containers of the admin come first; the AE's own come after them
    for i in range(300):
        await core.create("cse-in", 3, {"m2m:cnt": {"rn": f"admin{i}"}})
    await core.register_ae("Cme", rn="me")
    for i in range(5):
        await core.create("cse-in/me", 3, {"m2m:cnt": {"rn": f"mine{i}"}}, fr="Cme")
    assert await uris(core, fr="Cme", ty=[3]) == [f"cse-in/me/mine{i}" for i in range(5)]
    response = await discover(core, fr="Cme", ty=[3], lim=2, ofst=2)
    assert response.pc["m2m:uril"] == ["cse-in/me/mine2", "cse-in/me/mine3"]
    assert (response.cnst, response.cnot) == (1, 4)
    everything = await uris(core, ty=[3])
    assert len(everything) == 305 and len(set(everything)) == 305


async def test_what_lies_below_an_expired_resource_is_not_found(core, home, clock):
    await core.update("cse-in/m0/power", {"m2m:cnt": {"et": format_timestamp(clock.now() + 5)}}, fr="Cm0")
    clock.advance(6)              # expired, not reaped yet
    assert await uris(core, ty=[4], lbl=["x"], fo=2) == ["cse-in/m1/power/r0", "cse-in/m1/power/r1",
                                                         "cse-in/m1/power/r2", "cse-in/plug/state/s0"]
    assert await uris(core, "cse-in/m0") == []
    assert await uris(core, ty=[2], arp="power/la") == ["cse-in/m1/power/r2"]


async def test_expired_ancestors_are_found_without_the_expiry_index_too(core, home, clock):
    from cse.search import Expired

    await core.update("cse-in/m0", {"m2m:ae": {"et": format_timestamp(clock.now() + 5)}}, fr="Cm0")
    clock.advance(6)
    ctx = core.cse.dispatcher.context(None)
    reading = core.cse.storage.get_by_path("cse-in/m0/power/r1")
    other = core.cse.storage.get_by_path("cse-in/m1/power/r1")
    for sample in (1000, 1):      # 1: more waiting than sampled, so ancestors are read one by one
        expired = Expired(ctx, "cse-in", sample=sample)
        assert expired.known is (sample == 1000)
        assert expired(reading) is True and expired(other) is False
    # below the root, ancestors above it do not count (the root itself was found alive)
    assert Expired(ctx, "cse-in/m0/power", sample=1)(reading) is False


async def test_inactive_registrations_among_many_aes(core, monkeypatch):
    from cse.search import InactiveRegistrations

    monkeypatch.setattr(InactiveRegistrations, "LOOKUPS_BEFORE_BULK", 8)
    for i in range(40):           # more AEs than are looked up one by one
        await core.register_ae(f"Cx{i}", rn=f"x{i}", regs=2 if i % 10 == 3 else 1)
        await core.create(f"cse-in/x{i}", 3, {"m2m:cnt": {"rn": "c"}}, fr=f"Cx{i}")
    found = await uris(core, ty=[3])
    assert found == [f"cse-in/x{i}/c" for i in range(40) if i % 10 != 3]
