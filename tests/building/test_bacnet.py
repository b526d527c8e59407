"""The BMS controller over BACnet/IP on loopback (bacpypes3 on both sides, unicast only):
present-values as the model has them, setpoint and command writes, the controller's own
refusals, faults as typed results within the timeout."""
from __future__ import annotations

import time

import pytest
from bacpypes3.apdu import ErrorRejectAbortNack
from bacpypes3.primitivedata import ObjectIdentifier, Real

from examples.building.fieldbus.results import DeviceError, InvalidValue, NoAnswer, OutOfRange, ReadOnlyPoint, \
    UnknownPoint, Value, Written

from .conftest import TIMEOUT, bacnet_device


async def test_ahu_and_sensor_points_read_as_the_model_has_them(bacnet_building, bacnet_link, point_lists):
    building = bacnet_building
    building.advance_to(14.0)
    for name in ("ahu-1", "ahu-3", "sensor-1-1", "sensor-3-3"):
        device = bacnet_device(building, bacnet_link, name, point_lists)
        results = await device.read_many()
        for point, result in results.items():
            assert isinstance(result, Value), result
            model_point = "status" if point == "command" else point
            assert result.value == pytest.approx(building.model.read_point(name, model_point), rel=1e-6, abs=1e-5)


async def test_the_controller_needs_no_broadcast(bacnet_building):
    server = bacnet_building.bacnet._app.normal.server
    assert server.broadcast_transport is None  # bound to 127.0.0.1/32 only


async def test_setpoint_and_command_writes_reach_the_ahu(bacnet_building, bacnet_link, point_lists):
    building = bacnet_building
    building.advance_to(10.0)
    ahu = bacnet_device(building, bacnet_link, "ahu-2", point_lists)
    assert await ahu.write("supply_air_setpoint", 15.0) == Written("ahu-2", "supply_air_setpoint", 15.0)
    assert building.model.ahus[2].supply_air_setpoint == 15.0
    building.advance(1800.0)
    assert (await ahu.read("supply_air_temp")).value == pytest.approx(15.0, abs=0.2)
    assert isinstance(await ahu.write("command", 0), Written)
    building.model.step()
    assert (await ahu.read("command")).value == 0.0
    assert building.model.ahus[2].command == 0
    assert isinstance(await ahu.write("command", 2), Written)  # relinquish: back to the schedule
    building.model.step()
    assert building.model.ahus[2].command == 2 and (await ahu.read("command")).value == 1.0


async def test_an_out_of_range_sensor_is_reported_over_bacnet(bacnet_building, bacnet_link, point_lists):
    building = bacnet_building
    sensor = bacnet_device(building, bacnet_link, "sensor-2-1", point_lists)
    building.bad_value("sensor-2-1", "co2", 65535.0)
    result = await sensor.read("co2")
    assert isinstance(result, OutOfRange) and result.value == 65535.0 and result.valid == (0.0, 5000.0)
    building.bad_value("sensor-2-1", "co2", None)
    assert isinstance(await sensor.read("co2"), Value)


async def test_a_controller_that_goes_off_gives_no_answer_and_is_read_again(bacnet_building, bacnet_link, point_lists):
    building = bacnet_building
    sensor = bacnet_device(building, bacnet_link, "sensor-1-2", point_lists)
    assert isinstance(await sensor.read("temperature"), Value)
    port = building.bacnet.port
    await building.bacnet.stop()
    started = time.monotonic()
    result = await sensor.read("temperature")
    assert isinstance(result, NoAnswer) and "no response" in result.reason
    assert time.monotonic() - started < TIMEOUT + 1.0
    started = time.monotonic()
    all_points = await sensor.read_many()  # concurrently: one timeout, not one per point (0.9 s)
    assert all(isinstance(r, NoAnswer) for r in all_points.values())
    assert time.monotonic() - started < 2.5 * TIMEOUT
    await building.bacnet.start()
    assert building.bacnet.port == port
    assert isinstance(await sensor.read("temperature"), Value)


@pytest.mark.parametrize("name, point, value, error, message", [
    ("ahu-1", "flux", 1, UnknownPoint, "no point 'flux'"),
    ("ahu-1", "fan_power", 1, ReadOnlyPoint, "read-only"),
    ("sensor-1-1", "temperature", 20, ReadOnlyPoint, "read-only"),
    ("ahu-1", "supply_air_setpoint", 25.0, InvalidValue, "outside the valid range"),
    ("ahu-1", "command", 1.5, InvalidValue, "0, 1 or 2"),
    ("ahu-1", "zone_setpoint", float("inf"), InvalidValue, "finite"),
])
async def test_bad_writes_raise_before_sending(bacnet_building, bacnet_link, point_lists, name, point, value, error,
                                               message):
    device = bacnet_device(bacnet_building, bacnet_link, name, point_lists)
    with pytest.raises(error, match=message):
        await device.write(point, value)


async def test_the_controller_refuses_what_a_driver_without_point_list_would_send(bacnet_building, bacnet_link):
    """Writes that bypass the driver's checks: the controller answers BACnet errors, which
    the driver (or any client) receives; the model is unchanged."""
    building = bacnet_building
    address = building.bacnet_address()
    app = bacnet_link._app

    async def write(objid: str, value):
        try:
            return await app.write_property(address, ObjectIdentifier(objid), "present-value", value)
        except ErrorRejectAbortNack as exc:  # bacpypes3 raises or returns the error
            return exc

    too_cold = await write("analog-value,1001", Real(2.0))
    assert "value-out-of-range" in str(too_cold)
    measurement = await write("analog-input,1101", Real(20.0))
    assert "write-access-denied" in str(measurement)
    missing = await write("analog-value,9999", Real(20.0))
    assert "unknown-object" in str(missing)
    assert building.model.ahus[1].supply_air_setpoint == 13.0


async def test_an_unknown_object_read_is_a_device_error(bacnet_building, bacnet_link, point_lists):
    from examples.building.fieldbus.bacnet import BacnetDevice
    ghost = BacnetDevice(bacnet_link, bacnet_building.bacnet_address(), point_lists.bacnet["sensor"], base=9900,
                         name="sensor-9-9")
    result = await ghost.read("temperature")
    assert isinstance(result, DeviceError) and "unknown-object" in result.code
