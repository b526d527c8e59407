"""The bounds of issue 18, measured from outside a `cse` process: `python -m bench.limits`.

Scenarios (each starts its own CSE with `common.CseProcess`; `--only NAME` runs one):

    silent   RSS of the CSE with N subscriptions (default 1,000) to one container, each for its
             own silent target (accepts the TCP connection, never answers), then --readings
             (300) readings: every reading makes N notifications nobody takes.  Reported: RSS at start, after the
             load, and 60 s after it (or --settle), pending notification bytes are bounded by
             notification.max_pending_bytes.
    wal      Size of the SQLite WAL file while 32 writers create contentInstances as fast as
             the CSE takes them, for --wal-minutes (default 5): peak and final size, creates.
    idle     Time to serve a normal client while N (default 2,000) connections sit idle or
             half-sent (a request head that never ends).
    fair     `la` retrieve latency (p50, p99) alone and while 4 clients loop an unindexed
             discovery over 10,000 instances (--instances).

`--before` runs a scenario with the limits effectively off (huge caps), for the "before"
figure on the same build: silent (max_pending_bytes 64 GiB), wal (wal_max_bytes 1 TiB),
idle (max_connections 100,000).  Fairness has no switch: compare with a build before
the slices (git stash / an older commit).

Loopback only; free ports.  Figures go to stdout (and --json FILE).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp

from .common import CseProcess

ADMIN = "CAdmin"
HEADERS = {"X-M2M-RVI": "3", "Accept": "application/json"}


def rss_mb(pid: int | None) -> float:
    if pid is None:
        return 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def config_file(directory: str, text: str) -> str:
    path = Path(directory) / "bench.toml"
    path.write_text(text)
    return str(path)


async def call(session: aiohttp.ClientSession, url: str, method: str, path: str, originator: str = ADMIN,
               ty: int | None = None, body: dict | None = None, rqi: str = "b") -> tuple[int, dict]:
    headers = {**HEADERS, "X-M2M-Origin": originator, "X-M2M-RI": rqi}
    if body is not None:
        headers["Content-Type"] = "application/json" + (f";ty={ty}" if ty else "")
    async with session.request(method, url + path, headers=headers,
                               data=json.dumps(body).encode() if body is not None else None) as response:
        raw = await response.read()
        return int(response.headers.get("X-M2M-RSC", 0)), (json.loads(raw) if raw else {})


# -- silent targets -----------------------------------------------------------------------
async def silent(args) -> dict:
    held: list = []

    async def hold(reader, writer):
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    tmp = tempfile.mkdtemp(prefix="bench-limits-")
    pending = "68719476736" if args.before else "67108864"
    cfg = config_file(tmp, f"[notification]\nmax_pending_bytes = {pending}\ntimeout = 30.0\n"
                           f"max_subscriptions_per_originator = 0\nmax_targets_per_originator = 0\n"
                           f"max_connections = {args.targets + 100}\n")
    with CseProcess("--config", cfg) as cse:
        url = cse.url
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
            started_rss = rss_mb(cse.pid)
            # One container everybody may subscribe to: every reading notifies every target.
            await call(session, url, "POST", "/cse-in", ADMIN, 1, {"m2m:acp": {
                "rn": "open", "pv": {"acr": [{"acor": ["all"], "acop": 63}]},
                "pvs": {"acr": [{"acor": [ADMIN], "acop": 63}]}}})
            await call(session, url, "POST", "/cse-in", ADMIN, 3,
                       {"m2m:cnt": {"rn": "hub", "mni": 5, "acpi": ["cse-in/open"]}})

            async def target(i: int) -> None:
                # One AE per target, its poa on the silent server (one queue and one connection
                # each), subscribed with its own AE-ID as nu: no verification request
                # (TS-0004 7.4.8.2.1), which a silent target would never answer.
                ae = f"Cs{i}"
                await call(session, url, "POST", "/cse-in", ae, 2,
                           {"m2m:ae": {"rn": f"s{i}", "api": "Ns", "rr": True, "srv": ["3"],
                                       "poa": [f"http://127.0.0.1:{port}/t{i}"]}})
                rsc, body = await call(session, url, "POST", "/cse-in/hub", ae, 23,
                                       {"m2m:sub": {"rn": f"sub{i}", "nu": [ae], "enc": {"net": [3]}}})
                if rsc != 2001:
                    raise RuntimeError(f"subscription {i}: {rsc} {body}")

            for start in range(0, args.targets, 50):
                await asyncio.gather(*(target(i) for i in range(start, min(args.targets, start + 50))))
            subscribed_rss = rss_mb(cse.pid)
            # Readings: each one makes a notification for every target, which none answers.
            payload = "x" * 1000
            deadline = time.monotonic() + args.load_seconds
            made = 0
            while time.monotonic() < deadline and made < args.readings:
                await call(session, url, "POST", "/cse-in/hub", ADMIN, 4, {"m2m:cin": {"con": payload}})
                made += 1
            loaded_rss = rss_mb(cse.pid)
            await asyncio.sleep(args.settle)
            settled_rss = rss_mb(cse.pid)
    server.close()
    return {"scenario": "silent", "before": args.before, "targets": args.targets, "readings": made,
            "notifications": made * args.targets, "rss_start_mb": round(started_rss, 1),
            "rss_subscribed_mb": round(subscribed_rss, 1), "rss_loaded_mb": round(loaded_rss, 1),
            "rss_after_settle_mb": round(settled_rss, 1), "settle_s": args.settle}


# -- WAL at full speed --------------------------------------------------------------------
async def wal(args) -> dict:
    tmp = tempfile.mkdtemp(prefix="bench-wal-")
    limit = 1 << 40 if args.before else 64 << 20
    cfg = config_file(tmp, f"[storage]\nwal_max_bytes = {limit}\n")
    wal_file = Path(tmp) / "data" / "cse.sqlite-wal"
    peak, made = 0, 0
    with CseProcess("--config", cfg, data_dir=str(Path(tmp) / "data")) as cse:
        url = cse.url
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as session:
            await call(session, url, "POST", "/cse-in", "Cw", 2,
                       {"m2m:ae": {"rn": "w", "api": "Nw", "rr": False, "srv": ["3"]}})
            await call(session, url, "POST", "/cse-in/w", "Cw", 3, {"m2m:cnt": {"rn": "c", "mni": 1000}})
            deadline = time.monotonic() + args.wal_minutes * 60
            payload = "x" * 500

            async def writer() -> None:
                nonlocal made
                while time.monotonic() < deadline:
                    await call(session, url, "POST", "/cse-in/w/c", "Cw", 4, {"m2m:cin": {"con": payload}})
                    made += 1

            async def watch() -> None:
                nonlocal peak
                while time.monotonic() < deadline:
                    try:
                        peak = max(peak, wal_file.stat().st_size)
                    except FileNotFoundError:
                        pass
                    await asyncio.sleep(0.05)

            await asyncio.gather(watch(), *(writer() for _ in range(32)))
            final = wal_file.stat().st_size if wal_file.exists() else 0
            database = (Path(tmp) / "data" / "cse.sqlite").stat().st_size
    return {"scenario": "wal", "before": args.before, "minutes": args.wal_minutes, "creates": made,
            "creates_per_s": round(made / (args.wal_minutes * 60)), "wal_peak_mb": round(peak / 2**20, 1),
            "wal_final_mb": round(final / 2**20, 1), "database_mb": round(database / 2**20, 1)}


# -- idle connections ---------------------------------------------------------------------
async def idle(args) -> dict:
    tmp = tempfile.mkdtemp(prefix="bench-idle-")
    cap = 100_000 if args.before else 1000
    cfg = config_file(tmp, f"[http]\nmax_connections = {cap}\nheader_timeout = 600.0\nidle_timeout = 600.0\n")
    writers = []
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if args.cse_nofile:            # the CSE inherits this limit; the bench takes its own back
        resource.setrlimit(resource.RLIMIT_NOFILE, (args.cse_nofile, hard))
    try:
        process = CseProcess("--config", cfg)
        cse = process.__enter__()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        host, port = cse.url.rsplit("//", 1)[1].rsplit(":", 1)
        opened = 0
        for i in range(args.idle):
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 3)
            except (OSError, asyncio.TimeoutError):
                break
            if i % 2:
                writer.write(b"GET /cse-in HTTP/1.1\r\nHost: x\r\nX-M2M-Origin: CAdmin\r\n")   # never ends
            writers.append(writer)
            opened += 1
        await asyncio.sleep(1)
        times = []
        async with aiohttp.ClientSession() as session:
            for _ in range(20):
                started = time.perf_counter()
                try:
                    rsc, _ = await asyncio.wait_for(call(session, cse.url, "GET", "/cse-in"), 5)
                except (asyncio.TimeoutError, aiohttp.ClientError):
                    rsc = 0
                times.append((time.perf_counter() - started) * 1000 if rsc == 2000 else float("inf"))
        for writer in writers:
            writer.close()
    finally:
        process.__exit__(None, None, None)
    served = [t for t in times if t != float("inf")]
    return {"scenario": "idle", "before": args.before, "cse_nofile": args.cse_nofile or soft,
            "idle_connections": opened,
            "served": f"{len(served)}/{len(times)}",
            "first_ms": round(times[0], 1), "median_ms": round(statistics.median(times), 1) if served else None}


# -- fairness -----------------------------------------------------------------------------
async def fair(args) -> dict:
    with CseProcess() as cse:
        url = cse.url
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
            await call(session, url, "POST", "/cse-in", "Cf", 2,
                       {"m2m:ae": {"rn": "f", "api": "Nf", "rr": False, "srv": ["3"]}})
            await call(session, url, "POST", "/cse-in/f", "Cf", 3, {"m2m:cnt": {"rn": "big", "mni": 10**6}})
            await call(session, url, "POST", "/cse-in/f", "Cf", 3, {"m2m:cnt": {"rn": "small"}})
            await call(session, url, "POST", "/cse-in/f/small", "Cf", 4, {"m2m:cin": {"con": "1"}})
            for start in range(0, args.instances, 100):
                await asyncio.gather(*(call(session, url, "POST", "/cse-in/f/big", "Cf", 4,
                                            {"m2m:cin": {"con": f"v{i}"}})
                                       for i in range(start, min(args.instances, start + 100))))

            async def la_latencies(count: int) -> list[float]:
                out = []
                for _ in range(count):
                    started = time.perf_counter()
                    await call(session, url, "GET", "/cse-in/f/small/la", "Cf")
                    out.append((time.perf_counter() - started) * 1000)
                    await asyncio.sleep(0.01)
                return out

            alone = await la_latencies(200)
            stop = asyncio.Event()
            discoveries = 0

            async def discover() -> None:
                nonlocal discoveries
                while not stop.is_set():
                    await call(session, url, "GET", "/cse-in/f/big?fu=1&cty=text/none", "Cf")
                    discoveries += 1

            loops = [asyncio.ensure_future(discover()) for _ in range(4)]
            await asyncio.sleep(1)
            loaded = await la_latencies(200)
            stop.set()
            await asyncio.gather(*loops)

    def p(values: list[float], q: float) -> float:
        return round(sorted(values)[min(len(values) - 1, int(q * len(values)))], 1)

    return {"scenario": "fair", "instances": args.instances, "discoveries": discoveries,
            "la_alone_p50_ms": p(alone, 0.5), "la_alone_p99_ms": p(alone, 0.99),
            "la_loaded_p50_ms": p(loaded, 0.5), "la_loaded_p99_ms": p(loaded, 0.99)}


SCENARIOS = {"silent": silent, "wal": wal, "idle": idle, "fair": fair}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--only", choices=list(SCENARIOS), action="append")
    parser.add_argument("--before", action="store_true", help="limits effectively off (see above)")
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--load-seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=60.0)
    parser.add_argument("--readings", type=int, default=300, help="silent: readings (each notifies every target)")
    parser.add_argument("--wal-minutes", type=float, default=5.0)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--cse-nofile", type=int, default=0, help="idle: file-descriptor limit of the CSE")
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--json")
    args = parser.parse_args()
    results = []
    for name in args.only or list(SCENARIOS):
        result = asyncio.run(SCENARIOS[name](args))
        print(json.dumps(result), flush=True)
        results.append(result)
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "load": os.getloadavg()}, indent=1))


if __name__ == "__main__":
    main()
