"""Fixtures of the building tests: a simulated building whose servers listen on free
loopback ports, and drivers pointed at it.  The building's clock is driven by the tests
(`building.advance`), so nothing waits for wall time except the fault tests, which wait for
a driver's timeout (kept short here)."""
from __future__ import annotations

import pytest

from examples.building.fieldbus.bacnet import BacnetDevice, BacnetLink
from examples.building.fieldbus.modbus import ModbusDevice, ModbusLink
from examples.building.fieldbus.points import load_point_lists
from examples.building.sim.building import SimulatedBuilding

TIMEOUT = 0.3  # driver response timeout in the fault tests, seconds


@pytest.fixture(scope="session")
def point_lists():
    return load_point_lists()


@pytest.fixture
async def building():
    async with SimulatedBuilding(bacnet=False) as running:
        yield running


@pytest.fixture
async def bacnet_building():
    async with SimulatedBuilding(bacnet=True) as running:
        yield running


class Drivers:
    """Makes a driver for a device of the building, one Modbus link per device group."""

    def __init__(self, building: SimulatedBuilding, point_lists):
        self.building, self.point_lists = building, point_lists
        self.links: dict[str, ModbusLink] = {}

    def modbus(self, name: str, device_type: str | None = None, timeout: float = TIMEOUT) -> ModbusDevice:
        info = self.building.device(name)
        host, port, unit = self.building.endpoint(name)
        link = self.links.get(info.group)
        if link is None:
            link = self.links[info.group] = ModbusLink(host, port, connect_timeout=timeout, response_timeout=timeout)
        return ModbusDevice(link, unit, self.point_lists.modbus[device_type or info.type], name)

    async def close(self):
        for link in self.links.values():
            await link.close()


@pytest.fixture
async def drivers(building, point_lists):
    made = Drivers(building, point_lists)
    yield made
    await made.close()


@pytest.fixture
async def bacnet_link():
    async with BacnetLink(response_timeout=TIMEOUT) as link:
        yield link


def bacnet_device(building: SimulatedBuilding, link: BacnetLink, name: str, point_lists) -> BacnetDevice:
    info = building.device(name)
    return BacnetDevice(link, building.bacnet_address(), point_lists.bacnet[info.type], info.bacnet_base, name)
