"""What forwarding costs: the same requests sent to an MN-CSE directly and through its
IN-CSE (`/~/id-mn/...`), at concurrency 1 and 32.

    .venv/bin/python -m bench.federation [--requests N] [--json FILE]

Two CSE processes (SQLite) on free loopback ports: an IN-CSE, and an MN-CSE registered with it
whose admin is the IN's admin (so the forwarded originator /id-in/CAdmin may do everything).
The load generator runs in this process.  "CSE µs/req" is the MN's CPU per request; the
IN's CPU per forwarded request is printed as "IN µs/req" (the price of one transit hop).
All three processes share the machine's 2 cores, so at c=32 the figures mostly show which
process runs out of CPU first.
"""
from __future__ import annotations

import argparse
import asyncio
import sys
import time

from bench.common import CpuProbe, CseProcess, OneM2MHttp, closed_loop, json_body, machine, report

CONCURRENCY = (1, 32)
MN_ARGS = ("--type", "MN", "--cse-id", "/id-mn", "--rn", "cse-mn", "--registrar-id", "/id-in",
           "--admin-originator", "/id-in/CAdmin")


async def wait_registered(platform: OneM2MHttp, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while (await platform.retrieve("/cse-in/id-mn", "CAdmin")).rsc != 2000:
        if time.monotonic() > deadline:
            raise SystemExit("the MN did not register with the IN")
        await asyncio.sleep(0.05)


async def measure(requests: int) -> tuple[list, dict]:
    with CseProcess("--cse-id", "/id-in") as in_cse:
        with CseProcess("--registrar-url", in_cse.url, *MN_ARGS) as mn:
            async with OneM2MHttp(in_cse.url) as platform, OneM2MHttp(mn.url) as gateway:
                await wait_registered(platform)
                ae = json_body({"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}})
                assert (await gateway.create("/cse-mn", 2, ae, "Cmeter")).rsc == 2001
                cnt = json_body({"m2m:cnt": {"rn": "power", "mni": 100}})
                assert (await gateway.create("/cse-mn/meter", 3, cnt, "Cmeter")).rsc == 2001
                cin = json_body({"m2m:cin": {"con": "1530"}})
                assert (await gateway.create("/cse-mn/meter/power", 4, cin, "Cmeter")).rsc == 2001
                scenarios = [
                    ("RETRIEVE la, at the MN", lambda i: gateway.retrieve("/cse-mn/meter/power/la", "Cmeter"), 2000),
                    ("RETRIEVE la, via the IN", lambda i: platform.retrieve(
                        "/~/id-mn/cse-mn/meter/power/la", "CAdmin"), 2000),
                    ("CREATE cin, at the MN", lambda i: gateway.create("/cse-mn/meter/power", 4, cin, "Cmeter"), 2001),
                    ("CREATE cin, via the IN", lambda i: platform.create(
                        "/~/id-mn/cse-mn/meter/power", 4, cin, "CAdmin"), 2001),
                ]
                results, in_cpu = [], {}
                in_probe = CpuProbe(in_cse.pid)
                for name, call, rsc in scenarios:
                    for concurrency in CONCURRENCY:
                        async def operation(i, call=call, rsc=rsc):
                            return (await call(i)).expect(rsc)
                        before = in_probe.seconds()
                        result = await closed_loop(name, concurrency, requests, operation, cpu=CpuProbe(mn.pid))
                        after = in_probe.seconds()
                        if before is not None and after is not None and "via the IN" in name:
                            in_cpu[f"{name} c={concurrency}"] = round((after - before) * 1e6 / requests, 1)
                        results.append(result)
                return results, in_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", "-n", type=int, default=2000, help="requests per scenario and concurrency")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    results, in_cpu = asyncio.run(measure(args.requests))
    report(results, args.json, meta={"in_cpu_us_per_forwarded_request": in_cpu})
    for name, micros in in_cpu.items():
        print(f"IN µs/req  {name:<32} {micros:>8,.1f}")
    print(f"load average {machine()['load_average']}")
    sys.exit(1 if any(r.errors for r in results) else 0)


if __name__ == "__main__":
    main()
