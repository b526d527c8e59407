"""The `cse` command with its MQTT and CoAP bindings: flags, config tables, clear errors."""
from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import uuid

import aiocoap
import orjson

from bindings import coap_options
from tests.bindings.brokers import shared_broker
from tests.bindings.mqtt_peer import MqttPeer
from tests.conftest import free_port


def start(*args: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "server", "--log-level", "WARNING", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, process.stdout.readline()


async def test_flags_switch_on_mqtt_and_coap_and_both_serve(tmp_path):
    broker = shared_broker()
    cse_id = f"/cli{uuid.uuid4().hex[:8]}"
    coap_port = free_port(socket.SOCK_DGRAM)
    process, line = start("--port", "0", "--data-dir", str(tmp_path), "--cse-id", cse_id,
                          "--coap-port", str(coap_port), "--mqtt-host", broker.host,
                          "--mqtt-port", str(broker.port))
    try:
        assert f"coap://127.0.0.1:{coap_port}" in line and f"mqtt://{broker.host}:{broker.port}" in line, line
        coap_options.register()
        client = await aiocoap.Context.create_client_context(transports=["udp6"])
        message = aiocoap.Message(code=aiocoap.GET, uri=f"coap://127.0.0.1:{coap_port}/cse-in")
        coap_options.put(message, "fr", "CAdmin")
        coap_options.put(message, "rqi", "cli-1")
        answer = await client.request(message).response
        await client.shutdown()
        assert coap_options.get(answer, "rsc") == 2000
        assert f"coap://127.0.0.1:{coap_port}" in orjson.loads(answer.payload)["m2m:cb"]["poa"]

        peer = await MqttPeer(broker.host, broker.port).connect()
        await peer.subscribe("/oneM2M/resp/CAdmin/+/+")
        _, reply = await peer.call({"op": 2, "to": "cse-in", "fr": "CAdmin", "rqi": "cli-2", "rvi": "3"},
                                   originator="CAdmin", receiver=cse_id[1:])
        await peer.close()
        assert (reply["rsc"], reply["rqi"]) == (2000, "cli-2")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_bindings_are_off_unless_asked(tmp_path):
    process, line = start("--port", "0", "--data-dir", str(tmp_path))
    try:
        assert "http://" in line and "mqtt://" not in line and "coap://" not in line
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0


def test_coap_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as busy:
        busy.bind(("::", 0))
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--data-dir", str(tmp_path),
                                 "--coap-host", "::", "--coap-port", str(port)],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 3       # docs/operations.md: a port cannot be listened on
    assert re.search(r"address already in use|errno 98", result.stderr.lower()), result.stderr
