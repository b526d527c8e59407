"""Requests for another CSE: routing, rewriting, expiry, loops, unreachable hops (reference 11.2).

The next hop is a FakePeer registered as the http sender, so each test sees exactly what
would go on the wire, without sockets."""
import pytest

from cse.clock import parse_timestamp
from cse.primitives import Response
from server.compose import build_cse
from tests.conftest import CoreClient, make_config
from tests.fakes import FakePeer, never

MN_POA = "http://mn.test:8001"


@pytest.fixture
async def peer(core):
    peer = FakePeer()
    core.cse.outbound.register(("http", "https"), peer)
    return peer


async def register_mn(core, cse_id="/id-mn", **attributes):
    body = {"cb": f"{cse_id}/cse-mn", "rr": True, "srv": ["3"], "poa": [MN_POA], **attributes}
    response = await core.create("cse-in", 16, {"m2m:csr": body}, fr=cse_id)
    assert response.rsc == 2001, response.pc


async def test_request_for_a_registered_cse_goes_to_its_poa_rewritten(core, peer, clock):
    await register_mn(core)
    peer.answer = lambda url, request: Response(rsc=2000, pc={"m2m:cnt": {"rn": "box"}})
    response = await core.retrieve("/id-mn/cse-mn/box", fr="CApp", rqi="keep-me", rqet="60000", rcn=1)
    assert response.rsc == 2000
    assert response.pc == {"m2m:cnt": {"rn": "box"}}
    assert response.rqi == "keep-me"
    (sent,) = peer.sent
    assert sent.url == MN_POA
    forwarded = sent.request
    assert forwarded.to == "/id-mn/cse-mn/box"
    assert forwarded.fr == "/id-in/CApp"              # CSE-relative originator made SP-relative
    assert forwarded.rqi == "keep-me"
    assert forwarded.rcn == 1
    # A relative rqet would restart at every hop: it travels as the absolute instant.
    assert abs(parse_timestamp(forwarded.rqet) - (clock.now() + 60)) < 0.01
    assert sent.timeout == pytest.approx(60, abs=0.01)


async def test_sp_relative_originator_and_absolute_target_are_kept(core, peer):
    await register_mn(core)
    response = await core.retrieve("//onem2m.example.net/id-mn/cse-mn", fr="/id-far/Cx")
    assert response.rsc == 2000
    assert peer.sent[0].request.fr == "/id-far/Cx"
    assert peer.sent[0].request.to == "//onem2m.example.net/id-mn/cse-mn"


async def test_created_location_becomes_sp_relative(core, peer):
    await register_mn(core)
    peer.answer = lambda url, request: Response(rsc=2001, pc={"m2m:cnt": {}}, content_location="cse-mn/box")
    response = await core.create("/id-mn/cse-mn", 3, {"m2m:cnt": {"rn": "box"}}, fr="CApp")
    assert response.rsc == 2001
    assert response.content_location == "/id-mn/cse-mn/box"
    assert peer.sent[0].request.pc == {"m2m:cnt": {"rn": "box"}}
    assert peer.sent[0].request.ty == 3


async def test_descendant_cse_is_reached_through_the_cse_listing_it(core, peer):
    await register_mn(core, dcse=["/id-asn"])
    assert (await core.retrieve("/id-asn/cse-asn/x", fr="CApp")).rsc == 2000
    assert peer.sent[0].url == MN_POA
    assert peer.sent[0].request.to == "/id-asn/cse-asn/x"
    # The route goes with the dcse entry.
    assert (await core.update("cse-in/id-mn", {"m2m:csr": {"dcse": []}}, fr="/id-mn")).rsc == 2004
    gone = await core.retrieve("/id-asn/cse-asn/x", fr="CApp")
    assert gone.rsc == 4004
    assert len(peer.sent) == 1


async def test_next_poa_is_tried_when_nothing_was_delivered(core, peer):
    await register_mn(core, poa=["mqtt://broker.test:1883", "http://down.test:1", MN_POA])
    peer.answer = lambda url, request: ConnectionRefusedError("refused") if "down" in url else Response(rsc=2000)
    response = await core.retrieve("/id-mn/cse-mn", fr="CApp")
    assert response.rsc == 2000
    assert [s.url for s in peer.sent] == ["http://down.test:1", MN_POA]


async def test_unreachable_cse_is_5103_naming_it(core, peer):
    await register_mn(core)
    peer.answer = lambda url, request: ConnectionRefusedError("connection refused")
    response = await core.retrieve("/id-mn/cse-mn", fr="CApp")
    assert response.rsc == 5103
    assert "/id-mn" in response.pc["m2m:dbg"]
    assert MN_POA in response.pc["m2m:dbg"]


async def test_no_answer_is_5103_and_not_sent_twice(core, peer):
    await register_mn(core, poa=[MN_POA, "http://second.test:2"])
    core.cse.outbound.default_timeout = 0.05
    peer.answer = never
    response = await core.create("/id-mn/cse-mn", 3, {"m2m:cnt": {}}, fr="CApp")
    assert response.rsc == 5103
    assert "did not answer in time" in response.pc["m2m:dbg"]
    # The CREATE may have been executed: it is not repeated on the second poa.
    assert len(peer.sent) == 1


async def test_request_expiring_while_the_next_hop_works_is_4008(core, peer):
    await register_mn(core)
    peer.answer = never
    response = await core.retrieve("/id-mn/cse-mn", fr="CApp", rqet="50")
    assert response.rsc == 4008
    assert "expired" in response.pc["m2m:dbg"]


async def test_request_already_expired_is_not_forwarded(core, peer):
    await register_mn(core)
    response = await core.retrieve("/id-mn/cse-mn", fr="CApp", rqet="20200101T000000")
    assert response.rsc == 4008
    assert peer.sent == []


async def test_forwarding_loop_is_detected_and_ends(core, peer):
    """The next hop (misconfigured) sends the request straight back to this CSE."""
    await register_mn(core)
    peer.answer = lambda url, request: core.cse.dispatcher.handle(request)
    response = await core.retrieve("/id-mn/cse-mn", fr="CApp", rqi="circle")
    assert response.rsc == 5103
    assert "forwarding loop" in response.pc["m2m:dbg"]
    assert "circle" in response.pc["m2m:dbg"]
    assert len(peer.sent) == 1
    # Nothing is left "in flight": the same request later is forwarded normally.
    peer.answer = lambda url, request: Response(rsc=2000)
    assert (await core.retrieve("/id-mn/cse-mn", fr="CApp", rqi="circle")).rsc == 2000


@pytest.mark.parametrize("op, to, fields, rsc, words", [
    (2, "/id-nowhere/cse/x", {}, 4004, "/id-nowhere is not registered"),
    (2, "//other.sp/id-mn/cse-mn", {}, 4004, "another M2M service provider"),
    (2, "//other.sp", {}, 4000, "no CSE-ID"),
    (2, "//other.sp/", {}, 4000, "no CSE-ID"),
    (1, "/id-mn/cse-mn", {"ty": 2, "pc": {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"]}}}, 4000,
     "registrar itself"),
    (1, "/id-mn/cse-mn", {"ty": 16, "pc": {"m2m:csr": {}}}, 4000, "registrar itself"),
])
async def test_requests_that_are_not_forwarded(core, peer, op, to, fields, rsc, words):
    await register_mn(core)
    response = await core.request(op, to, "CApp", **fields)
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]
    assert peer.sent == []


@pytest.mark.parametrize("attributes, words", [
    ({"rr": False}, "rr=false"),
    ({"poa": []}, "no point of access"),
])
async def test_cse_that_cannot_be_reached_by_its_record(core, peer, attributes, words):
    await register_mn(core, **attributes)
    response = await core.retrieve("/id-mn/cse-mn", fr="CApp")
    assert response.rsc == 5103
    assert words in response.pc["m2m:dbg"]


async def test_expired_registration_is_no_route(core, peer, clock):
    from cse.clock import format_timestamp
    await register_mn(core, et=format_timestamp(clock.now() + 10))
    clock.advance(11)
    response = await core.retrieve("/id-mn/cse-mn", fr="CApp")
    assert response.rsc == 4004
    assert peer.sent == []


# -- on an MN-CSE with a registrar ---------------------------------------------------------
REGISTRAR = "http://in.test:8000"


@pytest.fixture
async def mn(clock):
    config = make_config(**{"cse.cse_id": "/id-mn", "cse.rn": "cse-mn", "cse.type": "MN",
                            "registrar.url": REGISTRAR, "registrar.cse_id": "/id-in"})
    cse = build_cse(config, clock=clock)
    cse.federation.registration = None      # routing only; registration has its own tests
    peer = FakePeer()
    cse.outbound.register(("http",), peer)
    await cse.start()
    try:
        yield CoreClient(cse), peer
    finally:
        await cse.stop()


async def test_mn_sends_requests_from_its_aes_up_to_the_registrar(mn):
    client, peer = mn
    assert (await client.retrieve("/id-other/cse-o/x", fr="Cmeter")).rsc == 2000
    assert peer.sent[0].url == REGISTRAR
    assert peer.sent[0].request.fr == "/id-mn/Cmeter"


async def test_mn_uses_the_poa_of_its_registrar_record(mn):
    client, peer = mn
    record = {"cb": "/id-in/cse-in", "csi": "/id-in", "rr": True, "srv": ["3"], "poa": ["http://in.test:9999"]}
    assert (await client.create("cse-mn", 16, {"m2m:csr": record}, fr="/id-mn")).rsc == 2001
    assert (await client.retrieve("/id-in/cse-in", fr="Cmeter")).rsc == 2000
    assert (await client.retrieve("/id-far/cse", fr="Cmeter")).rsc == 2000
    assert [s.url for s in peer.sent] == ["http://in.test:9999"] * 2


async def test_mn_sends_requests_of_its_registrees_up(mn):
    client, peer = mn
    body = {"cb": "/id-asn/cse-asn", "rr": True, "srv": ["3"], "poa": ["http://asn.test:1"], "dcse": ["/id-deep"]}
    assert (await client.create("cse-mn", 16, {"m2m:csr": body}, fr="/id-asn")).rsc == 2001
    for originator in ("/id-asn", "/id-asn/Cx", "/id-deep/Cy"):
        assert (await client.retrieve("/id-other/cse", fr=originator)).rsc == 2000
    assert [s.url for s in peer.sent] == [REGISTRAR] * 3


async def test_mn_sends_requests_of_its_s_type_aes_up(mn):
    client, peer = mn
    assert (await client.create("cse-mn", 2, {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"]}},
                                fr="Smeter")).rsc == 2001
    assert (await client.retrieve("/id-other/cse", fr="/Smeter")).rsc == 2000
    assert peer.sent[0].url == REGISTRAR


@pytest.mark.parametrize("originator", ["/id-in/CApp", "/id-elsewhere/Cx", "//other.sp/id-mn/Cx", "/Sunknown"])
async def test_mn_does_not_send_requests_from_above_back_up(mn, originator):
    client, peer = mn
    response = await client.retrieve("/id-other/cse", fr=originator)
    assert response.rsc == 4004
    assert "not sent back up" in response.pc["m2m:dbg"] or "another M2M" in response.pc["m2m:dbg"]
    assert peer.sent == []


async def test_mn_sends_other_sp_domains_up_for_its_own_aes(mn):
    client, peer = mn
    assert (await client.retrieve("//other.sp/id-x/cse", fr="Cmeter")).rsc == 2000
    assert peer.sent[0].url == REGISTRAR


async def test_over_mqtt_the_hop_is_addressed_by_topic(core, peer):
    """TS-0010: the topic names the next CSE (not the resource `to` names)."""
    core.cse.outbound.register(("mqtt", "mqtts"), peer)
    await register_mn(core, poa=["mqtt://broker.test:1883", "mqtts://broker.test:8883/",
                                 "mqtt://broker.test:1883/oneM2M/req/id-in/id-mn/cbor"])
    peer.answer = lambda url, request: ConnectionRefusedError("down")
    await core.retrieve("/id-mn/cse-mn/meter", fr="CApp")
    assert [s.url for s in peer.sent] == ["mqtt://broker.test:1883/oneM2M/req/id-in/id-mn/json",
                                          "mqtts://broker.test:8883/oneM2M/req/id-in/id-mn/json",
                                          "mqtt://broker.test:1883/oneM2M/req/id-in/id-mn/cbor"]
    assert peer.sent[0].request.to == "/id-mn/cse-mn/meter"


@pytest.mark.parametrize("neighbour, originator, allowed", [
    ("/id-in", "/id-in/CApp", True),                # the registrar relays for anyone else
    ("/id-in", "/id-far/Cx", True),
    ("/id-in", "//other.sp/id-x/Cx", True),
    ("/id-in", "/id-mn/CAdmin", False),             # ... but never for our own entities
    ("/id-in", "//{sp}/id-mn/CAdmin", False),
    ("/id-in", "/id-mn", False),
    ("/id-in", "/Smeter", False),                   # an S-AE registered here
    ("/id-asn", "/id-asn", True),                   # a registree: itself, its AEs, its descendants
    ("/id-asn", "/id-asn/Cx", True),
    ("/id-asn", "/id-deep/Cy", True),
    ("/id-asn", "/Sunknown", True),                 # unknown to us (an S-AE below it, maybe)
    ("/id-asn", "/id-in/CAdmin", False),            # known to be elsewhere
    ("/id-asn", "/id-asn2/Cz", False),
    ("/id-asn", "//other.sp/id-x/Cx", False),
    ("/id-asn", "/id-mn/CAdmin", False),
    ("/id-asn", "Cx", False),
    ("/id-stranger", "/id-stranger/Cx", False),     # not a neighbour at all
])
async def test_who_may_relay_for_whom(mn, neighbour, originator, allowed):
    client, _ = mn
    registrar = {"cb": "/id-in/cse-in", "csi": "/id-in", "rr": True, "srv": ["3"], "poa": [REGISTRAR]}
    assert (await client.create("cse-mn", 16, {"m2m:csr": registrar}, fr="/id-mn")).rsc == 2001
    for cse_id, dcse in (("/id-asn", ["/id-deep"]), ("/id-asn2", [])):
        body = {"cb": f"{cse_id}/cse", "rr": True, "srv": ["3"], "poa": ["http://asn.test:1"], "dcse": dcse}
        assert (await client.create("cse-mn", 16, {"m2m:csr": body}, fr=cse_id)).rsc == 2001
    assert (await client.create("cse-mn", 2, {"m2m:ae": {"api": "Nx", "rr": False, "srv": ["3"]}},
                                fr="Smeter")).rsc == 2001
    routes = client.cse.federation.routes
    sp = client.cse.config.cse.sp_id.lstrip("/")
    assert routes.may_relay(neighbour, originator.format(sp=sp)) is allowed
