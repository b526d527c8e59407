"""Automation benchmark: what 1,000 <action>s cost the CRUD requests that do not concern
them, and how fast a local action reacts.

    python -m bench.actions            # 3 interleaved passes of 1,000 requests per scenario
    python -m bench.actions --quick    # 1 pass of 300
    python -m bench.actions --json out.json

Unlike the HTTP benches this one runs the CSE core in its own process (in-memory SQLite,
requests handed to the dispatcher): the quantity compared is the CSE's CPU per request with
0 and with 1,000 actions present (watching other resources), and the HTTP stack would add
the same cost to both while making the difference harder to see on a shared 2-core machine.
`time.process_time` counts the whole process, the action runner's task included, so work
moved off the request path is still counted.

The reaction figure is the time from the UPDATE of the meter (the request's response) to
the EV charger's binarySwitch being off, the action's UPDATE having gone through the
dispatcher with its creator's rights.
"""
from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import sys
import time
from typing import Any

from cse.config import load_config
from cse.primitives import Request
from server.compose import build_cse

ORIGINATOR = "Cbench"
_rqi = itertools.count(1)
SCENARIOS = ("create cin", "retrieve cnt", "update cnt lbl")


class Client:
    def __init__(self, cse: Any):
        self.cse = cse

    async def call(self, op: int, to: str, ty: int | None = None, pc: Any = None) -> Any:
        return await self.cse.dispatcher.handle(Request(op=op, to=to, fr=ORIGINATOR, rqi=f"b{next(_rqi)}",
                                                        rvi="3", ty=ty, pc=pc))


async def make(actions: int, containers: int | None = None) -> tuple[Any, Client]:
    """A started core with `containers` extra containers (default: `actions`), the first
    `actions` of them watched by one action each (never true: cni > 1,000,000)."""
    config = load_config(None, {"storage.url": "memory:", "http.enabled": False, "cse.expiry_interval": 3600.0})
    cse = build_cse(config)
    await cse.start()
    client = Client(cse)
    assert (await client.call(1, "cse-in", 2, {"m2m:ae": {"rn": "bench", "api": "Nbench", "rr": False,
                                                           "srv": ["3"]}})).rsc == 2001
    assert (await client.call(1, "cse-in/bench", 3, {"m2m:cnt": {"rn": "data", "mni": 100}})).rsc == 2001
    for number in range(actions if containers is None else containers):
        assert (await client.call(1, "cse-in/bench", 3, {"m2m:cnt": {"rn": f"s{number}"}})).rsc == 2001
    for number in range(actions):
        action = {"rn": "watch", "evc": {"sbjt": "cni", "optr": 3, "thld": 1_000_000}, "evm": 3,
                  "orc": f"cse-in/bench/s{number}", "apv": {"op": 3, "pc": {"m2m:cnt": {"lbl": ["hit"]}}}}
        assert (await client.call(1, f"cse-in/bench/s{number}", 65, {"m2m:actr": action})).rsc == 2001
    return cse, client


async def measure(client: Client, scenario: str, requests: int) -> float:
    """CPU microseconds per request."""
    started = time.process_time()
    for number in range(requests):
        if scenario == "create cin":
            response = await client.call(1, "cse-in/bench/data", 4, {"m2m:cin": {"con": str(number)}})
        elif scenario == "retrieve cnt":
            response = await client.call(2, "cse-in/bench/data")
        else:
            response = await client.call(3, "cse-in/bench/data", None, {"m2m:cnt": {"lbl": [f"l{number}"]}})
        assert response.ok, response.pc
    await client.cse.automation.idle()
    return (time.process_time() - started) / requests * 1e6


async def reaction(samples: int) -> list[float]:
    """Milliseconds from the meter's UPDATE response to the charger switched off."""
    cse, client = await make(0)
    try:
        meter = {"rn": "meter", "cnd": "org.onem2m.common.moduleclass.energyConsumption", "abECn": 1.0, "power": 0.0}
        charger = {"rn": "charger", "cnd": "org.onem2m.common.moduleclass.binarySwitch", "state": True}
        assert (await client.call(1, "cse-in/bench", 28, {"cod:eneCn": meter})).rsc == 2001
        assert (await client.call(1, "cse-in/bench", 28, {"cod:binSh": charger})).rsc == 2001
        action = {"rn": "off", "sri": "cse-in/bench/meter", "evc": {"sbjt": "power", "optr": 3, "thld": 3000.0},
                  "evm": 3, "orc": "cse-in/bench/charger", "apv": {"op": 3, "pc": {"cod:binSh": {"state": False}}}}
        assert (await client.call(1, "cse-in/bench", 65, {"m2m:actr": action})).rsc == 2001
        times = []
        for number in range(samples):
            await client.call(3, "cse-in/bench/charger", None, {"cod:binSh": {"state": True}})
            await client.call(3, "cse-in/bench/meter", None, {"cod:eneCn": {"power": 0.0}})
            await cse.automation.idle()
            started = time.perf_counter()
            await client.call(3, "cse-in/bench/meter", None, {"cod:eneCn": {"power": 3500.0 + number}})
            while (await client.call(2, "cse-in/bench/charger")).pc["cod:binSh"]["state"]:
                await asyncio.sleep(0)
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        await cse.stop()


def sink_cost(watch: Any, rounds: int = 100_000) -> float:
    """Microseconds the action watch spends on one CREATED event of a resource no action
    watches (what every CRUD request pays), with the actions it indexes."""
    from cse.events import Event, EventKind
    events = [Event(EventKind.CREATED, {"ri": "cin123", "ty": 4, "pi": "cnt9"})]
    started = time.perf_counter()
    for _ in range(rounds):
        watch.publish(events)
    return (time.perf_counter() - started) / rounds * 1e6


async def run(requests: int, repeat: int, samples: int) -> dict:
    # 0: nothing else; -1: 2,000 containers and no action (as many resources as the next one);
    # 1000: 1,000 containers with an action each.
    states = {0: await make(0), -1: await make(0, 2000), 1000: await make(1000)}
    results: dict[int, dict[str, list[float]]] = {count: {s: [] for s in SCENARIOS} for count in states}
    try:
        for _ in range(repeat):
            for scenario in SCENARIOS:
                for count, (_, client) in states.items():
                    results[count][scenario].append(await measure(client, scenario, requests))
        watched = states[1000][0].automation.watch.watched
        sink_us = sink_cost(states[1000][0].automation.watch)
    finally:
        for cse, _ in states.values():
            await cse.stop()
    times = sorted(await reaction(samples))
    return {
        "requests": requests, "repeat": repeat, "actions_watched": watched,
        "cpu_us_per_request": {scenario: {{0: "0", -1: "containers", 1000: "1000"}[count]:
                                          round(min(results[count][scenario]), 1) for count in results}
                               for scenario in SCENARIOS},
        "action_watch_us_per_event": round(sink_us, 3),
        "reaction_ms": {"median": round(statistics.median(times), 3),
                        "p99": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
                        "max": round(times[-1], 3), "samples": samples},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 pass of 300 requests, 50 reaction samples")
    parser.add_argument("--requests", type=int, default=1000, help="requests per scenario and pass")
    parser.add_argument("--repeat", type=int, default=5, help="interleaved passes (the best is kept)")
    parser.add_argument("--samples", type=int, default=200, help="reaction-time samples")
    parser.add_argument("--json", help="also write the results to this file")
    options = parser.parse_args(argv)
    if options.quick:
        options.requests, options.repeat, options.samples = 300, 1, 50
    result = asyncio.run(run(options.requests, options.repeat, options.samples))
    print(f"CPU per request (us, best of {result['repeat']} passes of {result['requests']}): nothing else stored | "
          f"2,000 other containers | 1,000 containers with {result['actions_watched']} actions watching them")
    for scenario, by_count in result["cpu_us_per_request"].items():
        base, plain, loaded = by_count["0"], by_count["containers"], by_count["1000"]
        print(f"  {scenario:15} {base:8.1f} {plain:8.1f} {loaded:8.1f}   actions vs as many resources without: "
              f"{(loaded - plain) / plain * 100:+.1f}%")
    print(f"action watch per event (the only per-request work the actions add): "
          f"{result['action_watch_us_per_event']} us with {result['actions_watched']} actions indexed")
    r = result["reaction_ms"]
    print(f"local action reaction (meter UPDATE answered -> charger off): median {r['median']} ms, "
          f"p99 {r['p99']} ms, max {r['max']} ms ({r['samples']} samples)")
    if options.json:
        with open(options.json, "w") as out:
            json.dump(result, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
