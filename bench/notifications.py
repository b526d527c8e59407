"""Notification benchmark: one container, N subscribers, contentInstances posted over HTTP.

    python -m bench.notifications                       # the default scenarios below
    python -m bench.notifications --rate 500 --seconds 10 --subscribers 1 --json out.json

Scenarios (each against a fresh CSE process on a free loopback port):
  paced   contentInstances at a fixed rate (open loop); per notification the latency from
          the 2001 response of its CREATE to its arrival at the receiver (p50/p99)
  max     as fast as 16 concurrent clients can create; notifications/s delivered
Every run reports notifications lost (expected - received, after waiting for stragglers),
notifications out of order per subscriber, and the CSE's CPU time per CREATE, which depends
far less on the machine's other load than the rates do (the 0-subscriber run is the
baseline; the difference divided by the subscribers is the cost of one notification).

The receivers (one path per subscriber, a minimal pipelining HTTP/1.1 server so that the
benchmark measures the CSE rather than itself) and the load generator share this process
and its clock; the CSE sends notifications from its own process.  This module must never import
the CSE's internals: it measures the CSE from the outside, as subscribers see it.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import aiohttp
import orjson

from .common import CseProcess, percentile

ORIGINATOR = "Cbench"
_rqi = itertools.count(1)


@dataclass
class NotificationResult:
    scenario: str
    subscribers: int
    instances: int
    target_rate: float | None       # contentInstances/s asked for (paced), None for max
    create_rate: float              # contentInstances/s achieved
    notifications_per_second: float  # delivered, first CREATE to last arrival
    expected: int
    received: int
    lost: int
    out_of_order: int
    latency_p50_ms: float           # 2001 response -> arrival at the receiver
    latency_p99_ms: float
    latency_max_ms: float
    create_p50_ms: float
    create_p99_ms: float
    create_errors: int
    cse_cpu_us_per_notification: float | None
    cse_cpu_us_per_create: float | None    # compare with 0 subscribers for the notifications' share

    def row(self) -> str:
        rate = f"{self.target_rate:.0f}/s" if self.target_rate else "max"
        return (f"{self.scenario:<6} subs={self.subscribers:<3} cin {rate:>6} -> {self.create_rate:>6.0f}/s  "
                f"notif {self.notifications_per_second:>6.0f}/s  latency p50 {self.latency_p50_ms:>6.2f} ms "
                f"p99 {self.latency_p99_ms:>7.2f} ms max {self.latency_max_ms:>7.1f} ms  "
                f"lost {self.lost}  out-of-order {self.out_of_order}  "
                f"CSE CPU {self.cse_cpu_us_per_create or 0:.0f} us/CREATE  "
                f"CREATE p99 {self.create_p99_ms:.1f} ms  errors {self.create_errors}")


class _ReceiverProtocol(asyncio.Protocol):
    """A minimal HTTP/1.1 server connection: pipelined POSTs in, fixed 2000 answers out.
    Far cheaper than a full server, so the benchmark process measures the CSE, not itself."""

    def __init__(self, receivers: "Receivers"):
        self.receivers = receivers
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)      # a TCP server's
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        answers = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = bytes(self.buffer[:end]).decode("latin-1")
            length = 0
            request_id = ""
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "x-m2m-ri":
                    request_id = value.strip()
            if len(self.buffer) < end + 4 + length:
                break
            body = bytes(self.buffer[end + 4:end + 4 + length])
            del self.buffer[:end + 4 + length]
            path = head.split(" ", 2)[1]
            self.receivers.received(path, body)
            answers.append(b"HTTP/1.1 200 OK\r\nX-M2M-RSC: 2000\r\nX-M2M-RI: " + request_id.encode()
                           + b"\r\nContent-Length: 0\r\n\r\n")
        if answers and self.transport is not None:
            self.transport.write(b"".join(answers))


class Receivers:
    """Notification targets /s0 .. /s{n-1} on one loopback server; records arrival times."""

    def __init__(self, count: int):
        self.count = count
        self.arrivals: list[dict[int, float]] = [{} for _ in range(count)]
        self.order_errors = [0] * count
        self._last = [-1] * count
        self.total = 0
        self._changed = asyncio.Event()
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _ReceiverProtocol(self), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()

    def url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.port}/s{index}"

    def received(self, path: str, body: bytes) -> None:
        now = time.perf_counter()
        sgn = orjson.loads(body).get("m2m:sgn", {})
        rep = sgn.get("nev", {}).get("rep", {}).get("m2m:cin")
        if rep is None:
            return                                   # a verification request
        index = int(path.rsplit("/s", 1)[1])
        self.arrivals[index].setdefault(int(rep["con"]), now)
        # Order is the CSE's creation order (the container's state tag), not the order in
        # which concurrent clients sent their CREATEs.
        if rep["st"] <= self._last[index]:
            self.order_errors[index] += 1
        self._last[index] = rep["st"]
        self.total += 1
        self._changed.set()

    async def wait_for(self, expected: int, quiet: float) -> None:
        """Until `expected` notifications arrived, or none arrived for `quiet` seconds."""
        while self.total < expected:
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), quiet)
            except asyncio.TimeoutError:
                return


def _headers(ty: int | None = None) -> dict:
    headers = {"X-M2M-Origin": ORIGINATOR, "X-M2M-RI": f"b{next(_rqi)}", "X-M2M-RVI": "3",
               "Accept": "application/json"}
    if ty is not None:
        headers["Content-Type"] = f"application/json;ty={ty}"
    return headers


async def _create(session: aiohttp.ClientSession, url: str, ty: int, body: dict) -> int:
    async with session.post(url, data=orjson.dumps(body), headers=_headers(ty)) as response:
        await response.read()
        return response.status


async def _prepare(session: aiohttp.ClientSession, base: str, receivers: Receivers) -> str:
    assert await _create(session, f"{base}/cse-in", 2,
                         {"m2m:ae": {"rn": "bench", "api": "Nbench", "rr": False, "srv": ["3"]}}) == 201
    assert await _create(session, f"{base}/cse-in/bench", 3, {"m2m:cnt": {"rn": "power"}}) == 201
    container = f"{base}/cse-in/bench/power"
    for index in range(receivers.count):
        status = await _create(session, container, 23, {"m2m:sub": {
            "rn": f"s{index}", "nu": [receivers.url(index)], "enc": {"net": [3], "chty": [4]}}})
        assert status == 201, f"subscription {index} was refused ({status})"
    return container


def _cpu_seconds(pid: int) -> float | None:
    """user + system CPU time of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def run(scenario: str, subscribers: int, instances: int, rate: float | None,
              concurrency: int = 16, quiet: float = 5.0,
              cse_args: tuple[str, ...] = ()) -> NotificationResult:
    receivers = Receivers(subscribers)
    await receivers.start()
    try:
        with CseProcess(*cse_args) as cse:
            connector = aiohttp.TCPConnector(limit=256)
            async with aiohttp.ClientSession(connector=connector) as session:
                container = await _prepare(session, cse.url, receivers)
                return await _measure(scenario, session, container, receivers, instances, rate,
                                      concurrency, quiet, cse.running_pid)
    finally:
        await receivers.stop()


async def _measure(scenario, session, container, receivers, instances, rate, concurrency, quiet,
                   pid) -> NotificationResult:
    responded: dict[int, float] = {}
    create_latencies: list[float] = []
    errors = 0

    async def create(sequence: int) -> None:
        nonlocal errors
        started = time.perf_counter()
        try:
            status = await _create(session, container, 4, {"m2m:cin": {"con": str(sequence)}})
        except aiohttp.ClientError:
            status = 0
        now = time.perf_counter()
        create_latencies.append(now - started)
        if status == 201:
            responded[sequence] = now
        else:
            errors += 1

    cpu_before = _cpu_seconds(pid)
    started = time.perf_counter()
    if rate:
        tasks = []
        for sequence in range(instances):
            delay = started + sequence / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)      # pacing the open-loop load generator
            tasks.append(asyncio.get_running_loop().create_task(create(sequence)))
        await asyncio.gather(*tasks)
    else:
        sequences = iter(range(instances))

        async def worker() -> None:
            for sequence in sequences:
                await create(sequence)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    created_in = time.perf_counter() - started
    expected = len(responded) * receivers.count
    if expected:
        await receivers.wait_for(expected, quiet)
    cpu_after = _cpu_seconds(pid)
    last_arrival = max((t for arrivals in receivers.arrivals for t in arrivals.values()), default=started)
    latencies = sorted(max(0.0, arrivals[s] - responded[s])
                       for arrivals in receivers.arrivals for s in arrivals if s in responded)
    received = sum(len(a) for a in receivers.arrivals)
    create_latencies.sort()
    cpu = per_create = None
    if cpu_before is not None and cpu_after is not None:
        spent = (cpu_after - cpu_before) * 1e6
        cpu = round(spent / received, 1) if received else None
        per_create = round(spent / len(responded), 1) if responded else None
    return NotificationResult(
        scenario=scenario, subscribers=receivers.count, instances=instances, target_rate=rate,
        create_rate=round(len(responded) / created_in, 1),
        notifications_per_second=round(received / max(1e-9, last_arrival - started), 1),
        expected=expected, received=received, lost=expected - received,
        out_of_order=sum(receivers.order_errors),
        latency_p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        latency_p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        latency_max_ms=round((latencies[-1] if latencies else float("nan")) * 1000, 2),
        create_p50_ms=round(percentile(create_latencies, 0.50) * 1000, 2),
        create_p99_ms=round(percentile(create_latencies, 0.99) * 1000, 2),
        create_errors=errors, cse_cpu_us_per_notification=cpu, cse_cpu_us_per_create=per_create)


DEFAULT_SCENARIOS = [
    # (scenario, subscribers, contentInstances, rate)
    ("paced", 0, 5000, 500.0),       # baseline: the CREATEs alone
    ("paced", 1, 5000, 500.0),
    ("paced", 10, 2000, 100.0),
    ("paced", 10, 5000, 500.0),
    ("max", 1, 5000, None),
    ("max", 10, 2000, None),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="*", help="subscriber counts (default 1 and 10)")
    parser.add_argument("--rate", type=float, help="contentInstances/s; 0 = as fast as possible")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of a paced run")
    parser.add_argument("--instances", type=int, help="contentInstances per run (overrides --seconds)")
    parser.add_argument("--json", help="write the results to this file")
    parser.add_argument("--config", help="TOML configuration for the CSE (e.g. [notification] settings)")
    args = parser.parse_args()
    if args.rate is None and args.subscribers is None and args.instances is None:
        scenarios = DEFAULT_SCENARIOS
    else:
        rate = 500.0 if args.rate is None else (args.rate or None)
        instances = args.instances or int((rate or 500.0) * args.seconds)
        scenarios = [("paced" if rate else "max", n, instances, rate) for n in (args.subscribers or [1, 10])]
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    results = []
    for scenario, subscribers, instances, rate in scenarios:
        cse_args = ("--config", str(Path(args.config).resolve())) if args.config else ()
        result = asyncio.run(run(scenario, subscribers, instances, rate, cse_args=cse_args))
        print(result.row(), flush=True)
        results.append(result)
    if args.json:
        Path(args.json).write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
