"""Announcement propagation time: an MN-CSE process registered with an IN-CSE process (both
on loopback, SQLite files), an AE on the MN creating containers announced to the IN; for each,
the time from the CREATE's answer on the MN to the containerAnnc being readable on the IN
(polled every millisecond at its address `cse-in/id-mn/<ri of the original>`).

    python -m bench.announcement                 # 200 containers
    python -m bench.announcement --count 20

The CREATE answers before the announcement (it is off the request path), so the figure is
what an application on the platform waits for the copy, not what the gateway's AE waits.
What it must never do: use anything but loopback.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

from .common import CseProcess, OneM2MHttp, json_body, machine, percentile

MN_ARGS = ("--type", "MN", "--cse-id", "/id-mn", "--rn", "cse-mn", "--registrar-id", "/id-in",
           "--registrar-keepalive", "0.5")


async def measure(in_url: str, mn_url: str, count: int) -> dict:
    async with OneM2MHttp(in_url) as platform, OneM2MHttp(mn_url) as gateway:
        deadline = time.monotonic() + 20
        while (await platform.retrieve("/cse-in/id-mn", "CAdmin")).rsc != 2000:
            if time.monotonic() > deadline:
                raise RuntimeError("the MN did not register with the IN")
            await asyncio.sleep(0.05)
        ae = {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}
        made = await gateway.create("/cse-mn", 2, json_body(ae), "Cmeter")
        if made.expect(2001) is not True:
            raise RuntimeError(made.expect(2001))
        answers, arrivals = [], []
        for k in range(count):
            body = json_body({"m2m:cnt": {"rn": f"c{k}", "lbl": [f"bench:{k}"], "at": ["/id-in"]}})
            started = time.perf_counter()
            reply = await gateway.create("/cse-mn/meter", 3, body, "Cmeter")
            answered = time.perf_counter()
            if reply.expect(2001) is not True:
                raise RuntimeError(reply.expect(2001))
            ri = json.loads(reply.body)["m2m:cnt"]["ri"]
            # Below the MN's remoteCSE (the AE is not announced), named after the original.
            while (await platform.retrieve(f"/cse-in/id-mn/{ri}", "CAdmin")).rsc != 2000:
                if time.perf_counter() - answered > 10:
                    raise RuntimeError(f"container {k} was not announced within 10 s")
                await asyncio.sleep(0.001)
            answers.append((answered - started) * 1000)
            arrivals.append((time.perf_counter() - answered) * 1000)
    arrivals.sort()
    answers.sort()
    return {"count": count, "create_answer_ms_median": round(statistics.median(answers), 2),
            "propagation_ms_median": round(statistics.median(arrivals), 2),
            "propagation_ms_p90": round(percentile(arrivals, 0.90), 2),
            "propagation_ms_max": round(arrivals[-1], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200, help="containers announced (default 200)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    with CseProcess("--cse-id", "/id-in", "--rn", "cse-in") as in_cse:
        with CseProcess("--registrar-url", in_cse.url, *MN_ARGS) as mn:
            figures = asyncio.run(measure(in_cse.url, mn.url, args.count))
    figures["machine"] = machine()
    print(f"announcement of {figures['count']} containers: CREATE answered in "
          f"{figures['create_answer_ms_median']} ms (median); the containerAnnc readable on the IN "
          f"{figures['propagation_ms_median']} ms after the answer (median), p90 "
          f"{figures['propagation_ms_p90']} ms, max {figures['propagation_ms_max']} ms")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
