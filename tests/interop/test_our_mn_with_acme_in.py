"""Our MN-CSE (/id-mn) registered with ACME, stock settings, as IN-CSE (/id-in).

Started once for the module.  On ours: the AE Cmeter with a container `power` that an ACP
lets ACME's AE Cenergy use.  On ACME: Cenergy with a container `plan` open to Cmeter.
Both AEs take notifications at json-only receivers."""
from __future__ import annotations

import pytest

from .peers import Acme, OurCse, Receiver, call, eventually, free_port

PEER = "/~/id-in/cse-in"            # ACME's CSEBase, SP-relative, as our side addresses it


def ok(answer, rsc):
    assert answer.rsc == rsc, answer
    return answer.pc


@pytest.fixture(scope="module")
def setup(acme_available, workdir):
    work = workdir
    # ACME admits the CSE-IDs in allowedCSROriginators (its stock list is empty: none).
    acme = Acme(work / "acme", cse_type="IN", cse_id="/id-in", rn="cse-in", port=free_port(),
                allowed_csr=["/id-mn"]).start()
    ours = None
    receivers: list[Receiver] = []
    try:
        ours = OurCse(work / "ours", "--cse-id", "/id-mn", "--rn", "cse-mn", "--type", "MN",
                      "--registrar-url", acme.url, "--registrar-id", "/id-in", "--registrar-rn", "cse-in",
                      "--registrar-keepalive", "2").wait_ready()
        eventually(lambda: call(acme.url, "GET", "/cse-in/id-mn", "CAdmin").rsc == 2000,
                   "our MN's remoteCSE at ACME")
        eventually(lambda: call(ours.url, "GET", "/cse-mn/id-in", "CAdmin").rsc == 2000,
                   "our MN's record of ACME")
        meter_inbox, energy_inbox = Receiver(), Receiver()
        receivers += [meter_inbox, energy_inbox]
        ok(call(ours.url, "POST", "/cse-mn", "Cmeter", ty=2, body={"m2m:ae": {
            "rn": "meter", "api": "Nmeter", "rr": True, "poa": [meter_inbox.url], "srv": ["3"]}}), 2001)
        ok(call(ours.url, "POST", "/cse-mn/meter", "Cmeter", ty=1, body={"m2m:acp": {
            "rn": "share", "pv": {"acr": [{"acor": ["Cmeter", "/id-in/Cenergy"], "acop": 63}]},
            "pvs": {"acr": [{"acor": ["Cmeter"], "acop": 63}]}}}), 2001)
        ok(call(ours.url, "POST", "/cse-mn/meter", "Cmeter", ty=3, body={"m2m:cnt": {
            "rn": "power", "acpi": ["cse-mn/meter/share"]}}), 2001)
        ok(call(acme.url, "POST", "/cse-in", "Cenergy", ty=2, rvi="5", body={"m2m:ae": {
            "rn": "energy", "api": "Nenergy", "rr": True, "poa": [energy_inbox.url], "srv": ["5"]}}), 2001)
        acp = ok(call(acme.url, "POST", "/cse-in/energy", "Cenergy", ty=1, rvi="5", body={"m2m:acp": {
            "rn": "share", "pv": {"acr": [{"acor": ["Cenergy", "/id-mn/Cmeter"], "acop": 63},
                                          {"acor": ["/id-mn"], "acop": 16}]},
            "pvs": {"acr": [{"acor": ["Cenergy"], "acop": 63}]}}}), 2001)["m2m:acp"]
        ok(call(acme.url, "POST", "/cse-in/energy", "Cenergy", ty=3, rvi="5", body={"m2m:cnt": {
            "rn": "plan", "acpi": [acp["ri"]]}}), 2001)
        # ACME checks the notify privilege on the AE: our MN (the notifying CSE) gets it.
        ok(call(acme.url, "PUT", "/cse-in/energy", "Cenergy", rvi="5", body={"m2m:ae": {"acpi": [acp["ri"]]}}), 2004)
        yield ours, acme, meter_inbox, energy_inbox
    finally:
        if ours is not None:
            ours.stop()
        acme.stop()
        for receiver in receivers:
            receiver.close()


def test_our_mn_registers_with_acme_and_records_it(setup):
    ours, acme, _, _ = setup
    record = ok(call(acme.url, "GET", "/cse-in/id-mn", "CAdmin"), 2000)["m2m:csr"]
    assert record["csi"] == "/id-mn" and record["cb"] == "/id-mn/cse-mn" and record["cst"] == 2
    assert record["srv"] == ["2a", "3", "4", "5"] and record["poa"] == [ours.url]
    registrar = ok(call(ours.url, "GET", "/cse-mn/id-in", "CAdmin"), 2000)["m2m:csr"]
    assert registrar["csi"] == "/id-in" and "5" in registrar["srv"]
    assert registrar["spi"] == "//acme.example.com" and registrar["ici"] == "/id-in"   # ACME's R5 attributes, kept


def test_acme_in_reads_and_writes_the_container_of_an_ae_on_our_mn(setup):
    ours, acme, _, _ = setup
    path = "/~/id-mn/cse-mn/meter/power"
    made = ok(call(acme.url, "POST", path, "Cenergy", ty=4, rvi="5",
                   body={"m2m:cin": {"con": "1530", "cnf": "text/plain:0"}}), 2001)["m2m:cin"]
    latest = ok(call(acme.url, "GET", path + "/la", "Cenergy", rvi="5"), 2000)["m2m:cin"]
    assert (latest["ri"], latest["con"]) == (made["ri"], "1530")
    assert ok(call(ours.url, "GET", "/cse-mn/meter/power/la", "Cmeter"), 2000)["m2m:cin"]["con"] == "1530"
    ok(call(acme.url, "PUT", path, "Cenergy", rvi="5", body={"m2m:cnt": {"mni": 10}}), 2004)
    assert ok(call(ours.url, "GET", "/cse-mn/meter/power", "Cmeter"), 2000)["m2m:cnt"]["mni"] == 10
    # An originator the ACP does not name is refused by us, and ACME relays that.
    assert call(acme.url, "GET", path, "CAdmin").rsc == 4103


def test_our_mn_reads_and_writes_the_container_of_an_ae_on_acme(setup):
    ours, acme, _, _ = setup
    ok(call(ours.url, "POST", f"{PEER}/energy/plan", "Cmeter", ty=4, body={"m2m:cin": {"con": "shift"}}), 2001)
    assert ok(call(ours.url, "GET", f"{PEER}/energy/plan/la", "Cmeter"), 2000)["m2m:cin"]["con"] == "shift"


def test_a_subscription_on_acme_notifies_our_ae(setup):
    ours, acme, meter_inbox, _ = setup
    ok(call(acme.url, "POST", "/cse-in/energy/plan", "Cenergy", ty=23, rvi="5", body={"m2m:sub": {
        "rn": "to-meter", "nu": ["/id-mn/Cmeter"], "enc": {"net": [3]}}}), 2001)
    ok(call(acme.url, "POST", "/cse-in/energy/plan", "Cenergy", ty=4, rvi="5",
            body={"m2m:cin": {"con": "limit 3kW"}}), 2001)
    [notification] = eventually(lambda: meter_inbox.notifications(), "ACME's notification at Cmeter")
    assert notification.sgn["nev"]["rep"]["m2m:cin"]["con"] == "limit 3kW"
    assert notification.headers["x-m2m-rvi"] == "3"     # Cmeter's release, not ACME's 5
    assert not meter_inbox.refused


def test_a_subscription_on_our_mn_notifies_an_ae_on_acme(setup):
    ours, acme, _, energy_inbox = setup
    ok(call(ours.url, "POST", "/cse-mn/meter/power", "Cmeter", ty=23, body={"m2m:sub": {
        "rn": "to-energy", "nu": ["/id-in/Cenergy"], "enc": {"net": [3]}}}), 2001)
    ok(call(ours.url, "POST", "/cse-mn/meter/power", "Cmeter", ty=4, body={"m2m:cin": {"con": "1700"}}), 2001)
    found = eventually(lambda: [n for n in energy_inbox.notifications()
                                if n.sgn.get("nev", {}).get("rep", {}).get("m2m:cin", {}).get("con") == "1700"],
                       "our notification at Cenergy on ACME")
    assert found[0].sgn["sur"].startswith("/id-mn/")
    assert not energy_inbox.refused


def test_discovery_across_the_two_returns_addresses_that_work_where_they_are_read(setup):
    ours, acme, _, _ = setup
    # Cenergy (on ACME) discovers on our MN: SP-relative addresses that work from ACME.
    found = ok(call(acme.url, "GET", "/~/id-mn/cse-mn", "Cenergy", query="fu=1&ty=3"), 2000)["m2m:uril"]
    assert found == ["/id-mn/cse-mn/meter/power"]
    assert ok(call(acme.url, "GET", "/~" + found[0], "Cenergy"), 2000)["m2m:cnt"]["rn"] == "power"
    # Cmeter (on ours) discovers on ACME; what ACME returns works from here.
    there = ok(call(ours.url, "GET", PEER, "Cmeter", query="fu=1&ty=3"), 2000)["m2m:uril"]
    print("ACME IN's discovery answer to /id-mn/Cmeter:", there)
    assert there, "ACME found nothing for Cmeter"
    for address in there:
        path = "/~" + address if address.startswith("/") else f"{PEER}/{address.partition('/')[2]}"
        assert call(ours.url, "GET", path, "Cmeter").rsc == 2000, (address, path)


def test_an_unregistered_originator_on_the_cse_base_of_each(setup):
    ours, acme, _, _ = setup
    # Neither lets a stranger read its CSEBase (ACME: its provisioned ACP; ours: the default).
    assert call(acme.url, "GET", "/cse-in", "Cstranger").rsc == 4103
    assert call(ours.url, "GET", "/cse-mn", "Cstranger").rsc == 4103
    # Discovery: we refuse it by the same access rules; ACME answers an empty list
    # (a difference, docs/conformance.md).
    assert call(ours.url, "GET", "/cse-mn", "Cstranger", query="fu=1").rsc == 4103
    assert ok(call(acme.url, "GET", "/cse-in", "Cstranger", query="fu=1"), 2000) == {"m2m:uril": []}
