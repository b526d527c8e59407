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
`client.device.ManagementAgent` (appliance.py: a firmware update).
"""
from __future__ import annotations

from dataclasses import dataclass

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
