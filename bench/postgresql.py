"""PostgreSQL next to SQLite, one CSE worker each, in the same run, over HTTP.

Two `cse` processes run side by side: one on SQLite (a file in a temporary directory), one on
PostgreSQL (a fresh schema on the server given, dropped at the end).  Each gets the same
tree over HTTP: an AE with a container `readings`, and `--meters` meters (an AE with a
container labelled zone:<i % 100> and 4 readings each).  Then, scenario by scenario, each
backend in turn (the order alternates between passes; `--repeat` passes, the best kept as in
bench/README.md):

    create cin       POST /cse-in/bench/readings  (ty=4)
    retrieve la      GET  /cse-in/bench/readings/la
    discover zone    GET  /cse-in?fu=1&ty=3&lbl=zone:7   (meters/100 hits)
    discover meters  GET  /cse-in?fu=1&ty=2&lim=100      (100 hits)

Per scenario: req/s, p50/p99, and CPU per request of the CSE process and, for PostgreSQL,
of the server: "PG conn" is the backend processes serving this CSE's connections (found by
their application_name), "PG all" every process of the cluster (postmaster children: WAL
writer, checkpointer, autovacuum, and other clients' backends when the server is shared).
On a 2-core machine the CSE and the server share the cores, so CSE + PG is the cost of a
request.  The server's CPU is read from /proc, so only for a server on this machine.

    python -m bench.postgresql [--postgres URL] [--requests 3000] [--concurrency 16]
                               [--repeat 3] [--meters 1000] [--durability process|power] [--json FILE]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from bench.common import CpuProbe, CseProcess, OneM2MHttp, Result, closed_loop, json_body, machine, merge

ORIGINATOR = "Cbench"
ADMIN = "CAdmin"
ZONES = 100
SCENARIOS = ("create cin", "retrieve la", "discover zone", "discover meters")


def default_postgres() -> str:
    return os.environ.get("CSE_TEST_POSTGRES") or "postgresql://127.0.0.1:5432/postgres"


def with_params(url: str, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return url + ("&" if urlsplit(url).query else "?") + query


class ServerCpu:
    """CPU seconds of a local PostgreSQL server's processes: those serving one
    application_name, and the whole cluster (postmaster and its children)."""

    def __init__(self, admin_url: str, application_name: str):
        import psycopg
        self.conn = psycopg.connect(admin_url, autocommit=True)
        self.application_name = application_name
        row = self.conn.execute("SHOW data_directory").fetchone()
        directory = row[0] if row else ""
        self.postmaster: int | None
        try:
            self.postmaster = int(Path(directory, "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            self.postmaster = None          # not on this machine, or not readable

    def close(self) -> None:
        self.conn.close()

    def _own_pids(self) -> list[int]:
        return [row[0] for row in self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s", (self.application_name,))]

    def _cluster_pids(self) -> list[int]:
        if self.postmaster is None:
            return []
        pids = [self.postmaster]
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                if int(stat[stat.rindex(")") + 2:].split()[1]) == self.postmaster:
                    pids.append(int(entry.name))
        return pids

    def sample(self) -> dict[str, dict[int, float]]:
        def cpu(pids: list[int]) -> dict[int, float]:
            values = {}
            for pid in pids:
                seconds = CpuProbe(pid).seconds()
                if seconds is not None:
                    values[pid] = seconds
            return values
        return {"own": cpu(self._own_pids()), "all": cpu(self._cluster_pids())}

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        """CPU used between two samples; a process that started in between counts whole."""
        return sum(value - before.get(pid, 0.0) for pid, value in after.items())


async def build_tree(client: OneM2MHttp, meters: int) -> None:
    async def ok(reply, what: str) -> None:
        if reply.rsc != 2001:
            raise RuntimeError(f"setting up {what}: {reply.rsc} {reply.body[:200]!r}")

    await ok(await client.create("/cse-in", 2, json_body({"m2m:ae": {"rn": "bench", "api": "Nbench", "rr": False,
                                                                       "srv": ["3"]}}), ORIGINATOR), "the AE")
    await ok(await client.create("/cse-in/bench", 3, json_body({"m2m:cnt": {"rn": "readings"}}), ORIGINATOR),
             "the container")
    await ok(await client.create("/cse-in/bench/readings", 4, json_body({"m2m:cin": {"con": "0"}}), ORIGINATOR),
             "a reading")

    async def meter(i: int) -> None:
        originator = f"Cmeter{i}"
        await ok(await client.create("/cse-in", 2, json_body({"m2m:ae": {
            "rn": f"m{i}", "api": "Nmeter", "rr": False, "srv": ["3"], "lbl": ["type:meter"]}}), originator), "a meter")
        await ok(await client.create(f"/cse-in/m{i}", 3, json_body({"m2m:cnt": {
            "rn": "power", "lbl": [f"zone:{i % ZONES}"], "mni": 10}}), originator), "a meter's container")
        for reading in range(4):
            await ok(await client.create(f"/cse-in/m{i}/power", 4, json_body({"m2m:cin": {"con": str(reading)}}),
                                         originator), "a meter's reading")

    for first in range(0, meters, 50):
        await asyncio.gather(*(meter(i) for i in range(first, min(first + 50, meters))))


def operation(client: OneM2MHttp, scenario: str, meters: int):
    body = json_body({"m2m:cin": {"cnf": "text/plain:0", "con": "1532.4"}})
    if scenario == "create cin":
        async def run(_: int):
            return (await client.create("/cse-in/bench/readings", 4, body, ORIGINATOR)).expect(2001)
    elif scenario == "retrieve la":
        async def run(_: int):
            return (await client.retrieve("/cse-in/bench/readings/la", ORIGINATOR)).expect(2000)
    else:
        query = "ty=3&lbl=zone:7" if scenario == "discover zone" else "ty=2&lim=100"
        hits = (meters + ZONES - 1 - 7) // ZONES if scenario == "discover zone" else min(100, meters + 1)

        async def run(_: int):
            reply = await client.retrieve(f"/cse-in?fu=1&{query}", ADMIN)
            checked = reply.expect(2000)
            if checked is True and len(json.loads(reply.body).get("m2m:uril", ())) != hits:
                return f"expected {hits} hits"
            return checked
    return run


async def run(args) -> tuple[list[Result], dict, str]:
    tag = uuid.uuid4().hex[:10]
    application_name = f"cse-bench-{tag}"
    schema = f"bench_{tag}"
    pg_url = with_params(args.postgres, schema=schema, application_name=application_name)
    server = ServerCpu(args.postgres, application_name)
    server_cpu: dict[str, dict[str, list[float]]] = {}
    runs: dict[tuple[str, str], list[Result]] = {}
    try:
        with contextlib.ExitStack() as stack:
            cses = {"sqlite": stack.enter_context(CseProcess("--durability", args.durability)),
                    "postgresql": stack.enter_context(CseProcess("--storage", pg_url, "--durability",
                                                                 args.durability))}
            clients: dict[str, OneM2MHttp] = {}
            async with contextlib.AsyncExitStack() as clients_stack:
                for name, cse in cses.items():
                    clients[name] = await clients_stack.enter_async_context(
                        OneM2MHttp(cse.url, connections=args.concurrency))
                for name, client in clients.items():
                    started = time.perf_counter()
                    await build_tree(client, args.meters)
                    print(f"{name}: tree of {args.meters} meters in {time.perf_counter() - started:.1f} s", flush=True)
                for number in range(args.repeat):
                    for scenario in SCENARIOS:
                        order = list(clients) if number % 2 == 0 else list(reversed(clients))
                        for name in order:
                            work = operation(clients[name], scenario, args.meters)
                            await closed_loop("warm-up", args.concurrency, args.concurrency * 4, work)
                            before = server.sample() if name == "postgresql" else None
                            result = await closed_loop(scenario, args.concurrency, args.requests, work,
                                                       label=name, cpu=CpuProbe(cses[name].pid))
                            if before is not None:
                                after = server.sample()
                                for part in ("own", "all"):
                                    server_cpu.setdefault(scenario, {}).setdefault(part, []).append(
                                        ServerCpu.spent(before[part], after[part]) * 1e6 / args.requests)
                            runs.setdefault((scenario, name), []).append(result)
                            print(result.row(), flush=True)
    finally:
        with contextlib.suppress(Exception):
            server.conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        server.close()
    merged = [merge(runs[(scenario, name)]) for scenario in SCENARIOS for name in ("sqlite", "postgresql")]
    # lowest of the passes, as for the CSE's CPU (merge): other load only ever adds to it
    server_figures = {s: {part: round(min(v), 1) for part, v in parts.items()} for s, parts in server_cpu.items()}
    return merged, server_figures, schema


def render(results: list[Result], server: dict) -> str:
    header = ("scenario", "backend", "req/s", "median", "p50 ms", "p99 ms", "errors", "CSE µs/req",
              "PG conn µs/req", "PG all µs/req", "CSE+PG µs/req")
    rows = [header]
    for r in results:
        pg = server.get(r.scenario, {}) if r.label == "postgresql" else {}
        own, everything = pg.get("own"), pg.get("all")
        total = (r.cse_cpu_us or 0) + (everything or 0) if r.cse_cpu_us is not None else None
        rows.append((r.scenario, r.label, f"{r.per_second:,.0f}", f"{r.per_second_median or r.per_second:,.0f}",
                     f"{r.p50_ms:.2f}", f"{r.p99_ms:.2f}", str(r.errors), _number(r.cse_cpu_us), _number(own),
                     _number(everything), _number(total)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.postgresql", description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default=default_postgres(), help="server URL (a schema is made and dropped)")
    parser.add_argument("--requests", type=int, default=3000, help="requests per scenario, backend and pass")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--durability", choices=("process", "power"), default="process")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results, server, schema = asyncio.run(run(args))
    print()
    print(render(results, server))
    load_after = os.getloadavg()
    print(f"load average before {tuple(round(x, 2) for x in load_before)}, after {tuple(round(x, 2) for x in load_after)}")
    errors = sum(r.errors for r in results)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": {**machine(), "options": vars(args), "schema": schema, "load_before": load_before,
                                                        "load_after": load_after},
                                               "results": [r.summary() for r in results], "server_cpu_us": server},
                                              indent=2) + "\n")
    raise SystemExit(1 if errors else 0)


if __name__ == "__main__":
    main()
