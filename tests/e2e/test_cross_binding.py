"""One energy flow across three bindings: a meter registers over MQTT and posts readings
over CoAP; an application registers and subscribes over HTTP and receives every reading as
a notification over MQTT - addressed by its AE-ID (resolved through its mqtt:// poa) or by
an mqtt:// notification URI with the full topic.

Needs the subscription resource (issue 3); it skips, saying so, while that is not merged.
"""
from __future__ import annotations

import asyncio
import socket
import uuid

import aiocoap
import aiohttp
import orjson
import pytest

from bindings import coap_options
from server.compose import build_cse, configured_bindings
from tests.bindings.brokers import shared_broker
from tests.bindings.mqtt_peer import MqttPeer, decode, encode
from tests.conftest import free_port, make_config

SUBSCRIPTION_TY = 23
READINGS = ["1530", "1610", "1475", "1702", "1688"]


class NotifiedApp:
    """The application's MQTT side: answers every NOTIFY with 2000, keeps the readings."""

    def __init__(self, peer: MqttPeer):
        self.peer = peer
        self.readings: asyncio.Queue[str] = asyncio.Queue()
        self.task = asyncio.ensure_future(self._serve())

    async def _serve(self) -> None:
        while True:
            topic, payload = await self.peer.messages.get()
            fmt = topic.rsplit("/", 1)[1]
            request = decode(payload, fmt)
            self.peer.publish(topic.replace("/oneM2M/req/", "/oneM2M/resp/", 1),
                              encode({"rsc": 2000, "rqi": request.get("rqi", ""), "rvi": "3"}, fmt))
            notification = (request.get("pc") or {}).get("m2m:sgn", {})
            for single in [notification, *((request.get("pc") or {}).get("m2m:agn", {}).get("m2m:sgn", []))]:
                content = single.get("nev", {}).get("rep", {}).get("m2m:cin")
                if content is not None:
                    self.readings.put_nowait(content["con"])

    async def close(self) -> None:
        self.task.cancel()
        await self.peer.close()


@pytest.mark.parametrize("target", ["ae-id", "mqtt-uri"])
async def test_meter_on_mqtt_and_coap_application_on_http_gets_every_reading(target):
    broker = shared_broker()
    suffix = uuid.uuid4().hex[:8]
    cse_id, meter, app = f"/x{suffix}", f"Cmeter{suffix}", f"Capp{suffix}"
    coap_port = free_port(socket.SOCK_DGRAM)
    config = make_config(**{
        "cse.cse_id": cse_id, "cse.admin_originator": app,   # no ACPs needed for the flow itself
        "mqtt.enabled": True, "mqtt.host": broker.host, "mqtt.port": broker.port,
        "mqtt.clean_session": True, "coap.enabled": True, "coap.port": coap_port})
    cse = build_cse(config, bindings=configured_bindings)
    if SUBSCRIPTION_TY not in cse.types.supported:
        pytest.skip("needs the subscription resource (issue 3, branch wt-notify), not merged yet")
    await cse.start()
    cse_topic = cse_id[1:]
    meter_mqtt = await MqttPeer(broker.host, broker.port).connect()
    app_side = NotifiedApp(await MqttPeer(broker.host, broker.port).connect())
    coap_options.register()
    coap = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        await app_side.peer.subscribe(f"/oneM2M/req/+/{cse_topic}:{app}/+", f"/oneM2M/req/+/{app}/+")
        await meter_mqtt.subscribe(f"/oneM2M/reg_resp/{meter}/+/+", f"/oneM2M/resp/{meter}/+/+")

        # the meter registers over MQTT and makes its container
        _, answer = await meter_mqtt.call(
            {"op": 1, "to": "cse-in", "fr": meter, "rqi": "m1", "rvi": "3", "ty": 2,
             "pc": {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}},
            originator=meter, receiver=cse_topic, kind="reg_req")
        assert answer["rsc"] == 2001, answer
        _, answer = await meter_mqtt.call(
            {"op": 1, "to": "cse-in/meter", "fr": meter, "rqi": "m2", "rvi": "3", "ty": 3,
             "pc": {"m2m:cnt": {"rn": "power"}}}, originator=meter, receiver=cse_topic)
        assert answer["rsc"] == 2001, answer

        # the application registers over HTTP (reachable over MQTT) and subscribes
        http = next(b for b in cse.bindings if b.name == "http")
        nu = app if target == "ae-id" else \
            f"mqtt://{broker.host}:{broker.port}/oneM2M/req/{cse_topic}/{app}/json"
        async with aiohttp.ClientSession() as session:
            async def post(path: str, ty: int, body: dict) -> dict:
                async with session.post(f"{http.url}{path}", data=orjson.dumps(body), headers={
                        "X-M2M-Origin": app, "X-M2M-RI": f"h{ty}", "X-M2M-RVI": "3",
                        "Content-Type": f"application/json;ty={ty}"}) as reply:
                    assert reply.status == 201, await reply.text()
                    return await reply.json()
            await post("/cse-in", 2, {"m2m:ae": {"rn": "energyapp", "api": "Nenergy", "rr": True,
                                                 "poa": [f"mqtt://{broker.host}:{broker.port}"],
                                                 "srv": ["3"]}})
            await post("/cse-in/meter/power", SUBSCRIPTION_TY,
                       {"m2m:sub": {"rn": "toapp", "nu": [nu], "enc": {"net": [3]}, "nct": 1}})

        # the meter posts its readings over CoAP
        for n, watts in enumerate(READINGS):
            message = aiocoap.Message(code=aiocoap.POST, uri=f"coap://127.0.0.1:{coap_port}/cse-in/meter/power",
                                      payload=orjson.dumps({"m2m:cin": {"con": watts}}))
            message.opt.content_format = 50
            for name, value in (("fr", meter), ("rqi", f"c{n}"), ("rvi", "3"), ("ty", 4)):
                coap_options.put(message, name, value)
            answer = await coap.request(message).response
            assert coap_options.get(answer, "rsc") == 2001

        received = [await asyncio.wait_for(app_side.readings.get(), 10) for _ in READINGS]
        assert sorted(received) == sorted(READINGS)
    finally:
        await coap.shutdown()
        await app_side.close()
        await meter_mqtt.close()
        await cse.stop()
