"""AE registration rules (TS-0001 10.2.2.2, TS-0004 7.4.5): who gets which AE-ID."""
import pytest


async def test_registration_with_stem_uses_it_as_ae_id_and_resource_id(core):
    response = await core.register_ae("Cmeter01", rn="meter01")
    assert response.rsc == 2001
    ae = response.pc["m2m:ae"]
    assert ae["aei"] == ae["ri"] == "Cmeter01"
    assert ae["rn"] == "meter01" and ae["pi"] == "id-in" and ae["ty"] == 2
    assert ae["ct"] == ae["lt"]
    assert response.content_location == "cse-in/meter01"


@pytest.mark.parametrize("originator, prefix", [(None, "C"), ("", "C"), ("C", "C"), ("S", "S")])
async def test_cse_assigns_a_new_ae_id(core, originator, prefix):
    response = await core.register_ae(originator)
    assert response.rsc == 2001
    aei = response.pc["m2m:ae"]["aei"]
    assert aei.startswith(prefix) and len(aei) > 1
    # The new AE-ID works as an originator for its own subtree.
    created = await core.create(f"cse-in/{response.pc['m2m:ae']['rn']}", 3, {"m2m:cnt": {}}, fr=aei)
    assert created.rsc == 2001


async def test_rn_defaults_to_the_ae_id(core):
    response = await core.register_ae("Cxyz")
    assert response.pc["m2m:ae"]["rn"] == "Cxyz"
    assert (await core.retrieve("cse-in/Cxyz", fr="Cxyz")).rsc == 2000


async def test_registering_an_already_registered_originator_is_refused(core):
    assert (await core.register_ae("Cmeter01", rn="a")).rsc == 2001
    again = await core.register_ae("Cmeter01", rn="b")
    assert again.rsc == 4117
    assert "already registered" in again.pc["m2m:dbg"]


async def test_deregistration_frees_the_ae_id_and_removes_the_subtree(core):
    await core.register_ae("Cmeter01", rn="meter01")
    await core.create("cse-in/meter01", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter01")
    await core.create("cse-in/meter01/power", 4, {"m2m:cin": {"con": "1"}}, fr="Cmeter01")
    assert (await core.delete("cse-in/meter01", fr="Cmeter01")).rsc == 2002
    assert (await core.retrieve("cse-in/meter01/power")).rsc == 4004
    assert core.cse.storage.count() == 1          # only the CSEBase is left
    assert (await core.register_ae("Cmeter01", rn="meter01")).rsc == 2001


@pytest.mark.parametrize("originator, attributes, rsc, words", [
    ("Cm", {"api": "Xbad"}, 4000, "api"),
    ("Cm", {"api": "Nok", "rr": "yes"}, 4000, "'rr'"),
    ("Cm", {"srv": None}, 4000, "srv"),
    ("Cm", {"poa": ["ftp://host"]}, 4000, "poa"),
    ("Cm", {"aei": "Cother"}, 4000, "aei"),
    ("Cm", {"ri": "x"}, 4000, "'ri'"),
    ("Cm", {"foo": 1}, 4000, "'foo' is not defined"),
    ("Cm", {"at": ["/id-x"]}, 4000, "/id-x"),           # not a registered CSE (announcement)
    ("/id-in/Cm", {}, 4126, "cannot register"),
    ("Xother", {}, 4126, "cannot register"),
    ("Cm#lbl", {}, 4126, "cannot register"),            # could never be addressed
    ("Cm?x", {}, 4126, "cannot register"),
    ("C m", {}, 4126, "cannot register"),
    ("C" + "x" * 300, {}, 4000, "longer than"),           # it becomes the rn: same limit
])
async def test_bad_registrations(core, originator, attributes, rsc, words):
    ae = {"api": "Nmeter", "rr": False, "srv": ["3"]}
    ae.update(attributes)
    ae = {k: v for k, v in ae.items() if v is not None}
    response = await core.create("cse-in", 2, {"m2m:ae": ae}, fr=originator)
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_missing_mandatory_attribute_is_named(core):
    response = await core.create("cse-in", 2, {"m2m:ae": {"api": "Nx", "srv": ["3"]}}, fr="Cm")
    assert response.rsc == 4000
    assert "mandatory attribute 'rr'" in response.pc["m2m:dbg"]


async def test_ae_only_under_cse_base(core):
    await core.register_ae("Cm", rn="m")
    await core.create("cse-in/m", 3, {"m2m:cnt": {"rn": "c"}}, fr="Cm")
    response = await core.create("cse-in/m/c", 2, {"m2m:ae": {"api": "Nx", "rr": True, "srv": ["3"]}},
                                 fr="Cother")
    assert response.rsc == 4108


async def test_ae_update_and_api_not_updatable(core):
    await core.register_ae("Cm", rn="m")
    response = await core.update("cse-in/m", {"m2m:ae": {"poa": ["http://127.0.0.1:9"], "lbl": ["x"]}}, fr="Cm")
    assert response.rsc == 2004
    assert response.pc["m2m:ae"]["poa"] == ["http://127.0.0.1:9"]
    response = await core.update("cse-in/m", {"m2m:ae": {"api": "Nother"}}, fr="Cm")
    assert response.rsc == 4000 and "'api'" in response.pc["m2m:dbg"]


async def test_allowed_originator_patterns_are_enforced(clock):
    from server.compose import build_cse
    from tests.conftest import CoreClient, make_config

    cse = build_cse(make_config(**{"cse.allowed_ae_originators": ["Cmeter*"]}), clock=clock)
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae("Cmeter7")).rsc == 2001
        refused = await client.register_ae("Cintruder")
        assert refused.rsc == 4126
    finally:
        await cse.stop()
