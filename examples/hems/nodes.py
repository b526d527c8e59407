"""Device management of the home energy example: every gateway and device is a `<node>`
(ty 14) on its gateway with three management objects (ty 13): deviceInfo (`m2m:dvi`),
firmware (`m2m:fwr`) and battery (`m2m:bat`) (docs/device-management.md).

The installer makes them (the gateway's admin originator, as a technician commissioning a
home would): an access control policy per node that lets the device do everything with its
node (it reports its firmware updates there, and links to it with its AE's `nl`) and the
energy application find and read it and update its firmware; the node itself (`ni`, and
`hcl` = the gateway's CSEBase for the gateway's own node) and the three mgmtObjs.  The
firmware mgmtObj is labelled `hems:firmware:<kind>`, so the energy application finds every
heat pump's firmware by discovery (ty 13, mgd 1001, that label).

A device then registers with `nl` = its node's ri and answers management actions with
`client.device.ManagementAgent` (appliance.py: a firmware update).  The application side,
`roll_out_firmware`, updates every device of a kind with one request through a group.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Callable

from client import Access, CseClient, grant

MGMT_OBJ = 13
FIRMWARE_LABEL = "hems:firmware:"          # + the device kind, e.g. hems:firmware:heat-pump

# deviceInfo per kind: (manufacturer, model, deviceType); battery: (level %, status).
# Battery status (TS-0004 Annex D): 1 normal, 3 charging complete, 6 not installed.
MODELS = {
    "gateway": ("Example Energy", "HEG-1", "homeEnergyGateway", (100, 3)),
    "meter": ("Example Metering", "SM-3", "smartElectricMeter", (95, 1)),
    "water-heater": ("Example Heat", "WH-80", "waterHeater", (0, 6)),
    "ev-charger": ("Example Mobility", "WB-7", "electricVehicleCharger", (0, 6)),
    "heat-pump": ("Example Heat", "HP-2", "heatPump", (0, 6)),
}


@dataclass
class Node:
    kind: str
    rn: str
    ri: str
    address: str                # CSE-relative, e.g. cse-mn2/node-heat-pump

    @property
    def firmware(self) -> str:
        return f"{self.address}/firmware"


async def provision(installer: CseClient, base: str, kind: str, *, owner: str, readers: list[str],
                    hcl: str | None = None, version: str = "1.0") -> Node:
    """The node of one device (or of the gateway: kind "gateway", `hcl` its CSEBase ri) under
    the CSEBase `base`; idempotent.  `owner`: the device's AE-ID (None for the gateway);
    `readers`: who may find and read it and update its firmware (the energy application)."""
    rn = f"node-{kind}"
    rules = [grant(readers, Access.RETRIEVE | Access.DISCOVER | Access.UPDATE)] if readers else []
    if owner:
        rules.append(grant([owner], Access.ALL))
    acp = await installer.create_acp(base, rn=f"acp-{rn}", rules=rules)
    acpi = [acp["ri"]]
    node: dict = {"rn": rn, "ni": f"urn:hems:{base}:{kind}", "acpi": acpi, "lbl": [f"hems:node:{kind}"]}
    if hcl:
        node["hcl"] = hcl
    made = await installer.create(base, {"m2m:nod": node}, exist_ok=True)
    address = f"{base}/{rn}"
    manufacturer, model, device_type, (level, status) = MODELS[kind]
    for root, content in (
            ("m2m:dvi", {"rn": "deviceInfo", "mgd": 1007, "dlb": f"{kind}@{base}", "man": manufacturer, "mod": model,
                         "dty": device_type}),
            ("m2m:fwr", {"rn": "firmware", "mgd": 1001, "vr": version, "fwn": f"{kind}-firmware",
                         "url": f"https://firmware.example/{kind}-{version}.bin", "ud": False,
                         "lbl": [f"{FIRMWARE_LABEL}{kind}"]}),
            ("m2m:bat", {"rn": "battery", "mgd": 1006, "btl": level, "bts": status})):
        await installer.create(address, {root: {**content, "acpi": acpi}}, ty=MGMT_OBJ, exist_ok=True)
    return Node(kind, rn, made["ri"], address)


def version_in(url: str) -> str:
    """The version a firmware image URL names (".../heat-pump-1.1.bin" -> "1.1"), or ""."""
    name = url.rsplit("/", 1)[-1]
    stem = name[:-4] if name.endswith(".bin") else name
    version = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    return version if version.replace(".", "").isdigit() else ""


async def roll_out_firmware(client: CseClient, gateways: list[str], kind: str, url: str, *,
                        say: Callable[[str], None] = print, timeout: float = 30.0) -> dict:
    """Update the firmware of every device of `kind` in every home with one request: a
    `<group>` (mt 13) of their firmware mgmtObjs, found by discovery (ty 13, mgd 1001,
    label hems:firmware:<kind>), and one UPDATE of `<group>/fopt` setting `url` and
    `ud`.  The gateways deliver the update to each device (its node's management
    action); the outcome is then read per device (`uds`, `vr`)."""
    members: list[str] = []
    for gateway in gateways:
        members += await client.discover(gateway, ty=13, labels=[f"{FIRMWARE_LABEL}{kind}"], mgd=1001)
    result: dict[str, Any] = {"kind": kind, "url": url, "members": members, "requests": 0, "answers": [],
                              "devices": []}
    if not members:
        say(f"no {kind} firmware found: nothing to update")
        return result
    group = await client.create(client.ae_address, {"m2m:grp": {
        "rn": f"firmware-{kind}", "mt": 13, "mid": members, "mnm": 1000}}, exist_ok=True)
    address = f"{client.ae_address}/firmware-{kind}"
    if sorted(group.get("mid", [])) != sorted(members):
        group = await client.update(address, {"m2m:grp": {"mid": members}})
    say(f"firmware {url} for every {kind}: group {address} of {len(members)} firmware mgmtObjs, "
             f"one UPDATE of {address}/fopt")
    response = await client.request(3, f"{address}/fopt", pc={"m2m:fwr": {"url": url, "ud": True}},
                                         timeout=timeout)
    result["requests"] += 1
    result["rsc"] = response.rsc
    answers = (response.pc or {}).get("m2m:agr", {}).get("m2m:rsp", []) if isinstance(response.pc, dict) else []
    result["answers"] = [{"rsc": a.get("rsc"), "fr": a.get("fr")} for a in answers if isinstance(a, dict)]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for member in members:              # the outcome, per device, as the gateway shows it
        while True:
            firmware = await client.retrieve(member)
            uds = firmware.get("uds") or {}
            if uds.get("sus") in (1, 2) or loop.time() > deadline:
                break
            await asyncio.sleep(0.1)
        outcome = {1: "successful", 2: "failure"}.get(uds.get("sus"), "in process" if uds else "no answer")
        result["devices"].append({"firmware": member, "uds": uds, "vr": firmware.get("vr"), "outcome": outcome})
        say(f"{member}: firmware update {outcome}, version {firmware.get('vr')}")
    return result
