"""Releases (rvi, srv), the CSEBase's R4/R5 attributes, registration rules in TS order, and
what unregistered or remote originators get on the CSEBase (docs/conformance.md,
"Releases, registration and federation")."""
import pytest

from cse.config import ConfigError, load_config
from cse.primitives import Request
from server.cli import config_from_args
from server.compose import build_cse
from tests.conftest import CoreClient, make_config


def csr(cse="/id-mn", **attributes):
    body = {"cb": f"{cse}/cse-mn", "rr": True, "srv": ["3"], "poa": ["http://127.0.0.1:9"], **attributes}
    return {"m2m:csr": body}


async def started(**settings):
    cse = build_cse(make_config(**settings))
    await cse.start()
    return cse


# -- releases ---------------------------------------------------------------------------------
@pytest.mark.parametrize("rvi", ["2a", "3", "4", "5"])
async def test_every_current_release_is_accepted_and_answered_in_kind(core, rvi):
    response = await core.retrieve("cse-in", rvi=rvi)
    assert response.rsc == 2000 and response.rvi == rvi


@pytest.mark.parametrize("rvi, words", [
    ("1", "'1' is not supported by this CSE"),
    ("2", "'2' is not supported by this CSE"),
    ("6", "'6' is not a oneM2M release version"),
    ("three", "'three' is not a oneM2M release version"),
    ("", "'' is not a oneM2M release version"),
])
async def test_an_unsupported_release_is_refused_with_4001(core, rvi, words):
    response = await core.retrieve("cse-in", rvi=rvi)
    assert response.rsc == 4001
    assert words in response.pc["m2m:dbg"] and "supported: 2a, 3, 4, 5" in response.pc["m2m:dbg"]
    assert response.rvi == "5"          # answered in our newest release


async def test_a_cse_configured_for_release_3_only_refuses_release_5_and_1():
    cse = await started(**{"cse.supported_releases": ["3"]})
    try:
        client = CoreClient(cse)
        assert (await client.retrieve("cse-in", rvi="5")).rsc == 4001
        assert (await client.retrieve("cse-in", rvi="1")).rsc == 4001
        response = await client.retrieve("cse-in", rvi="3")
        assert response.rsc == 2000 and response.pc["m2m:cb"]["srv"] == ["3"]
        missing = await cse.dispatcher.handle(Request(op=2, to="cse-in", fr="CAdmin", rqi="m"))
        assert missing.rsc == 2000 and missing.rvi == "3"     # served as our newest
    finally:
        await cse.stop()


async def test_release_1_can_be_configured():
    cse = await started(**{"cse.supported_releases": ["1", "3"]})
    try:
        assert (await CoreClient(cse).retrieve("cse-in", rvi="1")).rsc == 2000
    finally:
        await cse.stop()


@pytest.mark.parametrize("value, words", [([], "at least one"), (["3", "7"], "'7' is not a oneM2M release")])
def test_bad_release_settings_stop_the_start(value, words):
    with pytest.raises(ConfigError, match=words):
        load_config(None, {"cse.supported_releases": value})


def test_the_releases_flag():
    assert config_from_args(["--releases", "3, 4"]).cse.supported_releases == ["3", "4"]
    assert config_from_args([]).cse.supported_releases == ["2a", "3", "4", "5"]
    with pytest.raises(ConfigError, match="'9'"):
        config_from_args(["--releases", "3,9"])


# -- CSEBase ----------------------------------------------------------------------------------
async def test_the_cse_base_carries_spi_ici_srv_and_its_current_time(core, clock):
    base = (await core.retrieve("cse-in")).pc["m2m:cb"]
    assert base["spi"] == "//onem2m.example.net"
    assert base["ici"] == "/id-in"
    assert base["srv"] == ["2a", "3", "4", "5"]
    first = base["ctm"]
    clock.advance(90)
    later = (await core.retrieve("cse-in")).pc["m2m:cb"]["ctm"]
    assert later > first and later[:8] == first[:8]
    # Computed when read, never stored (a partial retrieve of it also works).
    assert "ctm" not in core.cse.storage.get("id-in")
    assert set((await core.retrieve("cse-in", atrl=["ctm"])).pc["m2m:cb"]) == {"ctm"}


async def test_an_mn_cse_base_has_no_in_cse_id_of_its_own():
    cse = await started(**{"cse.cse_id": "/id-mn", "cse.rn": "cse-mn", "cse.type": "MN"})
    try:
        base = (await CoreClient(cse).retrieve("cse-mn")).pc["m2m:cb"]
        assert "ici" not in base and base["spi"] == "//onem2m.example.net" and base["cst"] == 2
    finally:
        await cse.stop()


# -- what an R5 CSE sends when it registers --------------------------------------------------
async def test_a_release_5_registration_is_accepted_and_kept(core):
    body = {"rn": "id-mn", "cb": "/id-mn/cse-mn", "csi": "/id-mn", "cst": 2, "rr": True,
            "poa": ["http://127.0.0.1:9"], "srv": ["2a", "3", "4", "5"], "dcse": [], "lbl": ["gw"],
            "csz": ["application/json", "application/vnd.onem2m-res+json", "application/cbor",
                    "application/vnd.onem2m-res+cbor"],
            "spi": "//onem2m.example.net", "ici": "/id-in"}
    response = await core.create("cse-in", 16, {"m2m:csr": body}, fr="/id-mn", rvi="5")
    assert response.rsc == 2001, response.pc
    kept = (await core.retrieve("cse-in/id-mn")).pc["m2m:csr"]
    assert {k: kept[k] for k in ("spi", "ici", "csz", "srv")} == {k: body[k] for k in ("spi", "ici", "csz", "srv")}


@pytest.mark.parametrize("cb", ["/id-mn/cse-mn", "/id-mn", "//onem2m.example.net/id-mn/cse-mn",
                                "//onem2m.example.net/id-mn"])
async def test_every_form_of_cb_naming_the_registree_is_accepted(core, cb):
    response = await core.create("cse-in", 16, csr(cb=cb), fr="/id-mn")
    assert response.rsc == 2001, response.pc
    assert response.pc["m2m:csr"]["cb"] == cb


@pytest.mark.parametrize("ty, content, words", [
    (16, csr(csz=["text/plain"]), "csz"),
    (16, csr(spi="acme.example.com"), "spi"),
    (16, csr(ici="id in"), "ici"),
    (2, {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"], "csz": ["application/yaml"]}}, "csz"),
])
async def test_bad_r5_attributes_are_refused(core, ty, content, words):
    originator = "/id-mn" if ty == 16 else "Cx"
    response = await core.create("cse-in", ty, content, fr=originator)
    assert response.rsc == 4000 and words in response.pc["m2m:dbg"], response.pc


# -- registration: the originator first, with the TS codes ------------------------------------
@pytest.mark.parametrize("originator", ["/id-mn", "//onem2m.example.net/id-mn"])
async def test_a_cse_id_cannot_register_an_ae_4107_even_with_bad_content(core, originator):
    good = {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"]}}
    assert (await core.create("cse-in", 2, good, fr=originator)).rsc == 4107
    bad = {"m2m:ae": {"api": "Xbad", "srv": "3", "foo": 1}}
    response = await core.create("cse-in", 2, bad, fr=originator)
    assert response.rsc == 4107 and "CSE-ID" in response.pc["m2m:dbg"]


async def test_an_ae_id_cannot_register_a_cse_4005_before_its_content_is_read(core):
    response = await core.create("cse-in", 16, {"m2m:csr": {"cb": 5, "junk": True}}, fr="Cmeter")
    assert response.rsc == 4005 and "cannot register a CSE" in response.pc["m2m:dbg"]


async def test_already_registered_comes_before_content_errors(core):
    assert (await core.register_ae("Cmeter")).rsc == 2001
    response = await core.create("cse-in", 2, {"m2m:ae": {"api": "Xbad"}}, fr="Cmeter")
    assert response.rsc == 4117
    assert (await core.create("cse-in", 16, csr(), fr="/id-mn")).rsc == 2001
    again = await core.create("cse-in", 16, {"m2m:csr": {"nonsense": 1}}, fr="/id-mn")
    assert again.rsc == 4117


async def test_a_not_allowed_ae_originator_is_4126_before_content():
    cse = await started(**{"cse.allowed_ae_originators": ["Cmeter*"]})
    try:
        response = await CoreClient(cse).create("cse-in", 2, {"m2m:ae": {"api": "Xbad"}}, fr="Cother")
        assert response.rsc == 4126
    finally:
        await cse.stop()


@pytest.mark.parametrize("rvi, rsc", [("2a", 2001), ("3", 2001), ("4", 4000), ("5", 4000)])
async def test_a_lower_case_r_app_id_is_a_release_3_rule_only(core, rvi, rsc):
    ae = {"m2m:ae": {"api": "rmeter", "rr": False, "srv": [rvi]}}
    response = await core.create("cse-in", 2, ae, fr="Cm" + rvi, rvi=rvi)
    assert response.rsc == rsc, response.pc
    if rsc == 4000:
        assert "starts with 'r', which only releases 2a and 3 allow" in response.pc["m2m:dbg"]
        assert f"(this request: {rvi})" in response.pc["m2m:dbg"]


# -- the CSEBase and unregistered or remote originators ---------------------------------------
async def test_unregistered_originators_cannot_read_or_discover_the_cse_base(core):
    for op in ({}, {"fc": {"fu": 1}}):
        response = await core.retrieve("cse-in", fr="Cstranger", **op)
        assert response.rsc == 4103, response.pc
        assert "Cstranger" in response.pc["m2m:dbg"]


async def test_registered_and_registering_entities_read_the_cse_base(core):
    assert (await core.register_ae("Cmeter")).rsc == 2001
    assert (await core.retrieve("cse-in", fr="Cmeter")).rsc == 2000
    assert (await core.retrieve("cse-in", fr="Cmeter", fc={"fu": 1})).rsc == 2000
    # A CSE reads the CSEBase before it registers (cse.allowed_cse_originators lets it).
    assert (await core.retrieve("cse-in", fr="/id-mn")).rsc == 2000
    assert (await core.retrieve("cse-in", fr="/id-mn", fc={"fu": 1})).rsc == 4103
    assert (await core.create("cse-in", 16, csr(), fr="/id-mn")).rsc == 2001
    # Registered now; its AEs reach us through it.
    assert (await core.retrieve("cse-in", fr="/id-mn", fc={"fu": 1})).rsc == 2000
    assert (await core.retrieve("cse-in", fr="/id-mn/Cdevice")).rsc == 2000
    assert (await core.retrieve("cse-in", fr="/id-other/Cdevice")).rsc == 4103


async def test_a_cse_not_allowed_to_register_cannot_read_the_cse_base():
    cse = await started(**{"cse.allowed_cse_originators": ["/id-mn*"]})
    try:
        client = CoreClient(cse)
        assert (await client.retrieve("cse-in", fr="/id-mn7")).rsc == 2000
        assert (await client.retrieve("cse-in", fr="/id-evil")).rsc == 4103
    finally:
        await cse.stop()


async def test_the_cse_base_can_be_opened_to_unregistered_readers():
    cse = await started(**{"cse.unregistered_retrieve_base": True})
    try:
        client = CoreClient(cse)
        assert (await client.retrieve("cse-in", fr="Cstranger")).rsc == 2000
        # Discovery still follows the access rules.
        assert (await client.retrieve("cse-in", fr="Cstranger", fc={"fu": 1})).rsc == 4103
    finally:
        await cse.stop()


async def test_discovery_by_an_originator_on_another_cse_returns_sp_relative_addresses(core):
    assert (await core.create("cse-in", 16, csr(), fr="/id-mn")).rsc == 2001
    acp = {"m2m:acp": {"rn": "open", "pv": {"acr": [{"acor": ["all"], "acop": 63}]},
                       "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}}
    assert (await core.create("cse-in", 1, acp)).rsc == 2001
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    cnt = {"m2m:cnt": {"rn": "power", "acpi": ["cse-in/open"]}}
    assert (await core.create("cse-in/meter", 3, cnt, fr="Cmeter")).rsc == 2001
    remote = await core.retrieve("cse-in", fr="/id-mn/Cdevice", fc={"fu": 1, "ty": [3]})
    assert remote.pc == {"m2m:uril": ["/id-in/cse-in/meter/power"]}
    # The address works from there: SP-relative, it reaches this CSE from anywhere.
    assert (await core.retrieve(remote.pc["m2m:uril"][0], fr="/id-mn/Cdevice")).rsc == 2000
    unstructured = await core.retrieve("cse-in", fr="/id-mn", fc={"fu": 1, "ty": [3]}, drt=2)
    assert unstructured.pc["m2m:uril"][0].startswith("/id-in/cnt")
    references = await core.retrieve("cse-in", fr="/id-mn", fc={"fu": 1, "ty": [3]}, rcn=6)
    assert [r["val"] for r in references.pc["m2m:rrl"]["rrf"]] == ["/id-in/cse-in/meter/power"]
    # Local originators keep CSE-relative addresses.
    local = await core.retrieve("cse-in", fr="Cmeter", fc={"fu": 1, "ty": [3]})
    assert local.pc == {"m2m:uril": ["cse-in/meter/power"]}
