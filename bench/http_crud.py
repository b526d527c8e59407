"""HTTP CRUD benchmark: register AE, create contentInstance, retrieve `la`, retrieve by
structured path, update a container, delete contentInstances, over real HTTP (aiohttp client)
at each concurrency level, against a container starting empty and against one that already
holds many instances (100,000 by default), to show whether the cost of a request depends on
how much is stored.

    python -m bench.http_crud              # full run: starts its own CSEs (SQLite), ~1-2 min
    python -m bench.http_crud --quick      # short run: fewer requests, 10,000 prefilled
    python -m bench.http_crud --url http://127.0.0.1:8080   # a CSE that is already running
    python -m bench.http_crud --prefill 0 --cse-args="--log-level INFO --request-log-file /tmp/r.log" \
        --compare-args="--log-level INFO --no-request-log"  # two CSEs that differ in their flags

The two states run interleaved, scenario by scenario (empty, full, empty, full ...), and
each pass is repeated, so a burst of load from elsewhere on the machine hits both alike.

What it must never do: run a CSE in the load generator's process while measuring (the
core prefill below runs the CSE's dispatcher here only before the measured CSE process
starts), or use anything but loopback and free ports.  See bench/README.md for the output.
"""
from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from .common import (CpuProbe, CseProcess, OneM2MHttp, Result, change, closed_loop, comparison,
                     json_body, machine, merge, table, write_json)
# The command line; Options, parse_args and SCENARIOS are re-exported for callers and tests.
from .http_crud_options import SCENARIOS, Options, parse_args  # noqa: F401

# The scenarios the prefilled-vs-empty comparison is judged on (the requirement).
STORAGE_SENSITIVE = ("create cin", "retrieve la", "retrieve by path")
# Targets from the foundation issue (2 cores, loopback, concurrency 32, one CSE process).
TARGET_CONCURRENCY = 32
TARGET_PER_SECOND = {"create cin": 1500.0, "retrieve la": 3000.0}
TARGET_P99_MS = 50.0
TARGET_MAX_SLOWDOWN = 0.20

AE_TY, CNT_TY, CIN_TY = 2, 3, 4
READING = {"cnf": "text/plain:0", "con": "1532.4"}
READING_BODY = json_body({"m2m:cin": READING})
AE_ATTRIBUTES = {"api": "Nbench", "rr": False, "srv": ["3"]}
EMPTY = "0 stored"

Operation = Callable[[int], Awaitable["bool | str"]]


@dataclass
class Workspace:
    """One AE with one container: where one state's scenarios run."""

    originator: str
    ae_path: str                 # HTTP path, e.g. /cse-in/Cbench1a2b3ce
    label: str                   # "0 stored" or "100,000 stored"
    instances: list[str] = field(default_factory=list)   # HTTP paths of prefilled instances

    @property
    def container_path(self) -> str:
        return self.ae_path + "/readings"


class State:
    """One CSE + workspace combination, and the scenarios run against it."""

    def __init__(self, client: OneM2MHttp, workspace: Workspace, base: str, run_tag: str,
                 cpu: CpuProbe | None, rng: random.Random):
        self.client = client
        self.workspace = workspace
        self.base = base
        self.run_tag = run_tag
        self.cpu = cpu
        self.random = rng
        self.registered: list[str] = []   # AEs made by "register AE" (deleted at the end with --url)
        self._ae_counter = 0

    @property
    def label(self) -> str:
        return self.workspace.label

    async def warm_up(self, concurrency: int) -> None:
        """Open the connections and touch the container before the clock starts."""
        ws = self.workspace

        async def touch(_: int) -> bool | str:
            return (await self.client.retrieve(ws.container_path, ws.originator)).expect(2000)

        result = await closed_loop("warm-up", concurrency, max(20, 2 * concurrency), touch)
        require(True if not result.errors else result.first_error, f"warming up {ws.container_path}")

    def steps(self, concurrency: int, n: int) -> list[tuple[str, Callable[[], tuple[int, Operation]]]]:
        """The scenarios at one concurrency, in order, each as (name, prepare); `prepare()`
        is called just before the scenario runs, because later ones use what earlier ones
        created.  Instances created here are deleted by the last step, so the container
        holds as many instances afterwards as before."""
        client, ws, originator = self.client, self.workspace, self.workspace.originator
        created: list[str] = []
        targets: list[str] = []
        latest = ws.container_path + "/la"

        def register() -> tuple[int, Operation]:
            self._ae_counter += 1
            prefix = f"C{self.run_tag}{ws.originator[-2:]}r{self._ae_counter}n"
            body = json_body({"m2m:ae": AE_ATTRIBUTES})

            async def operation(i: int) -> bool | str:
                reply = await client.create(self.base, AE_TY, body, f"{prefix}{i}")
                if reply.rsc == 2001:
                    self.registered.append(f"{self.base}/{prefix}{i}")
                return reply.expect(2001)
            return n, operation

        def create() -> tuple[int, Operation]:
            async def operation(i: int) -> bool | str:
                reply = await client.create(ws.container_path, CIN_TY, READING_BODY, originator)
                if reply.rsc == 2001 and reply.location:
                    created.append(reply.location)
                return reply.expect(2001)
            return n, operation

        def retrieve_latest() -> tuple[int, Operation]:
            async def operation(i: int) -> bool | str:
                return (await client.retrieve(latest, originator)).expect(2000)
            return n, operation

        def retrieve_by_path() -> tuple[int, Operation]:
            # Uniformly over every instance the container holds: with a prefilled container
            # most targets are old instances, which is what the comparison is about.
            pool = ws.instances + created
            targets[:] = [self.random.choice(pool) for _ in range(n)] if pool else []

            async def operation(i: int) -> bool | str:
                return (await client.retrieve(targets[i], originator)).expect(2000)
            return len(targets), operation

        def update() -> tuple[int, Operation]:
            bodies = [json_body({"m2m:cnt": {"lbl": [f"tariff:t{i % 4}", f"run:{i}"]}}) for i in range(n)]

            async def operation(i: int) -> bool | str:
                return (await client.update(ws.container_path, bodies[i], originator)).expect(2004)
            return n, operation

        def delete() -> tuple[int, Operation]:
            async def operation(i: int) -> bool | str:
                return (await client.delete(created[i], originator)).expect(2002)
            return len(created), operation

        return list(zip(SCENARIOS, (register, create, retrieve_latest, retrieve_by_path, update, delete)))


def require(outcome: bool | str | None, what: str) -> None:
    if outcome is not True:
        raise RuntimeError(f"{what} failed: {outcome}")


# -- setting up a workspace -----------------------------------------------------------------
async def make_workspace(client: OneM2MHttp, base: str, originator: str, label: str) -> Workspace:
    reply = await client.create(base, AE_TY, json_body({"m2m:ae": {"rn": originator, **AE_ATTRIBUTES}}),
                                originator)
    require(reply.expect(2001), f"registering the workspace AE {originator}")
    workspace = Workspace(originator, f"{base}/{originator}", label)
    reply = await client.create(workspace.ae_path, CNT_TY, json_body({"m2m:cnt": {"rn": "readings"}}),
                                originator)
    require(reply.expect(2001), "creating the workspace container")
    return workspace


async def prefill_http(client: OneM2MHttp, workspace: Workspace, count: int, concurrency: int) -> float:
    """`count` instances over HTTP at high concurrency; returns instances/s."""
    paths: list[str | None] = [None] * count

    async def create(i: int) -> bool | str:
        reply = await client.create(workspace.container_path, CIN_TY, READING_BODY, workspace.originator)
        paths[i] = reply.location
        return reply.expect(2001)

    result = await closed_loop("prefill", concurrency, count, create)
    require(True if not result.errors else result.first_error, "prefilling the container over HTTP")
    workspace.instances = [p for p in paths if p]
    return result.per_second


async def prefill_core(cse_args: list[str], count: int, originator: str, batch: int = 512) -> tuple[float, list[str]]:
    """Fill the data directory the CSE process will open: one AE, its container and `count`
    instances, created by the CSE's own dispatcher in this process (no HTTP), `batch`
    requests in flight so that they share group commits.  Returns (instances/s, HTTP paths).

    Same data as over HTTP, because the same code path creates it; only the transport is
    skipped.  The measured CSE process is started on this directory afterwards."""
    from server.compose import build_cse
    from server.cli import config_from_args
    from cse.primitives import Operation as Op, Request

    config = config_from_args(cse_args)
    cse = build_cse(config)
    await cse.start()
    rn = config.cse.rn
    rqi = iter(range(10**12))

    async def send(to: str, ty: int, pc: dict) -> str:
        response = await cse.dispatcher.handle(Request(op=Op.CREATE, to=to, fr=originator,
                                                       rqi=f"p{next(rqi)}", rvi="3", ty=ty, pc=pc))
        if response.rsc != 2001:
            raise RuntimeError(f"prefill: CREATE {to} answered {int(response.rsc)}: {response.pc}")
        if response.content_location is None:
            raise RuntimeError(f"prefill: CREATE {to} answered without the created resource's address")
        return "/" + response.content_location

    paths: list[str] = []
    try:
        await send(rn, AE_TY, {"m2m:ae": {"rn": originator, **AE_ATTRIBUTES}})
        container = await send(f"{rn}/{originator}", CNT_TY, {"m2m:cnt": {"rn": "readings"}})
        started = time.perf_counter()
        for first in range(0, count, batch):
            paths += await asyncio.gather(*(send(container[1:], CIN_TY, {"m2m:cin": dict(READING)})
                                            for _ in range(min(batch, count - first))))
        elapsed = time.perf_counter() - started
    finally:
        await cse.stop()
    return (count / elapsed if elapsed else float("inf")), paths


# -- running --------------------------------------------------------------------------------
async def measure(states: list[State], options: Options) -> list[Result]:
    """Every scenario at every concurrency, for every state, `repeat` times, interleaved:
    scenario k runs on state A, then on state B, before scenario k+1 (the order of the
    states alternates between passes).  Returns one merged result per (state, scenario,
    concurrency)."""
    runs: dict[tuple[str, str, int], list[Result]] = {}
    for attempt in range(options.repeat):
        order = states if attempt % 2 == 0 else states[::-1]
        for concurrency in options.concurrency:
            for state in order:
                await state.warm_up(concurrency)
            plans = [(state, state.steps(concurrency, options.requests)) for state in order]
            for index in range(len(SCENARIOS)):
                for state, steps in plans:
                    name, prepare = steps[index]
                    total, operation = prepare()
                    if total == 0:
                        continue
                    result = await closed_loop(name, concurrency, total, operation, label=state.label,
                                               cpu=state.cpu)
                    runs.setdefault((state.label, name, concurrency), []).append(result)
        print(f"   pass {attempt + 1}/{options.repeat} done", flush=True)
    position = {name: i for i, name in enumerate(SCENARIOS)}
    keys = sorted(runs, key=lambda k: ([s.label for s in states].index(k[0]), k[2], position[k[1]]))
    return [merge(runs[key]) for key in keys]


async def run_against_url(options: Options, run_tag: str) -> list[Result]:
    """Both containers in the one CSE at --url; the full one is filled over HTTP."""
    if options.url is None:
        raise ValueError("run_against_url needs --url")
    base = "/" + options.cse_rn
    cpu = CpuProbe(options.cse_pid) if options.cse_pid else None
    rng = random.Random(options.seed)
    async with OneM2MHttp(options.url) as client:
        workspaces = [await make_workspace(client, base, f"C{run_tag}e0", EMPTY)]
        if options.prefill:
            full = await make_workspace(client, base, f"C{run_tag}f1", options.full_label)
            print(f"-- prefilling {options.prefill:,} instances over HTTP ...", flush=True)
            rate = await prefill_http(client, full, options.prefill, options.prefill_concurrency)
            print(f"   {rate:,.0f} instances/s", flush=True)
            workspaces.append(full)
        states = [State(client, w, base, run_tag, cpu, rng) for w in workspaces]
        try:
            return await measure(states, options)
        finally:
            await cleanup(client, [p for s in states for p in s.registered] + [w.ae_path for w in workspaces])


async def cleanup(client: OneM2MHttp, paths: list[str]) -> None:
    """Delete what the run created in a CSE that outlives it."""
    async def delete(i: int) -> bool | str:
        return (await client.delete(paths[i], "CAdmin")).expect(2002)

    result = await closed_loop("cleanup", 16, len(paths), delete)
    if result.errors:
        print(f"cleanup: {result.errors} of {len(paths)} deletes failed ({result.first_error}); "
              "is CAdmin the admin originator of that CSE?", file=sys.stderr)


async def run_own_cses(options: Options, run_tag: str) -> list[Result]:
    """One fresh CSE process per state, both running, so the states can be interleaved."""
    base = "/" + options.cse_rn
    rng = random.Random(options.seed)
    with contextlib.ExitStack() as stack:
        # (process, label, workspace made before the process starts or None)
        cses: list[tuple[CseProcess, str, Workspace | None]] = [
            (stack.enter_context(CseProcess(*options.cse_args, storage=options.storage)), EMPTY, None)]
        if options.compare_args is not None:
            # A second empty CSE that differs only in its flags (e.g. --no-request-log).
            compared = CseProcess(*options.cse_args, *options.compare_args, storage=options.storage)
            cses.append((stack.enter_context(compared), compare_label(options), None))
        if options.prefill:
            data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="cse-bench-"))
            full_cse = CseProcess(data_dir=data_dir, storage=options.storage)
            prefilled = None
            if options.prefill_via == "core":
                print(f"-- prefilling {options.prefill:,} instances through the core ...", flush=True)
                originator = f"C{run_tag}f1"
                rate, paths = await prefill_core(full_cse.args, options.prefill, originator)
                print(f"   {rate:,.0f} instances/s", flush=True)
                prefilled = Workspace(originator, f"{base}/{originator}", options.full_label, paths)
            cses.append((stack.enter_context(full_cse), options.full_label, prefilled))
        async with contextlib.AsyncExitStack() as clients:
            states = []
            for cse, label, workspace in cses:
                client = await clients.enter_async_context(OneM2MHttp(cse.url))
                if workspace is None:
                    tag = {EMPTY: "e0", options.full_label: "f1"}.get(label, "k2")
                    workspace = await make_workspace(client, base, f"C{run_tag}{tag}", label)
                    if label == options.full_label and options.prefill:
                        print(f"-- prefilling {options.prefill:,} instances over HTTP ...", flush=True)
                        rate = await prefill_http(client, workspace, options.prefill,
                                                  options.prefill_concurrency)
                        print(f"   {rate:,.0f} instances/s", flush=True)
                print(f"-- {label}: CSE pid {cse.pid} at {cse.url}", flush=True)
                states.append(State(client, workspace, base, run_tag, CpuProbe(cse.pid), rng))
            return await measure(states, options)


def compare_label(options: Options) -> str:
    return f"{EMPTY}, {' '.join(options.compare_args or [])}"


# -- verdicts -------------------------------------------------------------------------------
def verdicts(results: list[Result], options: Options) -> list[str]:
    """The issue's targets, one line each, ending in 'met' or 'MISSED'."""
    lines = []
    by_key = {(r.label, r.scenario, r.concurrency): r for r in results}
    if options.compare_args is not None:
        for scenario in SCENARIOS:
            for c in options.concurrency:
                first, second = by_key.get((EMPTY, scenario, c)), by_key.get((compare_label(options), scenario, c))
                if first and second:
                    lines.append(f"{scenario} c={c}, adding {' '.join(options.compare_args)}: "
                                 f"{change(first.per_second, second.per_second)} req/s, CSE CPU per request "
                                 f"{change(first.cse_cpu_us, second.cse_cpu_us)}")
    for scenario, target in TARGET_PER_SECOND.items():
        r = by_key.get((EMPTY, scenario, TARGET_CONCURRENCY))
        if r:
            lines.append(f"{scenario} c={TARGET_CONCURRENCY}: {r.per_second:,.0f} req/s (target >= {target:,.0f}) "
                         f"{'met' if r.per_second >= target else 'MISSED'}")
    at_target = [r for r in results if r.concurrency == TARGET_CONCURRENCY]
    if at_target:
        worst = max(at_target, key=lambda r: r.p99_ms)
        lines.append(f"p99 at c={TARGET_CONCURRENCY}: worst {worst.p99_ms:.1f} ms ({worst.scenario}, {worst.label}) "
                     f"(target < {TARGET_P99_MS:.0f} ms) {'met' if worst.p99_ms < TARGET_P99_MS else 'MISSED'}")
    if not options.prefill:
        return lines
    for scenario in STORAGE_SENSITIVE:
        for c in options.concurrency:
            before = by_key.get((EMPTY, scenario, c))
            after = by_key.get((options.full_label, scenario, c))
            if before and after:
                slower = (before.per_second - after.per_second) / before.per_second
                lines.append(f"{scenario} c={c} at {options.full_label} vs 0: "
                             f"{change(before.per_second, after.per_second)} req/s, CSE CPU per request "
                             f"{change(before.cse_cpu_us, after.cse_cpu_us)} "
                             f"(target: at most {TARGET_MAX_SLOWDOWN:.0%} slower) "
                             f"{'met' if slower <= TARGET_MAX_SLOWDOWN else 'MISSED'}")
    return lines


async def run(options: Options) -> list[Result]:
    run_tag = "bench" + secrets.token_hex(3)
    if options.url:
        return await run_against_url(options, run_tag)
    return await run_own_cses(options, run_tag)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    before = machine()
    target = options.url or f"own CSE processes, storage {options.storage}"
    print(f"http_crud: {options.requests} requests per scenario and concurrency, {options.repeat} pass(es), "
          f"concurrency {options.concurrency}, prefill {options.prefill:,}, {target}; "
          f"{before['cpus']} CPUs, load average {before['load_average']}", flush=True)
    try:
        import uvloop
    except ImportError:  # optional: the client is only slower without it
        uvloop = None  # type: ignore[assignment]
    started = time.perf_counter()
    try:
        results = uvloop.run(run(options)) if uvloop else asyncio.run(run(options))
    except RuntimeError as error:
        print(f"http_crud: {error}", file=sys.stderr)
        return 2
    print()
    print(table(results))
    print()
    if options.prefill:
        print(f"-- {options.full_label} vs {EMPTY} (Δ: change from the container starting empty)")
        print(comparison([r for r in results if r.label == EMPTY],
                         [r for r in results if r.label == options.full_label]))
        print()
    for line in verdicts(results, options):
        print(line)
    after = machine()
    print(f"done in {time.perf_counter() - started:.0f} s; load average before {before['load_average']}, "
          f"after {after['load_average']}")
    if options.json:
        write_json(options.json, results, {"options": vars(options),
                                           "load_average_before": before["load_average"]})
    failed = [r for r in results if r.errors]
    for r in failed:
        print(f"ERRORS: {r.scenario} c={r.concurrency} ({r.label}): {r.errors} failed, first: {r.first_error}",
              file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
