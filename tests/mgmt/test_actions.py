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


async def test_a_group_rolls_a_firmware_update_out_to_every_device_with_one_request(cse):
    from client import CseClient, ManagementAgent, NotificationReceiver

    rules = {"pv": {"acr": [{"acor": ["Chp1", "Chp2", APP], "acop": 63}]},
             "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}
    acp = await ask(cse, 1, "cse-in", ty=1, pc={"m2m:acp": {"rn": "heatpumps", **rules}})
    acpi = [acp.pc["m2m:acp"]["ri"]]
    members, devices = [], []
    try:
        for name in ("hp1", "hp2"):
            node = await ask(cse, 1, "cse-in", ty=14, pc={"m2m:nod": {"rn": name, "ni": f"urn:dev:{name}", "acpi": acpi}})
            fw = await ask(cse, 1, f"cse-in/{name}", ty=13, pc={"m2m:fwr": {
                "rn": "fw", "acpi": acpi, "mgd": 1001, "vr": "1.0", "fwn": "hp", "url": "https://fw/1.0", "ud": False}})
            members.append(fw.pc["m2m:fwr"]["ri"])
            client = CseClient(url_of(cse), originator=f"C{name}", cse_rn="cse-in")
            agent = ManagementAgent(client)
            agent.handles("m2m:fwr", "ud")(lambda action: None)          # accept; report later
            receiver = await NotificationReceiver(on_notification=agent).start()
            await client.__aenter__()
            await client.register("Nheatpump", rn=name + "-ae", receiver=receiver, nl=node.pc["m2m:nod"]["ri"])
            devices.append((client, agent, receiver))
        group = await ask(cse, 1, "cse-in", ty=9, pc={"m2m:grp": {"rn": "heatpumps-fw", "mt": 13, "mnm": 10,
                                                                    "mid": members, "acpi": acpi}})
        assert group.rsc == 2001, group.pc
        rolled = await ask(cse, 3, "cse-in/heatpumps-fw/fopt", fr=APP,
                           pc={"m2m:fwr": {"url": "https://fw/2.0", "ud": True}})
        assert rolled.rsc == 2000, rolled.pc
        answers = rolled.pc["m2m:agr"]["m2m:rsp"]
        assert sorted(a["rsc"] for a in answers) == [2004, 2004]
        assert all(a["pc"]["m2m:fwr"]["uds"]["sus"] == 3 for a in answers)
        for (client, _, _), name in zip(devices, ("hp1", "hp2")):     # each device reports its outcome
            fw = (await ask(cse, 2, f"cse-in/{name}/fw", fr=APP)).pc["m2m:fwr"]
            await client.update(f"/id-in/{fw['ri']}", {"m2m:fwr": {"uds": {"acn": "ud", "sus": 1}, "vr": "2.0"}})
        outcome = await ask(cse, 2, "cse-in/heatpumps-fw/fopt", fr=APP)
        assert sorted(r["pc"]["m2m:fwr"]["vr"] for r in outcome.pc["m2m:agr"]["m2m:rsp"]) == ["2.0", "2.0"]
    finally:
        for client, _, receiver in devices:
            await receiver.stop()
            await client.close()


async def test_an_outcome_reported_before_the_acceptance_is_not_overwritten(cse, device):
    @device.agent.handles("m2m:swr", "act")
    async def activate_at_once(action):
        await device.agent.report(action, 1)          # done before answering the NOTIFY

    for _ in range(2):                                # the second time the status is already sus 1
        answer = await ask(cse, 3, "cse-in/gw/sw", fr=APP, pc={"m2m:swr": {"act": True}})
        assert answer.rsc == 2004, answer.pc
        assert answer.pc["m2m:swr"]["acts"] == {"acn": "act", "sus": 1}
        assert await status(cse, "cse-in/gw/sw", "acts") == {"acn": "act", "sus": 1}


async def test_the_device_starting_an_action_on_its_own_node_is_told_why_nothing_happens(cse, device):
    answer = await ask(cse, 3, FW, fr="Cdev", pc={"m2m:fwr": {"ud": True}})
    assert answer.rsc == 6020, answer.pc
    assert "AE Cdev is the originator itself" in answer.pc["m2m:dbg"]
    assert device.asked == []
