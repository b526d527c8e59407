"""The interworking proxy on the building gateway (MN-CSE): an AE that reads the field
devices over Modbus TCP and BACnet/IP (the AHUs and zone sensors, which the building's BMS
controller serves) and writes their values into the standard models, and turns commands
written to those models into writes to the devices.

    proxy = InterworkingProxy(client, inventory, grants=[...], clock=sim_time)
    await proxy.setup()            # AE, one flexContainer per device, its modules, the ACP
    await proxy.poll()             # one round: read every device, update what changed

What it builds under its AE (`building-proxy`):

* one device flexContainer per field device, of its TS-0023 class (`mapping.MODELS`), named
  after the device (`chiller-1`, `meter-2-3`) and labelled with its type, floor and zone;
  below it one flexContainer per module (`binarySwitch`, `temperature`, `energyConsumption`,
  `faultDetection`, ...), whose data points carry the device's values;
* `readings/<meter>`: a container per meter with one contentInstance per reading,
  `{"t": <time of measurement>, "kw": ..., "kwh": ..., "demand_kw": <the meter's demand
  register>}`, the series the energy applications compute demand and usage from;
* `alarms`: a contentInstance per fault, bad value and recovery.

Commands: the proxy subscribes (net 1) to every module that has a writable data point; an
UPDATE by an application (`{"cod:tempe": {"tarTe": 9.0}}`) reaches the proxy as a
notification, is written to the device, read back, and the module is set to what the device
reports, so the resource always shows the device's real state; a write the device refuses or
does not answer raises an alarm and the module shows the real value again.

Faults: a device that stops answering, or a value outside its point's valid range, sets the
module `faultDetection` (`sus` true, `code`, `dc`) and raises one alarm; the next good read
clears it and raises a recovery.  Nothing the field bus does stops the proxy.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from client import CseClient, RequestFailed
from client.access import Access, grant

from .fieldbus.bacnet import BacnetDevice, BacnetLink
from .fieldbus.modbus import ModbusDevice, ModbusLink
from .fieldbus.points import PointLists, load_point_lists
from .fieldbus.results import NoAnswer, OutOfRange, Value, Written
from .mapping import MODELS, Feed, command_feed, labels

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ROOT / "schemas" / "device_models"
FLEX, CNT, CIN = 28, 3, 4
FAULT_NO_ANSWER, FAULT_BAD_VALUE, FAULT_COMMAND = 1, 2, 3


def device_class(name: str) -> dict:
    """A TS-0023 class file (root, cnd, data points)."""
    return json.loads((CLASSES / f"{name}.json").read_text())


@dataclass
class FieldDevice:
    name: str
    type: str
    info: dict
    driver: ModbusDevice | BacnetDevice
    modules: dict[str, dict] = field(default_factory=dict)      # rn -> last data points written
    fault: str | None = None                                     # the current fault, if any


class InterworkingProxy:
    """`client`: a CseClient on the gateway (not registered yet).  `inventory`: the building's
    (`SimulatedBuilding.inventory()`).  `grants`: ACP rules for the applications.  `clock`:
    the time stamped on readings and alarms (the simulated time in the demo)."""

    def __init__(self, client: CseClient, inventory: dict, *, grants: list[dict], clock: Callable[[], datetime],
                 point_lists: PointLists | None = None, rn: str = "building-proxy", on_alarm=None,
                 timeout: float = 1.0):
        self.client = client
        self.inventory = inventory
        self.grants = grants
        self.clock = clock
        self.rn = rn
        self.point_lists = point_lists or load_point_lists()
        self.on_alarm = on_alarm
        self.timeout = timeout          # Modbus connect and response timeout, seconds
        self.devices: dict[str, FieldDevice] = {}
        self.alarms: list[dict] = []
        self.commands: list[dict] = []
        self._links: dict[int, ModbusLink] = {}
        self._bacnet: BacnetLink | None = None
        self._acpi: list[str] = []
        self._modules_by_ri: dict[str, tuple[str, str]] = {}     # module ri -> (device, module rn)
        self._command_lock = asyncio.Lock()

    @property
    def base(self) -> str:
        return self.client.ae_address or f"{self.client.cse_rn}/{self.rn}"

    # -- set-up ----------------------------------------------------------------------------
    async def setup(self, receiver) -> None:
        await self.client.register("Nbuilding-proxy", rn=self.rn, receiver=receiver)
        acp = await self.client.create_acp(self.base, rn="apps", rules=self.grants)
        self._acpi = [acp["ri"]]
        await self.client.update(self.base, {"m2m:ae": {"acpi": self._acpi}})
        await self._create(self.base, {"m2m:cnt": {"rn": "alarms", "mni": 1000, "acpi": self._acpi}})
        await self._create(self.base, {"m2m:cnt": {"rn": "readings", "acpi": self._acpi}})
        for info in self.inventory["devices"]:
            if info["type"] not in MODELS:
                continue
            await self._add_device(info)

    async def _add_device(self, info: dict) -> None:
        model = MODELS[info["type"]]
        device = FieldDevice(info["name"], info["type"], info, await self._driver(info, model.points()))
        cls = device_class(model.device_class)
        path = f"{self.base}/{info['name']}"
        await self._create(self.base, {cls["root"]: {"rn": info["name"], "cnd": cls["cnd"], "lbl": labels(info),
                                                     "acpi": self._acpi}})
        first = await device.driver.read_many(model.points())
        for rn, module in model.modules.items():
            module_cls = device_class(module.module_class)
            values = self._data_points(device, rn, first)
            if module.module_class == "faultDetection":
                values = {"sus": False}
            body: dict[str, Any] = {"rn": rn, "cnd": module_cls["cnd"], "acpi": self._acpi, **values}
            if module.history:
                body["mni"] = module.history
            created = await self._create(path, {module_cls["root"]: body})
            self._modules_by_ri[created["ri"]] = (info["name"], rn)
            device.modules[rn] = values
            if any(feed.writable for feed in module.data_points.values()):
                await self.client.subscribe(f"{path}/{rn}", net=(1,), rn="commands", exist_ok=True)
        if info["type"] == "meter":
            await self._create(f"{self.base}/readings", {"m2m:cnt": {"rn": info["name"], "mni": 5000,
                                                                     "lbl": labels(info), "acpi": self._acpi}})
        self.devices[info["name"]] = device
        await self._check_health(device, first)

    async def _driver(self, info: dict, points: list[str]) -> ModbusDevice | BacnetDevice:
        """BACnet/IP for the devices the building's BMS controller serves (AHUs, zone sensors),
        when the inventory has one and its point list has every point needed; Modbus TCP
        otherwise."""
        controller = self.inventory.get("bacnet")
        bacnet_type = self.point_lists.bacnet.get(info["type"])
        if controller and info.get("bacnet_base") is not None and bacnet_type is not None \
                and set(points) <= set(bacnet_type.points):
            if self._bacnet is None:
                self._bacnet = await BacnetLink(response_timeout=self.timeout).open()
            return BacnetDevice(self._bacnet, f"{controller['host']}:{controller['port']}", bacnet_type,
                                info["bacnet_base"], info["name"])
        endpoint = info["modbus"]
        link = self._links.setdefault(endpoint["port"], ModbusLink(self.inventory["modbus"][endpoint["group"]]["host"],
                                                                   endpoint["port"], self.timeout, self.timeout))
        return ModbusDevice(link, endpoint["unit"], self.point_lists.modbus[info["type"]], info["name"])

    def protocols(self) -> dict[str, int]:
        """How many devices the proxy reads over each field bus."""
        out: dict[str, int] = {}
        for device in self.devices.values():
            kind = "bacnet" if isinstance(device.driver, BacnetDevice) else "modbus"
            out[kind] = out.get(kind, 0) + 1
        return out

    async def _create(self, parent: str, content: dict) -> dict:
        root = next(iter(content))
        return await self.client.create(parent, content, exist_ok=True, ty=None if root.startswith("m2m:") else FLEX)

    def _data_points(self, device: FieldDevice, rn: str, readings: dict) -> dict:
        module = MODELS[device.type].modules[rn]
        out: dict[str, Any] = {}
        for name, feed in module.data_points.items():
            result = readings.get(feed.point)
            if isinstance(result, Value):
                out[name] = feed.to_data_point(result.value)
        if module.module_class == "temperature" and "curT0" not in out:
            out["curT0"] = device.modules.get(rn, {}).get("curT0", 0.0)     # mandatory at create
        if module.module_class == "energyConsumption" and "abECn" not in out:
            out["abECn"] = device.modules.get(rn, {}).get("abECn", 0.0)
        return out

    # -- polling ---------------------------------------------------------------------------
    async def poll(self) -> None:
        """Read every device once (concurrently per Modbus server) and write what changed."""
        await asyncio.gather(*(self._poll_device(device) for device in self.devices.values()))

    async def _poll_device(self, device: FieldDevice) -> None:
        model = MODELS[device.type]
        readings = await device.driver.read_many(model.points())
        measured_at = self.clock()          # the device answered from the state of about now
        healthy = await self._check_health(device, readings)
        if not healthy:
            return
        for rn, module in model.modules.items():
            if not module.data_points:
                continue
            values = self._data_points(device, rn, readings)
            changed = {k: v for k, v in values.items() if device.modules[rn].get(k) != v}
            if changed or module.history:
                await self._update_module(device, rn, values if module.history else changed)
        if device.type == "meter":
            power, energy, demand = readings.get("active_power"), readings.get("energy"), readings.get("demand")
            if isinstance(power, Value) and isinstance(energy, Value):
                reading = {"t": measured_at.isoformat(timespec="seconds"), "kw": round(power.value, 3),
                           "kwh": round(energy.value, 3)}
                if isinstance(demand, Value):
                    reading["demand_kw"] = round(demand.value, 3)
                await self.client.create(f"{self.base}/readings/{device.name}",
                                         {"m2m:cin": {"cnf": "application/json:0", "con": json.dumps(reading)}})

    async def _update_module(self, device: FieldDevice, rn: str, values: dict) -> None:
        if not values:
            return
        cls = device_class(MODELS[device.type].modules[rn].module_class)
        await self.client.update(f"{self.base}/{device.name}/{rn}", {cls["root"]: values})
        device.modules[rn].update(values)

    async def _check_health(self, device: FieldDevice, readings: dict) -> bool:
        """Set or clear the device's fault from one round of reads; True when healthy."""
        silent = [r for r in readings.values() if isinstance(r, NoAnswer)]
        bad = [r for r in readings.values() if isinstance(r, OutOfRange)]
        if silent:
            fault, code = f"{device.name} does not answer: {silent[0].reason}", FAULT_NO_ANSWER
        elif bad:
            fault, code = bad[0].message, FAULT_BAD_VALUE
        else:
            fault, code = None, 0
        if fault == device.fault or (fault is not None and device.fault is not None and code == FAULT_NO_ANSWER):
            return fault is None
        if device.fault is not None and fault is None:
            await self._alarm("recovered", device, f"{device.name} answers again with valid values")
        device.fault = fault
        if "faultDetection" in device.modules:
            state = {"sus": fault is not None, **({"code": code, "dc": fault[:200]} if fault else {})}
            try:
                await self._update_module(device, "faultDetection", state)
            except RequestFailed as error:
                log.warning("could not set the fault state of %s: %s", device.name, error)
        if fault is not None:
            await self._alarm("fault" if code == FAULT_NO_ANSWER else "bad-value", device, fault)
        return fault is None

    async def _alarm(self, kind: str, device: FieldDevice, message: str) -> None:
        alarm = {"t": self.clock().isoformat(timespec="seconds"), "kind": kind, "device": device.name,
                 "type": device.type, "message": message}
        self.alarms.append(alarm)
        log.info("alarm: %s", alarm)
        await self.client.create(f"{self.base}/alarms", {"m2m:cin": {"cnf": "application/json:0",
                                                                     "con": json.dumps(alarm)}})
        if self.on_alarm is not None:
            self.on_alarm(alarm)

    # -- commands --------------------------------------------------------------------------
    async def handle(self, notification) -> None:
        """A module with a command data point was updated (the subscription `commands`)."""
        if notification.verification or notification.deletion or notification.event != 1:
            return
        resource = notification.resource
        if not isinstance(resource, dict) or resource.get("ri") not in self._modules_by_ri:
            return
        device_name, rn = self._modules_by_ri[resource["ri"]]
        async with self._command_lock:
            await self._execute(self.devices[device_name], rn, resource)

    async def _execute(self, device: FieldDevice, rn: str, resource: dict) -> None:
        current = device.modules[rn]
        for name, wanted in resource.items():
            feed: Feed | None = command_feed(device.type, rn, name)
            if feed is None or current.get(name) == wanted:
                continue
            record = {"t": self.clock().isoformat(timespec="seconds"), "device": device.name, "module": rn,
                      "data_point": name, "wanted": wanted}
            try:
                value = feed.to_device(wanted)
                result = await device.driver.write(feed.point, value)
            except ValueError as error:          # a wrong type or a value the point cannot take
                result = None
                record["error"] = str(error)
            if isinstance(result, Written):
                readback = await device.driver.read(feed.point)
                actual = feed.to_data_point(readback.value) if isinstance(readback, Value) else wanted
                record["result"] = "written"
                record["actual"] = actual
            else:
                actual = current.get(name)
                record["result"] = "failed"
                record.setdefault("error", getattr(result, "message", "not written"))
                await self._alarm("command-failed", device, f"{device.name}.{rn}.{name} := {wanted!r} "
                                                            f"failed: {record['error']}")
            self.commands.append(record)
            log.info("command: %s", record)
            # The module shows what the device really has (also after a refused command).
            await self._update_module(device, rn, {name: actual})

    async def close(self) -> None:
        for link in self._links.values():
            await link.close()
        if self._bacnet is not None:
            await self._bacnet.close()


def application_grants(originators: list[str]) -> list[dict]:
    """What the building's applications may do under the proxy: find and read everything,
    subscribe, and update the command modules (the ACP is on every resource the proxy makes;
    only UPDATEs of command data points have an effect on devices)."""
    return [grant(originators, Access.RETRIEVE | Access.DISCOVER | Access.UPDATE),
            grant(originators, Access.CREATE, child_types=[23])]
