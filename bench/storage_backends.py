"""Storage backends compared: does the cost of a new contentInstance or of reading `la`
grow with the number of instances a container already holds?

Two parts, each for SQLite and TinyDB (and PostgreSQL with --backends ...,postgresql: a
fresh schema on $CSE_TEST_POSTGRES or 127.0.0.1:5432/postgres, dropped at the end; "on
disk" is then the size of its tables and indexes):

- direct: the `Storage` interface in this process (the work one CREATE contentInstance
  does in storage: insert the instance and update the container's counters in one
  transaction, then the group commit; and `edge_child` for `la`), on an empty container and
  on one already holding --instances instances.  Also the time to reopen the full store.
- http: the real CSE (`python -m server`) on a data directory prefilled the same way, loaded
  over HTTP by concurrent clients (bench/common.py).

    python -m bench.storage_backends [--instances 100000] [--mode direct|http|both] [--json FILE]
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.common import CseProcess, Result, closed_loop, report
from cse.storage import Storage, open_storage

CSE_RI = "id-in"
AE_RI = "Cbench"
ORIGINATOR = "Cbench"
TS = "20250101T000000,000000"


def postgres_server() -> str:
    return os.environ.get("CSE_TEST_POSTGRES") or "postgresql://127.0.0.1:5432/postgres"


def storage_url(backend: str, directory: Path) -> str:
    if backend == "postgresql":
        # one schema per directory: the name is derived from it, so the same call gives the same URL
        schema = "bench_" + directory.name.replace("-", "_").lower()[-40:]
        (directory / "postgres-schema").write_text(schema)
        server = postgres_server()
        return server + ("&" if "?" in server else "?") + f"schema={schema}"
    return f"sqlite://{directory / 'cse.sqlite'}" if backend == "sqlite" else f"tinydb://{directory / 'tinydb'}"


def drop_postgres_schema(directory: Path) -> None:
    marker = directory / "postgres-schema"
    if marker.exists():
        import psycopg
        with psycopg.connect(postgres_server(), autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{marker.read_text()}" CASCADE')


def postgres_bytes(directory: Path) -> int:
    import psycopg
    with psycopg.connect(postgres_server(), autocommit=True) as conn:
        row = conn.execute("SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                           "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind = 'r'",
                           ((directory / "postgres-schema").read_text(),)).fetchone()
        return int(row[0]) if row else 0


def container(rn: str) -> dict:
    return {"ty": 3, "ri": f"cnt-{rn}", "rn": rn, "pi": AE_RI, "ct": TS, "lt": TS, "cni": 0, "cbs": 0, "st": 0,
            "_path": f"cse-in/bench/{rn}", "_org": ORIGINATOR, "_own": ORIGINATOR}


def instance(parent: dict, number: int) -> dict:
    """A contentInstance shaped like the ones the CSE stores (same keys and sizes)."""
    con = f"{{\"power\": {1000 + number % 5000}, \"unit\": \"W\"}}"
    ri = f"cin{number:010d}"
    return {"ty": 4, "ri": ri, "pi": parent["ri"], "ct": TS, "lt": TS, "con": con, "rn": "cin_" + ri[3:],
            "cs": len(con), "st": parent["st"] + 1, "_path": f"{parent['_path']}/cin_{ri[3:]}",
            "_org": ORIGINATOR, "_own": ORIGINATOR}


def add_instance(storage: Storage, parent: dict, number: int) -> None:
    """What CREATE contentInstance does in storage: the instance and the parent's counters."""
    with storage.transaction():
        child = instance(parent, number)
        storage.insert(child)
        parent["cni"] += 1
        parent["cbs"] += child["cs"]
        parent["st"] = child["st"]
        storage.update(parent, changed=("cni", "cbs", "st", "lt"))


async def prefill(url: str, instances: int) -> dict:
    """CSEBase (as the CSE provisions it), one AE, containers "empty" and "full"."""
    storage = open_storage(url)
    storage.open()
    started = time.perf_counter()
    storage.insert({"ty": 5, "ri": CSE_RI, "rn": "cse-in", "pi": "", "ct": TS, "lt": TS, "cst": 1,
                    "csi": "/id-in", "srt": [1, 2, 3, 4, 5, 23], "poa": [], "srv": ["2a", "3", "4"],
                    "csz": ["application/json", "application/cbor"], "_path": "cse-in", "_own": "CAdmin",
                    "_org": "CAdmin"})
    storage.insert({"ty": 2, "ri": AE_RI, "aei": AE_RI, "rn": "bench", "pi": CSE_RI, "api": "Nbench",
                    "rr": False, "srv": ["3"], "ct": TS, "lt": TS, "_path": "cse-in/bench", "_org": AE_RI,
                    "_own": AE_RI})
    storage.insert(container("empty"))
    full = container("full")
    storage.insert(full)
    for number in range(instances):
        add_instance(storage, full, number)
        if number % 1000 == 999:
            await storage.commit()
    await storage.commit()
    fill_seconds = time.perf_counter() - started
    started = time.perf_counter()
    storage.close()
    close_seconds = time.perf_counter() - started
    return {"fill_s": round(fill_seconds, 2), "close_s": round(close_seconds, 2)}


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def disk_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


# -- direct -------------------------------------------------------------------------------
async def direct(backend: str, instances: int, inserts: int, reads: int) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-storage-") as tmp:
        directory = Path(tmp)
        url = storage_url(backend, directory)
        stack = contextlib.ExitStack()
        stack.callback(drop_postgres_schema, directory)
        filled = await prefill(url, instances)
        size = postgres_bytes(directory) if backend == "postgresql" else disk_bytes(directory)
        rss_before = rss_mb()
        started = time.perf_counter()
        storage = open_storage(url)
        storage.open()
        open_seconds = time.perf_counter() - started
        rss_open = rss_mb() - rss_before
        rows.append({"backend": backend, "what": f"prefill {instances} (commit per 1000)", "value": filled["fill_s"],
                     "unit": "s"})
        rows.append({"backend": backend, "what": "close after prefill", "value": filled["close_s"], "unit": "s"})
        rows.append({"backend": backend, "what": f"open with {instances} instances", "value": round(open_seconds, 2),
                     "unit": "s"})
        rows.append({"backend": backend, "what": "on disk", "value": round(size / 1e6, 1), "unit": "MB"})
        rows.append({"backend": backend, "what": "memory (RSS) added by opening", "value": round(rss_open, 1),
                     "unit": "MB"})
        counter = itertools.count(10_000_000)
        try:
            for name in ("empty", "full"):
                parent = storage.get_by_path(f"cse-in/bench/{name}")
                if parent is None:
                    raise RuntimeError(f"the prefilled container cse-in/bench/{name} is missing")
                held = parent["cni"]
                # insert + counters, group commit after each (a lone client, worst case)
                started = time.perf_counter()
                for _ in range(inserts):
                    add_instance(storage, parent, next(counter))
                    await storage.commit()
                per_insert = (time.perf_counter() - started) / inserts
                # the same work with 50 writers per group commit (a busy CSE)
                started = time.perf_counter()
                for _ in range(inserts // 50):
                    for _ in range(50):
                        add_instance(storage, parent, next(counter))
                    await storage.commit()
                per_batched = (time.perf_counter() - started) / (inserts // 50 * 50)
                started = time.perf_counter()
                for _ in range(reads):
                    latest = storage.edge_child(parent["ri"], 4, newest=True, now=TS)
                per_read = (time.perf_counter() - started) / reads
                assert latest is not None
                for what, seconds in ((f"insert+commit, container holding {held}", per_insert),
                                      (f"insert, 50 per commit, container holding {held}", per_batched),
                                      (f"read la, container holding {held}", per_read)):
                    rows.append({"backend": backend, "what": what, "value": round(seconds * 1e6, 1), "unit": "us"})
            if backend == "tinydb":
                rows += await insert_during_compaction(storage, counter)
        finally:
            storage.close()
            stack.close()
    return rows


async def insert_during_compaction(storage, counter) -> list[dict]:
    """Request-path latency while a background compaction rewrites the whole TinyDB file."""
    parent = storage.get_by_path("cse-in/bench/full")
    latencies = []
    started = time.perf_counter()
    storage._compact(background=True)
    rotate = time.perf_counter() - started
    while storage._compaction is not None and storage._compaction.running():
        began = time.perf_counter()
        add_instance(storage, parent, next(counter))
        await storage.commit()
        latencies.append(time.perf_counter() - began)
    took = time.perf_counter() - started
    storage.wait_for_compaction()
    latencies.sort()
    return [
        {"backend": "tinydb", "what": "compaction (background), total", "value": round(took, 2), "unit": "s"},
        {"backend": "tinydb", "what": "compaction start (journal rotation, copy)", "value": round(rotate * 1e3, 1),
         "unit": "ms"},
        {"backend": "tinydb", "what": f"insert+commit during compaction, p50 of {len(latencies)}",
         "value": round(latencies[len(latencies) // 2] * 1e6, 1), "unit": "us"},
        {"backend": "tinydb", "what": "insert+commit during compaction, max",
         "value": round(latencies[-1] * 1e3, 1), "unit": "ms"},
    ]


# -- http ---------------------------------------------------------------------------------
class HttpLoad:
    """Request factories for one running CSE."""

    def __init__(self, cse: CseProcess, session: aiohttp.ClientSession | None = None):
        """`session`: set before the first request (one session for all the CSEs)."""
        self.cse = cse
        self.session = session
        self.rqi = itertools.count()
        self.headers = {"X-M2M-Origin": ORIGINATOR, "X-M2M-RVI": "3", "Accept": "application/json"}

    @property
    def _session(self) -> aiohttp.ClientSession:
        if self.session is None:
            raise RuntimeError("set HttpLoad.session before sending")
        return self.session

    def create_in(self, name: str):
        target = f"{self.cse.url}/cse-in/bench/{name}"
        body = json.dumps({"m2m:cin": {"con": "{\"power\": 1234, \"unit\": \"W\"}"}})
        headers = {**self.headers, "Content-Type": "application/json;ty=4"}

        async def create(_: int) -> bool:
            async with self._session.post(target, data=body,
                                         headers={**headers, "X-M2M-RI": f"c{next(self.rqi)}"}) as response:
                await response.read()
                return response.status == 201
        return create

    def latest_of(self, name: str):
        target = f"{self.cse.url}/cse-in/bench/{name}/la"

        async def latest(_: int) -> bool:
            async with self._session.get(target, headers={**self.headers, "X-M2M-RI": f"r{next(self.rqi)}"}) as response:
                await response.read()
                return response.status == 200
        return latest


async def over_http(backends: list[str], instances: int, total: int, concurrency: int,
                    repeat: int) -> list[Result]:
    """One CSE per backend, all running at once; the scenarios alternate between them and
    the median of `repeat` runs is kept, so a burst of someone else's load on the shared
    machine hits every backend alike instead of deciding a comparison."""
    with contextlib.ExitStack() as stack:
        loads: dict[str, HttpLoad] = {}
        for backend in backends:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-storage-")))
            url = storage_url(backend, directory)
            stack.callback(drop_postgres_schema, directory)
            await prefill(url, instances)
            cse = stack.enter_context(CseProcess("--storage", url, data_dir=str(directory)))
            loads[backend] = HttpLoad(cse)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency * len(backends))) as session:
            for backend, load in loads.items():
                load.session = session
                await closed_loop("warm-up", concurrency, 400, load.create_in("empty"))
                await closed_loop("warm-up", concurrency, 400, load.latest_of("full"))
                print(f"{backend}: CSE process RSS with {instances} instances: "
                      f"{rss_mb(load.cse.running_pid)} MB", flush=True)
            runs: dict[str, list[Result]] = {}
            for _ in range(repeat):
                for name in ("empty", "full"):
                    held = "~0" if name == "empty" else str(instances)
                    for kind in ("CREATE cin", "RETRIEVE la"):
                        for backend, load in loads.items():
                            label = f"{backend} {kind} ({held} held)"
                            operation = load.create_in(name) if kind == "CREATE cin" else load.latest_of(name)
                            runs.setdefault(label, []).append(await closed_loop(label, concurrency, total, operation))
    results = []
    for label in sorted(runs):
        measured = sorted(runs[label], key=lambda r: r.per_second)
        results.append(measured[len(measured) // 2])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=100_000, help="instances in the full container")
    parser.add_argument("--mode", choices=["direct", "http", "both"], default="both")
    parser.add_argument("--backends", default="sqlite,tinydb")
    parser.add_argument("--inserts", type=int, default=2000, help="direct: inserts measured per container")
    parser.add_argument("--reads", type=int, default=20000, help="direct: la reads measured per container")
    parser.add_argument("--requests", type=int, default=5000, help="http: requests per scenario")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="http: runs per scenario (the median is kept)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    backends = args.backends.split(",")
    figures: dict = {"load_before": os.getloadavg(), "instances": args.instances}
    if args.mode in ("direct", "both"):
        rows = []
        for backend in backends:
            rows += asyncio.run(direct(backend, args.instances, args.inserts, args.reads))
        for row in rows:
            print(f"{row['backend']:<10} {row['what']:<52} {row['value']:>10} {row['unit']}", flush=True)
        figures["direct"] = rows
    if args.mode in ("http", "both"):
        results = asyncio.run(over_http(backends, args.instances, args.requests, args.concurrency, args.repeat))
        report(results)
        figures["http"] = [r.__dict__ for r in results]
    figures["load_after"] = os.getloadavg()
    print(f"load average before {figures['load_before']}, after {figures['load_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
