"""ACME, stock settings, as MN-CSE (/id-mn) registered with our IN-CSE (/id-in).

Started once for the module.  On ACME: the AE Cdev with a container `data` that an ACP lets
our AE Capp use.  On ours: Capp with a container `readings` that an ACP lets Cdev use.  Both
AEs take notifications at json-only receivers."""
from __future__ import annotations

import pytest

from .peers import Acme, OurCse, Receiver, call, eventually, free_port

ACME_MN = "/id-mn"
PEER = "/~/id-mn/cse-mn"            # ACME's CSEBase, SP-relative, as our side addresses it


def ok(answer, rsc):
    assert answer.rsc == rsc, answer
    return answer.pc


@pytest.fixture(scope="module")
def setup(acme_available, workdir):
    work = workdir
    ours = OurCse(work / "ours", "--cse-id", "/id-in", "--rn", "cse-in", "--type", "IN").wait_ready()
    acme = None
    receivers: list[Receiver] = []
    try:
        acme = Acme(work / "acme", cse_type="MN", cse_id=ACME_MN, rn="cse-mn", port=free_port(),
                    registrar=(ours.port, "/id-in", "cse-in")).start()
        # Registered both ways: its record here, and its record of us there.
        eventually(lambda: call(ours.url, "GET", "/cse-in/id-mn", "CAdmin").rsc == 2000,
                   "ACME's remoteCSE at our IN")
        eventually(lambda: call(acme.url, "GET", "/cse-mn/id-in", "CAdmin").rsc == 2000,
                   "ACME's record of our IN")
        app_inbox, dev_inbox = Receiver(), Receiver()
        receivers += [app_inbox, dev_inbox]
        # Our AE (release 3 only) and its container, open to Cdev.
        ok(call(ours.url, "POST", "/cse-in", "Capp", ty=2, body={"m2m:ae": {
            "rn": "app", "api": "Napp", "rr": True, "poa": [app_inbox.url], "srv": ["3"]}}), 2001)
        ok(call(ours.url, "POST", "/cse-in/app", "Capp", ty=1, body={"m2m:acp": {
            "rn": "share", "pv": {"acr": [{"acor": ["Capp", "/id-mn/Cdev"], "acop": 63}]},
            "pvs": {"acr": [{"acor": ["Capp"], "acop": 63}]}}}), 2001)
        ok(call(ours.url, "POST", "/cse-in/app", "Capp", ty=3, body={"m2m:cnt": {
            "rn": "readings", "acpi": ["cse-in/app/share"]}}), 2001)
        # ACME's AE (release 4) and its container, open to Capp.
        ok(call(acme.url, "POST", "/cse-mn", "Cdev", ty=2, rvi="4", body={"m2m:ae": {
            "rn": "dev", "api": "Ndev", "rr": True, "poa": [dev_inbox.url], "srv": ["4"]}}), 2001)
        acp = ok(call(acme.url, "POST", "/cse-mn/dev", "Cdev", ty=1, rvi="4", body={"m2m:acp": {
            "rn": "share", "pv": {"acr": [{"acor": ["Cdev", "/id-in/Capp"], "acop": 63}]},
            "pvs": {"acr": [{"acor": ["Cdev"], "acop": 63}]}}}), 2001)["m2m:acp"]
        ok(call(acme.url, "POST", "/cse-mn/dev", "Cdev", ty=3, rvi="4", body={"m2m:cnt": {
            "rn": "data", "acpi": [acp["ri"]]}}), 2001)
        # ACME checks the notify privilege on the AE: our IN (the notifying CSE) gets it.
        inbox = ok(call(acme.url, "POST", "/cse-mn/dev", "Cdev", ty=1, rvi="4", body={"m2m:acp": {
            "rn": "inbox", "pv": {"acr": [{"acor": ["Cdev"], "acop": 63}, {"acor": ["/id-in"], "acop": 16}]},
            "pvs": {"acr": [{"acor": ["Cdev"], "acop": 63}]}}}), 2001)["m2m:acp"]
        ok(call(acme.url, "PUT", "/cse-mn/dev", "Cdev", rvi="4", body={"m2m:ae": {"acpi": [inbox["ri"]]}}), 2004)
        yield ours, acme, app_inbox, dev_inbox
    finally:
        if acme is not None:
            acme.stop()
        ours.stop()
        for receiver in receivers:
            receiver.close()


def test_acme_registers_with_our_in_in_release_5_and_keeps_its_r5_attributes(setup):
    ours, acme, _, _ = setup
    record = ok(call(ours.url, "GET", "/cse-in/id-mn", "CAdmin"), 2000)["m2m:csr"]
    assert record["csi"] == ACME_MN and record["cb"] == "/id-mn/cse-mn" and record["cst"] == 2
    assert "5" in record["srv"] and record["poa"] == [acme.url]
    assert "application/vnd.onem2m-res+json" in record["csz"] and record["spi"].startswith("//")
    # What ACME recorded of us (it read our CSEBase): our R5 attributes.
    ours_there = ok(call(acme.url, "GET", "/cse-mn/id-in", "CAdmin"), 2000)["m2m:csr"]
    assert ours_there["csi"] == "/id-in" and ours_there["srv"] == ["2a", "3", "4", "5"]
    assert ours_there["ici"] == "/id-in" and ours_there["spi"] == "//onem2m.example.net"


def test_our_in_reads_and_writes_the_container_of_an_ae_on_acme(setup):
    ours, acme, _, _ = setup
    made = ok(call(ours.url, "POST", f"{PEER}/dev/data", "Capp", ty=4,
                   body={"m2m:cin": {"con": "21.5", "cnf": "text/plain:0"}}), 2001)["m2m:cin"]
    latest = ok(call(ours.url, "GET", f"{PEER}/dev/data/la", "Capp"), 2000)["m2m:cin"]
    assert (latest["ri"], latest["con"]) == (made["ri"], "21.5")
    # It is really on ACME: its AE reads it there, CSE-relative.
    assert ok(call(acme.url, "GET", "/cse-mn/dev/data/la", "Cdev", rvi="4"), 2000)["m2m:cin"]["con"] == "21.5"
    ok(call(ours.url, "PUT", f"{PEER}/dev/data", "Capp", body={"m2m:cnt": {"lbl": ["from-in"]}}), 2004)
    assert ok(call(acme.url, "GET", "/cse-mn/dev/data", "Cdev"), 2000)["m2m:cnt"]["lbl"] == ["from-in"]
    # Without the ACP's grant, ACME refuses (its access control, relayed unchanged).
    assert call(ours.url, "GET", f"{PEER}/dev/data", "CAdmin").rsc == 4103


def test_a_subscription_on_acme_notifies_our_ae_in_its_release(setup):
    ours, acme, app_inbox, _ = setup
    sub = ok(call(acme.url, "POST", "/cse-mn/dev/data", "Cdev", ty=23, rvi="4", body={"m2m:sub": {
        "rn": "to-app", "nu": ["/id-in/Capp"], "enc": {"net": [3]}}}), 2001)["m2m:sub"]
    ok(call(acme.url, "POST", "/cse-mn/dev/data", "Cdev", ty=4, rvi="4",
            body={"m2m:cin": {"con": "on-acme"}}), 2001)
    [notification] = eventually(lambda: app_inbox.notifications(), "ACME's notification at Capp")
    assert notification.sgn["nev"]["rep"]["m2m:cin"]["con"] == "on-acme"
    assert notification.sgn["sur"].endswith(sub["ri"])
    # Relayed by our IN in the release Capp registered with, as application/json.
    assert notification.headers["x-m2m-rvi"] == "3"
    assert notification.headers["content-type"].startswith("application/json")
    assert not app_inbox.refused


def test_a_subscription_on_our_in_notifies_an_ae_on_acme(setup):
    ours, acme, _, dev_inbox = setup
    ok(call(ours.url, "POST", "/cse-in/app/readings", "Capp", ty=23, body={"m2m:sub": {
        "rn": "to-dev", "nu": ["/id-mn/Cdev"], "enc": {"net": [3]}}}), 2001)
    ok(call(ours.url, "POST", "/cse-in/app/readings", "Capp", ty=4, body={"m2m:cin": {"con": "on-ours"}}), 2001)
    [notification] = eventually(lambda: dev_inbox.notifications("/id-in/" + _sub_ri(ours, "to-dev")),
                                "our notification at Cdev on ACME")
    assert notification.sgn["nev"]["rep"]["m2m:cin"]["con"] == "on-ours"
    assert not dev_inbox.refused


def test_a_json_only_receiver_gets_our_notifications(setup):
    ours, _, _, _ = setup
    inbox = Receiver(json_only=True)
    try:
        ok(call(ours.url, "POST", "/cse-in/app/readings", "Capp", ty=23, body={"m2m:sub": {
            "rn": "direct", "nu": [inbox.url], "enc": {"net": [3]}}}), 2001)
        ok(call(ours.url, "POST", "/cse-in/app/readings", "Capp", ty=4, body={"m2m:cin": {"con": "7"}}), 2001)
        [notification] = eventually(lambda: inbox.notifications(), "a notification at the json-only receiver")
        assert notification.sgn["nev"]["rep"]["m2m:cin"]["con"] == "7"
        assert inbox.received[0].sgn.get("vrq") is True          # the verification request got through too
        assert not inbox.refused
    finally:
        inbox.close()


def test_discovery_across_the_two_returns_addresses_that_work_where_they_are_read(setup):
    ours, acme, _, _ = setup
    # Cdev (on ACME) discovers on our IN through ACME: SP-relative addresses come back...
    found = ok(call(acme.url, "GET", "/~/id-in/cse-in", "Cdev", query="fu=1&ty=3"), 2000)["m2m:uril"]
    assert found == ["/id-in/cse-in/app/readings"]
    # ... that work from ACME.
    assert ok(call(acme.url, "GET", "/~" + found[0], "Cdev"), 2000)["m2m:cnt"]["rn"] == "readings"
    # Capp (on ours) discovers on ACME through our IN; what ACME returns works from here.
    there = ok(call(ours.url, "GET", PEER, "Capp", query="fu=1&ty=3"), 2000)["m2m:uril"]
    print("ACME MN's discovery answer to /id-in/Capp:", there)
    assert there, "ACME found nothing for Capp"
    for address in there:
        path = "/~" + address if address.startswith("/") else f"{PEER}/{address.partition('/')[2]}"
        assert call(ours.url, "GET", path, "Capp").rsc == 2000, (address, path)


def _sub_ri(ours, rn: str) -> str:
    return ok(call(ours.url, "GET", f"/cse-in/app/readings/{rn}", "Capp"), 2000)["m2m:sub"]["ri"]


def test_a_group_on_our_in_checks_and_reaches_a_member_on_acme_as_its_creator(setup):
    ours, acme, _, _ = setup
    members = ["/id-mn/cse-mn/dev/data", "cse-in/app/readings"]
    group = ok(call(ours.url, "POST", "/cse-in/app", "Capp", ty=9, body={"m2m:grp": {
        "rn": "both", "mt": 3, "mnm": 5, "mid": members}}), 2001)["m2m:grp"]
    assert (group["cnm"], group["mtv"], group["mid"]) == (2, True, members)   # ACME's member checked
    answers = ok(call(ours.url, "GET", "/cse-in/app/both/fopt", "Capp"), 2000)["m2m:agr"]["m2m:rsp"]
    assert sorted(answer["rsc"] for answer in answers) == [2000, 2000]
    assert {answer["pc"]["m2m:cnt"]["rn"] for answer in answers} == {"data", "readings"}
    # The member is checked with the creator's identity: ACME's ACP does not name CAdmin.
    refused = call(ours.url, "POST", "/cse-in", "CAdmin", ty=9, body={"m2m:grp": {
        "rn": "nope", "mt": 3, "mnm": 5, "mid": ["/id-mn/cse-mn/dev/data"]}})
    assert refused.rsc == 5105, refused


def test_a_group_on_acme_checks_a_member_on_our_in(setup):
    ours, acme, _, _ = setup
    made = ok(call(acme.url, "POST", "/cse-mn/dev", "Cdev", ty=9, rvi="4", body={"m2m:grp": {
        "rn": "mine", "mt": 3, "mnm": 5, "mid": ["/id-in/cse-in/app/readings"]}}), 2001)["m2m:grp"]
    # ACME checked the member on our IN (its type: mtv) as /id-mn/Cdev, whom our ACP names.
    assert made["cnm"] == 1 and made.get("mtv") is True
    # A member on ours that Cdev may not read (Capp's AE, default policy): refused, 5105 as we do.
    refused = call(acme.url, "POST", "/cse-mn/dev", "Cdev", ty=9, rvi="4", body={"m2m:grp": {
        "rn": "bad", "mt": 2, "mnm": 5, "mid": ["/id-in/cse-in/app"]}})
    assert refused.rsc == 5105, refused
    # (ACME's own fan-out through fopt to a member on another CSE answers 4103 from ACME's
    # access check, which cannot read our ACP: a difference of ACME, docs/conformance.md.)
