"""An energy application on the IN-CSE subscribes to a meter's container on the MN-CSE and
receives every reading: the MN notifies /id-in/CEnergyApp, the IN delivers it to the AE's poa.
Real CSE processes."""
import pytest

from client import CseClient, NotificationReceiver
from tests.conftest import free_port
from tests.e2e.federation_support import CseProcess, eventually

READINGS = ["1530", "1610", "1475"]


async def mn_registered(in_url: str) -> None:
    async with CseClient(in_url, originator="CAdmin", cse_rn="cse-in") as admin:
        async def check():
            return (await admin.request(2, "cse-in/id-mn")).rsc == 2000
        await eventually(check, what="the MN registered at the IN")


@pytest.mark.parametrize("subscriber", ["application granted by an ACP", "application as gateway admin",
                                        "platform admin for the application"])
async def test_application_on_the_platform_gets_the_gateways_readings(tmp_path, subscriber):
    in_cse = await CseProcess("--port", str(free_port()), "--storage", "memory:").start()
    # Either the meter grants the application rights with an ACP (the production way), or,
    # without ACPs, the application (or the platform's admin) is the gateway's admin.
    gateway_admin = {"application granted by an ACP": "CAdmin", "application as gateway admin": "/id-in/CEnergyApp",
                     "platform admin for the application": "/id-in/CAdmin"}[subscriber]
    mn = await CseProcess("--port", "0", "--data-dir", str(tmp_path / "mn"), "--type", "MN",
                          "--cse-id", "/id-mn", "--rn", "cse-mn", "--registrar-url", in_cse.url,
                          "--registrar-id", "/id-in", "--admin-originator", gateway_admin).start()
    try:
        await mn_registered(in_cse.url)
        async with NotificationReceiver() as inbox, \
                CseClient(in_cse.url, originator="CEnergyApp", cse_rn="cse-in") as app, \
                CseClient(in_cse.url, originator="CAdmin", cse_rn="cse-in") as platform, \
                CseClient(mn.url, originator="Cmeter", cse_rn="cse-mn") as meter:
            await app.register("Nenergy", rn="energy", receiver=inbox)
            await meter.register("Nmeter", rn="meter")
            await meter.create("cse-mn/meter", {"m2m:cnt": {"rn": "power"}})
            power = "/id-mn/cse-mn/meter/power"
            if subscriber == "application granted by an ACP":
                # The forwarded originator is /id-in/CEnergyApp: that is what the ACP names.
                acp = await meter.create("cse-mn/meter", {"m2m:acp": {
                    "rn": "share", "pv": {"acr": [{"acor": ["Cmeter"], "acop": 63},
                                                  {"acor": ["/id-in/CEnergyApp"], "acop": 3}]},
                    "pvs": {"acr": [{"acor": ["Cmeter"], "acop": 63}]}}})
                await meter.update("cse-mn/meter/power", {"m2m:cnt": {"acpi": [acp["ri"]]}})
                denied = await app.request(4, power)             # DELETE is not granted
                assert denied.rsc == 4103
            if subscriber != "platform admin for the application":
                # nu defaults to the application's SP-relative AE-ID: /id-in/CEnergyApp
                sub = await app.subscribe(power, rn="energy-app")
            else:
                # nu is not the subscriber: the MN verifies it through the IN first
                sub = await platform.subscribe(power, nu=["/id-in/CEnergyApp"], rn="energy-app")
            assert sub["nu"] == ["/id-in/CEnergyApp"]
            for watts in READINGS:
                await meter.add_instance("cse-mn/meter/power", watts)
            received = [(await inbox.next(timeout=10)) for _ in READINGS]
            assert [n.resource["con"] for n in received] == READINGS
            assert {n.event for n in received} == {3}
            assert {n.originator for n in received} == {"/id-mn"}
            assert {n.subscription for n in received} == {f"/id-mn/{sub['ri']}"}
    finally:
        await mn.stop()
        await in_cse.stop()
