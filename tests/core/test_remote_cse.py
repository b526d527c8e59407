"""remoteCSE (ty 16) registration rules at the registrar (reference 11.1, TS-0001 10.2.2.7)."""
import pytest

from server.compose import build_cse
from tests.conftest import CoreClient, make_config


def csr(cse="/id-mn", **attributes):
    """A registration body of CSE `cse` (its CSEBase is <cse>/cse-mn)."""
    body = {"cb": f"{cse}/cse-mn", "rr": True, "srv": ["3"], "poa": ["http://127.0.0.1:9"], **attributes}
    return {"m2m:csr": body}


async def test_registration_creates_a_record_named_after_the_cse(core):
    response = await core.create("cse-in", 16, csr(cst=2), fr="/id-mn")
    assert response.rsc == 2001, response.pc
    # ri and rn are the CSE-ID without "/", so /id-in/id-mn addresses the record.
    assert response.content_location == "cse-in/id-mn"
    stored = (await core.retrieve("/id-in/id-mn")).pc["m2m:csr"]
    assert (stored["ri"], stored["rn"], stored["csi"], stored["cst"]) == ("id-mn", "id-mn", "/id-mn", 2)


async def test_csi_is_taken_from_the_originator(core):
    # TS-0001: the registrar sets csi from the originator, whatever the content says.
    response = await core.create("cse-in", 16, csr("/id-mn", csi="/id-fake"), fr="/id-mn")
    assert response.rsc == 2001
    assert response.pc["m2m:csr"]["csi"] == "/id-mn"
    assert response.pc["m2m:csr"]["ri"] == "id-mn"


async def test_second_registration_of_the_same_cse_is_a_conflict(core):
    assert (await core.create("cse-in", 16, csr(), fr="/id-mn")).rsc == 2001
    again = await core.create("cse-in", 16, csr(), fr="/id-mn")
    assert again.rsc == 4117        # ORIGINATOR_HAS_ALREADY_REGISTERED (TS-0004 7.4.4.2.1)
    assert "already registered" in again.pc["m2m:dbg"]


async def test_the_registree_owns_its_record_and_others_cannot_change_it(core):
    assert (await core.create("cse-in", 16, csr(), fr="/id-mn")).rsc == 2001
    updated = await core.update("cse-in/id-mn", {"m2m:csr": {"poa": ["http://127.0.0.1:10"]}}, fr="/id-mn")
    assert updated.rsc == 2004
    assert updated.pc["m2m:csr"]["poa"] == ["http://127.0.0.1:10"]
    other = await core.update("cse-in/id-mn", {"m2m:csr": {"poa": ["http://evil:1"]}}, fr="/id-other")
    assert other.rsc == 4103
    assert (await core.delete("cse-in/id-mn", fr="/id-mn")).rsc == 2002
    assert (await core.retrieve("cse-in/id-mn")).rsc == 4004


async def test_a_container_can_live_under_a_remote_cse(core):
    assert (await core.create("cse-in", 16, csr(), fr="/id-mn")).rsc == 2001
    made = await core.create("cse-in/id-mn", 3, {"m2m:cnt": {"rn": "aggregates"}}, fr="/id-mn")
    assert made.rsc == 2001
    assert (await core.retrieve("/id-in/id-mn/aggregates", fr="/id-mn")).rsc == 2000


@pytest.mark.parametrize("originator, content, rsc, words", [
    ("Cmeter", csr(), 4005, "SP-relative CSE-ID"),       # an AE-ID: TS-0004 7.4.4.2.1
    ("/id-mn/Cmeter", csr(), 4000, "SP-relative CSE-ID"),
    ("//other.sp/id-mn", csr(), 4000, "SP-relative CSE-ID"),
    ("/id-in", csr("/id-in"), 4000, "csi"),
    ("/id-mn", csr(cb="/id-other/cse"), 4000, "'cb'"),
    ("/id-mn", csr(cb="/id-mnx/cse-mn"), 4000, "'cb'"),
    ("/id-mn", csr(cb="//other.sp/id-mn/cse-mn"), 4000, "'cb'"),
    ("/id-mn", csr(cb="/id-mn/a/b"), 4000, "'cb'"),
    ("/id-mn", csr(poa=["ftp://x"]), 4000, "'poa'"),
    ("/id-mn", csr(dcse=["/id-in"]), 4000, "routing loop"),
    ("/id-mn", csr(dcse=["/id-mn"]), 4000, "routing loop"),
    ("/id-mn", csr(dcse=["/id-a", "/id-a"]), 4000, "more than once"),
    ("/id-mn", csr(dcse=["id-a"]), 4000, "'dcse'"),
    ("/id-mn", csr(cst=7), 4000, "'cst'"),
    ("/id-mn", csr(egid="x"), 5001, "'egid'"),
    ("/id#mn", csr("/id#mn"), 4000, "SP-relative CSE-ID"),      # '#' starts an attribute
    ("/id mn", csr("/id mn"), 4000, "SP-relative CSE-ID"),
    ("/" + "m" * 300, csr("/" + "m" * 300), 4000, "longer than"),
    ("/id-mn", {"m2m:csr": {"rr": True, "srv": ["3"]}}, 4000, "'cb'"),
    ("/id-mn", {"m2m:csr": {"cb": "/id-mn/cse-mn", "srv": ["3"]}}, 4000, "'rr'"),
    ("/id-mn", {"m2m:csr": {"cb": "/id-mn/cse-mn", "rr": True}}, 4000, "'srv'"),
    ("/id-mn", csr(ri="x"), 4000, "'ri'"),
])
async def test_bad_registrations(core, originator, content, rsc, words):
    response = await core.create("cse-in", 16, content, fr=originator)
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_own_cse_id_cannot_register(core):
    response = await core.create("cse-in", 16, csr("/id-in", csi="/id-in"), fr="/id-in")
    # The CSE itself may only record a registrar, and it cannot be its own.
    assert response.rsc == 4000
    assert "itself" in response.pc["m2m:dbg"]


async def test_record_of_own_registrar_refuses_that_cse_as_registree(core):
    mine = await core.create("cse-in", 16, {"m2m:csr": {"cb": "/id-up/cse-up", "csi": "/id-up", "rr": True,
                                                        "srv": ["3"]}}, fr="/id-in")
    assert mine.rsc == 2001
    loop = await core.create("cse-in", 16, csr("/id-up"), fr="/id-up")
    assert loop.rsc == 4105
    assert "registrar" in loop.pc["m2m:dbg"]


async def test_a_remote_cse_is_only_created_under_the_cse_base(core):
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    response = await core.create("cse-in/meter", 16, csr(), fr="/id-mn")
    assert response.rsc == 4108


async def test_remote_cse_id_colliding_with_an_ae_is_a_conflict(core):
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    response = await core.create("cse-in", 16, csr("/Cmeter"), fr="/Cmeter")
    assert response.rsc == 4105
    assert "already used" in response.pc["m2m:dbg"]


@pytest.fixture
async def restricted(clock):
    cse = build_cse(make_config(**{"cse.allowed_cse_originators": ["/id-mn*"]}), clock=clock)
    await cse.start()
    try:
        yield CoreClient(cse)
    finally:
        await cse.stop()


async def test_allowed_cse_originators_limit_who_registers(restricted):
    assert (await restricted.create("cse-in", 16, csr("/id-mn7"), fr="/id-mn7")).rsc == 2001
    refused = await restricted.create("cse-in", 16, csr("/id-rogue"), fr="/id-rogue")
    assert refused.rsc == 4103
    assert "allowed_cse_originators" in refused.pc["m2m:dbg"]


@pytest.fixture
async def asn(clock):
    cse = build_cse(make_config(**{"cse.type": "ASN", "cse.cse_id": "/id-asn", "cse.rn": "cse-in"}), clock=clock)
    await cse.start()
    try:
        yield CoreClient(cse)
    finally:
        await cse.stop()


async def test_an_asn_cse_accepts_no_registrations(asn):
    response = await asn.create("cse-in", 16, csr(), fr="/id-mn")
    assert response.rsc == 4005
    assert "ASN-CSE" in response.pc["m2m:dbg"]


@pytest.fixture
async def gateway(clock):
    """An MN-CSE configured with the registrar /id-in, which it has not reached yet."""
    cse = build_cse(make_config(**{"cse.type": "MN", "cse.cse_id": "/id-mn", "cse.rn": "cse-mn",
                                   "registrar.url": "http://127.0.0.1:9", "registrar.cse_id": "/id-in"}),
                    clock=clock)
    cse.federation.registration = None          # no agent: the registrar's record is not made yet
    await cse.start()
    try:
        yield CoreClient(cse)
    finally:
        await cse.stop()


async def test_the_configured_registrar_cannot_register_here_even_before_it_is_recorded(gateway):
    # Else whoever claims /id-in first takes the routes to the real registrar, and this CSE
    # can never record its registrar (the record's ID is taken).
    response = await gateway.create("cse-mn", 16, csr("/id-in"), fr="/id-in")
    assert response.rsc == 4105, response.pc
    assert "registrar" in response.pc["m2m:dbg"]
    assert (await gateway.retrieve("cse-mn/id-in")).rsc == 4004


@pytest.mark.parametrize("when", ["create", "update"])
async def test_a_registree_cannot_list_our_registrar_as_its_descendant(gateway, when):
    # Reported upwards in our dcse, it would make the registrar refuse our registration.
    if when == "create":
        response = await gateway.create("cse-mn", 16, csr("/id-asn", dcse=["/id-x", "/id-in"]), fr="/id-asn")
    else:
        assert (await gateway.create("cse-mn", 16, csr("/id-asn"), fr="/id-asn")).rsc == 2001
        response = await gateway.update("cse-mn/id-asn", {"m2m:csr": {"dcse": ["/id-in"]}}, fr="/id-asn")
    assert response.rsc == 4000, response.pc
    assert "'dcse'" in response.pc["m2m:dbg"] and "/id-in" in response.pc["m2m:dbg"]
    assert gateway.cse.federation.routes.descendants() == ([] if when == "create" else ["/id-asn"])
