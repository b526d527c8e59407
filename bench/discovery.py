"""Discovery cost at 1,000 / 10,000 / 100,000 resources: `python -m bench.discovery`.

The tree is what an energy platform holds: meters (AEs, lbl type:meter and zone:<0..99>),
each with a container `power` (lbl zone:<k>, unit:W) and 8 readings (contentInstances);
N resources = N/10 meters.  It is written before the CSE process starts, by a CSE built
in this process on the same data directory that handles ordinary CREATE requests through
its dispatcher (no HTTP, so prefilling 100,000 takes tens of seconds, not minutes); the
stored tree is exactly what the same requests over HTTP would have made.  Then the `cse`
command serves that directory and the queries below go over HTTP from this process:

    ty=2              all meters (N/10 results; 10,000 at 100k = the CSE's result cap)
    lbl=zone:7        one zone: meters and their containers (N/500 results)
    ty=3&lbl=zone:7   containers of one zone (both indexes)
    ty=4&lim=100      the first page of readings (80% of the tree matches)
    rn=m7*            an attribute match with no index: every resource is looked at

Options: --sizes 1000,10000 --requests 200 --concurrency 4 --json out.json
(a query slower than ~75 ms gets fewer requests, about 15 s worth, at least 5 per worker)
"""
from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

import aiohttp

from .common import CseProcess, closed_loop, report

ADMIN = "CAdmin"
READINGS_PER_METER = 8
ZONES = 100


async def prefill(data_dir: str, size: int) -> float:
    """Create size/10 meters with their containers and readings; returns seconds taken."""
    from server.compose import build_cse
    from cse.config import load_config
    from cse.primitives import Request

    cse = build_cse(load_config(None, {"storage.data_dir": data_dir, "log_level": "WARNING"}))
    await cse.start()
    handle = cse.dispatcher.handle
    counter = iter(range(10 ** 9))
    started = time.perf_counter()

    async def create(to: str, ty: int, pc: dict, originator: str) -> None:
        response = await handle(Request(op=1, to=to, fr=originator, rqi=f"p{next(counter)}", rvi="3",
                                        ty=ty, pc=pc))
        if response.rsc != 2001:
            raise RuntimeError(f"prefill failed at {to}: {response.rsc} {response.pc}")

    async def meter(i: int) -> None:
        originator, zone = f"Cmeter{i}", f"zone:{i % ZONES}"
        await create("cse-in", 2, {"m2m:ae": {"rn": f"m{i}", "api": "Nmeter", "rr": False, "srv": ["3"],
                                              "lbl": ["type:meter", zone]}}, originator)
        await create(f"cse-in/m{i}", 3, {"m2m:cnt": {"rn": "power", "lbl": [zone, "unit:W"],
                                                     "mni": 100}}, originator)
        for reading in range(READINGS_PER_METER):
            await create(f"cse-in/m{i}/power", 4, {"m2m:cin": {"con": str(1000 + reading)}}, originator)

    try:
        meters = size // (READINGS_PER_METER + 2)
        batch = 100                     # meters written concurrently: they share group commits
        for first in range(0, meters, batch):
            await asyncio.gather(*(meter(i) for i in range(first, min(first + batch, meters))))
        return time.perf_counter() - started
    finally:
        await cse.stop()


QUERIES = [
    ("ty=2", lambda n: n // 10),
    ("lbl=zone:7", lambda n: 2 * (n // 10) // ZONES),
    ("ty=3&lbl=zone:7", lambda n: (n // 10) // ZONES),
    ("ty=4&lim=100", lambda n: 100),
    ("rn=m7*", None),
]


async def measure(url: str, size: int, requests: int, concurrency: int, budget: float = 15.0) -> list:
    results = []
    headers = {"X-M2M-Origin": ADMIN, "X-M2M-RVI": "3", "Accept": "application/json"}
    async with aiohttp.ClientSession() as session:
        for query, expected in QUERIES:
            target = f"{url}/cse-in?fu=1&{query}"

            async def once(i: int) -> tuple[bool, int]:
                async with session.get(target, headers={**headers, "X-M2M-RI": f"d{i}"}) as response:
                    body = await response.json()
                    return response.status == 200, len(body.get("m2m:uril", ()))

            started = time.perf_counter()
            ok, count = await once(-1)
            first = time.perf_counter() - started
            want = min(expected(size), 10_000) if expected else None
            if not ok or (want is not None and count != want):
                raise RuntimeError(f"{query} at {size}: {count} results, expected {want}")

            async def operation(i: int) -> bool:
                return (await once(i))[0]

            # A slow query (the unindexed scan) gets fewer requests: about `budget` seconds each.
            total = max(concurrency * 5, min(requests, int(budget * concurrency / max(first, 1e-3))))
            result = await closed_loop(f"discover {query} @{size} ({count} hits)", concurrency, total,
                                       operation)
            results.append(result)
            print(result.row(), flush=True)
    return results


async def run(sizes: list[int], requests: int, concurrency: int) -> list:
    results = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="cse-bench-discovery-") as data_dir:
            seconds = await prefill(data_dir, size)
            print(f"prefilled {size} resources in {seconds:.1f} s", flush=True)
            with CseProcess(data_dir=data_dir) as cse:
                results.extend(await measure(cse.url, size, requests, concurrency))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.discovery", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--requests", type=int, default=200, help="requests per query and size")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = asyncio.run(run(sizes, args.requests, args.concurrency))
    print()
    report(results, args.json)


if __name__ == "__main__":
    main()
