"""The simulated building as a whole: the model, its Modbus servers (one per device group),
the BACnet controller, the simulation clock, and the faults one can inject.

Two ways to drive the clock:

* `advance(seconds)` / `advance_to(hour)`: step the physics at once (tests; deterministic,
  no wall time involved);
* `run(day_seconds=60)`: follow the wall clock, one simulated day in `day_seconds`
  (the CLI and demos).  `wait_until(t)` waits, on an event, until the simulated time has
  reached `t` (never by polling).

Either way the servers answer from the model between two steps, in the same event loop.
"""
from __future__ import annotations

import asyncio
import contextlib
from dataclasses import asdict

from ..fieldbus.points import POINT_LIST_FILE, PointLists, load_point_lists
from .bacnet_server import BacnetController
from .layout import BACNET_TYPES, GROUPS, BuildingSpec, DeviceInfo
from .model import BuildingModel
from .modbus_server import ModbusGroupServer


class SimulatedBuilding:
    def __init__(self, spec: BuildingSpec = BuildingSpec(), host: str = "127.0.0.1", bacnet: bool = True,
                 start_hour: float = 0.0, point_lists: PointLists | None = None):
        self.spec = spec
        self.host = host
        self.point_lists = point_lists or load_point_lists()
        self.model = BuildingModel(spec, start_hour=start_hour)
        self.devices = {d.name: d for d in self.model.devices_info}
        types = dict(self.point_lists.modbus)
        self.servers = {group: ModbusGroupServer(group, [d for d in self.devices.values() if d.group == group],
                                                 types, self.model, host) for group in GROUPS}
        bacnet_types = {t: self.point_lists.bacnet[t] for t in BACNET_TYPES if t in self.point_lists.bacnet}
        self.bacnet = BacnetController(list(self.devices.values()), bacnet_types, self.model, host) if bacnet else None
        self._stepped = asyncio.Condition()
        self._runner: asyncio.Task | None = None

    # ---- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        try:
            for server in self.servers.values():
                await server.start()
            if self.bacnet is not None:
                await self.bacnet.start()
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        await self.stop_clock()
        for server in self.servers.values():
            await server.stop()
        if self.bacnet is not None:
            await self.bacnet.stop()

    async def __aenter__(self) -> "SimulatedBuilding":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # ---- where things are ----------------------------------------------------------------
    def device(self, name: str) -> DeviceInfo:
        try:
            return self.devices[name]
        except KeyError:
            raise KeyError(f"no device {name!r} in the building") from None

    def endpoint(self, name: str) -> tuple[str, int, int]:
        """(host, port, unit) of a device's Modbus server."""
        info = self.device(name)
        return self.host, self.servers[info.group].port, info.unit

    def bacnet_address(self) -> str:
        if self.bacnet is None:
            raise RuntimeError("this building runs without BACnet")
        return f"{self.host}:{self.bacnet.port}"

    def inventory(self) -> dict:
        """Everything a proxy needs to find the devices (JSON-ready)."""
        out = {"format": "building-inventory/1", "point_lists": str(POINT_LIST_FILE),
               "spec": {"floors": self.spec.floors, "zones_per_floor": self.spec.zones_per_floor,
                        "zone_area_m2": self.spec.zone_area_m2, "seed": self.spec.seed,
                        "day": self.spec.day.isoformat(), "step_s": self.spec.step_s},
               "modbus": {g: {"host": self.host, "port": s.port, "units": sorted(s.devices)}
                          for g, s in self.servers.items()},
               "devices": []}
        if self.bacnet is not None:
            out["bacnet"] = {"host": self.host, "port": self.bacnet.port, "device_instance": self.bacnet.device_instance,
                             "name": self.bacnet.name}
        for info in self.devices.values():
            entry = {k: v for k, v in asdict(info).items() if v is not None}
            entry["modbus"] = {"group": info.group, "port": self.servers[info.group].port, "unit": info.unit}
            out["devices"].append(entry)
        return out

    # ---- faults ---------------------------------------------------------------------------
    async def power_off(self, group: str) -> None:
        """Every device of a group stops answering: its Modbus server goes away."""
        await self._server(group).stop()

    async def power_on(self, group: str) -> None:
        await self._server(group).start()

    def silence(self, name: str) -> None:
        """One device stops answering (its server stays up and the other units answer)."""
        info = self.device(name)
        self.servers[info.group].silence(info.unit)

    def unsilence(self, name: str) -> None:
        info = self.device(name)
        self.servers[info.group].unsilence(info.unit)

    def bad_value(self, name: str, point: str, value: float | None) -> None:
        """A sensor returns `value` (on Modbus and BACnet alike); None: its real value again."""
        self.device(name)
        self.model.override(name, point, value)

    def _server(self, group: str) -> ModbusGroupServer:
        try:
            return self.servers[group]
        except KeyError:
            raise KeyError(f"no device group {group!r} (groups: {', '.join(self.servers)})") from None

    # ---- the clock --------------------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        self.model.advance(seconds)

    def advance_to(self, hour: float, day: int = 0) -> None:
        self.model.advance_to(hour, day)

    def start_clock(self, day_seconds: float = 60.0, until: float | None = None) -> asyncio.Task:
        """Run the simulation in the background against the wall clock (see `run`)."""
        if self._runner is not None and not self._runner.done():
            raise RuntimeError("the clock already runs")
        self._runner = asyncio.get_running_loop().create_task(self.run(day_seconds, until))
        return self._runner

    async def stop_clock(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None and not runner.done():
            runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await runner

    async def run(self, day_seconds: float = 60.0, until: float | None = None) -> None:
        """Step so that simulated time follows the wall clock, one day per `day_seconds`,
        until simulated time `until` (seconds since the first midnight; None: for ever).
        A late loop catches up (several steps at once), so the simulated day keeps its
        length on a loaded machine as long as the physics keeps up."""
        if day_seconds <= 0:
            raise ValueError("day_seconds must be positive")
        loop = asyncio.get_running_loop()
        step = self.spec.step_s
        wall_per_step = step * day_seconds / 86400.0
        start_wall, start_steps = loop.time(), self.model.steps
        while until is None or self.model.t < until - 1e-6:
            due = start_steps + int((loop.time() - start_wall) / wall_per_step) + 1
            batch = 0
            while self.model.steps < due and (until is None or self.model.t < until - 1e-6):
                self.model.step()
                batch += 1
                if batch % 200 == 0:
                    await asyncio.sleep(0)  # let requests in during a long catch-up
            async with self._stepped:
                self._stepped.notify_all()
            next_wall = start_wall + (self.model.steps - start_steps) * wall_per_step
            await asyncio.sleep(max(0.0, next_wall - loop.time()))

    async def wait_until(self, t: float, timeout: float) -> None:
        """Wait until simulated time has reached `t` (needs a running clock)."""
        async with self._stepped:
            await asyncio.wait_for(self._stepped.wait_for(lambda: self.model.t >= t - 1e-6), timeout)
