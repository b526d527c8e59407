"""The AE-side client over MQTT (TS-0010) against a real CSE on the shared test broker."""
import uuid

import pytest

from client import Access, CseClient, CseUnreachable, RequestFailed, grant
from client.mqtt import MqttNotificationReceiver, MqttTransport
from tests.bindings.brokers import shared_broker
from tests.conftest import free_port
from tests.e2e.federation_support import start_cse


@pytest.fixture
async def mqtt_cse():
    broker = shared_broker()
    cse_id = f"/c{uuid.uuid4().hex[:8]}"
    cse = await start_cse(**{"cse.cse_id": cse_id, "mqtt.enabled": True, "mqtt.host": broker.host,
                             "mqtt.port": broker.port, "mqtt.clean_session": True})
    try:
        yield f"mqtt://{broker.host}:{broker.port}", cse_id, cse
    finally:
        await cse.stop()


async def test_register_and_read_write_over_mqtt(mqtt_cse):
    url, cse_id, _ = mqtt_cse
    async with CseClient(url, cse_id=cse_id, cse_rn="cse-in") as meter:
        ae = await meter.register("Nmeter", rn="meter")
        assert ae["aei"].startswith("C") and meter.originator == ae["aei"]
        await meter.create("cse-in/meter", {"m2m:cnt": {"rn": "power"}})
        await meter.add_instance("cse-in/meter/power", "1530")
        assert (await meter.latest("cse-in/meter/power"))["con"] == "1530"
        with pytest.raises(RequestFailed) as failed:
            await meter.retrieve("cse-in/meter/nothing")
        assert failed.value.rsc == 4004


async def test_reregistration_over_mqtt_takes_the_ae_over(mqtt_cse):
    url, cse_id, _ = mqtt_cse
    stem = f"Cdev{uuid.uuid4().hex[:6]}"
    async with CseClient(url, cse_id=cse_id, originator=stem) as first:
        await first.register("Ndev", rr=False)
    async with CseClient(url, cse_id=cse_id, originator=stem) as again:
        ae = await again.register("Ndev", poa=["mqtt://127.0.0.1:1883"])
        assert (ae["aei"], ae["poa"], ae["rr"]) == (stem, ["mqtt://127.0.0.1:1883"], True)


async def test_notifications_reach_an_ae_listening_on_mqtt(mqtt_cse):
    url, cse_id, cse = mqtt_cse
    transport = MqttTransport(url, cse_id=cse_id)
    inbox = MqttNotificationReceiver(transport)
    async with CseClient(url, cse_id=cse_id, transport=transport) as app, \
            CseClient(url, cse_id=cse_id, originator="Csender") as sender:
        ae = await app.register("Napp", receiver=inbox)
        assert ae["poa"] == [url]
        sgn = {"m2m:sgn": {"sur": f"{cse_id}/sub", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "9"}}}}}
        assert (await sender.request(5, app.originator, pc=sgn)).rsc == 4103   # not granted NOTIFY
        acp = await app.create_acp(ae["ri"], rn="notifiers", rules=[grant(["Csender"], Access.NOTIFY)])
        await app.update(ae["ri"], {"m2m:ae": {"acpi": [acp["ri"]]}})
        answer = await sender.request(5, app.originator, pc=sgn)
        assert answer.rsc == 2000, answer.pc
        note = await inbox.next(timeout=10)
        assert (note.subscription, note.resource, note.originator) == (f"{cse_id}/sub", {"con": "9"}, "Csender")


async def test_no_broker_is_cse_unreachable():
    transport = MqttTransport(f"mqtt://127.0.0.1:{free_port()}", cse_id="/id-in", connect_timeout=0.5)
    app = CseClient("mqtt://unused", transport=transport)
    for _ in range(2):                  # each attempt reports it, none hangs
        with pytest.raises(CseUnreachable, match="not reachable"):
            await app.register("Nx")
    await app.close()


@pytest.mark.parametrize("url, cse_id", [("http://h:1", "/id-in"), ("mqtt://", "/id-in"),
                                         ("mqtt://h:1", "id-in"), ("mqtt://h:1", "//sp/id-in")])
def test_bad_mqtt_settings_are_refused(url, cse_id):
    with pytest.raises(ValueError):
        MqttTransport(url, cse_id=cse_id)


def test_mqtt_url_needs_a_cse_id():
    with pytest.raises(ValueError, match="CSE-ID"):
        CseClient("mqtt://127.0.0.1:1883")
