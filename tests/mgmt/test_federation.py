"""Device management across CSEs (two in this process, over real HTTP): a gateway (MN-CSE)
hosts a node whose device AE registered with it; an application on the platform (IN-CSE)
manages it (a) through forwarding, addressing the mgmtObj on the MN, and (b) through the
IN's own node for the gateway, whose hcl names the MN's remoteCSE, so the IN sends the
action to the MN as an UPDATE of the same mgmtObj there."""
from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.e2e.federation_support import MN, remote_cses, start_cse, url_of

from .devices import ask, provision, start_device

APP = "CApp"
MN_FW = "/id-mn/cse-mn/gw/fw"


@pytest.fixture
async def platform():
    in_cse = await start_cse(free_port(), **{"management.action_timeout": 2.0})
    mn = await start_cse(**{**MN, "registrar.url": url_of(in_cse), "management.action_timeout": 1.0})
    device = None
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        app = {"m2m:ae": {"rn": "app", "api": "Napp", "rr": False, "srv": ["3"]}}
        assert (await ask(in_cse, 1, "cse-in", fr=APP, ty=2, pc=app)).rsc == 2001
        node = await provision(mn, app=f"/id-in/{APP}", base="cse-mn")
        device = await start_device(url_of(mn), node["ri"], base="cse-mn")
        yield in_cse, mn, device
    finally:
        if device is not None:
            await device.stop()
        await mn.stop()
        await in_cse.stop()


async def test_an_application_on_the_platform_manages_the_gateways_device_through_forwarding(platform):
    in_cse, mn, device = platform
    found = await ask(in_cse, 2, "/id-mn/cse-mn", fr=APP, fc={"fu": 1, "mgd": 1001})
    # SP-relative: the originator is on another CSE (docs/conformance.md, discovery)
    assert found.rsc == 2000 and found.pc["m2m:uril"] == ["/id-mn/cse-mn/gw/fw"], found.pc
    answer = await ask(in_cse, 3, MN_FW, fr=APP, pc={"m2m:fwr": {"ud": True}})
    assert answer.rsc == 2004, answer.pc
    assert answer.pc["m2m:fwr"]["uds"] == {"acn": "ud", "sus": 3}
    [action] = device.asked
    assert action.originator == f"/id-in/{APP}"
    device.release.set()
    await device.agent.drain()
    done = await ask(in_cse, 2, MN_FW, fr=APP)
    assert done.pc["m2m:fwr"]["uds"] == {"acn": "ud", "sus": 1} and done.pc["m2m:fwr"]["vr"] == "2.0"
    await device.receiver.stop()
    offline = await ask(in_cse, 3, MN_FW, fr=APP, pc={"m2m:fwr": {"ud": True}})
    assert offline.rsc == 6020 and "AE Cdev is not reachable" in offline.pc["m2m:dbg"]


async def test_the_platforms_node_for_the_gateway_sends_the_action_to_the_hosting_cse(platform):
    in_cse, mn, device = platform
    [registree] = await remote_cses(in_cse)
    await provision(in_cse, app=APP, device="Cnobody", hcl=registree["ri"])
    answer = await ask(in_cse, 3, "cse-in/gw/reboot", fr=APP, pc={"m2m:rbo": {"rbo": True}})
    assert answer.rsc == 2004, answer.pc
    assert [(a.root, a.name, a.originator) for a in device.asked] == [("m2m:rbo", "rbo", f"/id-in/{APP}")]
    answer = await ask(in_cse, 3, "cse-in/gw/fw", fr=APP, pc={"m2m:fwr": {"ud": True}})
    assert answer.rsc == 2004, answer.pc
    assert answer.pc["m2m:fwr"]["uds"] == {"acn": "ud", "sus": 3}        # the MN's answer, copied
    device.release.set()
    await device.agent.drain()
    assert (await ask(in_cse, 2, MN_FW, fr=APP)).pc["m2m:fwr"]["uds"] == {"acn": "ud", "sus": 1}
    # The gateway's device refuses: the IN's UPDATE fails with the MN's refusal quoted.
    refused = await ask(in_cse, 3, "cse-in/gw/relay", fr=APP, pc={"m2m:dvc": {"ena": True}})
    assert refused.rsc == 4127, refused.pc
    assert "the hosting CSE /id-mn (/id-mn/cse-mn/gw/relay) refused it (rsc 4127" in refused.pc["m2m:dbg"]
    assert (await ask(in_cse, 2, "cse-in/gw/relay", fr=APP)).pc["m2m:dvc"]["cas"] == {"acn": "ena", "sus": 2}
    # The gateway is down: 6020 (or 6021), and the status says failure.
    await mn.stop()
    down = await ask(in_cse, 3, "cse-in/gw/sw", fr=APP, pc={"m2m:swr": {"in": True}})
    assert down.rsc in (6020, 6021), down.pc
    assert (await ask(in_cse, 2, "cse-in/gw/sw", fr=APP)).pc["m2m:swr"]["ins"] == {"acn": "in", "sus": 2}
