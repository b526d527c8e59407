"""The PollingReceiver over MQTT: long polls and answers travel as MQTT requests (shared test broker)."""
import uuid

import pytest

from client import Access, CseClient, PollingReceiver, grant
from tests.bindings.brokers import shared_broker
from tests.e2e.federation_support import start_cse


@pytest.fixture
async def mqtt_cse():
    broker = shared_broker()
    cse_id = f"/c{uuid.uuid4().hex[:8]}"
    cse = await start_cse(**{"cse.cse_id": cse_id, "mqtt.enabled": True, "mqtt.host": broker.host,
                             "mqtt.port": broker.port, "mqtt.clean_session": True})
    try:
        yield f"mqtt://{broker.host}:{broker.port}", cse_id
    finally:
        await cse.stop()


async def test_a_polling_ae_over_mqtt_receives_what_another_ae_sends_it(mqtt_cse):
    url, cse_id = mqtt_cse
    stem = f"Cnat{uuid.uuid4().hex[:6]}"
    async with CseClient(url, cse_id=cse_id, originator=stem, cse_rn="cse-in") as device, \
            CseClient(url, cse_id=cse_id, originator="Csender", cse_rn="cse-in") as sender, \
            PollingReceiver(poll_seconds=2) as inbox:
        ae = await device.register("Ndevice", rn="device", receiver=inbox)
        assert ae["rr"] is False and "poa" not in ae
        sgn = {"m2m:sgn": {"sur": f"{cse_id}/sub", "nev": {"net": 3, "rep": {"m2m:cin": {"con": "9"}}}}}
        assert (await sender.request(5, stem, pc=sgn)).rsc == 4103      # not granted yet
        acp = await device.create_acp("cse-in/device", rn="notifiers", rules=[grant(["Csender"], Access.NOTIFY)])
        await device.update("cse-in/device", {"m2m:ae": {"acpi": [acp["ri"]]}})
        answer = await sender.request(5, stem, pc=sgn)
        assert answer.rsc == 2000, answer.pc
        note = await inbox.next(timeout=10)
        assert (note.subscription, note.resource, note.originator) == (f"{cse_id}/sub", {"con": "9"}, "Csender")
