"""The broker goes away and comes back; the broker speaks only TLS.  Each test runs its OWN
mosquitto on a free port (the shared broker is never stopped)."""
from __future__ import annotations

import logging

import aiohttp
import pytest

from cse.primitives import Request
from server.compose import build_cse, configured_bindings
from tests.conftest import free_port

from .brokers import Mosquitto
from .conftest import mqtt_config, start_mqtt_cse, unique
from .mqtt_peer import MqttPeer
from .tls_material import make_tls_files


def retrieve(fr: str, rqi: str) -> dict:
    return {"op": 2, "to": "cse-in", "fr": fr, "rqi": rqi, "rvi": "3"}


async def http_retrieve(cse, originator: str) -> int:
    http = next(b for b in cse.bindings if b.name == "http")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{http.url}/cse-in", headers={
                "X-M2M-Origin": originator, "X-M2M-RI": "h", "X-M2M-RVI": "3"}) as reply:
            return reply.status


async def test_broker_restart_cse_keeps_http_reconnects_and_resubscribes(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="bindings.mqtt_connection")
    broker = Mosquitto(tmp_path, free_port())
    broker.start()
    running = await start_mqtt_cse("127.0.0.1", broker.port)
    connection = running.binding.connection
    try:
        _, answer = await running.call(retrieve(running.originator, "before"))
        assert answer["rsc"] == 2000

        broker.stop()
        await connection.wait_down(timeout=10)
        assert await http_retrieve(running.cse, running.originator) == 200
        down = await running.cse.outbound.send(
            f"mqtt://127.0.0.1:{broker.port}",
            Request(op=5, to="Capp", fr=running.cse_id, rqi="while-down", rvi="3", pc={"m2m:sgn": {}}))
        assert down.rsc == 5103   # reported at once, not after a timeout

        broker.start()
        await connection.wait_ready(timeout=20)
        assert connection.connected_count == 2
        peer = await MqttPeer("127.0.0.1", broker.port).connect()   # the old peer's broker is gone
        await peer.subscribe(f"/oneM2M/resp/{running.originator}/+/+")
        _, answer = await peer.call(retrieve(running.originator, "after"), originator=running.originator,
                                    receiver=running.topic_id)
        assert (answer["rsc"], answer["rqi"]) == (2000, "after")
        await peer.close()
    finally:
        await running.peer.close()
        await running.cse.stop()
        broker.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert any("lost the connection" in m for m in messages)
    assert any("reconnected" in m for m in messages)


async def test_cse_starts_without_broker_and_connects_when_it_appears(tmp_path):
    broker = Mosquitto(tmp_path, free_port())
    running = None
    try:
        cse_id = "/" + unique("t")
        cse = build_cse(mqtt_config("127.0.0.1", broker.port, cse_id, **{"mqtt.connect_wait": 0.0}),
                        bindings=configured_bindings)
        await cse.start()
        running = cse
        mqtt = next(b for b in cse.bindings if b.name == "mqtt")
        assert not mqtt.connection.ready
        assert await http_retrieve(cse, "Cany") == 200

        broker.start()
        await mqtt.connection.wait_ready(timeout=20)
        peer = await MqttPeer("127.0.0.1", broker.port).connect()
        originator = unique("C")
        await peer.subscribe(f"/oneM2M/resp/{originator}/+/+")
        _, answer = await peer.call(retrieve(originator, "late"), originator=originator, receiver=cse_id[1:])
        assert answer["rsc"] == 2000
        await peer.close()
    finally:
        if running is not None:
            await running.stop()
        broker.stop()


@pytest.fixture
def tls_broker(tmp_path):
    files = make_tls_files(tmp_path)
    broker = Mosquitto(tmp_path, free_port(), tls=files)
    broker.start()
    yield broker, files
    broker.stop()


async def test_mqtt_over_tls(tls_broker):
    broker, files = tls_broker
    running_cse = None
    peer = None
    try:
        cse_id = "/" + unique("t")
        cse = build_cse(mqtt_config("127.0.0.1", broker.port, cse_id,
                                    **{"mqtt.tls": True, "mqtt.ca_file": str(files["ca"])}),
                        bindings=configured_bindings)
        await cse.start()
        running_cse = cse
        mqtt = next(b for b in cse.bindings if b.name == "mqtt")
        assert mqtt.connection.ready
        assert mqtt.poa == [f"mqtts://127.0.0.1:{broker.port}"]
        peer = await MqttPeer("127.0.0.1", broker.port, tls_ca=str(files["ca"])).connect()
        originator = unique("C")
        await peer.subscribe(f"/oneM2M/resp/{originator}/+/+")
        _, answer = await peer.call(retrieve(originator, "tls"), originator=originator, receiver=cse_id[1:])
        assert (answer["rsc"], answer["rqi"]) == (2000, "tls")
        assert f"mqtts://127.0.0.1:{broker.port}" in answer["pc"]["m2m:cb"]["poa"]
    finally:
        if peer is not None:
            await peer.close()
        if running_cse is not None:
            await running_cse.stop()


async def test_tls_broker_with_an_unknown_ca_is_not_trusted(tls_broker, tmp_path, caplog):
    """The CSE verifies the broker: with another CA the connection never becomes ready."""
    broker, _ = tls_broker
    other_ca = make_tls_files(tmp_path, prefix="other")["ca"]
    cse = build_cse(mqtt_config("127.0.0.1", broker.port, "/" + unique("t"),
                                **{"mqtt.tls": True, "mqtt.ca_file": str(other_ca), "mqtt.connect_wait": 0.0}),
                    bindings=configured_bindings)
    caplog.set_level(logging.INFO, logger="bindings.mqtt_connection")
    await cse.start()
    try:
        mqtt = next(b for b in cse.bindings if b.name == "mqtt")
        await mqtt.connection.wait_failure(timeout=10)
        assert not mqtt.connection.ready
    finally:
        await cse.stop()
    assert any("cannot connect" in r.getMessage() for r in caplog.records)


async def test_waiting_notification_fails_at_once_when_the_broker_goes(tmp_path):
    import asyncio
    broker = Mosquitto(tmp_path, free_port())
    broker.start()
    running = await start_mqtt_cse("127.0.0.1", broker.port)
    listener = await MqttPeer("127.0.0.1", broker.port).connect()
    try:
        await listener.subscribe(f"/oneM2M/req/+/{running.topic_id}:Csilent/+")
        sending = asyncio.ensure_future(running.cse.outbound.send(
            f"mqtt://127.0.0.1:{broker.port}",
            Request(op=5, to="Csilent", fr=running.cse_id, rqi="never", rvi="3", pc={"m2m:sgn": {}}),
            timeout=60))
        await listener.next_message()          # published; the target will never answer
        broker.stop()
        response = await asyncio.wait_for(sending, 20)   # long before the 60 s timeout
        assert response.rsc == 5103 and "lost the connection" in response.pc["m2m:dbg"]
    finally:
        await listener.close()
        await running.peer.close()
        await running.cse.stop()
        broker.stop()
