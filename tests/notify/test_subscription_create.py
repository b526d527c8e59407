"""Creating and updating subscriptions: bad inputs, access, verification of targets."""
from __future__ import annotations

import pytest

from tests.conftest import free_port

from .conftest import meter_with_container, subscribe

URL = "http://127.0.0.1:9/never-contacted"   # only used where validation fails first


@pytest.mark.parametrize("attributes, rsc, words", [
    ({}, 4000, ["mandatory", "'nu'"]),
    ({"nu": []}, 4000, ["'nu'", "minItems"]),
    ({"nu": "Cmeter"}, 4000, ["'nu'", "not of type array"]),
    ({"nu": [""]}, 4000, ["'nu'"]),
    ({"nu": ["ftp://127.0.0.1/x"]}, 4000, ["'nu'", "ftp"]),
    ({"nu": ["http://"]}, 4000, ["'nu'", "not a URL"]),
    ({"nu": ["http://127.0.0.1:9/n?ct=xml"]}, 4000, ["'nu'", "xml"]),
    ({"nu": ["Cmeter"], "enc": {"net": [9]}}, 4000, ["'enc'", "maximum"]),
    ({"nu": ["Cmeter"], "enc": {"net": []}}, 4000, ["'enc'"]),
    ({"nu": ["Cmeter"], "enc": {"net": [5]}}, 5001, ["notificationEventType 5", "not supported"]),
    ({"nu": ["Cmeter"], "enc": {"net": [6]}}, 5001, ["notificationEventType 6", "trigger"]),
    ({"nu": ["Cmeter"], "enc": {"net": [8]}}, 4000, ["notificationEventType 8", "missing data", "timeSeries"]),
    ({"nu": ["Cmeter"], "enc": {"net": [7, 1]}}, 4000, ["net 7", "only notificationEventType"]),
    ({"nu": ["Cmeter", "Cother"], "enc": {"net": [7]}}, 4000, ["exactly one notification target"]),
    ({"nu": ["Cmeter"], "enc": {"net": [7]}, "nct": 1}, 4000, ["net 7", "nct 2"]),
    ({"nu": ["Cmeter"], "enc": {"net": [7]}, "exc": 2}, 4000, ["blocking", "cannot have exc"]),
    ({"nu": ["Cmeter"], "enc": {"net": [7]}, "bn": {"num": 2}}, 4000, ["blocking", "cannot have bn"]),
    ({"nu": ["Cmeter"], "enc": {"net": [7], "chty": [4]}}, 4000, ["only net and atr", "chty"]),
    ({"nu": ["Cmeter"], "enc": {"bogus": 1}}, 4000, ["'enc'", "bogus"]),
    ({"nu": ["Cmeter"], "enc": {"net": [3], "chty": [2]}}, 4000, ["chty 2", "child of a container"]),
    ({"nu": ["Cmeter"], "enc": {"net": [3], "chty": [9999]}}, 4000, ["chty 9999"]),
    ({"nu": ["Cmeter"], "enc": {"atr": ["nosuch"]}}, 4000, ["atr 'nosuch'", "container"]),
    ({"nu": ["Cmeter"], "enc": {"md": {"num": 1}}}, 4000, ["md", "notificationEventType 8"]),
    ({"nu": ["Cmeter"], "enc": {"om": []}}, 4000, ["operationMonitor", "at least one"]),
    ({"nu": ["Cmeter"], "enc": {"om": [{"ops": 1}], "net": [1]}}, 4000, ["om", "net", "together"]),
    ({"nu": ["Cmeter"], "enc": {"om": [{}]}}, 4000, ["om entry", "ops and/or org"]),
    ({"nu": ["Cmeter"], "enc": {"om": [{"ops": 2}]}}, 5001, ["om ops 2", "CREATE (1), UPDATE (3)"]),
    ({"nu": ["Cmeter"], "enc": {"om": [{"ops": 9}]}}, 4000, ["om ops 9"]),
    ({"nu": ["Cmeter"], "enc": {"om": [{"org": ""}]}}, 4000, ["om org"]),
    ({"nu": ["Cmeter"], "enc": {"om": [{"ops": 1, "who": "x"}]}}, 4000, ["om entry"]),
    ({"nu": ["Cmeter"], "eeno": "yes"}, 4000, ["'eeno'", "boolean"]),
    ({"nu": ["Cmeter"], "enc": {"cra": "yesterday"}}, 4000, ["'enc'", "invalid format"]),
    ({"nu": ["Cmeter"], "enc": {"sza": -1}}, 4000, ["'enc'", "minimum"]),
    ({"nu": ["Cmeter"], "enc": {"fo": 3}}, 4000, ["'enc'", "not one of"]),
    ({"nu": ["Cmeter"], "nct": 0}, 4000, ["'nct'", "minimum"]),
    ({"nu": ["Cmeter"], "nct": 4}, 5001, ["'nct'", "trigger payload"]),
    ({"nu": ["Cmeter"], "nct": 2, "enc": {"net": [1, 3]}}, 4000, ["'nct'", "only to net 1"]),
    ({"nu": ["Cmeter"], "exc": 0}, 4000, ["'exc'", "minimum"]),
    ({"nu": ["Cmeter"], "exc": "3"}, 4000, ["'exc'", "integer"]),
    ({"nu": ["Cmeter"], "bn": {}}, 4000, ["'bn'"]),
    ({"nu": ["Cmeter"], "bn": {"num": 0}}, 4000, ["'bn'", "minimum"]),
    ({"nu": ["Cmeter"], "bn": {"num": 2, "dur": "soon"}}, 4000, ["bn", "dur", "not a duration"]),
    ({"nu": ["Cmeter"], "bn": {"num": 2, "dur": "PT0S"}}, 4000, ["bn", "longer than zero"]),
    ({"nu": ["Cmeter"], "bn": {"num": 2, "size": 3}}, 4000, ["'bn'", "size"]),
    ({"nu": ["Cmeter"], "ln": "yes"}, 4000, ["'ln'", "boolean"]),
    ({"nu": ["Cmeter"], "pn": 3}, 4000, ["'pn'", "not one of"]),
    ({"nu": ["Cmeter"], "nec": 50}, 4000, ["'nec'", "event category"]),
    ({"nu": ["Cmeter"], "su": "ftp://x/y"}, 4000, ["'su'", "ftp"]),
    ({"nu": ["Cmeter"], "nsi": []}, 4000, ["'nsi'", "set by the CSE"]),
    ({"nu": ["Cmeter"], "rl": {"mnn": 1}}, 5001, ["'rl'", "not supported"]),
    ({"nu": ["Cmeter"], "nfu": "x"}, 5001, ["'nfu'", "not supported"]),
    ({"nu": ["Cmeter"], "cr": "Cother"}, 4000, ["'cr'", "null"]),
])
async def test_bad_subscription_is_refused(ncore, attributes, rsc, words):
    container = await meter_with_container(ncore)
    response = await ncore.create(container, 23, {"m2m:sub": attributes}, fr="Cmeter")
    assert response.rsc == rsc, response.pc
    message = response.pc["m2m:dbg"]
    for word in words:
        assert word in message, message


async def test_a_content_instance_cannot_be_subscribed_to(ncore):
    container = await meter_with_container(ncore)
    cin = (await ncore.create(container, 4, {"m2m:cin": {"con": "1"}}, fr="Cmeter")).pc["m2m:cin"]
    response = await subscribe(ncore, f"{container}/{cin['rn']}", "Cmeter")
    assert response.rsc == 5203 and "contentInstance" in response.pc["m2m:dbg"]


async def test_subscribing_needs_retrieve_rights_on_the_resource(ncore):
    container = await meter_with_container(ncore)
    await ncore.register_ae("Cstranger", rn="stranger")
    response = await subscribe(ncore, container, "Cstranger", fr="Cstranger")
    assert response.rsc == 4103


async def test_subscriptions_under_cse_base_and_ae_notify_registrations_and_children(ncore, receiver):
    assert (await subscribe(ncore, "cse-in", receiver.url("/cse"), fr="CAdmin", enc={"net": [3]})).rsc == 2001
    await ncore.register_ae("Cmeter", rn="meter")
    assert (await subscribe(ncore, "cse-in/meter", receiver.url("/ae"), enc={"net": [3]})).rsc == 2001
    await ncore.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    await receiver.wait_until(lambda got: {r.path for r in got if not r.is_verification} == {"/cse", "/ae"})
    by_path = {r.path: r for r in receiver.notifications}
    assert by_path["/cse"].sgn["nev"]["rep"]["m2m:ae"]["aei"] == "Cmeter"
    assert by_path["/ae"].sgn["nev"]["rep"]["m2m:cnt"]["rn"] == "power"


@pytest.mark.parametrize("verification_rsc", [4101, 5205, 4004])
async def test_a_target_that_refuses_verification_fails_the_creation(ncore, receivers, verification_rsc):
    container = await meter_with_container(ncore)
    refusing = await receivers(verification_rsc=verification_rsc)
    response = await subscribe(ncore, container, refusing.url(), rn="watch")
    assert response.rsc == 5204
    assert refusing.url() in response.pc["m2m:dbg"] and str(verification_rsc) in response.pc["m2m:dbg"]
    assert (await ncore.retrieve(f"{container}/watch", fr="Cmeter")).rsc == 4004


async def test_an_unreachable_target_fails_the_creation_and_names_it(ncore, receiver):
    container = await meter_with_container(ncore)
    dead = f"http://127.0.0.1:{free_port()}/gone"
    response = await subscribe(ncore, container, [receiver.url(), dead], rn="watch")
    assert response.rsc == 5204
    assert dead in response.pc["m2m:dbg"] and "could not be reached" in response.pc["m2m:dbg"]
    assert receiver.url() not in response.pc["m2m:dbg"]
    assert (await ncore.retrieve(f"{container}/watch", fr="Cmeter")).rsc == 4004


async def test_an_unknown_entity_as_target_fails_the_creation(ncore):
    container = await meter_with_container(ncore)
    response = await subscribe(ncore, container, "Cnobody")
    assert response.rsc == 5204
    assert "Cnobody" in response.pc["m2m:dbg"] and "not an entity" in response.pc["m2m:dbg"]


async def test_an_ae_without_poa_as_target_fails_the_creation(ncore):
    container = await meter_with_container(ncore)
    await ncore.register_ae("Cdisplay", rn="display", rr=True)   # (rr=false: tests/polling)
    response = await subscribe(ncore, container, "Cdisplay")
    assert response.rsc == 5204 and "no point of access" in response.pc["m2m:dbg"]


@pytest.mark.parametrize("originator_form", ["Cmeter", "/id-in/Cmeter", "//onem2m.example.net/id-in/Cmeter",
                                            # structured addresses of its own <AE> resource
                                            "cse-in/meter", "/id-in/cse-in/meter",
                                            "//onem2m.example.net/id-in/cse-in/meter"])
async def test_the_originator_as_target_is_not_verified(ncore, originator_form):
    container = await meter_with_container(ncore)
    response = await subscribe(ncore, container, originator_form)   # Cmeter has no poa at all
    assert response.rsc == 2001, response.pc


async def test_the_structured_address_of_another_ae_is_verified(ncore):
    container = await meter_with_container(ncore)
    await ncore.register_ae("Cdisplay", rn="display", rr=True)     # no poa: verification fails
    response = await subscribe(ncore, container, "cse-in/display")
    assert response.rsc == 5204 and "'cse-in/display'" in response.pc["m2m:dbg"]


async def test_update_verifies_only_new_targets_and_validates_the_result(ncore, receiver, receivers):
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, receiver.url())).pc["m2m:sub"]
    other = await receivers()
    response = await ncore.update(sub["ri"], {"m2m:sub": {"nu": [receiver.url(), other.url()]}}, fr="Cmeter")
    assert response.rsc == 2004, response.pc
    assert len(receiver.verifications) == 1 and len(other.verifications) == 1
    refusing = await receivers(verification_rsc=4101)
    response = await ncore.update(sub["ri"], {"m2m:sub": {"nu": [refusing.url()]}}, fr="Cmeter")
    assert response.rsc == 5204 and refusing.url() in response.pc["m2m:dbg"]
    response = await ncore.update(sub["ri"], {"m2m:sub": {"nct": 2, "enc": {"net": [3]}}}, fr="Cmeter")
    assert response.rsc == 4000 and "only to net 1" in response.pc["m2m:dbg"]
    for name, value, rsc in (("su", "Cmeter", 4000), ("nu", None, 4000), ("nsi", [], 4000)):
        response = await ncore.update(sub["ri"], {"m2m:sub": {name: value}}, fr="Cmeter")
        assert response.rsc == rsc and f"'{name}'" in response.pc["m2m:dbg"], (name, response.pc)
    kept = (await ncore.retrieve(sub["ri"], fr="Cmeter")).pc["m2m:sub"]
    assert kept["nu"] == [receiver.url(), other.url()] and kept["nct"] == 1


async def test_update_of_enc_changes_what_is_notified(ncore, receiver):
    container = await meter_with_container(ncore)
    sub = (await subscribe(ncore, container, receiver.url(), enc={"net": [1]})).pc["m2m:sub"]
    await ncore.create(container, 4, {"m2m:cin": {"con": "ignored"}}, fr="Cmeter")
    response = await ncore.update(sub["ri"], {"m2m:sub": {"enc": {"net": [3]}}}, fr="Cmeter")
    assert response.rsc == 2004 and response.pc["m2m:sub"]["enc"] == {"net": [3]}
    await ncore.create(container, 4, {"m2m:cin": {"con": "seen"}}, fr="Cmeter")
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["rep"]["m2m:cin"]["con"] == "seen"
