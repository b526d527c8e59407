"""Load over MQTT and CoAP: CREATE contentInstance and RETRIEVE `la`, at concurrency 1 and 32.

    .venv/bin/python -m bench.mqtt_coap [--requests N] [--json FILE] [--only mqtt|coap]
                                        [--broker HOST:PORT]

A CSE process is started with both bindings: MQTT on a private mosquitto started on a free
port with `set_tcp_nodelay true` (or on --broker, under a unique CSE-ID so other users of a
shared broker are not disturbed), CoAP on a free UDP port.  mosquitto's default
(set_tcp_nodelay false) adds ~40 ms per broker hop through Nagle's algorithm meeting delayed
ACKs: a c=1 figure of ~20 req/s means the broker runs with that default.
The load generator runs in this process:
* MQTT: a device-side client (the binding's own BrokerConnection, as an AE) publishes
  request primitives on /oneM2M/req/<ae>/<cse>/json and waits for the response by rqi.  One
  broker connection per 8 workers.
* CoAP: aiocoap clients, one per worker: RFC 7252's NSTART=1 (which aiocoap enforces) allows
  one outstanding request per client endpoint, so 32 concurrent requests = 32 devices.
Figures include the broker hop (MQTT) and the client's own CPU: on this 2-core machine the
load generator, the broker and the CSE share the cores.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path

import aiocoap
import orjson
from aiocoap.numbers.codes import Code

from bench.common import CseProcess, closed_loop
from bindings import coap_options
from bindings.mqtt_connection import BrokerAddress, BrokerConnection
from bindings.mqtt_topics import response_filters

CONCURRENCY = (1, 32)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def parse_broker(text: str) -> BrokerAddress:
    host, _, port = text.rpartition(":")
    return BrokerAddress(host or "127.0.0.1", int(port))


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def private_mosquitto():
    """A mosquitto for this run only, on a free loopback port, stopped at the end."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.access(binary, os.X_OK):
        raise SystemExit("mosquitto is not installed (apt-get install mosquitto), or pass --broker")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as directory:
        config = Path(directory) / "mosquitto.conf"
        config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                          f"set_tcp_nodelay true\n" + ("user root\n" if os.geteuid() == 0 else ""))
        process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the private mosquitto did not start")
                    time.sleep(0.02)
            yield BrokerAddress("127.0.0.1", port)
        finally:
            process.terminate()
            process.wait(timeout=10)


class MqttDevice:
    """AE-side MQTT client: request primitives out, responses matched by rqi."""

    def __init__(self, address: BrokerAddress, ae: str, cse_topic: str, connections: int):
        self.ae, self.cse_topic = ae, cse_topic
        self.connections = [
            BrokerConnection(address, f"bench-{ae}-{n}", response_filters(ae), clean_session=True)
            for n in range(connections)]
        self._rqi = 0

    async def start(self) -> None:
        for connection in self.connections:
            await connection.start()
        for connection in self.connections:
            await connection.wait_ready(10)

    async def stop(self) -> None:
        for connection in self.connections:
            await connection.stop()

    async def call(self, primitive: dict, worker: int = 0, kind: str = "req") -> int:
        self._rqi += 1
        rqi = f"b{self._rqi}"
        primitive = {**primitive, "fr": self.ae, "rqi": rqi, "rvi": "3"}
        connection = self.connections[worker % len(self.connections)]
        response = await connection.request(f"/oneM2M/{kind}/{self.ae}/{self.cse_topic}/json",
                                            orjson.dumps(primitive), rqi, timeout=30)
        return response.rsc


class CoapDevices:
    """One aiocoap client context per worker (NSTART=1 per endpoint)."""

    def __init__(self, url: str, ae: str):
        self.url, self.ae = url, ae
        self.pool: asyncio.Queue[aiocoap.Context] = asyncio.Queue()
        self.contexts: list[aiocoap.Context] = []
        self._rqi = 0

    async def start(self, count: int) -> None:
        coap_options.register()
        while len(self.contexts) < count:
            context = await aiocoap.Context.create_client_context(transports=["udp6"])
            self.contexts.append(context)
            self.pool.put_nowait(context)

    async def stop(self) -> None:
        for context in self.contexts:
            await context.shutdown()

    async def call(self, code: Code, path: str, ty: int | None = None, body: dict | None = None) -> int:
        self._rqi += 1
        message = aiocoap.Message(code=code, uri=self.url + path,
                                  payload=orjson.dumps(body) if body is not None else b"")
        if body is not None:
            message.opt.content_format = 50
        coap_options.put(message, "fr", self.ae)
        coap_options.put(message, "rqi", f"c{self._rqi}")
        coap_options.put(message, "rvi", "3")
        if ty is not None:
            coap_options.put(message, "ty", ty)
        context = await self.pool.get()
        try:
            answer = await context.request(message).response
        finally:
            self.pool.put_nowait(context)
        return coap_options.get(answer, "rsc") or 0


async def run(address: BrokerAddress, requests: int, only: str | None) -> list:
    cse_id = f"/bench{uuid.uuid4().hex[:8]}"
    coap_port = free_port(socket.SOCK_DGRAM)
    results = []
    args = ["--cse-id", cse_id, "--coap-port", str(coap_port),
            "--mqtt-host", address.host, "--mqtt-port", str(address.port)]
    with CseProcess(*args) as process:
        pid = process.running_pid

        async def measured(name: str, concurrency: int, operation) -> None:
            """One scenario, plus the CSE's own CPU per request: unlike req/s it hardly
            depends on the load generator and the other users of the machine."""
            before = cpu_seconds(pid)
            result = await closed_loop(name, concurrency, requests, operation)
            used = cpu_seconds(pid) - before
            results.append(result)
            print(f"{result.row()}  cse cpu {used / requests * 1e6:6.0f} us/req", flush=True)

        ae = f"Cbench{uuid.uuid4().hex[:6]}"
        device = MqttDevice(address, ae, cse_id[1:], connections=4)
        await device.start()
        coap = CoapDevices(f"coap://127.0.0.1:{coap_port}", ae)
        await coap.start(max(CONCURRENCY))
        try:
            rsc = await device.call({"op": 1, "to": "cse-in", "ty": 2, "pc": {"m2m:ae": {
                "rn": "meter", "api": "Nbench", "rr": False, "srv": ["3"]}}}, kind="reg_req")
            assert rsc == 2001, f"AE registration over MQTT answered {rsc}"
            for name in ("mqtt", "coap"):
                rsc = await device.call({"op": 1, "to": "cse-in/meter", "ty": 3,
                                         "pc": {"m2m:cnt": {"rn": name, "mni": 1000}}})
                assert rsc == 2001, f"container creation answered {rsc}"

            if only in (None, "mqtt"):
                for concurrency in CONCURRENCY:
                    async def create(i: int) -> bool:
                        return await device.call({"op": 1, "to": "cse-in/meter/mqtt", "ty": 4,
                                                  "pc": {"m2m:cin": {"con": str(i)}}}, worker=i) == 2001

                    async def latest(i: int) -> bool:
                        return await device.call({"op": 2, "to": "cse-in/meter/mqtt/la"}, worker=i) == 2000

                    await measured("mqtt create contentInstance", concurrency, create)
                    await measured("mqtt retrieve la", concurrency, latest)
            if only in (None, "coap"):
                for concurrency in CONCURRENCY:
                    async def create(i: int) -> bool:
                        return await coap.call(Code.POST, "/cse-in/meter/coap", 4,
                                               {"m2m:cin": {"con": str(i)}}) == 2001

                    async def latest(i: int) -> bool:
                        return await coap.call(Code.GET, "/cse-in/meter/coap/la") == 2000

                    await measured("coap create contentInstance", concurrency, create)
                    await measured("coap retrieve la", concurrency, latest)
        finally:
            await coap.stop()
            await device.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.mqtt_coap", description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per scenario (default 2000)")
    parser.add_argument("--only", choices=["mqtt", "coap"], help="run one binding's scenarios")
    parser.add_argument("--broker", help="use this MQTT broker (host:port) instead of a private mosquitto")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        address = parse_broker(args.broker) if args.broker else stack.enter_context(private_mosquitto())
        print(f"{'scenario':<38} concurrency, throughput, latency (loopback, {os.cpu_count()} cores, "
              f"load {os.getloadavg()[0]:.1f}, broker {address.host}:{address.port})", flush=True)
        results = asyncio.run(run(address, args.requests, args.only))
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
