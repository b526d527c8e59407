"""Requests the CSE originates over MQTT (notifications): topics, serialization, waiting."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from cse.primitives import Request
from tests.conftest import free_port

from .conftest import MqttCse, start_mqtt_cse, unique
from .mqtt_peer import MqttPeer, decode, encode


def notify(cse_id: str, to: str, rqi: str) -> Request:
    return Request(op=5, to=to, fr=cse_id, rqi=rqi, rvi="3",
                   pc={"m2m:sgn": {"nev": {"net": 3, "rep": {"m2m:cin": {"con": "1530"}}}, "sur": "sub1"}})


async def answer_one(peer: MqttPeer, rsc: int = 2000) -> tuple[str, dict]:
    """Act as the notified AE: take the next request, answer it on the response topic."""
    topic, payload = await peer.next_message()
    fmt = topic.rsplit("/", 1)[1]
    request = decode(payload, fmt)
    peer.publish(topic.replace("/oneM2M/req/", "/oneM2M/resp/", 1),
                 encode({"rsc": rsc, "rqi": request["rqi"], "rvi": "3"}, fmt))
    return topic, request


async def test_notification_to_a_bare_mqtt_poa_goes_to_the_ae_request_topic(mqtt_cse: MqttCse, mqtt_broker):
    app = unique("Capp")
    expected_topic = f"/oneM2M/req/{mqtt_cse.topic_id}/{mqtt_cse.topic_id}:{app}/json"
    listener = await MqttPeer(mqtt_broker.host, mqtt_broker.port).connect()
    try:
        await listener.subscribe(f"/oneM2M/req/+/{mqtt_cse.topic_id}:{app}/+")
        sending = asyncio.ensure_future(mqtt_cse.cse.outbound.send(
            f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}", notify(mqtt_cse.cse_id, app, "n-1")))
        topic, request = await answer_one(listener)
        response = await sending
    finally:
        await listener.close()
    assert topic == expected_topic
    assert request["op"] == 5 and request["to"] == app and request["fr"] == mqtt_cse.cse_id
    assert request["pc"]["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"] == "1530"
    assert (response.rsc, response.rqi) == (2000, "n-1")


async def test_stem_topic_form_for_acme_style_aes(mqtt_broker):
    running = await start_mqtt_cse(mqtt_broker.host, mqtt_broker.port, **{"mqtt.ae_topic_form": "stem"})
    app = unique("Capp")
    listener = await MqttPeer(mqtt_broker.host, mqtt_broker.port).connect()
    try:
        await listener.subscribe(f"/oneM2M/req/+/{app}/+")
        sending = asyncio.ensure_future(running.cse.outbound.send(
            f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}", notify(running.cse_id, app, "n-2")))
        topic, _ = await answer_one(listener)
        assert topic == f"/oneM2M/req/{running.topic_id}/{app}/json"
        assert (await sending).rsc == 2000
    finally:
        await listener.close()
        await running.peer.close()
        await running.cse.stop()


async def test_notification_uri_with_topic_is_the_exact_destination_and_its_serialization(
        mqtt_cse: MqttCse, mqtt_broker):
    app = unique("Capp")
    topic = f"/oneM2M/req/{mqtt_cse.topic_id}/{app}/cbor"
    listener = await MqttPeer(mqtt_broker.host, mqtt_broker.port).connect()
    try:
        await listener.subscribe(topic)
        sending = asyncio.ensure_future(mqtt_cse.cse.outbound.send(
            f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}{topic}", notify(mqtt_cse.cse_id, app, "n-3"),
            serialization="json"))
        received, request = await answer_one(listener, rsc=2000)
        response = await sending
    finally:
        await listener.close()
    assert received == topic
    assert request["rqi"] == "n-3"           # decoded as CBOR by answer_one: the topic said cbor
    assert response.rsc == 2000


async def test_free_form_topic_is_published_without_waiting(mqtt_cse: MqttCse, mqtt_broker):
    topic = f"energy/{unique('alerts')}"
    listener = await MqttPeer(mqtt_broker.host, mqtt_broker.port).connect()
    try:
        await listener.subscribe("/" + topic)
        response = await mqtt_cse.cse.outbound.send(f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}/{topic}",
                                                    notify(mqtt_cse.cse_id, "Capp", "n-4"))
        received, payload = await listener.next_message()
    finally:
        await listener.close()
    assert response.rsc == 2000 and "no response" in response.pc["m2m:dbg"]
    assert received == "/" + topic and orjson.loads(payload)["rqi"] == "n-4"


async def test_target_that_never_answers_is_reported_unreachable(mqtt_cse: MqttCse, mqtt_broker):
    response = await mqtt_cse.cse.outbound.send(f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}",
                                                notify(mqtt_cse.cse_id, unique("Cgone"), "n-5"), timeout=0.3)
    assert response.rsc == 5103 and "did not answer in time" in response.pc["m2m:dbg"]


async def test_an_answer_from_another_entity_does_not_count(mqtt_cse: MqttCse, mqtt_broker):
    """Answers are matched by rqi and by the responding entity (the response topic's receiver
    level, which a broker ACL can reserve for that entity): another client that learnt or
    guessed the rqi cannot answer for the target."""
    app, intruder = unique("Capp"), unique("Cintruder")
    listener = await MqttPeer(mqtt_broker.host, mqtt_broker.port).connect()
    try:
        await listener.subscribe(f"/oneM2M/req/+/{mqtt_cse.topic_id}:{app}/+")
        sending = asyncio.ensure_future(mqtt_cse.cse.outbound.send(
            f"mqtt://{mqtt_broker.host}:{mqtt_broker.port}", notify(mqtt_cse.cse_id, app, "n-spoof"), timeout=2))
        topic, payload = await listener.next_message()
        listener.publish(f"/oneM2M/resp/{mqtt_cse.topic_id}/{mqtt_cse.topic_id}:{intruder}/json",
                         encode({"rsc": 2000, "rqi": "n-spoof", "rvi": "3"}, "json"))
        response = await sending
        assert response.rsc == 5103 and "did not answer in time" in response.pc["m2m:dbg"]
    finally:
        await listener.close()


async def test_broker_nobody_runs_is_reported_unreachable(mqtt_cse: MqttCse):
    response = await mqtt_cse.cse.outbound.send(f"mqtt://127.0.0.1:{free_port()}",
                                                notify(mqtt_cse.cse_id, "Capp", "n-6"), timeout=0.5)
    assert response.rsc == 5103 and "not reachable" in response.pc["m2m:dbg"]


async def test_unreachable_brokers_leave_no_connection_behind(mqtt_cse: MqttCse):
    """A notification target is anybody's choice: each unreachable broker used to keep a
    paho thread reconnecting until the CSE stopped, so nu entries could exhaust threads."""
    import threading
    sender_ids = f"paho-mqtt-client-C::{mqtt_cse.topic_id}:out"
    for n in range(5):
        response = await mqtt_cse.cse.outbound.send(f"mqtt://127.0.0.1:{free_port()}",
                                                    notify(mqtt_cse.cse_id, "Capp", f"u-{n}"), timeout=0.3)
        assert response.rsc == 5103
    # Closing waits for each paho thread to notice (it may be inside a connect attempt).
    for thread in [t for t in threading.enumerate() if t.name.startswith(sender_ids)]:
        await asyncio.to_thread(thread.join, 10)
        assert not thread.is_alive(), thread.name


async def test_connections_to_other_brokers_are_bounded(mqtt_cse: MqttCse, monkeypatch):
    monkeypatch.setattr("bindings.mqtt_client.MAX_OTHER_BROKERS", 1)
    answers = await asyncio.gather(*(mqtt_cse.cse.outbound.send(
        f"mqtt://127.0.0.1:{free_port()}", notify(mqtt_cse.cse_id, "Capp", f"b-{n}"), timeout=1)
        for n in range(2)))
    assert [a.rsc for a in answers] == [5103, 5103]
    refused = [a for a in answers if "other MQTT brokers" in a.pc["m2m:dbg"]]
    assert len(refused) == 1, answers


async def test_a_second_broker_gets_its_own_connection(mqtt_cse: MqttCse, mqtt_broker, tmp_path):
    from .brokers import Mosquitto
    other = Mosquitto(tmp_path, free_port())
    other.start()
    try:
        app = unique("Capp")
        listener = await MqttPeer("127.0.0.1", other.port).connect()
        await listener.subscribe(f"/oneM2M/req/+/{mqtt_cse.topic_id}:{app}/+")
        sending = asyncio.ensure_future(mqtt_cse.cse.outbound.send(
            f"mqtt://127.0.0.1:{other.port}", notify(mqtt_cse.cse_id, app, "n-7")))
        await answer_one(listener)
        assert (await sending).rsc == 2000
        await listener.close()
    finally:
        other.stop()


@pytest.mark.parametrize("url", ["mqtt://", "mqtt:///oneM2M/req/a/b/json"])
async def test_url_without_broker_is_refused(mqtt_cse: MqttCse, url):
    response = await mqtt_cse.cse.outbound.send(url, notify(mqtt_cse.cse_id, "Capp", "n-8"))
    assert response.rsc == 5103 and "names no MQTT broker" in response.pc["m2m:dbg"]
