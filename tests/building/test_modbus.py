"""The simulated building's Modbus servers and the Modbus driver, over real TCP sockets on
loopback: values as the model has them, writes that change the physics and the meters,
energy read over the wire against the ground truth, faults as typed results within the
timeout (and the device read again once it is back), and bad requests refused clearly."""
from __future__ import annotations

import asyncio
import math
import time

import pytest
from pymodbus.client import AsyncModbusTcpClient

from examples.building.fieldbus.modbus import ModbusDevice, ModbusLink
from examples.building.fieldbus.results import (DeviceError, InvalidValue, NoAnswer, OutOfRange, ReadOnlyPoint,
                                                UnknownPoint, Value, Written)
from examples.building.sim.model import BuildingModel

from .conftest import TIMEOUT


async def test_every_device_answers_every_point_with_the_models_value(building, drivers):
    building.advance_to(14.0)
    model = building.model
    for name, info in building.devices.items():
        results = await drivers.modbus(name).read_many()
        point_list = drivers.point_lists.modbus[info.type]
        assert set(results) == set(point_list.points)
        for point, result in results.items():
            assert isinstance(result, Value), (name, result)
            expected = model.read_point(name, point)
            resolution = point_list.points[point].scale
            assert result.value == pytest.approx(expected, abs=resolution / 2 + 1e-9), (name, point)
            assert result.unit == point_list.points[point].unit


async def test_a_whole_device_is_read_in_one_request_per_register_table(building, drivers):
    chiller = drivers.modbus("chiller-1")
    before = building.servers["chillers"].requests
    await chiller.read_many()
    assert building.servers["chillers"].requests - before == 2  # holding + input registers


async def test_a_chiller_setpoint_write_changes_the_water_the_power_and_the_meters(building, drivers):
    twin = BuildingModel(building.spec)  # the same building without the write
    building.advance_to(14.0)
    twin.advance_to(14.0)
    chiller = drivers.modbus("chiller-1")
    main = drivers.modbus("meter-main")
    assert await chiller.write("chw_setpoint", 9.0) == Written("chiller-1", "chw_setpoint", 9.0)
    assert (await chiller.read("chw_setpoint")).value == 9.0
    assert building.model.chillers[0].chw_setpoint == 9.0
    building.advance(1800.0)
    twin.advance(1800.0)
    water = await chiller.read("chw_supply_temp")
    assert water.value == pytest.approx(9.0, abs=0.15)
    assert twin.chillers[0].chw_supply_temp == pytest.approx(7.0, abs=0.05)
    power = await drivers.modbus("meter-plant").read("active_power")
    assert power.value < twin.meters["meter-plant"].active_power - 0.5
    assert (await main.read("active_power")).value < twin.meters["meter-main"].active_power - 0.5


async def test_dimming_over_modbus_lowers_the_zone_meter(building, drivers):
    building.advance_to(11.0)
    light, meter = drivers.modbus("light-2-2"), drivers.modbus("meter-2-2")
    full = (await light.read("power")).value
    zone_before = (await meter.read("active_power")).value
    assert await light.write("dimming_level", 70) == Written("light-2-2", "dimming_level", 70)
    building.model.step()
    dimmed = (await light.read("power")).value
    assert dimmed == pytest.approx(0.7 * full, rel=0.05)
    assert (await meter.read("active_power")).value == pytest.approx(zone_before - (full - dimmed), abs=0.2)


async def test_commands_switch_equipment_off_and_back_to_auto(building, drivers):
    building.advance_to(10.0)
    ahu = drivers.modbus("ahu-1")
    assert (await ahu.read("status")).value == 1
    assert isinstance(await ahu.write("command", 0), Written)
    building.advance(120.0)
    results = await ahu.read_many(["status", "fan_power", "command"])
    assert results["status"].value == 0 and results["command"].value == 0
    assert results["fan_power"].value < 1.0
    assert isinstance(await ahu.write("command", 2), Written)
    building.advance(120.0)
    assert (await ahu.read("status")).value == 1


async def test_energy_over_modbus_matches_the_ground_truth(building, drivers):
    """Read the main meter every step for three hours of the afternoon: integrating the power
    read over the wire, and the energy register's increase, both give the ground truth."""
    meter = drivers.modbus("meter-main")
    building.advance_to(12.0)
    truth_before = building.model.truth.energy_kwh["meter-main"]
    register_before = (await meter.read("energy")).value
    integral = 0.0
    step_h = building.spec.step_s / 3600.0
    for _ in range(int(3 * 3600 / building.spec.step_s)):
        building.model.step()  # the power read now is the power of the step just simulated
        integral += (await meter.read("active_power")).value * step_h
    truth = building.model.truth.energy_kwh["meter-main"] - truth_before
    register = (await meter.read("energy")).value - register_before
    assert integral == pytest.approx(truth, abs=0.001 * 360 * step_h + 1e-6)  # W resolution per reading
    assert register == pytest.approx(truth, abs=0.002)  # Wh resolution of the register
    demand = await meter.read("demand")
    assert demand.value == pytest.approx(building.model.truth.intervals("meter-main")[-1].demand_kw, abs=0.001)


# ---- faults --------------------------------------------------------------------------------------
async def test_a_silent_device_gives_no_answer_within_the_timeout_and_is_read_again(building, drivers):
    chiller, other = drivers.modbus("chiller-1"), drivers.modbus("chiller-2")
    assert isinstance(await chiller.read("status"), Value)
    building.silence("chiller-1")
    started = time.monotonic()
    result = await chiller.read("cop")
    elapsed = time.monotonic() - started
    assert isinstance(result, NoAnswer) and "no response" in result.reason
    assert TIMEOUT * 0.9 <= elapsed < TIMEOUT + 1.0  # the driver's timeout, not pymodbus' 3 s
    assert isinstance(await chiller.write("chw_setpoint", 8.0), NoAnswer)
    assert building.model.chillers[0].chw_setpoint == 7.0  # a silent device does nothing
    assert isinstance(await other.read("status"), Value)  # the other unit on the server answers
    building.unsilence("chiller-1")
    assert isinstance(await chiller.read("cop"), Value)


async def test_a_device_group_that_goes_off_gives_no_answer_and_is_read_again_when_back(building, drivers):
    building.advance_to(8.0)
    meter = drivers.modbus("meter-main")
    assert isinstance(await meter.read("active_power"), Value)
    connects = meter.link.connects
    await building.power_off("meters")
    started = time.monotonic()
    for _ in range(3):  # the first may race the connection's close; then the connection is refused
        result = await meter.read("active_power")
        assert isinstance(result, NoAnswer), result
    assert time.monotonic() - started < 3 * (TIMEOUT + 1.0)
    assert "refused" in result.reason or "connect" in result.reason
    await building.power_on("meters")
    result = await meter.read("active_power")
    assert isinstance(result, Value) and result.value > 0
    assert meter.link.connects == connects + 1


async def test_an_out_of_range_sensor_value_is_reported_as_such(building, drivers):
    sensor = drivers.modbus("sensor-3-2")
    building.bad_value("sensor-3-2", "temperature", 3276.7)  # the 0x7FFF of a broken probe
    building.bad_value("sensor-3-2", "co2", 9000.0)
    results = await sensor.read_many()
    assert results["temperature"] == OutOfRange("sensor-3-2", "temperature", 3276.7, "degC", (-20.0, 60.0))
    assert "outside its valid range [-20, 60]" in results["temperature"].message
    assert isinstance(results["co2"], OutOfRange) and results["co2"].value == 9000.0
    assert isinstance(results["occupancy"], Value)
    building.bad_value("sensor-3-2", "temperature", -45.0)
    assert isinstance(await sensor.read("temperature"), OutOfRange)
    building.bad_value("sensor-3-2", "temperature", None)
    assert isinstance(await sensor.read("temperature"), Value)


async def test_a_server_that_was_never_there_gives_no_answer_quickly(point_lists):
    with __import__("socket").socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        device = ModbusDevice(ModbusLink("127.0.0.1", port, connect_timeout=TIMEOUT, response_timeout=TIMEOUT),
                              1, point_lists.modbus["meter"], "meter-x")
        started = time.monotonic()
        results = await device.read_many()
        assert all(isinstance(r, NoAnswer) for r in results.values())
        assert time.monotonic() - started < TIMEOUT + 1.0
        await device.link.close()


# ---- bad requests ----------------------------------------------------------------------------
@pytest.mark.parametrize("device, action, point, value, error, message", [
    ("chiller-1", "read", "flux", None, UnknownPoint, "no point 'flux'"),
    ("chiller-1", "write", "flux", 1, UnknownPoint, "no point 'flux'"),
    ("chiller-1", "write", "cop", 5, ReadOnlyPoint, "read-only"),
    ("meter-main", "write", "energy", 0, ReadOnlyPoint, "read-only"),
    ("chiller-1", "write", "chw_setpoint", 4.0, InvalidValue, "outside the valid range [5, 12]"),
    ("chiller-1", "write", "chw_setpoint", 12.5, InvalidValue, "outside the valid range"),
    ("chiller-1", "write", "chw_setpoint", math.nan, InvalidValue, "finite number"),
    ("chiller-1", "write", "chw_setpoint", "9", InvalidValue, "finite number"),
    ("chiller-1", "write", "command", True, InvalidValue, "finite number"),
    ("chiller-1", "write", "command", 1.5, InvalidValue, "not one of 0 (off), 1 (on), 2 (auto)"),
    ("light-1-1", "write", "dimming_level", 101, InvalidValue, "[0, 100]"),
    ("ahu-1", "write", "zone_setpoint", -3, InvalidValue, "outside the valid range"),
])
async def test_bad_requests_raise_a_clear_error_and_send_nothing(building, drivers, device, action, point, value,
                                                                 error, message):
    driver = drivers.modbus(device)
    server = building.servers[building.device(device).group]
    before = server.requests
    with pytest.raises(error, match=message.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")) as raised:
        if action == "read":
            await driver.read(point)
        else:
            await driver.write(point, value)
    assert device in str(raised.value)
    assert server.requests == before


async def test_the_server_refuses_bad_writes_that_bypass_the_driver(building):
    """A client without the point list (or a buggy one) gets Modbus exceptions, and the
    building is unchanged."""
    host, port, unit = building.endpoint("chiller-1")
    client = AsyncModbusTcpClient(host, port=port, timeout=2, retries=0, reconnect_delay=0)
    assert await client.connect()
    try:
        too_warm = await client.write_register(1, 200, device_id=unit)  # 20.0 degC > 12.0
        assert too_warm.isError() and too_warm.exception_code == 3
        bad_command = await client.write_register(0, 7, device_id=unit)
        assert bad_command.isError() and bad_command.exception_code == 3
        unmapped = await client.read_holding_registers(40, count=2, device_id=unit)
        assert unmapped.isError() and unmapped.exception_code == 2
        both = await client.write_registers(0, [1, 95], device_id=unit)  # on, 9.5 degC in one request
        assert not both.isError()
    finally:
        client.close()
    assert building.model.chillers[0].command == 1 and building.model.chillers[0].chw_setpoint == 9.5
    meter_host, meter_port, meter_unit = building.endpoint("meter-main")
    client = AsyncModbusTcpClient(meter_host, port=meter_port, timeout=2, retries=0, reconnect_delay=0)
    assert await client.connect()
    try:
        no_holding = await client.write_register(0, 1, device_id=meter_unit)
        assert no_holding.isError() and no_holding.exception_code == 2
    finally:
        client.close()


async def test_a_wrong_point_list_or_unit_is_a_device_error_not_a_crash(building, drivers):
    as_chiller = drivers.modbus("meter-main", device_type="chiller")  # a meter has no holding registers
    results = await as_chiller.read_many(["command", "status"])
    assert isinstance(results["command"], DeviceError) and "illegal data address" in results["command"].reason
    assert isinstance(results["status"], Value)  # input register 0 exists on a meter too
    ghost = ModbusDevice(drivers.modbus("chiller-1").link, 99, drivers.point_lists.modbus["chiller"], "chiller-99")
    result = await ghost.read("status")
    assert isinstance(result, DeviceError)
    assert isinstance(await drivers.modbus("chiller-1").read("status"), Value)


async def test_concurrent_reads_share_one_connection(building, drivers):
    building.advance_to(9.0)
    names = [f"meter-{f}-{z}" for f in range(1, 4) for z in range(1, 4)]
    results = await asyncio.gather(*(drivers.modbus(n).read("active_power") for n in names))
    assert all(isinstance(r, Value) and r.value > 0 for r in results)
    assert drivers.links["meters"].connects == 1
