"""A managed device for the action tests: on a running CSE, the admin makes an ACP for the
device AE and the application, a node `gw` with firmware, software, reboot and
deviceCapability mgmtObjs, and the device AE registers with nl naming the node and answers
actions with client.device.ManagementAgent (over HTTP, or through its pollingChannel)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from client import ActionRefused, CseClient, ManagementAgent, NotificationReceiver, PollingReceiver
from cse.app import Cse
from cse.primitives import Request, Response

from .conftest import SAMPLES

APP = "CApp"
DEVICE = "Cdev"
NODE_RN = "gw"


async def ask(cse: Cse, op: int, to: str, fr: str = "CAdmin", **fields: Any) -> Response:
    fields.setdefault("rvi", "3")
    fields.setdefault("rqi", f"t-{op}-{to}")
    return await cse.dispatcher.handle(Request(op=op, to=to, fr=fr, **fields))


async def provision(cse: Cse, *, app: str = APP, device: str = DEVICE, hcl: str | None = None,
                    base: str = "cse-in") -> dict:
    """ACP, node and mgmtObjs made by the admin below the CSEBase `base`; returns the node."""
    rules = {"pv": {"acr": [{"acor": [device, app], "acop": 63}]},
             "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}
    acp = await ask(cse, 1, base, ty=1, pc={"m2m:acp": {"rn": "devices", **rules}})
    assert acp.rsc == 2001, acp.pc
    acpi = [acp.pc["m2m:acp"]["ri"]]
    node = {"rn": NODE_RN, "ni": "urn:dev:gw", "acpi": acpi}
    if hcl is not None:
        node["hcl"] = hcl
    created = await ask(cse, 1, base, ty=14, pc={"m2m:nod": node})
    assert created.rsc == 2001, created.pc
    for rn, root in (("fw", "m2m:fwr"), ("sw", "m2m:swr"), ("reboot", "m2m:rbo"), ("relay", "m2m:dvc")):
        made = await ask(cse, 1, f"{base}/{NODE_RN}", ty=13, pc={root: {"rn": rn, "acpi": acpi, **SAMPLES[root]}})
        assert made.rsc == 2001, made.pc
    return created.pc["m2m:nod"]


@dataclass
class Device:
    """The device AE: what it was asked, and a gate its firmware work waits for."""

    client: CseClient
    agent: ManagementAgent
    receiver: Any
    asked: list = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    firmware_fails: bool = False

    async def stop(self) -> None:
        await self.receiver.stop()
        await self.client.close()


async def start_device(url: str, node_ri: str, *, originator: str = DEVICE, polling: bool = False,
                       max_running: int = 4, base: str = "cse-in", **client_args: Any) -> Device:
    client = CseClient(url, originator=originator, cse_rn=base, **client_args)
    agent = ManagementAgent(client, max_running=max_running)
    receiver = PollingReceiver(poll_seconds=2.0, on_notification=agent) if polling else \
        NotificationReceiver(on_notification=agent)
    device = Device(client, agent, receiver)

    @agent.handles("m2m:fwr", "ud")
    def update_firmware(action):
        device.asked.append(action)
        if not action.resource["url"].startswith("https://"):
            raise ActionRefused(f"firmware only over https, not {action.resource['url']}")

        async def install() -> dict:
            await device.release.wait()
            if device.firmware_fails:
                raise RuntimeError("flash write failed")
            return {"vr": "2.0"}
        return install()

    @agent.handles("m2m:swr", "in")
    async def install(action):
        device.asked.append(action)

    @agent.handles("m2m:rbo", "rbo")
    def reboot(action):
        device.asked.append(action)

    await client.__aenter__()
    if not polling:
        await receiver.start()
    await client.register("Ndevice", rn="dev", receiver=receiver, nl=node_ri)
    return device
