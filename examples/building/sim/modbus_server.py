"""The building's Modbus TCP servers: one per device group (like a Modbus gateway per
plant room or riser), each device under its own unit id, with the register map of its
device type's point list.

A pymodbus server keeps registers; ours never trust them: a request runs a hook (pymodbus's
`SimDevice.action`) that first fills the requested registers from the model, so a read
always returns the simulation's state at that moment, and a write is decoded with the point
list, checked (range, enumerations; a partial write of a 32-bit point is refused) and
applied to the model before pymodbus acknowledges it.  A refused write answers exception 3
(illegal data value) and changes nothing; an address outside the map answers exception 2.
Coils and discrete inputs are not used (the map has registers only).

Faults: `stop()` takes the server off the network (listener and connections closed: the
device is switched off), `start()` brings it back on the same port; `silence(unit)` keeps
the server up but lets that unit (or all) drop every request, so that clients time out, as
with a dead device behind a gateway (it relies on pymodbus' `ignore_missing_devices`: the
hook reports the unit as missing).

Must never block the event loop or touch the model outside a request or the simulation's
step (they share one loop, so a request sees a whole step, never half of one).
"""
from __future__ import annotations

import asyncio
import functools
import logging

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from ..fieldbus.points import DeviceType, ModbusPoint
from ..fieldbus.results import PointError
from .layout import DeviceInfo
from .model import BuildingModel

log = logging.getLogger(__name__)

READ_TABLE = {3: "holding", 4: "input", 6: "holding", 16: "holding", 23: "holding"}


def _block(points: list[ModbusPoint]) -> list[SimData]:
    if not points:
        return [SimData(0, datatype=DataType.INVALID)]
    return [SimData(p.address, count=p.count, values=0, datatype=DataType.REGISTERS) for p in points]


class ModbusGroupServer:
    """The Modbus TCP server of one device group."""

    def __init__(self, group: str, devices: list[DeviceInfo], types: dict[str, DeviceType],
                 model: BuildingModel, host: str = "127.0.0.1"):
        if not devices:
            raise ValueError(f"group {group!r} has no devices")
        self.group = group
        self.host = host
        self.port = 0
        self.model = model
        self.devices = {d.unit: d for d in devices}
        self.types = types
        self.silent_units: set[int] = set()
        self.silent_all = False
        self.requests = 0  # answered or dropped, for tests and the CLI
        self._server: ModbusTcpServer | None = None

    # ---- lifecycle and faults -------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._server is not None

    async def start(self, port: int | None = None) -> int:
        """Listen (on `port`, else the previous port, else a free one); returns the port."""
        if self._server is not None:
            return self.port
        sim_devices = [self._sim_device(info) for info in self.devices.values()]
        server = ModbusTcpServer(sim_devices, address=(self.host, port if port is not None else self.port),
                                 ignore_missing_devices=True)
        await server.serve_forever(background=True)
        self.port = server.transport.sockets[0].getsockname()[1]
        self._server = server
        return self.port

    async def stop(self) -> None:
        """Switch the devices off: close the listener and every open connection."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            await asyncio.sleep(0)  # let the transports close

    def silence(self, unit: int | None = None) -> None:
        """The unit (None: every unit) stops answering; the server stays up."""
        if unit is None:
            self.silent_all = True
        elif unit in self.devices:
            self.silent_units.add(unit)
        else:
            raise KeyError(f"{self.group}: no unit {unit}")

    def unsilence(self, unit: int | None = None) -> None:
        if unit is None:
            self.silent_all = False
            self.silent_units.clear()
        else:
            self.silent_units.discard(unit)

    # ---- requests ---------------------------------------------------------------------------
    def _sim_device(self, info: DeviceInfo) -> SimDevice:
        device_type = self.types[info.type]
        holding = [p for p in device_type.points.values() if p.table == "holding"]
        inputs = [p for p in device_type.points.values() if p.table == "input"]
        bits = [SimData(0, datatype=DataType.BITS)]
        return SimDevice(id=info.unit, simdata=(bits, list(bits), _block(holding), _block(inputs)),
                         action=functools.partial(self._on_request, info, device_type))

    async def _on_request(self, info: DeviceInfo, device_type: DeviceType, function_code: int,
                          start: int, address: int, count: int, registers: list[int],
                          values: list[int] | list[bool] | None) -> ExcCodes | None:
        self.requests += 1
        if self.silent_all or info.unit in self.silent_units:
            raise NoSuchIdException(f"{info.name} is silent (fault injected)")
        table = READ_TABLE.get(function_code)
        if table is None:
            return ExcCodes.ILLEGAL_FUNCTION
        points = [p for p in device_type.points.values()
                  if p.table == table and p.address < address + count and p.address + p.count > address]
        if values is None:
            for point in points:
                raw = point.encode(self.model.read_point(info.name, point.name))
                for i, word in enumerate(raw):
                    registers[point.address - start + i] = word
            return None
        return self._write(info, device_type, points, start, address, [int(v) for v in values], registers)

    def _write(self, info: DeviceInfo, device_type: DeviceType, points: list[ModbusPoint], start: int,
               address: int, values: list[int], registers: list[int]) -> ExcCodes | None:
        end = address + len(values)
        changes: list[tuple[str, float]] = []
        for point in points:
            if point.address < address or point.address + point.count > end:
                log.info("%s: refused a partial write of %s", info.name, point.name)
                return ExcCodes.ILLEGAL_ADDRESS
            words = values[point.address - address:point.address - address + point.count]
            value = point.decode(words)
            try:
                device_type.writable_point(point.name, value, info.name)
            except PointError as exc:
                log.info("%s: refused write: %s", info.name, exc)
                return ExcCodes.ILLEGAL_VALUE
            changes.append((point.name, value))
        covered = sum(p.count for p in points)
        if covered != len(values):
            return ExcCodes.ILLEGAL_ADDRESS
        for name, value in changes:
            self.model.write_point(info.name, name, value)
        return None
