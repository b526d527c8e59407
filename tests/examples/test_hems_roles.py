"""The home energy roles against two in-process CSEs (a gateway registered with a
platform), with this test as a second application subscribed to the energy application's
alerts; and the exact rights the devices grant the energy application."""
from __future__ import annotations

import asyncio
import io
from contextlib import AsyncExitStack
from datetime import datetime, timedelta

import pytest

from client import CseClient, NotificationReceiver, RequestFailed
from examples.hems.appliance import CATALOGUE, Appliance
from examples.hems.common import Console
from examples.hems.energy_app import EnergyApp, parse_homes
from examples.hems.house import MemoryWiring, SimClock
from examples.hems.meter import Meter
from examples.hems.outsider import Outsider
from tests.conftest import free_port
from tests.e2e.federation_support import MN, eventually, start_cse, url_of

EVENING = datetime(2024, 6, 1, 18, 0)


@pytest.fixture
async def platform_and_gateway():
    platform = await start_cse()
    gateway = await start_cse(**MN, **{"registrar.url": url_of(platform)})
    try:
        async with CseClient(url_of(platform), originator="CProbe", cse_rn="cse-in") as probe:
            async def registered():
                return (await probe.request(2, "/id-mn/cse-mn")).rsc == 2000
            await eventually(registered, what="the gateway registered with the platform")
        yield url_of(platform), url_of(gateway)
    finally:
        await gateway.stop()
        await platform.stop()


@pytest.fixture
async def home(platform_and_gateway):
    """A meter, a water heater and an EV charger on the gateway; the energy application
    (alert reader: CHomeDisplay) on the platform.  Everything set up, nothing running."""
    platform_url, gateway_url = platform_and_gateway
    quiet = Console(quiet=True)
    async with AsyncExitStack() as stack:
        async def client(url, originator, rn):
            return await stack.enter_async_context(CseClient(url, originator=originator, cse_rn=rn))

        async def receiver():
            return await stack.enter_async_context(NotificationReceiver())
        wiring = MemoryWiring()
        meter = Meter(await client(gateway_url, "CMeter", "cse-mn"), wiring, quiet)
        appliances = [Appliance(await client(gateway_url, originator, "cse-mn"), await receiver(), wiring,
                                CATALOGUE[kind], quiet)
                      for kind, originator in (("water-heater", "CWaterHeater"), ("ev-charger", "CEvCharger"))]
        await meter.setup()
        for appliance in appliances:
            await appliance.setup()
        app = EnergyApp(await client(platform_url, "CEnergyApp", "cse-in"), await receiver(), quiet,
                        {"home-1": "/id-mn/cse-mn"}, threshold_w=8000, alert_readers=["CHomeDisplay"],
                        min_off=10 * 3600)
        await app.setup()
        yield {"platform": platform_url, "meter": meter, "appliances": {a.name: a for a in appliances},
               "app": app, "client": client, "receiver": receiver}


async def test_a_second_application_receives_the_alert_and_the_command_makes_the_round_trip(home):
    app: EnergyApp = home["app"]
    display = await home["client"](home["platform"], "CHomeDisplay", "cse-in")
    inbox = await home["receiver"]()
    await display.register("Ndisplay", rn="display", receiver=inbox)
    sub = await display.subscribe(app.alerts_container)
    assert sub["nu"] == ["/id-in/CHomeDisplay"]
    # the meter's readings and its missing data, 2 x (power, energyConsumption)
    assert len(app.homes["home-1"].subscribed) == 6

    clock = SimClock(EVENING, speed=1800)
    until = EVENING + timedelta(hours=1.25)                  # 18:00 .. 19:15, the EV plugs in at 18:30
    stop = asyncio.Event()
    tasks = [asyncio.create_task(app.run(stop)), asyncio.create_task(home["meter"].run(clock, until))]
    tasks += [asyncio.create_task(a.run(clock, until)) for a in home["appliances"].values()]
    try:
        note = await inbox.next(timeout=20)
        alert = note.resource["con"]
        assert (alert["home"], alert["appliance"], alert["action"]) == ("home-1", "ev-charger", "switch off ev-charger")
        assert alert["kw"] > alert["threshold_kw"] == 8.0
        assert note.subscription.endswith(sub["ri"])
        assert await app.wait_for(lambda: any(c.status == "done" for c in app.commands.values()), timeout=10)
        command = app.commands[alert["command"]]
        assert (command.appliance, command.cmd, command.status) == ("ev-charger", "off", "done")
        assert command.before_w == 7200 and command.shown_w == 0
        ev = home["appliances"]["ev-charger"]
        assert [e["cmd"] for e in ev.executed] == ["off"]
        assert ev.model.enabled is False and ev.model.watts == 0
        seen_by_app = app.homes["home-1"].appliances["ev-charger"]
        assert seen_by_app.model == "/id-mn/cse-mn/ev-charger/device"
        # What the device model shows, read by the application through the platform.
        device = await app.client.retrieve(seen_by_app.model)
        assert device["cnd"] == "org.onem2m.vehicular.device.deviceElectricVehicleCharger"
        assert (await app.client.retrieve(seen_by_app.switch))["state"] is False
        assert (await app.client.retrieve(seen_by_app.consumption))["power"] == 0
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_a_switch_state_that_is_not_a_boolean_is_refused_and_changes_nothing(home):
    app: EnergyApp = home["app"]
    ev = home["appliances"]["ev-charger"]
    switch = f"/id-mn/{ev.switch}"                     # as the platform sees it
    with pytest.raises(RequestFailed) as refused:
        await app.client.update(switch, {"cod:binSh": {"state": "explode"}})
    assert refused.value.rsc == 4000 and "state" in str(refused.value)
    assert (await app.client.retrieve(switch))["state"] is True
    assert ev.model.enabled is True and ev.executed == []


async def test_a_meter_that_falls_silent_is_reported_missing_by_the_gateway(home):
    """The gateway's missing-data detection (net 8) reaches the energy application through
    the platform; it alerts once for the outage."""
    app: EnergyApp = home["app"]
    meter: Meter = home["meter"]
    clock = SimClock(EVENING, speed=1800)                # a reading every 0.5 s
    meter.speed, meter.period_ms, meter.silent = 1800, 500, (18.5, 19.5)
    await meter.client.update(meter.power, {"m2m:ts": {"mdd": False}})
    await meter.client.update(meter.power, {"m2m:ts": {"pei": 500, "mdt": 1500}})
    await meter.client.update(meter.power, {"m2m:ts": {"mdd": True}})
    stop = asyncio.Event()
    tasks = [asyncio.create_task(app.run(stop)),
             asyncio.create_task(meter.run(clock, EVENING + timedelta(hours=2.5)))]
    try:
        assert await app.wait_for(lambda: bool(app.missing), timeout=30)
        alert = app.missing[0]
        assert (alert["type"], alert["home"], alert["meter"]) == ("missing-data", "home-1", "meter")
        assert alert["t"].startswith("20240601T1815")    # the last reading before the outage
        assert await app.wait_for(lambda: app.missing_points.get("home-1", 0) >= 4, timeout=30)
        assert len(app.missing) == 1                 # one alert for the outage
        latest = (await app.client.latest(app.alerts_container))
        assert latest["con"]["type"] in ("missing-data", "peak")
        ts = await meter.client.retrieve(meter.power)
        assert ts["mdc"] >= 4 and len(ts["mdlt"]) == ts["mdc"]
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_the_energy_application_has_exactly_the_rights_it_needs(home):
    app: EnergyApp = home["app"]
    client = app.client
    meter_power = "/id-mn/cse-mn/meter/power"
    ev = "/id-mn/cse-mn/ev-charger"
    await home["meter"].client.create(home["meter"].power, {"m2m:tsi": {
        "dgt": "20240601T180000", "con": {"t": "20240601T180000", "w": 1500, "wh": 1.0}}})
    allowed = {
        "read a reading": client.request(2, f"{meter_power}/la"),
        "find containers": client.request(2, "/id-mn/cse-mn", fc={"fu": 1, "ty": [3]}),
        "read the charger's model": client.request(2, f"{ev}/device"),
        "command the charger": client.request(3, f"{ev}/device/binarySwitch", pc={"cod:binSh": {"state": True}}),
        "read its consumption": client.request(2, f"{ev}/device/energyConsumption"),
        "read its window": client.request(2, f"{ev}/device/chargingWindow"),
    }
    refused = {
        "write a reading": client.request(1, meter_power, ty=30, pc={"m2m:tsi": {"dgt": "20240601T181500",
                                                                                "con": {"w": 0}}}),
        "delete the readings": client.request(4, meter_power),
        "change the timeSeries": client.request(3, meter_power, pc={"m2m:ts": {"mni": 1}}),
        "forge its consumption": client.request(3, f"{ev}/device/energyConsumption",
                                                pc={"cod:eneCn": {"power": 0.0}}),
        "change its window": client.request(3, f"{ev}/device/chargingWindow",
                                            pc={"m2m:sch": {"se": {"sce": ["* * * * * * *"]}}}),
        "delete the switch": client.request(4, f"{ev}/device/binarySwitch"),
        "subscribe to the switch": client.request(1, f"{ev}/device/binarySwitch", ty=23,
                                                  pc={"m2m:sub": {"nu": ["/id-in/CEnergyApp"]}}),
        "read the meter AE": client.request(2, "/id-mn/cse-mn/meter"),
        "change the access policy": client.request(3, "/id-mn/cse-mn/meter/share-readings",
                                                   pc={"m2m:acp": {"pv": {"acr": []}}}),
    }
    for what, call in allowed.items():
        assert (await call).rsc in (2000, 2001, 2004), what
    for what, call in refused.items():
        assert (await call).rsc == 4103, what
    found = await client.discover("/id-mn/cse-mn", ty=3)
    assert sorted(found) == sorted(f"/id-mn/cse-mn/{a}/power" for a in ("water-heater", "ev-charger"))
    assert await client.discover("/id-mn/cse-mn", ty=29) == [meter_power]
    models = await client.discover("/id-mn/cse-mn", ty=28, cnd="org.onem2m.common.moduleclass.binarySwitch")
    assert sorted(models) == sorted(f"/id-mn/cse-mn/{a}/device/binarySwitch" for a in ("water-heater", "ev-charger"))


async def test_alerts_are_refused_to_applications_not_named_as_readers(home):
    app: EnergyApp = home["app"]
    stranger = await home["client"](home["platform"], "CStranger", "cse-in")
    await stranger.register("Nstranger", rn="stranger")
    with pytest.raises(RequestFailed) as refused:
        await stranger.subscribe(app.alerts_container)
    assert refused.value.rsc == 4103
    assert await stranger.discover("cse-in", ty=3) == []


@pytest.mark.parametrize("values, words", [
    (["home-1"], "NAME=/CSE-ID/CSEBASE"),
    (["home-1=cse-mn"], "NAME=/CSE-ID/CSEBASE"),
    (["=/id-mn/cse-mn"], "NAME=/CSE-ID/CSEBASE"),
])
def test_bad_home_options(values, words):
    import argparse
    with pytest.raises(argparse.ArgumentTypeError, match=words):
        parse_homes(values)
    assert parse_homes(["a=/id-mn/cse-mn", "b=/id-mn2/cse-mn2"]) == {"a": "/id-mn/cse-mn", "b": "/id-mn2/cse-mn2"}


async def test_the_application_waits_for_a_gateway_that_is_not_there_yet():
    """Started before the home's gateway has registered (or while it restarts), the energy
    application says so, keeps running, and finds the devices when the gateway is back."""
    platform = await start_cse()
    gateway = None
    said = io.StringIO()
    try:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(CseClient(url_of(platform), originator="CEnergyApp",
                                                               cse_rn="cse-in"))
            receiver = await stack.enter_async_context(NotificationReceiver())
            app = EnergyApp(client, receiver, Console(out=said), {"home-1": "/id-mn/cse-mn"})
            await app.setup()                           # the gateway is unknown to the platform: 4004
            assert "home-1 (/id-mn/cse-mn): cannot look for devices now: RETRIEVE /id-mn/cse-mn failed: 4004" \
                in said.getvalue()
            stop = asyncio.Event()
            running = asyncio.create_task(app.run(stop, rediscover=0.1))
            try:
                gateway = await start_cse(**MN, **{"registrar.url": url_of(platform)})
                meter = Meter(await stack.enter_async_context(CseClient(url_of(gateway), originator="CMeter",
                                                                        cse_rn="cse-mn")), MemoryWiring(),
                              Console(quiet=True))
                await meter.setup()
                await eventually(lambda: app.homes["home-1"].subscribed == {
                    ("meter", "/id-mn/cse-mn/meter/power"), ("missing", "/id-mn/cse-mn/meter/power")},
                                 what="the meter found and subscribed to")
                assert app.homes["home-1"].problem == ""
                assert not running.done()
            finally:
                stop.set()
                await running
    finally:
        if gateway is not None:
            await gateway.stop()
        await platform.stop()


async def test_the_outsider_tells_a_refusal_from_a_wrong_guess(home):
    said = io.StringIO()
    client = await home["client"](home["platform"], "COutsider", "cse-in")
    outsider = Outsider(client, Console(out=said))
    await outsider.setup()
    await outsider.probe("/id-mn/cse-mn", meter="no-such-meter", appliance="ev-charger")
    lines = said.getvalue().splitlines()
    assert "outsider: RETRIEVE /id-mn/cse-mn/no-such-meter/power/la -> 4004 failed otherwise: proves nothing" \
        in lines, lines
    assert "outsider: UPDATE /id-mn/cse-mn/ev-charger/device/binarySwitch -> 4103 refused (no privilege)" in lines
    assert not any("breach" in line for line in lines)
    assert not outsider.all_refused          # a probe that proves nothing is not a refusal


async def test_the_outsider_probing_an_unknown_gateway_proves_nothing_and_does_not_crash(home):
    said = io.StringIO()
    client = await home["client"](home["platform"], "COutsider", "cse-in")
    outsider = Outsider(client, Console(out=said))
    await outsider.setup()
    attempts = await outsider.probe("/id-nowhere/cse-x", meter="meter", appliance="ev-charger")
    assert [a["rsc"] for a in attempts] == [4004] * 4
    assert "outsider: discovery on /id-nowhere/cse-x lbl=hems:meter -> 4004 failed otherwise: proves nothing" \
        in said.getvalue().splitlines()
    assert not outsider.all_refused


@pytest.mark.parametrize("device", ["meter", "ev-charger"])
async def test_a_device_keeps_working_while_its_gateway_restarts(tmp_path, device):
    port = free_port()
    storage = f"sqlite:///{tmp_path / 'gateway.sqlite'}"
    gateway = await start_cse(port, storage=storage)
    said = io.StringIO()
    try:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(CseClient(url_of(gateway), originator="CDevice",
                                                               cse_rn="cse-in"))
            if device == "meter":
                role = Meter(client, MemoryWiring(), Console(out=said))
            else:
                role = Appliance(client, await stack.enter_async_context(NotificationReceiver()), MemoryWiring(),
                                 CATALOGUE[device], Console(out=said))
            await role.setup()
            clock = SimClock(EVENING, speed=18_000)              # a reading every 50 ms
            running = asyncio.create_task(role.run(clock, until=EVENING + timedelta(hours=100)))
            try:
                await eventually(lambda: role.posted >= 2, what="readings posted")
                await gateway.stop()
                await eventually(lambda: "could not post a reading" in said.getvalue(), what="a failed post")
                assert not running.done()
                before = role.posted
                gateway = await start_cse(port, storage=storage)          # back, with its data
                await eventually(lambda: role.posted > before, what="readings posted again")
                assert "posting readings again" in said.getvalue()
                assert not running.done()
            finally:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
    finally:
        await gateway.stop()


async def test_a_firmware_roll_out_through_a_group_reaches_every_heat_pump_and_reports_per_device(
        platform_and_gateway):
    """Two heat pumps on the gateway, each with its node (deviceInfo, firmware, battery) and
    linked to it (nl); one UPDATE of the group's fopt; each device flashes and reports."""
    from examples.hems.appliance import managed_receiver
    from examples.hems.nodes import provision
    platform_url, gateway_url = platform_and_gateway
    quiet = Console(quiet=True)
    async with AsyncExitStack() as stack:
        installer = await stack.enter_async_context(CseClient(gateway_url, originator="CAdmin", cse_rn="cse-mn"))
        base = await installer.retrieve("cse-mn")
        gateway_node = await provision(installer, "cse-mn", "gateway", owner="", readers=["/id-in/CEnergyApp"],
                                       hcl=base["ri"])
        assert (await installer.retrieve(gateway_node.address))["hcl"] == base["ri"]
        pumps = []
        for kind, originator in (("heat-pump", "CHeatPump"), ("water-heater", "CWaterHeater")):
            node = await provision(installer, "cse-mn", kind, owner=originator, readers=["/id-in/CEnergyApp"])
            client = await stack.enter_async_context(CseClient(gateway_url, originator=originator, cse_rn="cse-mn"))
            receiver, agent = managed_receiver(client)
            await stack.enter_async_context(receiver)
            appliance = Appliance(client, receiver, MemoryWiring(), CATALOGUE[kind], quiet, agent=agent, node=node.ri)
            await appliance.setup()
            assert appliance.client.ae["nl"] == node.ri
            assert (await installer.retrieve(node.address))["hael"] == [appliance.client.ae["ri"]]
            pumps.append(appliance)
        app = EnergyApp(await stack.enter_async_context(CseClient(platform_url, originator="CEnergyApp",
                                                                  cse_rn="cse-in")),
                        await stack.enter_async_context(NotificationReceiver()), quiet, {"home-1": "/id-mn/cse-mn"})
        await app.setup()
        # Only the heat pump's firmware is in the group (found by label and mgd).
        result = await app.roll_out_firmware("heat-pump", "https://firmware.example/heat-pump-1.1.bin")
        assert result["members"] == ["/id-mn/cse-mn/node-heat-pump/firmware"]
        assert result["requests"] == 1 and [a["rsc"] for a in result["answers"]] == [2004]
        assert [(d["outcome"], d["vr"]) for d in result["devices"]] == [("successful", "1.1")]
        assert pumps[0].firmware == "1.1" and pumps[1].firmware == "1.0"
        # A device refuses an image that is not https: the member's answer is 4127, the
        # outcome read is a failure, the version unchanged.
        refused = await app.roll_out_firmware("heat-pump", "http://firmware.example/heat-pump-1.2.bin")
        assert [a["rsc"] for a in refused["answers"]] == [4127]
        assert [(d["outcome"], d["vr"]) for d in refused["devices"]] == [("failure", "1.1")]
        assert pumps[0].firmware == "1.1"
        # Nothing of that kind: no group, no request.
        none = await app.roll_out_firmware("ev-charger", "https://firmware.example/ev-charger-2.0.bin")
        assert none["members"] == [] and none["requests"] == 0
        # The gateway's node and the devices' mgmtObjs: deviceInfo and battery are there too.
        for kind in ("gateway", "heat-pump"):
            children = await installer.discover(f"cse-mn/node-{kind}", ty=13)
            assert sorted(c.rsplit("/", 1)[-1] for c in children) == ["battery", "deviceInfo", "firmware"]
