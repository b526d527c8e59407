"""Management actions end to end on one CSE over real HTTP: an application updates an
executable attribute, the device AE on the node gets the action (client.device), accepts
or refuses it, and reports the outcome in the mgmtObj.  Offline, slow and missing devices
give answers that say so, and the status shows the failure."""
from __future__ import annotations

import asyncio
import time

import pytest

from server.compose import build_cse, configured_bindings
from tests.conftest import make_config

from .devices import APP, ask, provision, start_device

FW = "cse-in/gw/fw"


@pytest.fixture
async def cse():
    running = build_cse(make_config(**{"management.action_timeout": 1.0, "polling.long_poll_max": 5.0}),
                        bindings=configured_bindings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def url_of(cse) -> str:
    return next(b for b in cse.bindings if b.name == "http").url


@pytest.fixture
async def device(cse):
    node = await provision(cse)
    dev = await start_device(url_of(cse), node["ri"])
    try:
        yield dev
    finally:
        await dev.stop()


async def status(cse, path: str, name: str):
    got = await ask(cse, 2, path, fr=APP)
    return next(iter(got.pc.values())).get(name)


async def test_firmware_update_is_delivered_accepted_and_its_outcome_reported(cse, device):
    node = (await ask(cse, 2, "cse-in/gw")).pc["m2m:nod"]
    assert node["hael"] == ["Cdev"]
    answer = await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"url": "https://fw.example/hp-2.0.bin", "ud": True}})
    assert answer.rsc == 2004, answer.pc
    assert answer.pc["m2m:fwr"]["uds"] == {"acn": "ud", "sus": 3}          # in process
    [action] = device.asked
    assert (action.root, action.name, action.originator) == ("m2m:fwr", "ud", APP)
    assert action.resource["url"] == "https://fw.example/hp-2.0.bin"
    assert action.mgmt_obj == f"/id-in/{answer.pc['m2m:fwr']['ri']}"
    device.release.set()
    await device.agent.drain()
    fw = (await ask(cse, 2, FW, fr=APP)).pc["m2m:fwr"]
    assert fw["uds"] == {"acn": "ud", "sus": 1} and fw["vr"] == "2.0"


async def test_a_failed_installation_is_reported_as_failure(cse, device):
    device.firmware_fails = True
    device.release.set()
    assert (await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"ud": True}})).rsc == 2004
    await device.agent.drain()
    assert await status(cse, FW, "uds") == {"acn": "ud", "sus": 2}
    assert await status(cse, FW, "vr") == "1.0"


async def test_the_device_refuses_and_the_update_fails_with_its_reason(cse, device):
    answer = await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"url": "http://insecure.example/fw.bin", "ud": True}})
    assert answer.rsc == 4127, answer.pc
    assert "AE Cdev refused it (rsc 4000: firmware only over https" in answer.pc["m2m:dbg"]
    fw = (await ask(cse, 2, FW, fr=APP)).pc["m2m:fwr"]
    assert fw["uds"] == {"acn": "ud", "sus": 2}
    assert fw["url"] == "https://fw.example/hp-1.0.bin" and fw["ud"] is False    # nothing of the UPDATE stored


async def test_an_action_the_device_does_not_implement_is_refused_by_it(cse, device):
    answer = await ask(cse, 3, "cse-in/gw/relay", fr=APP, pc={"m2m:dvc": {"ena": True}})
    assert answer.rsc == 4127 and "rsc 5001: this device does not perform 'ena' of m2m:dvc" in answer.pc["m2m:dbg"]
    assert await status(cse, "cse-in/gw/relay", "cas") == {"acn": "ena", "sus": 2}


async def test_software_and_reboot(cse, device):
    both = await ask(cse, 3, "cse-in/gw/sw", fr=APP, pc={"m2m:swr": {"in": True, "un": True}})
    assert both.rsc == 4000 and "'in' and 'un' cannot both be true" in both.pc["m2m:dbg"]
    assert device.asked == []
    answer = await ask(cse, 3, "cse-in/gw/sw", fr=APP, pc={"m2m:swr": {"in": True}})
    assert answer.rsc == 2004 and answer.pc["m2m:swr"]["ins"] == {"acn": "in", "sus": 3}
    answer = await ask(cse, 3, "cse-in/gw/reboot", fr=APP, pc={"m2m:rbo": {"rbo": True}})
    assert answer.rsc == 2004 and answer.pc["m2m:rbo"]["rbo"] is True
    assert [(a.root, a.name) for a in device.asked] == [("m2m:swr", "in"), ("m2m:rbo", "rbo")]
    # Only the actions started now reach the device: the earlier "in" is not repeated.
    assert (await ask(cse, 3, "cse-in/gw/sw", fr=APP, pc={"m2m:swr": {"dc": "plain update"}})).rsc == 2004
    assert len(device.asked) == 2
    answer = await ask(cse, 3, "cse-in/gw/reboot", fr=APP, pc={"m2m:rbo": {"far": True}})
    assert answer.rsc == 4127 and "does not perform 'far'" in answer.pc["m2m:dbg"]


async def test_an_offline_device_gives_6020_and_the_status_says_failure(cse, device):
    await device.receiver.stop()
    answer = await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"ud": True}})
    assert answer.rsc == 6020, answer.pc
    assert "AE Cdev is not reachable" in answer.pc["m2m:dbg"]
    assert await status(cse, FW, "uds") == {"acn": "ud", "sus": 2}


async def test_a_device_that_does_not_answer_gives_6021_in_bounded_time_without_slowing_others(cse):
    node = await provision(cse)
    hanging, unblock = asyncio.Event(), asyncio.Event()

    async def stuck(notification):
        hanging.set()
        await unblock.wait()

    from client import CseClient, NotificationReceiver
    receiver = await NotificationReceiver(on_notification=stuck).start()
    client = CseClient(url_of(cse), originator="Cdev", cse_rn="cse-in")
    async with client:
        await client.register("Ndevice", rn="dev", receiver=receiver, nl=node["ri"])
        started = time.monotonic()
        action = asyncio.ensure_future(ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"ud": True}}))
        await asyncio.wait_for(hanging.wait(), 5)
        quick = time.monotonic()
        assert (await ask(cse, 2, "cse-in/gw", fr=APP)).rsc == 2000
        assert time.monotonic() - quick < 0.5                 # other requests are served meanwhile
        answer = await action
        assert answer.rsc == 6021 and "AE Cdev did not answer in time" in answer.pc["m2m:dbg"]
        assert 0.9 < time.monotonic() - started < 3.0         # action_timeout is 1 s
        assert await status(cse, FW, "uds") == {"acn": "ud", "sus": 2}
    unblock.set()
    await receiver.stop()


async def test_no_device_on_the_node(cse):
    await provision(cse)
    answer = await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"ud": True}})
    assert answer.rsc == 6020
    assert "no AE is hosted on node 'cse-in/gw'" in answer.pc["m2m:dbg"]
    base = (await ask(cse, 2, "cse-in")).pc["m2m:cb"]["ri"]
    assert (await ask(cse, 3, "cse-in/gw", pc={"m2m:nod": {"hcl": base}})).rsc == 2004
    answer = await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"ud": True}})
    assert answer.rsc == 6020 and "performs no management actions on itself" in answer.pc["m2m:dbg"]


async def test_a_device_behind_nat_gets_the_action_through_its_polling_channel(cse):
    node = await provision(cse)
    device = await start_device(url_of(cse), node["ri"], polling=True)
    try:
        assert (await ask(cse, 2, "cse-in/dev")).pc["m2m:ae"]["rr"] is False
        answer = await ask(cse, 3, "cse-in/gw/reboot", fr=APP, pc={"m2m:rbo": {"rbo": True}})
        assert answer.rsc == 2004, answer.pc
        assert [(a.root, a.name) for a in device.asked] == [("m2m:rbo", "rbo")]
    finally:
        await device.stop()


async def test_the_agent_refuses_beyond_its_bound_of_running_actions(cse):
    node = await provision(cse)
    device = await start_device(url_of(cse), node["ri"], max_running=1)
    try:
        assert (await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"ud": True}})).rsc == 2004
        busy = await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"ud": True}})
        assert busy.rsc == 4127 and "busy: 1 management actions are running" in busy.pc["m2m:dbg"]
        device.release.set()
        await device.agent.drain()
        assert await status(cse, FW, "uds") == {"acn": "ud", "sus": 1}
        assert (await ask(cse, 3, FW, fr=APP, pc={"m2m:fwr": {"ud": True}})).rsc == 2004
        await device.agent.drain()
    finally:
        await device.stop()


async def test_an_originator_without_update_rights_starts_nothing(cse, device):
    assert (await ask(cse, 1, "cse-in", fr="Cother", ty=2,
                      pc={"m2m:ae": {"api": "Nother", "rr": False, "srv": ["3"]}})).rsc == 2001
    answer = await ask(cse, 3, FW, fr="Cother", pc={"m2m:fwr": {"ud": True}})
    assert answer.rsc == 4103 and device.asked == []
