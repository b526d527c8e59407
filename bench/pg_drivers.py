"""Which PostgreSQL driver fits the synchronous `Storage` interface: psycopg 3 or asyncpg?

The interface (cse/storage/base.py) is synchronous and runs on the event-loop thread, so
every call is one blocking round trip to the server.  This measures, on one loopback
connection, the round trip of the three statements the hot paths use most:

    get         SELECT doc FROM t WHERE ri = $1
    edge_child  SELECT doc FROM t WHERE pi = $1 AND ty = $2 ORDER BY seq DESC LIMIT 1   (`la`)
    insert      INSERT INTO t(...) VALUES (...)   (autocommit, synchronous_commit=off)
    create      BEGIN; INSERT; UPDATE parent; COMMIT   (what CREATE contentInstance does)

for each way of driving it:

    psycopg           psycopg 3 sync connection, default settings (prepares after 5 uses)
    psycopg-prepared  prepare_threshold=0 (server-side prepared at first use), binary results
    psycopg-pipeline  as prepared, and "create" sent as one pipeline (one round trip)
    asyncpg-async     asyncpg awaited on a loop: the lower bound if the interface were async
    asyncpg-bridged   asyncpg on a loop in another thread, called synchronously (what the
                      synchronous interface would have to do with asyncpg)

Per operation: wall time (median and p99 of single calls) and the CPU time of this process
and of the server's backend process (read from /proc, so only for a local server).

    python -m bench.pg_drivers [--url postgresql://127.0.0.1/postgres] [-n 5000]

asyncpg is not a dependency of the project: install it in the venv to include it.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import threading
import time
import uuid
from typing import Callable

import orjson

from bench.common import CpuProbe

DOC = orjson.dumps({"ty": 4, "ri": "x", "pi": "p", "con": "{\"power\": 1532, \"unit\": \"W\"}", "cs": 30,
                    "st": 1, "ct": "20250101T000000,000000", "lt": "20250101T000000,000000",
                    "_path": "cse-in/a/b/c", "_org": "Cmeter", "_own": "Cmeter"})

SCHEMA = """
CREATE TABLE {t} (seq bigserial PRIMARY KEY, ri text NOT NULL UNIQUE, pi text NOT NULL,
                  ty integer NOT NULL, path text NOT NULL UNIQUE, doc bytea NOT NULL);
CREATE INDEX {t}_children ON {t}(pi, ty, seq);
"""


class Timings:
    def __init__(self, name: str, backend_pid: int | None):
        self.name = name
        self.server = CpuProbe(backend_pid)
        self.rows: list[tuple[str, float, float, float, float | None]] = []

    def measure(self, operation: str, count: int, call: Callable[[int], object]) -> None:
        for i in range(min(200, count)):          # warm-up: statement caches, prepared plans
            call(-1 - i)
        latencies = []
        cpu_before, server_before = time.process_time(), self.server.seconds()
        for i in range(count):
            started = time.perf_counter()
            call(i)
            latencies.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu_before
        server_after = self.server.seconds()
        server = None if server_before is None or server_after is None else server_after - server_before
        latencies.sort()
        self.rows.append((operation, statistics.median(latencies) * 1e6, latencies[int(0.99 * (count - 1))] * 1e6,
                          cpu / count * 1e6, None if server is None else server / count * 1e6))


def psycopg_run(url: str, table: str, count: int, mode: str) -> Timings:
    import psycopg

    binary = mode != "psycopg"
    with psycopg.connect(url, autocommit=True, prepare_threshold=0 if binary else 5) as conn:
        conn.execute(SCHEMA.format(t=table), prepare=False)
        conn.execute("SET synchronous_commit = off", prepare=False)   # as the storage commits
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        timings = Timings(mode, row[0] if row else 0)
        conn.execute(f"INSERT INTO {table}(ri, pi, ty, path, doc) VALUES ('parent', '', 3, 'p', %s)", (DOC,))
        insert = f"INSERT INTO {table}(ri, pi, ty, path, doc) VALUES (%s, 'parent', 4, %s, %s)"
        update = f"UPDATE {table} SET doc = %s WHERE ri = 'parent'"
        get = f"SELECT doc FROM {table} WHERE ri = %s"
        edge = f"SELECT doc FROM {table} WHERE pi = %s AND ty = %s ORDER BY seq DESC LIMIT 1"

        timings.measure("insert", count, lambda i: conn.execute(insert, (f"i{i}", f"p/i{i}", DOC)))
        timings.measure("get", count, lambda i: conn.execute(get, (f"i{i % count}",), binary=binary).fetchone())
        timings.measure("edge_child", count,
                        lambda i: conn.execute(edge, ("parent", 4), binary=binary).fetchone())

        def create(i: int) -> None:
            if mode == "psycopg-pipeline":
                with conn.pipeline():
                    conn.execute("BEGIN")
                    conn.execute(insert, (f"c{i}", f"p/c{i}", DOC))
                    conn.execute(update, (DOC,))
                    conn.execute("COMMIT")
            else:
                conn.execute("BEGIN")
                conn.execute(insert, (f"c{i}", f"p/c{i}", DOC))
                conn.execute(update, (DOC,))
                conn.execute("COMMIT")
        timings.measure("create", count, create)
        conn.execute(f"DROP TABLE {table}")
    return timings


def asyncpg_run(url: str, table: str, count: int, bridged: bool) -> Timings:
    import asyncpg

    loop = asyncio.new_event_loop()
    thread = None
    if bridged:
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()

    def run(coroutine):
        if bridged:
            return asyncio.run_coroutine_threadsafe(coroutine, loop).result()
        return loop.run_until_complete(coroutine)

    conn = run(asyncpg.connect(url))
    try:
        run(conn.execute(SCHEMA.format(t=table)))
        run(conn.execute("SET synchronous_commit = off"))
        pid = run(conn.fetchval("SELECT pg_backend_pid()"))
        timings = Timings("asyncpg-bridged" if bridged else "asyncpg-async", pid)
        run(conn.execute(f"INSERT INTO {table}(ri, pi, ty, path, doc) VALUES ('parent', '', 3, 'p', $1)", DOC))
        insert = f"INSERT INTO {table}(ri, pi, ty, path, doc) VALUES ($1, 'parent', 4, $2, $3)"
        update = f"UPDATE {table} SET doc = $1 WHERE ri = 'parent'"
        get = f"SELECT doc FROM {table} WHERE ri = $1"
        edge = f"SELECT doc FROM {table} WHERE pi = $1 AND ty = $2 ORDER BY seq DESC LIMIT 1"

        async def create(i: int) -> None:
            async with conn.transaction():
                await conn.execute(insert, f"c{i}", f"p/c{i}", DOC)
                await conn.execute(update, DOC)

        timings.measure("insert", count, lambda i: run(conn.execute(insert, f"i{i}", f"p/i{i}", DOC)))
        timings.measure("get", count, lambda i: run(conn.fetchval(get, f"i{i % count}")))
        timings.measure("edge_child", count, lambda i: run(conn.fetchval(edge, "parent", 4)))
        timings.measure("create", count, lambda i: run(create(i)))
        run(conn.execute(f"DROP TABLE {table}"))
    finally:
        run(conn.close())
        if bridged:
            loop.call_soon_threadsafe(loop.stop)
            if thread is not None:
                thread.join()
        loop.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql://127.0.0.1:5432/postgres")
    parser.add_argument("-n", "--count", type=int, default=5000)
    args = parser.parse_args()
    results = []
    for mode in ("psycopg", "psycopg-prepared", "psycopg-pipeline", "asyncpg-async", "asyncpg-bridged"):
        table = "bench_" + uuid.uuid4().hex[:12]
        try:
            if mode.startswith("psycopg"):
                results.append(psycopg_run(args.url, table, args.count, mode))
            else:
                results.append(asyncpg_run(args.url, table, args.count, bridged=mode.endswith("bridged")))
        except ImportError as error:
            print(f"{mode}: skipped ({error})")
    print(f"{'driver':<18} {'operation':<11} {'median us':>9} {'p99 us':>8} {'client CPU us':>13} "
          f"{'server CPU us':>13}")
    for timings in results:
        for operation, median, p99, cpu, server in timings.rows:
            server_text = "-" if server is None else f"{server:.0f}"
            print(f"{timings.name:<18} {operation:<11} {median:>9.0f} {p99:>8.0f} {cpu:>13.0f} {server_text:>13}")


if __name__ == "__main__":
    main()
