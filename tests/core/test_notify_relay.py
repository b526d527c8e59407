"""NOTIFY addressed to an AE registered here is passed on to the AE's poa, when the
originator may notify it (a CSE registered here, or a NOTIFY privilege on the AE)."""
import pytest

from cse.primitives import Response
from tests.fakes import FakePeer

APP_POA = "http://app.test:7000"
SGN = {"m2m:sgn": {"sur": "/id-mn/sub1", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "1530"}}}}}


MN_RECORD = {"m2m:csr": {"cb": "/id-mn/cse-mn", "rr": True, "srv": ["3"], "poa": ["http://127.0.0.1:9"]}}


@pytest.fixture
async def peer(core):
    """The AE's poa; /id-mn (the CSE that sends the notifications) is registered here."""
    peer = FakePeer(lambda url, request: Response(rsc=2000))
    core.cse.outbound.register(("http",), peer)
    assert (await core.create("cse-in", 16, MN_RECORD, fr="/id-mn")).rsc == 2001
    return peer


async def register_app(core, **attributes):
    ae = {"api": "Nenergy", "rr": True, "srv": ["3"], "poa": [APP_POA], **attributes}
    response = await core.create("cse-in", 2, {"m2m:ae": ae}, fr="CEnergyApp")
    assert response.rsc == 2001, response.pc


@pytest.mark.parametrize("to", ["CEnergyApp", "/id-in/CEnergyApp", "cse-in/CEnergyApp",
                                "//onem2m.example.net/id-in/CEnergyApp"])
async def test_notify_to_an_ae_reaches_its_poa_unchanged(core, peer, to):
    await register_app(core)
    response = await core.request(5, to, "/id-mn", pc=SGN, rqi="n1")
    assert response.rsc == 2000
    (sent,) = peer.sent
    assert sent.url == APP_POA
    assert (sent.request.op, sent.request.to, sent.request.fr, sent.request.rqi) == (5, to, "/id-mn", "n1")
    assert sent.request.pc == SGN
    assert sent.serialization == "json"


async def test_the_ae_answer_is_relayed(core, peer):
    await register_app(core)
    peer.answer = lambda url, request: Response(rsc=4004, pc={"m2m:dbg": "unknown subscription"})
    response = await core.request(5, "CEnergyApp", "/id-mn", pc=SGN)
    assert response.rsc == 4004
    assert response.pc == {"m2m:dbg": "unknown subscription"}


async def test_an_ae_taking_only_cbor_gets_cbor(core, peer):
    await register_app(core, csz=["application/cbor"])
    assert (await core.request(5, "CEnergyApp", "/id-mn", pc=SGN)).rsc == 2000
    assert peer.sent[0].serialization == "cbor"


async def test_an_unreachable_ae_is_5103(core, peer):
    await register_app(core)
    peer.answer = lambda url, request: ConnectionRefusedError("refused")
    response = await core.request(5, "CEnergyApp", "/id-mn", pc=SGN)
    assert response.rsc == 5103
    assert "AE CEnergyApp is not reachable" in response.pc["m2m:dbg"]


@pytest.mark.parametrize("attributes, words", [
    ({"rr": False}, "rr=false"),
    ({"poa": None}, "no point of access"),
])
async def test_an_ae_that_cannot_receive(core, peer, attributes, words):
    ae = {"api": "Nenergy", "rr": True, "srv": ["3"], "poa": [APP_POA], **attributes}
    ae = {k: v for k, v in ae.items() if v is not None}
    assert (await core.create("cse-in", 2, {"m2m:ae": ae}, fr="CEnergyApp")).rsc == 2001
    response = await core.request(5, "CEnergyApp", "/id-mn", pc=SGN)
    assert response.rsc == 5103
    assert words in response.pc["m2m:dbg"]
    assert peer.sent == []


@pytest.mark.parametrize("to, rsc, words", [
    ("cse-in", 4000, "NOTIFY requests addressed to itself"),
    ("cse-in/box", 4005, "container"),
    ("cse-in/box/la", 4005, "'la'"),
    ("CNobody", 4004, "does not exist"),
])
async def test_notify_to_what_is_not_an_ae(core, peer, to, rsc, words):
    assert (await core.create("cse-in", 3, {"m2m:cnt": {"rn": "box"}})).rsc == 2001
    response = await core.request(5, to, "/id-mn", pc=SGN)
    assert response.rsc == rsc
    assert words in response.pc["m2m:dbg"]
    assert peer.sent == []


# -- access control (TS-0001 9.6.2: NOTIFY needs the notify privilege, acop 16) -----------------

@pytest.mark.parametrize("originator", ["CForger", "Cother-registered", "/id-nowhere", "/id-nowhere/CForger",
                                        "//other.example.org/id-mn", "/id-in/CForger"])
async def test_a_forged_notification_is_refused_and_never_reaches_the_ae(core, peer, originator):
    await register_app(core)
    assert (await core.register_ae("Cother-registered")).rsc == 2001
    response = await core.request(5, "CEnergyApp", originator, pc=SGN)
    assert response.rsc == 4103, response.pc
    assert response.pc == {"m2m:dbg": f"originator {originator!r} has no NOTIFY privilege on 'CEnergyApp'"}
    assert peer.sent == []


@pytest.mark.parametrize("originator", ["/id-mn", "//onem2m.example.net/id-mn", "CEnergyApp", "/id-in",
                                        "CAdmin"])
async def test_who_may_notify_an_ae_without_acp(core, peer, originator):
    """A registered CSE (the host of the subscription, or a relay), the AE itself, this CSE
    and the admin."""
    await register_app(core)
    assert (await core.request(5, "CEnergyApp", originator, pc=SGN)).rsc == 2000
    assert len(peer.sent) == 1


async def test_an_acp_grant_with_notify_lets_an_ae_notify_another(core, peer):
    await register_app(core)
    assert (await core.register_ae("CFriend")).rsc == 2001
    acp = {"m2m:acp": {"rn": "mayNotify",
                       "pv": {"acr": [{"acor": ["CFriend"], "acop": 16}, {"acor": ["CEnergyApp"], "acop": 63}]},
                       "pvs": {"acr": [{"acor": ["CEnergyApp"], "acop": 63}]}}}
    assert (await core.create("cse-in/CEnergyApp", 1, acp, fr="CEnergyApp")).rsc == 2001
    update = await core.update("cse-in/CEnergyApp", {"m2m:ae": {"acpi": ["cse-in/CEnergyApp/mayNotify"]}},
                               fr="CEnergyApp")
    assert update.rsc == 2004, update.pc
    assert (await core.request(5, "CEnergyApp", "CFriend", pc=SGN)).rsc == 2000
    # A grant of everything but NOTIFY is no grant to notify.
    assert (await core.register_ae("CReader")).rsc == 2001
    assert (await core.request(5, "CEnergyApp", "CReader", pc=SGN)).rsc == 4103
    assert len(peer.sent) == 1


async def test_a_cse_that_deregistered_may_no_longer_notify(core, peer):
    await register_app(core)
    assert (await core.delete("cse-in/id-mn", fr="/id-mn")).rsc == 2002
    assert (await core.request(5, "CEnergyApp", "/id-mn", pc=SGN)).rsc == 4103
    assert peer.sent == []
