"""BACnet/IP driver (bacpypes3): read and write the present-value of named points.

* `BacnetLink`: the proxy's own BACnet/IP application, bound to a unicast address
  (`127.0.0.1/32:0` by default: a free port, and no broadcast socket), shared by every
  BACnet device the proxy talks to.  It never sends Who-Is: devices are addressed directly
  (`host:port`), as configured.
* `BacnetDevice`: a device's points (the `bacnet` point list of its type) at an instance
  base; same typed results as the Modbus driver.  A point's object instance is base + offset.

Each request is bounded by `response_timeout` (BACnet over UDP has no connection: a device
that is off simply does not answer, and the next request reaches it when it is back).
A binary-output is written 1 (active), 0 (inactive), or 2: relinquish (NULL) at the
command priority, which hands the output back to its default (the device's auto mode).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Iterable

from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.ipv4.app import NormalApplication
from bacpypes3.local.device import DeviceObject
from bacpypes3.pdu import Address, IPv4Address
from bacpypes3.primitivedata import Null, ObjectIdentifier, Real

from .points import BacnetPoint, DeviceType
from .results import DeviceError, InvalidValue, NoAnswer, OutOfRange, ReadResult, Value, Written, WriteResult

log = logging.getLogger(__name__)
COMMAND_PRIORITY = 8  # "manual operator", the usual priority for supervisory writes


class BacnetLink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, device_instance: int = 4000,
                 response_timeout: float = 1.0):
        if response_timeout <= 0:
            raise ValueError("response_timeout must be positive")
        self.host, self.port = host, port
        self.device_instance = device_instance
        self.response_timeout = response_timeout
        self._app: NormalApplication | None = None

    async def open(self) -> "BacnetLink":
        if self._app is None:
            device = DeviceObject(objectIdentifier=("device", self.device_instance), objectName="interworking-proxy",
                                  vendorIdentifier=999)
            app = NormalApplication(device, IPv4Address(f"{self.host}/32:{self.port}"))
            server = app.normal.server
            try:  # bacpypes3 binds in a task; its readiness event is not public API
                await asyncio.wait_for(server._local_transport_ready.wait(), 5.0)
            except asyncio.TimeoutError:
                app.close()
                raise OSError(f"BACnet: could not bind {self.host}:{self.port}") from None
            self.port = server.local_transport.get_extra_info("sockname")[1]
            self._app = app
        return self

    async def close(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            app.close()
            await asyncio.sleep(0)

    async def __aenter__(self) -> "BacnetLink":
        return await self.open()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def call(self, coroutine_factory):
        """Run one confirmed request; returns its result or raises TimeoutError."""
        if self._app is None:
            await self.open()
        return await asyncio.wait_for(coroutine_factory(self._app), self.response_timeout)


class BacnetDevice:
    def __init__(self, link: BacnetLink, address: str, device_type: DeviceType, base: int = 0,
                 name: str | None = None):
        if device_type.protocol != "bacnet":
            raise ValueError(f"{device_type.name}: not a BACnet point list")
        self.link, self.type, self.base = link, device_type, base
        self.address = Address(address)
        self.name = name or f"{device_type.name}@{address}/{base}"

    def object_id(self, point: BacnetPoint) -> ObjectIdentifier:
        return ObjectIdentifier(f"{point.object},{self.base + point.offset}")

    async def read(self, point: str) -> ReadResult:
        spec = self.type.point(point, self.name)
        try:
            value = await self.link.call(
                lambda app: app.read_property(self.address, self.object_id(spec), "present-value"))
        except asyncio.TimeoutError:
            return NoAnswer(self.name, point, f"no response within {self.link.response_timeout:g} s")
        except ErrorRejectAbortNack as exc:
            return DeviceError(self.name, point, _code(exc), str(exc))
        except OSError as exc:
            return NoAnswer(self.name, point, f"network error: {exc}")
        if isinstance(value, ErrorRejectAbortNack):
            return DeviceError(self.name, point, _code(value), str(value))
        number = _number(value)
        if number is None:
            return DeviceError(self.name, point, "bad-type", f"present-value {value!r} is not a number")
        if spec.in_range(number):
            return Value(self.name, point, number, spec.unit)
        return OutOfRange(self.name, point, number, spec.unit, spec.valid)

    async def read_many(self, points: Iterable[str] | None = None) -> dict[str, ReadResult]:
        names = list(self.type.points) if points is None else list(points)
        for n in names:
            self.type.point(n, self.name)
        results = await asyncio.gather(*(self.read(n) for n in names))  # each bounded by the timeout
        return dict(zip(names, results))

    async def write(self, point: str, value: float) -> WriteResult:
        spec = self.type.writable_point(point, value, self.name)
        if spec.object == "binary-output":
            if value not in (0, 1, 2):
                raise InvalidValue(f"{self.name}.{point}: a binary output takes 0, 1 or 2 (relinquish), not {value!r}")
            wire = Null(()) if value == 2 else ("active" if value == 1 else "inactive")
            priority = COMMAND_PRIORITY
        else:
            wire, priority = Real(float(value)), None
        try:
            result = await self.link.call(lambda app: app.write_property(
                self.address, self.object_id(spec), "present-value", wire, priority=priority))
        except asyncio.TimeoutError:
            return NoAnswer(self.name, point, f"no response within {self.link.response_timeout:g} s")
        except ErrorRejectAbortNack as exc:
            return DeviceError(self.name, point, _code(exc), str(exc))
        except OSError as exc:
            return NoAnswer(self.name, point, f"network error: {exc}")
        if isinstance(result, ErrorRejectAbortNack):
            return DeviceError(self.name, point, _code(result), str(result))
        return Written(self.name, point, float(value))


def _number(value) -> float | None:
    text = str(value)
    if text in ("active", "inactive"):
        return 1.0 if text == "active" else 0.0
    try:
        return float(f"{float(value):.7g}")  # a BACnet Real is 32 bits: no float64 digits after the 7th
    except (TypeError, ValueError):
        return None


def _code(error: ErrorRejectAbortNack) -> str:
    for attr in ("errorCode", "apduAbortRejectReason"):
        code = getattr(error, attr, None)
        if code is not None:
            return str(code)
    return type(error).__name__
