"""The interworking proxy against a simulated building and a real CSE: devices appear as
TS-0023 flexContainers with live values, commands written to the models reach the Modbus
devices and come back, and faults and bad values become alarms without stopping anything."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

import pytest

from client import CseClient, NotificationReceiver
from examples.building.proxy import InterworkingProxy, application_grants
from examples.building.sim.building import SimulatedBuilding
from examples.building.sim.layout import BuildingSpec
from server.compose import build_cse, configured_bindings
from tests.conftest import make_config

APP = "CBuildingApp"


@pytest.fixture
async def setup():
    cse = build_cse(make_config(), bindings=configured_bindings)
    await cse.start()
    url = next(b for b in cse.bindings if b.name == "http").url
    building = SimulatedBuilding(BuildingSpec(floors=1, zones_per_floor=2, chillers=1), bacnet=False, start_hour=14)
    await building.start()
    building.advance(60)                    # the meters have values once the physics ran
    start = datetime(2024, 7, 15, 14)
    clock = lambda: start + timedelta(seconds=building.model.t - 14 * 3600)      # noqa: E731
    client = CseClient(url, originator="CBuildingProxy", cse_rn="cse-in")
    receiver = NotificationReceiver()
    proxy = InterworkingProxy(client, building.inventory(), grants=application_grants([APP]), clock=clock,
                              timeout=0.3)
    receiver.on_notification = proxy.handle
    await receiver.start()
    await client.transport.open()
    await proxy.setup(receiver)
    app = CseClient(url, originator=APP, cse_rn="cse-in")
    await app.transport.open()
    try:
        yield cse, building, proxy, app
    finally:
        await app.close()
        await proxy.close()
        await client.close()
        await receiver.stop()
        await building.stop()
        await cse.stop()


async def wait_for(predicate, timeout: float = 10.0):
    for _ in range(int(timeout / 0.05)):
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_devices_are_ts0023_flexcontainers_with_live_values(setup):
    cse, building, proxy, app = setup
    found = await app.discover("cse-in/building-proxy", cnd="org.onem2m.city.device.deviceSmartElectricMeter")
    assert "cse-in/building-proxy/meter-main" in found
    assert "cse-in/building-proxy/meter-1-2" in found
    chillers = await app.discover("cse-in/building-proxy", labels=["building:type/chiller"])
    assert chillers == ["cse-in/building-proxy/chiller-1"]
    main = await app.retrieve("cse-in/building-proxy/meter-main/energyConsumption")
    assert main["power"] > 1000 and main["abECn"] >= 0
    building.advance(900)
    await proxy.poll()
    later = await app.retrieve("cse-in/building-proxy/meter-main/energyConsumption")
    assert later["abECn"] > main["abECn"]
    readings = await app.retrieve("cse-in/building-proxy/readings/meter-main/la")
    reading = json.loads(readings["con"])
    assert reading["kwh"] == pytest.approx(later["abECn"], abs=0.01) and reading["t"].startswith("2024-07-15T14:16")


async def test_a_setpoint_written_to_the_model_reaches_the_chiller_and_comes_back(setup):
    cse, building, proxy, app = setup
    before = await app.retrieve("cse-in/building-proxy/chiller-1/temperature")
    await app.update("cse-in/building-proxy/chiller-1/temperature", {"cod:tempe": {"tarTe": 10.0}})

    async def written():
        return any(c["device"] == "chiller-1" and c["result"] == "written" for c in proxy.commands)
    assert await wait_for(written)
    device = proxy.devices["chiller-1"].driver
    assert (await device.read("chw_setpoint")).value == pytest.approx(10.0)
    after = await app.retrieve("cse-in/building-proxy/chiller-1/temperature")
    assert after["tarTe"] == pytest.approx(10.0) and before["tarTe"] != after["tarTe"]


async def test_switching_a_light_off_and_a_refused_value(setup):
    cse, building, proxy, app = setup
    await app.update("cse-in/building-proxy/light-1-1/binarySwitch", {"cod:binSh": {"state": False}})
    await app.update("cse-in/building-proxy/light-1-2/brightness", {"cod:brigs": {"brigs": 40}})

    async def done():
        return len([c for c in proxy.commands if c["result"] == "written"]) >= 2
    assert await wait_for(done)
    assert (await proxy.devices["light-1-1"].driver.read("command")).value == 0
    assert (await proxy.devices["light-1-2"].driver.read("dimming_level")).value == 40
    # A chiller set point outside the device's range: refused by the driver, alarmed, model restored.
    await app.update("cse-in/building-proxy/chiller-1/temperature", {"cod:tempe": {"tarTe": 30.0}})

    async def refused():
        return any(a["kind"] == "command-failed" for a in proxy.alarms)
    assert await wait_for(refused)

    async def restored():
        return (await app.retrieve("cse-in/building-proxy/chiller-1/temperature"))["tarTe"] != 30.0
    assert await wait_for(restored)


async def test_a_silent_device_and_a_bad_value_raise_alarms_and_recover(setup):
    cse, building, proxy, app = setup
    building.silence("meter-1-1")
    building.bad_value("sensor-1-2", "temperature", 95.0)
    await proxy.poll()
    kinds = {(a["kind"], a["device"]) for a in proxy.alarms}
    assert ("fault", "meter-1-1") in kinds and ("bad-value", "sensor-1-2") in kinds
    fault = await app.retrieve("cse-in/building-proxy/meter-1-1/faultDetection")
    assert fault["sus"] is True and fault["code"] == 1
    alarms = await app.retrieve("cse-in/building-proxy/alarms", rcn=4)
    assert len(alarms["m2m:cin"]) == 2
    await proxy.poll()
    assert len(proxy.alarms) == 2                 # a fault that persists raises one alarm
    building.unsilence("meter-1-1")
    building.bad_value("sensor-1-2", "temperature", None)
    await proxy.poll()
    assert {a["device"] for a in proxy.alarms if a["kind"] == "recovered"} == {"meter-1-1", "sensor-1-2"}
    assert (await app.retrieve("cse-in/building-proxy/meter-1-1/faultDetection"))["sus"] is False


async def test_an_outsider_cannot_command_the_building(setup):
    cse, building, proxy, app = setup
    async with CseClient(next(b for b in cse.bindings if b.name == "http").url, originator="COutsider",
                         cse_rn="cse-in") as outsider:
        from client import RequestFailed
        with pytest.raises(RequestFailed) as caught:
            await outsider.update("cse-in/building-proxy/chiller-1/temperature", {"cod:tempe": {"tarTe": 11.0}})
        assert caught.value.response.rsc == 4103


async def test_bms_devices_are_read_over_bacnet():
    cse = build_cse(make_config(), bindings=configured_bindings)
    await cse.start()
    url = next(b for b in cse.bindings if b.name == "http").url
    try:
        async with SimulatedBuilding(BuildingSpec(floors=1, zones_per_floor=1, chillers=1), bacnet=True,
                                     start_hour=10) as building, \
                CseClient(url, originator="CBuildingProxy", cse_rn="cse-in") as client, \
                NotificationReceiver() as receiver:
            building.advance(60)
            proxy = InterworkingProxy(client, building.inventory(), grants=application_grants([APP]),
                                      clock=datetime.now, timeout=0.5)
            await proxy.setup(receiver)
            try:
                assert proxy.protocols() == {"bacnet": 2, "modbus": len(proxy.devices) - 2}
                building.bad_value("sensor-1-1", "temperature", 99.0)
                await proxy.poll()
                assert [a["kind"] for a in proxy.alarms if a["device"] == "sensor-1-1"] == ["bad-value"]
                sensor = await client.retrieve("cse-in/building-proxy/sensor-1-1/temperature")
                assert -20 < sensor["curT0"] < 60           # the bad value never became a measurement
            finally:
                await proxy.close()
    finally:
        await cse.stop()
