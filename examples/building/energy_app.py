"""The building's energy application: an AE on the platform (IN-CSE) that sees the building
only through oneM2M, by SP-relative addresses of the gateway (MN-CSE) it registered with.

It subscribes to every meter's reading series and to the proxy's alarms (notifications come
from the gateway, through the platform), and computes:

* usage per building, floor and zone (meters `meter-main`, `meter-floor-N`, `meter-F-Z`);
* maximum demand over 15-minute intervals (the main meter's demand register, as billed) and
  the day's peak;
* carbon emissions from a grid emission factor;
* a comparison with the building's daily goal;
* the alarm history (faults and bad values from the proxy; peak and goal alarms of its own)
  with acknowledgement.

Peak control: when the main meter draws more than `peak_limit_kw`, it raises every
chiller's chilled-water set point by `setpoint_raise` and dims the lights to `dim_to` %,
by UPDATEs of the devices' TS-0023 modules on the gateway, which the proxy writes to the
Modbus devices; when the load stays below 90 % of the limit for 30 minutes it restores them.

What it publishes under its own AE on the platform, for the dashboard and anyone granted:
`demand` (a contentInstance per closed 15-minute interval), `alarms` (the history, one
contentInstance per alarm), `acks` (acknowledgements), `usage` (the latest usage figures).
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from client import CseClient, RequestFailed
from client.access import Access, grant

from .energy import DemandInterval, MeterSeries, Reading, carbon_kg

log = logging.getLogger(__name__)

APP_ID = "CBuildingApp"


@dataclass
class Settings:
    peak_limit_kw: float = 150.0
    setpoint_raise: float = 2.0
    max_setpoint: float = 12.0
    dim_to: int = 60
    release_after: timedelta = timedelta(minutes=30)
    goal_kwh: float = 1900.0                 # the building's daily energy goal
    emission_factor: float = 0.45            # kg CO2 per kWh of grid electricity


@dataclass
class ControlState:
    active: bool = False
    since: datetime | None = None
    below_since: datetime | None = None
    original_setpoints: dict[str, float] = field(default_factory=dict)
    actions: list[dict] = field(default_factory=list)


class BuildingEnergyApp:
    """`client`: a CseClient on the platform (not registered yet); `proxy`: the SP-relative
    address of the proxy AE on the gateway (`/id-mn/cse-mn/building-proxy`); `readers`:
    AE-IDs (on the platform) allowed to read what this app publishes (the dashboard)."""

    def __init__(self, client: CseClient, proxy: str, *, clock: Callable[[], datetime], settings: Settings,
                 readers: list[str], say: Callable[[str], None] = lambda text: None):
        self.client = client
        self.proxy = proxy
        self.clock = clock
        self.settings = settings
        self.readers = readers
        self.say = say
        self.meters: dict[str, MeterSeries] = {}
        self.demand: list[DemandInterval] = []
        self.alarms: list[dict] = []
        self.acks: dict[str, dict] = {}
        self.control = ControlState()
        self.chillers: list[str] = []
        self.lights: list[str] = []
        self._goal_alarmed = False
        self._subscriptions: dict[str, tuple[str, str]] = {}      # subscription ri -> what it is about
        self._lock = asyncio.Lock()

    @property
    def base(self) -> str:
        return self.client.ae_address or ""

    async def setup(self, receiver) -> None:
        await self.client.register("Nbuilding-energy", rn="building-energy", receiver=receiver)
        rules = [grant(self.readers, Access.RETRIEVE | Access.DISCOVER),
                 grant(self.readers, Access.CREATE, child_types=[4, 23])]
        acp = await self.client.create_acp(self.base, rn="readers", rules=rules)
        for rn, mni in (("demand", 500), ("alarms", 1000), ("acks", 1000), ("usage", 50)):
            await self.client.create(self.base, {"m2m:cnt": {"rn": rn, "mni": mni, "acpi": [acp["ri"]]}},
                                     exist_ok=True)
        meters = await self.client.discover(f"{self.proxy}/readings", ty=3)
        for address in meters:
            name = address.rsplit("/", 1)[-1]
            self.meters[name] = MeterSeries(name)
            await self._subscribe(address, ("reading", name))
        await self._subscribe(f"{self.proxy}/alarms", ("alarm", ""))
        self.chillers = await self.client.discover(self.proxy, labels=["building:type/chiller"])
        self.lights = await self.client.discover(self.proxy, labels=["building:type/lighting"])
        await self._subscribe(f"{self.base}/acks", ("ack", ""))

    async def _subscribe(self, address: str, meaning: tuple[str, str]) -> None:
        """Subscribe, and remember what notifications of this subscription are about: they
        name it by its unstructured address (sur = <CSE-ID>/<ri>)."""
        subscription = await self.client.subscribe(address, net=(3,), rn="energy-app", exist_ok=True)
        self._subscriptions[subscription["ri"]] = meaning

    # -- notifications -------------------------------------------------------------------------
    async def handle(self, notification) -> None:
        if notification.verification or notification.deletion or notification.event != 3:
            return
        resource = notification.resource
        if not isinstance(resource, dict) or "con" not in resource:
            return
        kind, name = self._subscriptions.get((notification.subscription or "").rsplit("/", 1)[-1], ("", ""))
        try:
            content = json.loads(resource["con"]) if isinstance(resource["con"], str) else resource["con"]
        except ValueError:
            return
        async with self._lock:
            if kind == "reading":
                await self._reading(name, content)
            elif kind == "alarm":
                await self._raise({**content, "source": "proxy"})
            elif kind == "ack":
                self.acks[content.get("alarm", "")] = content

    async def _reading(self, meter: str, content: dict) -> None:
        series = self.meters.get(meter)
        if series is None:
            return
        demand = content.get("demand_kw")
        reading = Reading(datetime.fromisoformat(content["t"]), float(content["kw"]), float(content["kwh"]),
                          float(demand) if isinstance(demand, (int, float)) else None)
        closed = series.add(reading)
        if meter != "meter-main":
            return
        await self._intervals(closed)
        used = series.total()
        if used > self.settings.goal_kwh and not self._goal_alarmed:
            self._goal_alarmed = True
            await self._raise({"t": reading.t.isoformat(timespec="seconds"), "kind": "goal",
                               "message": f"the building used {used:.0f} kWh today, more than its goal of "
                                          f"{self.settings.goal_kwh:.0f} kWh"})
        await self._control(reading)

    async def finish(self) -> None:
        """The end of the day: the last intervals of the main meter."""
        main = self.meters.get("meter-main")
        if main is not None:
            async with self._lock:
                await self._intervals(main.finish())

    async def _intervals(self, closed: list[DemandInterval]) -> None:
        for interval in closed:
            self.demand.append(interval)
            await self.client.add_instance(f"{self.base}/demand", json.dumps(
                {"start": interval.start.isoformat(timespec="minutes"), "kw": interval.kw}), cnf="application/json:0")
            if interval.kw > self.settings.peak_limit_kw:
                await self._raise({"t": self.clock().isoformat(timespec="seconds"), "kind": "peak",
                                   "message": f"demand {interval.kw:.1f} kW in the 15 minutes from "
                                              f"{interval.label()} is above the limit of "
                                              f"{self.settings.peak_limit_kw:.0f} kW"})

    async def _raise(self, alarm: dict) -> None:
        created = await self.client.add_instance(f"{self.base}/alarms", json.dumps(alarm), cnf="application/json:0")
        alarm = {**alarm, "id": created.get("ri", alarm.get("id"))}
        self.alarms.append(alarm)
        self.say(f"ALARM {alarm['kind']}: {alarm['message']}")

    async def acknowledge(self, alarm_id: str, by: str) -> None:
        """What an operator does from the dashboard: a contentInstance in `acks`."""
        await self.client.add_instance(f"{self.base}/acks", json.dumps(
            {"alarm": alarm_id, "by": by, "t": self.clock().isoformat(timespec="seconds")}), cnf="application/json:0")

    # -- peak control --------------------------------------------------------------------------
    async def _control(self, reading: Reading) -> None:
        limit, state = self.settings.peak_limit_kw, self.control
        if not state.active and reading.kw > limit:
            state.active, state.since, state.below_since = True, reading.t, None
            self.say(f"PEAK CONTROL on: main meter {reading.kw:.1f} kW > {limit:.0f} kW; raising chiller "
                     f"set points by {self.settings.setpoint_raise:g} degC, dimming lights to {self.settings.dim_to} %")
            for chiller in self.chillers:
                current = await self.client.retrieve(f"{chiller}/temperature")
                state.original_setpoints[chiller] = float(current.get("tarTe", 7.0))
                wanted = min(self.settings.max_setpoint, state.original_setpoints[chiller] + self.settings.setpoint_raise)
                await self._command(chiller, "temperature", "cod:tempe", {"tarTe": wanted}, reading.t)
            for light in self.lights:
                await self._command(light, "brightness", "cod:brigs", {"brigs": self.settings.dim_to}, reading.t)
        elif state.active:
            if reading.kw < 0.9 * limit:
                state.below_since = state.below_since or reading.t
                if reading.t - state.below_since >= self.settings.release_after:
                    await self._release(reading)
            else:
                state.below_since = None

    async def _release(self, reading: Reading) -> None:
        state = self.control
        self.say(f"PEAK CONTROL off: main meter below {0.9 * self.settings.peak_limit_kw:.0f} kW for "
                 f"{self.settings.release_after.seconds // 60} min; set points and lights restored")
        for chiller, setpoint in state.original_setpoints.items():
            await self._command(chiller, "temperature", "cod:tempe", {"tarTe": setpoint}, reading.t)
        for light in self.lights:
            await self._command(light, "brightness", "cod:brigs", {"brigs": 100}, reading.t)
        state.active, state.below_since = False, None

    async def _command(self, device: str, module: str, root: str, values: dict, t: datetime) -> None:
        record: dict[str, Any] = {"t": t.isoformat(timespec="seconds"), "device": device.rsplit("/", 1)[-1],
                                  "module": module, **values}
        try:
            await self.client.update(f"{device}/{module}", {root: values})
            record["ok"] = True
        except RequestFailed as error:
            record["ok"] = False
            record["error"] = str(error)
        self.control.actions.append(record)

    # -- results ---------------------------------------------------------------------------------
    def usage(self) -> dict:
        def total(name: str) -> float:
            series = self.meters.get(name)
            return round(series.total(), 3) if series is not None else 0.0
        building = total("meter-main")
        floors = {name: total(name) for name in sorted(self.meters) if name.startswith("meter-floor-")}
        zones = {name: total(name) for name in sorted(self.meters)
                 if name.count("-") == 2 and name[6].isdigit()}
        peak = max(self.demand, key=lambda i: i.kw) if self.demand else None
        return {"building_kwh": building, "floors_kwh": floors, "zones_kwh": zones,
                "carbon_kg": round(carbon_kg(building, self.settings.emission_factor), 1),
                "goal_kwh": self.settings.goal_kwh, "goal_met": building <= self.settings.goal_kwh,
                "peak": {"start": peak.label(), "kw": peak.kw} if peak else None,
                "intervals": len(self.demand)}

    async def publish_usage(self) -> dict:
        figures = self.usage()
        await self.client.add_instance(f"{self.base}/usage", json.dumps(figures), cnf="application/json:0")
        return figures
