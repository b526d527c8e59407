"""Field-protocol drivers for the building's interworking proxy: Modbus TCP (`modbus`) and
BACnet/IP (`bacnet`) devices read and written by point name through the point lists
(`points`, `pointlists.json`), with typed results (`results`).  See docs/building.md."""
from .points import POINT_LIST_FILE, BacnetPoint, DeviceType, ModbusPoint, PointLists, load_point_lists
from .results import (DeviceError, InvalidValue, NoAnswer, OutOfRange, PointError, ReadOnlyPoint, UnknownPoint,
                      Value, Written)

__all__ = ["POINT_LIST_FILE", "BacnetPoint", "DeviceType", "ModbusPoint", "PointLists", "load_point_lists",
           "DeviceError", "InvalidValue", "NoAnswer", "OutOfRange", "PointError", "ReadOnlyPoint", "UnknownPoint",
           "Value", "Written"]
