"""NOTIFY addressed to an AE registered here is passed on to the AE's poa."""
import pytest

from cse.primitives import Response
from tests.fakes import FakePeer

APP_POA = "http://app.test:7000"
SGN = {"m2m:sgn": {"sur": "/id-mn/sub1", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "1530"}}}}}


@pytest.fixture
async def peer(core):
    peer = FakePeer(lambda url, request: Response(rsc=2000))
    core.cse.outbound.register(("http",), peer)
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
