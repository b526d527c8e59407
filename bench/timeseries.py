"""timeSeriesInstance CREATE next to contentInstance CREATE over HTTP, in one run, against
a CSE whose timeSeries and container start empty and against one where both already hold
`--prefill` instances (100,000 by default): is a reading as cheap in a timeSeries as in a
container, and does its cost depend on how many readings are stored?

    python -m bench.timeseries              # 2000 requests per scenario, c=1 and 32, 3 passes, 100,000
    python -m bench.timeseries --quick      # 300 requests, 1 pass, 10,000 prefilled
    python -m bench.timeseries --prefill 0  # only the empty CSE

Each reading has a dgt one second after the previous one (as a meter reporting with
pei 1000 ms sends them), so the dgt uniqueness check takes its O(1) path; the timeSeries
has pei set and detection off (the detection timers are not on the request path).  The
scenarios run interleaved (cin, tsi, tsi, cin, ... over both CSEs) and each pass is
repeated, so load from elsewhere on the machine hits all alike: compare the ratios, and
CSE µs/req beside req/s.

What it must never do: run a measured CSE in this process (the prefill runs the CSE's
dispatcher here only before the CSE process starts), or use anything but loopback.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from .common import (CpuProbe, CseProcess, OneM2MHttp, Result, change, closed_loop, json_body, machine, merge,
                     table, write_json)

AE_TY, CNT_TY, CIN_TY, TS_TY, TSI_TY = 2, 3, 4, 29, 30
CIN = "create cin"
TSI = "create tsi"
SCENARIOS = (CIN, TSI)
TARGET_RATIO = 0.20          # tsi within 20% of cin (CSE CPU per request)
AE_ATTRIBUTES = {"api": "Nbench", "rr": False, "srv": ["3"]}
# The dgt of reading k: one second after reading k-1 (2025-01-01T00:00:00Z + k s).
FIRST_DGT = 1735689600.0


def dgt(k: int) -> str:
    from cse.clock import format_timestamp
    return format_timestamp(FIRST_DGT + k)


def reading(k: int) -> dict:
    """A contentInstance's content; a timeSeriesInstance has the same con and a dgt instead of cnf."""
    return {"con": f"{1500 + k % 500}.5", "cnf": "text/plain:0"}


def sample(k: int) -> dict:
    return {"dgt": dgt(k), "con": f"{1500 + k % 500}.5"}


@dataclass
class State:
    """One CSE process with one AE holding a container `readings` and a timeSeries `series`."""

    label: str
    client: OneM2MHttp
    ae: str                  # HTTP path of the AE
    originator: str
    cpu: CpuProbe | None
    next_dgt: int            # readings made so far in the timeSeries

    def operations(self, n: int) -> dict[str, Callable[[int], Awaitable[bool | str]]]:
        cins = [json_body({"m2m:cin": reading(i)}) for i in range(n)]
        first = self.next_dgt
        self.next_dgt += n
        tsis = [json_body({"m2m:tsi": sample(first + i)}) for i in range(n)]
        client, ae, originator = self.client, self.ae, self.originator

        async def create_cin(i: int) -> bool | str:
            return (await client.create(f"{ae}/readings", CIN_TY, cins[i], originator)).expect(2001)

        async def create_tsi(i: int) -> bool | str:
            return (await client.create(f"{ae}/series", TSI_TY, tsis[i], originator)).expect(2001)

        return {CIN: create_cin, TSI: create_tsi}


SETUP: list[tuple[str, int, str, dict[str, Any]]] = [("", AE_TY, "m2m:ae", AE_ATTRIBUTES), ("/{ae}", CNT_TY, "m2m:cnt", {"rn": "readings"}),
         ("/{ae}", TS_TY, "m2m:ts", {"rn": "series", "pei": 1000, "cnf": "text/plain:0"})]


async def prefill_core(cse_args: list[str], count: int, originator: str, batch: int = 512) -> float:
    """Fill the data directory the CSE process will open: the AE, its container and
    timeSeries, and `count` instances in each, created by the CSE's own dispatcher in this
    process (no HTTP).  Returns instances per second."""
    from cse.primitives import Operation as Op, Request
    from server.cli import config_from_args
    from server.compose import build_cse

    config = config_from_args(cse_args)
    cse = build_cse(config)
    await cse.start()
    rn = config.cse.rn
    rqi = iter(range(10**12))

    async def send(to: str, ty: int, pc: dict) -> None:
        response = await cse.dispatcher.handle(Request(op=Op.CREATE, to=to, fr=originator,
                                                       rqi=f"p{next(rqi)}", rvi="3", ty=ty, pc=pc))
        if response.rsc != 2001:
            raise RuntimeError(f"prefill: CREATE {to} answered {int(response.rsc)}: {response.pc}")

    try:
        for path, ty, root, attributes in SETUP:
            body = {"rn": originator, **attributes} if ty == AE_TY else attributes
            await send(rn + path.format(ae=originator), ty, {root: body})
        started = time.perf_counter()
        for first in range(0, count, batch):
            ks = range(first, min(first + batch, count))
            await asyncio.gather(*(send(f"{rn}/{originator}/readings", CIN_TY, {"m2m:cin": reading(k)})
                                   for k in ks))
            await asyncio.gather(*(send(f"{rn}/{originator}/series", TSI_TY,
                                        {"m2m:tsi": sample(k)}) for k in ks))
        elapsed = time.perf_counter() - started
    finally:
        await cse.stop()
    return 2 * count / elapsed if elapsed else float("inf")


async def set_up_over_http(client: OneM2MHttp, originator: str) -> None:
    for path, ty, root, attributes in SETUP:
        body = {"rn": originator, **attributes} if ty == AE_TY else attributes
        reply = await client.create("/cse-in" + path.format(ae=originator), ty, json_body({root: body}), originator)
        if reply.rsc != 2001:
            raise RuntimeError(f"setting up: CREATE ty={ty} answered {reply.rsc}")


async def measure(states: list[State], requests: int, concurrency: list[int], repeat: int) -> list[Result]:
    runs: dict[tuple[str, str, int], list[Result]] = {}
    for attempt in range(repeat):
        for c in concurrency:
            order = [(s, n) for s in states for n in (SCENARIOS if attempt % 2 == 0 else SCENARIOS[::-1])]
            for state, name in order:
                ops = state.operations(requests)
                await closed_loop("warm-up", c, max(20, 2 * c), ops[name])
                ops = state.operations(requests)
                result = await closed_loop(name, c, requests, ops[name], label=state.label, cpu=state.cpu)
                runs.setdefault((state.label, name, c), []).append(result)
        print(f"   pass {attempt + 1}/{repeat} done", flush=True)
    return [merge(runs[(s.label, name, c)]) for s in states for c in concurrency for name in SCENARIOS]


def ratios(results: list[Result]) -> list[str]:
    """tsi against cin in the same CSE, and each against itself in the empty CSE."""
    by_key = {(r.label, r.scenario, r.concurrency): r for r in results}
    labels = list(dict.fromkeys(r.label for r in results))
    lines = []
    for (label, name, c), r in by_key.items():
        base = by_key.get((label, CIN, c))
        if name == TSI and base is not None:
            lines.append(f"{TSI} vs {CIN} c={c} ({label}): req/s {change(base.per_second, r.per_second)}, "
                         f"CSE µs/req {change(base.cse_cpu_us, r.cse_cpu_us)}")
    for label in labels[1:]:
        for (other, name, c), r in by_key.items():
            empty = by_key.get((labels[0], name, c))
            if other == label and empty is not None:
                lines.append(f"{name} c={c}: {label} vs {labels[0]}: req/s {change(empty.per_second, r.per_second)}, "
                             f"CSE µs/req {change(empty.cse_cpu_us, r.cse_cpu_us)}")
    return lines


async def run(requests: int, concurrency: list[int], repeat: int, prefill: int, storage: str | None = None,
              url: str | None = None) -> list[Result]:
    """Starts its CSE processes (or measures the CSE at `url`, the empty state only, and
    deletes what it made there)."""
    originator = "Cts" + secrets.token_hex(3)
    counts = [0] if url is not None or prefill == 0 else [0, prefill]
    async with contextlib.AsyncExitStack() as stack:
        states: list[State] = []
        for count in counts:
            target, pid = url or "", None
            if url is None:
                cse = CseProcess(storage=storage)
                if count:
                    print(f"-- prefilling {count:,} contentInstances and {count:,} timeSeriesInstances ...",
                          flush=True)
                    rate = await prefill_core(cse.args, count, originator)
                    print(f"   {rate:,.0f} instances/s", flush=True)
                stack.enter_context(cse)
                target, pid = cse.url, cse.pid
            client = await stack.enter_async_context(OneM2MHttp(target))
            state = State(f"{count:,} stored", client, f"/cse-in/{originator}", originator,
                          CpuProbe(pid) if pid else None, count)
            if not count:
                await set_up_over_http(client, originator)
            if url is not None:
                stack.push_async_callback(client.delete, state.ae, "CAdmin")
            states.append(state)
        return await measure(states, requests, concurrency, repeat)


def verdicts(results: list[Result]) -> list[str]:
    """The issue's targets, judged on CSE CPU per request at the highest concurrency."""
    c = max(r.concurrency for r in results)
    by_key = {(r.label, r.scenario, r.concurrency): r for r in results}
    lines = []
    for label in dict.fromkeys(r.label for r in results):
        cin, tsi = by_key.get((label, CIN, c)), by_key.get((label, TSI, c))
        if cin and tsi and cin.cse_cpu_us and tsi.cse_cpu_us:
            ratio = tsi.cse_cpu_us / cin.cse_cpu_us - 1
            lines.append(f"{'OK  ' if ratio <= TARGET_RATIO else 'MISS'} {TSI} within {TARGET_RATIO:.0%} of {CIN} "
                         f"(CSE µs/req, c={c}, {label}): {ratio:+.1%}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.timeseries", description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running CSE instead of those this run starts (no prefill)")
    parser.add_argument("--requests", "-n", type=int, help="requests per scenario, concurrency and pass "
                                                           "(default 2000; 300 with --quick)")
    parser.add_argument("--concurrency", "-c", default="1,32", help="comma-separated levels (default 1,32)")
    parser.add_argument("--repeat", type=int, help="passes (default 3; 1 with --quick)")
    parser.add_argument("--prefill", type=int, help="instances in the container and in the timeSeries of the "
                                                    "second CSE (default 100000; 10000 with --quick; 0: none)")
    parser.add_argument("--storage", help="storage of the CSEs: sqlite (default), tinydb or a URL")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    requests = args.requests if args.requests is not None else (300 if args.quick else 2000)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    prefill = args.prefill if args.prefill is not None else (10_000 if args.quick else 100_000)
    try:
        concurrency = [int(part) for part in args.concurrency.split(",") if part.strip()]
    except ValueError:
        parser.error(f"--concurrency {args.concurrency!r} is not a comma-separated list of integers")
    if requests < 1 or repeat < 1 or not concurrency or min(concurrency) < 1 or prefill < 0:
        parser.error("--requests, --repeat and the concurrency levels must be at least 1, --prefill at least 0")
    before = machine()
    print(f"timeseries: {requests} requests per scenario, concurrency {concurrency}, {repeat} pass(es), "
          f"prefill {prefill:,}; {before['cpus']} CPUs, load average {before['load_average']}", flush=True)
    started = time.perf_counter()
    try:
        results = asyncio.run(run(requests, concurrency, repeat, prefill, args.storage, args.url))
    except RuntimeError as error:
        print(f"timeseries: {error}", file=sys.stderr)
        return 2
    print()
    print(table(results))
    print()
    for line in ratios(results) + verdicts(results):
        print(line)
    print(f"done in {time.perf_counter() - started:.0f} s; load average after {machine()['load_average']}")
    if args.json:
        write_json(args.json, results, {"requests": requests, "concurrency": concurrency, "repeat": repeat,
                                        "prefill": prefill})
    failed = [r for r in results if r.errors]
    for r in failed:
        print(f"ERRORS: {r.scenario} c={r.concurrency} ({r.label}): {r.errors} failed, first: {r.first_error}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
