"""flexContainer UPDATE against contentInstance CREATE over HTTP, in one run: a meter's
reading as a new contentInstance in a container, and as an UPDATE of an energyConsumption
module (cod:eneCn) that keeps a history, so that each UPDATE also makes a
flexContainerInstance.  A third scenario updates a module without a history (no instance)
to show what the instance costs.

    python -m bench.flex_update              # 2000 requests per scenario, c=1 and 32, 3 passes
    python -m bench.flex_update --quick      # 300 requests, 1 pass
    python -m bench.flex_update --url http://127.0.0.1:8080 --cse-pid PID

Both the container and the module keep the newest 96 (mni), so both prune the oldest
instance on every request once full.  The scenarios run interleaved (cin, fcnt, fcnt
without history, cin, ...) and each pass is repeated, so load from elsewhere on the machine
hits all alike; compare the ratio of the figures, and CSE µs/req beside req/s.

What it must never do: run the CSE in this process, or use anything but loopback.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import time
from typing import Awaitable, Callable

from .common import CpuProbe, CseProcess, OneM2MHttp, Result, change, closed_loop, json_body, machine, merge, \
    table, write_json

AE_TY, CNT_TY, CIN_TY, FCNT_TY = 2, 3, 4, 28
ENERGY = "org.onem2m.common.moduleclass.energyConsumption"
HISTORY = 96
CIN = "create cin"
FCNT = "update fcnt (makes fci)"
FCNT_PLAIN = "update fcnt (no history)"
SCENARIOS = (CIN, FCNT, FCNT_PLAIN)


async def setup(client: OneM2MHttp, base: str, originator: str) -> str:
    """The AE with a container and two modules; returns the AE's HTTP path."""
    steps = [
        (base, AE_TY, {"m2m:ae": {"rn": originator, "api": "Nbench", "rr": False, "srv": ["3"]}}),
        (f"{base}/{originator}", CNT_TY, {"m2m:cnt": {"rn": "readings", "mni": HISTORY}}),
        (f"{base}/{originator}", FCNT_TY, {"cod:eneCn": {"rn": "energy", "cnd": ENERGY, "abECn": 0.0,
                                                        "power": 0.0, "mni": HISTORY}}),
        (f"{base}/{originator}", FCNT_TY, {"cod:eneCn": {"rn": "plain", "cnd": ENERGY, "abECn": 0.0,
                                                        "power": 0.0}}),
    ]
    for path, ty, body in steps:
        reply = await client.create(path, ty, json_body(body), originator)
        if reply.rsc != 2001:
            raise RuntimeError(f"setting up: CREATE ty={ty} under {path} answered {reply.rsc}")
    return f"{base}/{originator}"


def operations(client: OneM2MHttp, ae: str, originator: str,
               n: int) -> dict[str, Callable[[int], Awaitable[bool | str]]]:
    readings = [json_body({"m2m:cin": {"cnf": "text/plain:0", "con": f"{1500 + i % 500}.5"}}) for i in range(n)]
    updates = [json_body({"cod:eneCn": {"power": 1500.5 + i % 500, "abECn": 1234.5 + i}}) for i in range(n)]

    async def create_cin(i: int) -> bool | str:
        return (await client.create(f"{ae}/readings", CIN_TY, readings[i], originator)).expect(2001)

    async def update_history(i: int) -> bool | str:
        return (await client.update(f"{ae}/energy", updates[i], originator)).expect(2004)

    async def update_plain(i: int) -> bool | str:
        return (await client.update(f"{ae}/plain", updates[i], originator)).expect(2004)

    return {CIN: create_cin, FCNT: update_history, FCNT_PLAIN: update_plain}


async def measure(client: OneM2MHttp, ae: str, originator: str, cpu: CpuProbe | None, requests: int,
                  concurrency: list[int], repeat: int) -> list[Result]:
    runs: dict[tuple[str, int], list[Result]] = {}
    for attempt in range(repeat):
        order = SCENARIOS if attempt % 2 == 0 else SCENARIOS[::-1]
        for c in concurrency:
            ops = operations(client, ae, originator, requests)
            await closed_loop("warm-up", c, max(20, 2 * c), ops[FCNT_PLAIN])
            for name in order:
                result = await closed_loop(name, c, requests, ops[name], cpu=cpu)
                runs.setdefault((name, c), []).append(result)
        print(f"   pass {attempt + 1}/{repeat} done", flush=True)
    return [merge(runs[(name, c)]) for c in concurrency for name in SCENARIOS]


def ratios(results: list[Result]) -> list[str]:
    by_key = {(r.scenario, r.concurrency): r for r in results}
    lines = []
    for (name, c), r in by_key.items():
        base = by_key.get((CIN, c))
        if name == CIN or base is None:
            continue
        lines.append(f"{name} c={c} vs {CIN}: req/s {change(base.per_second, r.per_second)}, "
                     f"CSE µs/req {change(base.cse_cpu_us, r.cse_cpu_us)}")
    return lines


async def run(url: str | None, cse_pid: int | None, requests: int, concurrency: list[int],
              repeat: int) -> list[Result]:
    originator = "Cflex" + secrets.token_hex(3)
    with contextlib.ExitStack() as stack:
        if url is None:
            cse = stack.enter_context(CseProcess())
            url, cse_pid = cse.url, cse.pid
        async with OneM2MHttp(url) as client:
            ae = await setup(client, "/cse-in", originator)
            try:
                return await measure(client, ae, originator, CpuProbe(cse_pid) if cse_pid else None,
                                     requests, concurrency, repeat)
            finally:
                await client.delete(ae, "CAdmin")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flex_update", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running CSE instead of one this run starts")
    parser.add_argument("--cse-pid", type=int, help="with --url: its pid, for CSE µs/req")
    parser.add_argument("--requests", "-n", type=int, help="requests per scenario, concurrency and pass "
                                                           "(default 2000; 300 with --quick)")
    parser.add_argument("--concurrency", "-c", default="1,32", help="comma-separated levels (default 1,32)")
    parser.add_argument("--repeat", type=int, help="passes (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    requests = args.requests if args.requests is not None else (300 if args.quick else 2000)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    try:
        concurrency = [int(part) for part in args.concurrency.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--concurrency {args.concurrency!r} is not a comma-separated list of integers")
    if requests < 1 or repeat < 1 or not concurrency or min(concurrency) < 1:
        parser.error("--requests, --repeat and the concurrency levels must be at least 1")
    before = machine()
    print(f"flex_update: {requests} requests per scenario, concurrency {concurrency}, {repeat} pass(es); "
          f"{before['cpus']} CPUs, load average {before['load_average']}", flush=True)
    started = time.perf_counter()
    try:
        results = asyncio.run(run(args.url, args.cse_pid, requests, concurrency, repeat))
    except RuntimeError as error:
        print(f"flex_update: {error}", file=sys.stderr)
        return 2
    print()
    print(table(results))
    print()
    for line in ratios(results):
        print(line)
    print(f"done in {time.perf_counter() - started:.0f} s; load average after {machine()['load_average']}")
    if args.json:
        write_json(args.json, results, {"requests": requests, "concurrency": concurrency, "repeat": repeat})
    failed = [r for r in results if r.errors]
    for r in failed:
        print(f"ERRORS: {r.scenario} c={r.concurrency}: {r.errors} failed, first: {r.first_error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
