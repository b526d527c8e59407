"""flexContainers on a gateway (MN-CSE) used from the platform (IN-CSE): an application on
the IN creates, updates, discovers and subscribes to a device's modules through request
forwarding, and gets the notifications with the specialization's root.  Two CSEs in this
process, each on its own port, over real HTTP."""
from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.e2e.federation_support import MN, ask, start_cse, url_of
from tests.notify.receiver import Receiver

from .conftest import CHARGER, SWITCH

APP = "CApp"
CHARGER_PATH = "/id-mn/cse-mn/meter/charger"


@pytest.fixture
async def platform():
    in_cse = await start_cse(free_port())
    mn = await start_cse(**{**MN, "registrar.url": url_of(in_cse)})
    receiver = await Receiver().start()
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        ae = {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}
        assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=ae)).rsc == 2001
        rules = {"pv": {"acr": [{"acor": ["Cmeter"], "acop": 63}, {"acor": [f"/id-in/{APP}"], "acop": 63}]},
                 "pvs": {"acr": [{"acor": ["Cmeter"], "acop": 63}]}}
        acp = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=1, pc={"m2m:acp": {"rn": "share", **rules}})
        assert acp.rsc == 2001, acp.pc
        updated = await ask(mn, 3, "cse-mn/meter", fr="Cmeter", pc={"m2m:ae": {"acpi": [acp.pc["m2m:acp"]["ri"]]}})
        assert updated.rsc == 2004, updated.pc
        app = {"m2m:ae": {"rn": "app", "api": "Napp", "rr": True, "srv": ["3"], "poa": [receiver.url()]}}
        assert (await ask(in_cse, 1, "cse-in", fr=APP, ty=2, pc=app)).rsc == 2001
        yield in_cse, mn, receiver
    finally:
        await receiver.stop()
        await mn.stop()
        await in_cse.stop()


async def test_an_application_on_the_platform_works_with_a_gateways_device(platform):
    in_cse, mn, receiver = platform
    device = await ask(in_cse, 1, "/id-mn/cse-mn/meter", fr=APP, ty=28,
                       pc={"ved:dEVCr": {"rn": "charger", "cnd": CHARGER}})
    assert device.rsc == 2001, device.pc
    assert device.content_location == CHARGER_PATH
    switch = await ask(in_cse, 1, CHARGER_PATH, fr=APP, ty=28,
                       pc={"cod:binSh": {"rn": "binarySwitch", "cnd": SWITCH, "state": True, "fcied": True}})
    assert switch.rsc == 2001, switch.pc
    sub = await ask(in_cse, 1, f"{CHARGER_PATH}/binarySwitch", fr=APP, ty=23,
                    pc={"m2m:sub": {"nu": [f"/id-in/{APP}"], "nct": 2}})
    assert sub.rsc == 2001, sub.pc

    off = await ask(in_cse, 3, f"{CHARGER_PATH}/binarySwitch", fr=APP, pc={"cod:binSh": {"state": False}})
    assert off.rsc == 2004 and off.pc["cod:binSh"]["state"] is False and off.pc["cod:binSh"]["cni"] == 2
    [notification] = await receiver.wait_for(1)
    assert notification.sgn["nev"] == {"net": 1, "rep": {"cod:binSh": {"state": False}}}

    latest = await ask(in_cse, 2, f"{CHARGER_PATH}/binarySwitch/la", fr=APP)
    assert latest.rsc == 2000 and latest.pc["cod:binSh"]["ty"] == 58 and latest.pc["cod:binSh"]["state"] is False
    found = await ask(in_cse, 2, "/id-mn/cse-mn/meter", fr=APP, fc={"fu": 1, "cnd": SWITCH})
    # SP-relative: the application is on another CSE (docs/conformance.md).
    assert (found.rsc, found.pc) == (2000, {"m2m:uril": ["/id-mn/cse-mn/meter/charger/binarySwitch"]})
    # The gateway's refusals come back as they are.
    wrong = await ask(in_cse, 3, f"{CHARGER_PATH}/binarySwitch", fr=APP, pc={"cod:binSh": {"state": "off"}})
    assert wrong.rsc == 4000 and "'state' (state): 'off' is not true or false" in wrong.pc["m2m:dbg"]
    unknown = await ask(in_cse, 1, CHARGER_PATH, fr=APP, ty=28, pc={"cod:nothing": {"cnd": SWITCH}})
    assert unknown.rsc == 4125
    stored = await ask(mn, 2, "cse-mn/meter/charger/binarySwitch", fr="Cmeter")
    assert stored.pc["cod:binSh"]["state"] is False and stored.pc["cod:binSh"]["st"] == 1
