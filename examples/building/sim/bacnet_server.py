"""The building's BACnet/IP controller (bacpypes3): one BACnet device, the "BMS controller",
with an object per point of the AHUs and the zone sensors (the same model the Modbus
servers serve; the point lists' `bacnet` section gives the objects).

It binds a unicast address only (`127.0.0.1/32:port`: the /32 makes bacpypes3 open no
broadcast socket), so clients reach it by address with ReadProperty/WriteProperty and no
Who-Is.  Each object reads its present-value from the model when asked; writes go through
the point list's range check to the model:

* analog-input: read-only (a write answers property/write-access-denied);
* analog-value: a setpoint (out of range: property/value-out-of-range);
* binary-output: the AHU's command; active = on, inactive = off, and a relinquish (NULL,
  at any priority) returns it to auto.  It reads active while the AHU runs.  There is one
  command, not a 16-slot priority array: the last writer wins.

Faults: `stop()` closes the UDP socket (the controller is off: requests time out),
`start()` opens it again on the same port with fresh objects.
"""
from __future__ import annotations

import asyncio
import logging

from bacpypes3.basetypes import EngineeringUnits
from bacpypes3.errors import ExecutionError
from bacpypes3.ipv4.app import NormalApplication
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObject
from bacpypes3.local.binary import BinaryOutputObject
from bacpypes3.local.device import DeviceObject
from bacpypes3.pdu import IPv4Address
from bacpypes3.primitivedata import Null

from ..fieldbus.points import BacnetPoint, DeviceType
from ..fieldbus.results import PointError
from .layout import DeviceInfo
from .model import OFF, ON, AUTO, BuildingModel

log = logging.getLogger(__name__)

UNITS = {"degC": EngineeringUnits.degreesCelsius, "ppm": EngineeringUnits.partsPerMillion,
         "kW": EngineeringUnits.kilowatts, "%": EngineeringUnits.percent}


def _is_present_value(attr) -> bool:
    return attr in ("presentValue", "present-value", 85) or getattr(attr, "attr", None) == "presentValue"


class _ModelPoint:
    """Mixin: ties a bacpypes3 object to (model, device, point)."""

    # bacpypes3 objects accept only their BACnet properties as public attributes
    def bind(self, model: BuildingModel, device: DeviceInfo, device_type: DeviceType, point: BacnetPoint):
        self._model, self._device, self._device_type, self._point = model, device, device_type, point
        return self

    def refresh(self) -> None:
        self.presentValue = float(self._model.read_point(self._device.name, self._point.name))

    def check(self, value: float) -> None:
        try:
            self._device_type.writable_point(self._point.name, value, self._device.name)
        except PointError as exc:
            log.info("BACnet write refused: %s", exc)
            raise ExecutionError(errorClass="property", errorCode="valueOutOfRange") from None


class ModelAnalogInput(_ModelPoint, AnalogInputObject):
    async def read_property(self, attr, index=None):
        if _is_present_value(attr):
            self.refresh()
        return await super().read_property(attr, index)

    async def write_property(self, attr, value, index=None, priority=None):
        if _is_present_value(attr):
            raise ExecutionError(errorClass="property", errorCode="writeAccessDenied")
        return await super().write_property(attr, value, index, priority)


class ModelAnalogValue(_ModelPoint, AnalogValueObject):
    async def read_property(self, attr, index=None):
        if _is_present_value(attr):
            self.refresh()
        return await super().read_property(attr, index)

    async def write_property(self, attr, value, index=None, priority=None):
        if not _is_present_value(attr):
            return await super().write_property(attr, value, index, priority)
        if isinstance(value, Null):
            raise ExecutionError(errorClass="property", errorCode="valueOutOfRange")
        self.check(float(value))
        self._model.write_point(self._device.name, self._point.name, float(value))
        self.refresh()


class ModelBinaryOutput(_ModelPoint, BinaryOutputObject):
    def refresh(self) -> None:  # the AHU's running state
        running = self._model.read_point(self._device.name, "status")
        self.presentValue = "active" if running else "inactive"

    async def read_property(self, attr, index=None):
        if _is_present_value(attr):
            self.refresh()
        return await super().read_property(attr, index)

    async def write_property(self, attr, value, index=None, priority=None):
        if not _is_present_value(attr):
            return await super().write_property(attr, value, index, priority)
        if isinstance(value, Null):
            command = AUTO
        else:
            command = ON if str(value) in ("active", "1") or value == 1 else OFF
        self.check(command)
        self._model.write_point(self._device.name, self._point.name, command)


OBJECT_CLASSES = {"analog-input": ModelAnalogInput, "analog-value": ModelAnalogValue,
                  "binary-output": ModelBinaryOutput}


class BacnetController:
    """The BMS controller: a BACnet/IP device on a loopback address and UDP port."""

    def __init__(self, devices: list[DeviceInfo], types: dict[str, DeviceType], model: BuildingModel,
                 host: str = "127.0.0.1", device_instance: int = 100, name: str = "bms-controller"):
        self.devices = [d for d in devices if d.bacnet_base is not None and d.type in types]
        self.types = types
        self.model = model
        self.host = host
        self.port = 0
        self.device_instance = device_instance
        self.name = name
        self._app: NormalApplication | None = None

    @property
    def running(self) -> bool:
        return self._app is not None

    def objects(self) -> list:
        objects = []
        for info in self.devices:
            device_type = self.types[info.type]
            for point in device_type.points.values():
                cls = OBJECT_CLASSES[point.object]
                kwargs = dict(objectIdentifier=(point.object, info.bacnet_base + point.offset),
                              objectName=f"{info.name}.{point.name}", description=point.description)
                if point.object != "binary-output":
                    kwargs.update(presentValue=0.0, units=UNITS.get(point.unit, EngineeringUnits.noUnits))
                else:
                    kwargs.update(presentValue="inactive")
                objects.append(cls(**kwargs).bind(self.model, info, device_type, point))
        return objects

    async def start(self, port: int | None = None) -> int:
        if self._app is not None:
            return self.port
        port = port if port is not None else self.port
        device = DeviceObject(objectIdentifier=("device", self.device_instance), objectName=self.name,
                              vendorIdentifier=999, description="simulated public building: AHUs and zone sensors")
        app = NormalApplication(device, IPv4Address(f"{self.host}/32:{port}"))
        server = app.normal.server
        try:
            await asyncio.wait_for(server._local_transport_ready.wait(), 5.0)
        except asyncio.TimeoutError:
            app.close()
            raise OSError(f"BACnet: could not bind {self.host}:{port}") from None
        for obj in self.objects():
            app.add_object(obj)
        self.port = server.local_transport.get_extra_info("sockname")[1]
        self._app = app
        return self.port

    async def stop(self) -> None:
        app, self._app = self._app, None
        if app is not None:
            app.close()
            await asyncio.sleep(0)
