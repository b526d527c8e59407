"""Shared pieces of the load generators: start a CSE process, talk oneM2M over HTTP, run a
closed loop of concurrent workers, and report requests/s and latency percentiles.

Every scenario module (HTTP CRUD, notifications, MQTT/CoAP, discovery) uses these, so all
figures in the notes are measured the same way: a separate CSE process on a free loopback
port, the load generator in this process.

This module must never import the CSE's internals: a benchmark measures the CSE from the
outside, as a client would, so it also works against a CSE started elsewhere (--url).
"""
from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import platform
import re
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Sequence

import aiohttp

ROOT = Path(__file__).resolve().parent.parent


# -- results ------------------------------------------------------------------------------
@dataclass
class Result:
    scenario: str
    concurrency: int
    requests: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    # What the run measured against, e.g. "0 stored" / "100000 stored" (free text).
    label: str = ""
    # CPU time the CSE process spent per request (user + system), when its pid is known.
    # Unlike req/s it hardly depends on what else the machine runs, so it is the figure to
    # compare between runs on a busy machine.
    cse_cpu_us: float | None = None
    # CPU time of the load generator per request: near 1e6 / (req/s) means the client, not
    # the CSE, set the pace.
    client_cpu_us: float | None = None
    # The first failure seen, to tell "wrong status" from "connection refused" at a glance.
    first_error: str | None = None
    # How many runs were merged into this result (see `merge`), and the req/s of each: their
    # spread shows how much the machine's other load moved the figure.
    runs: int = 1
    per_second_runs: list[float] = field(default_factory=list)
    per_second_median: float | None = None
    # Every latency in seconds, sorted; kept to merge runs, never written to JSON.
    latencies: list[float] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        values = asdict(self)
        del values["latencies"]
        return values

    def row(self) -> str:
        return (f"{self.scenario:<38} c={self.concurrency:<3} {self.per_second:>9.0f} req/s  "
                f"p50 {self.p50_ms:>7.2f} ms  p99 {self.p99_ms:>7.2f} ms  errors {self.errors}")


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (nan when empty)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class CpuProbe:
    """CPU seconds used so far by one process (all its threads), from /proc (Linux).

    Prefers the scheduler's nanosecond counters of each live thread (schedstat), because
    /proc/<pid>/stat counts in 10 ms clock ticks, too coarse for a few hundred requests;
    a thread that ended is missing from the former, which is fine for a CSE whose threads
    live as long as it does.  `seconds()` returns None where /proc is missing, so callers
    just leave the column empty."""

    def __init__(self, pid: int | None):
        self.pid = pid
        self.ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def seconds(self) -> float | None:
        if not self.pid:
            return None
        try:
            total_ns = 0
            for task in os.scandir(f"/proc/{self.pid}/task"):
                with open(f"{task.path}/schedstat") as handle:
                    total_ns += int(handle.read().split()[0])
            if total_ns:
                return total_ns / 1e9
        except (OSError, ValueError, IndexError):
            pass
        return self._from_stat()

    def _from_stat(self) -> float | None:
        try:
            with open(f"/proc/{self.pid}/stat") as handle:
                stat = handle.read()
        except OSError:
            return None
        # Fields after the command name (which may contain spaces) start after the last ")".
        fields = stat[stat.rindex(")") + 2:].split()
        return (int(fields[11]) + int(fields[12])) / self.ticks


Operation = Callable[[int], Awaitable["bool | str"]]


async def closed_loop(name: str, concurrency: int, total: int, operation: Operation, *,
                      label: str = "", cpu: CpuProbe | None = None) -> Result:
    """`total` calls of `operation(i)` by `concurrency` workers, each starting its next call
    as soon as the previous one returns (a closed loop: the CSE sets the pace).

    `operation` returns True on success, or False / an error text on failure; an exception
    counts as a failure too, so one bad response never aborts a run."""
    latencies: list[float] = []
    errors = 0
    first_error: str | None = None
    counter = iter(range(total))
    clock = time.perf_counter

    async def worker() -> None:
        nonlocal errors, first_error
        for i in counter:
            started = clock()
            try:
                outcome = await operation(i)
            except Exception as exc:  # count it and go on: a run reports, it does not crash
                outcome = f"{type(exc).__name__}: {exc}"
            latencies.append(clock() - started)
            if outcome is not True:
                errors += 1
                if first_error is None:
                    first_error = outcome if isinstance(outcome, str) else "operation returned False"

    cpu_before = cpu.seconds() if cpu else None
    client_before = time.process_time()
    # The generator's own garbage collection would stall every request in flight and show
    # up as CSE latency; it runs between measurements instead.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    started = clock()
    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        elapsed = clock() - started
        if gc_was_enabled:
            gc.enable()
    client_cpu = time.process_time() - client_before
    cpu_after = cpu.seconds() if cpu else None
    latencies.sort()
    cpu_us = None
    if cpu_before is not None and cpu_after is not None and total:
        cpu_us = round((cpu_after - cpu_before) * 1e6 / total, 1)
    return Result(name, concurrency, total, errors, round(elapsed, 3), round(total / elapsed, 1) if elapsed else 0.0,
                  round(percentile(latencies, 0.50) * 1000, 2), round(percentile(latencies, 0.99) * 1000, 2),
                  label=label, cse_cpu_us=cpu_us,
                  client_cpu_us=round(client_cpu * 1e6 / total, 1) if total else None,
                  first_error=first_error, latencies=latencies)


def merge(runs: list[Result]) -> Result:
    """One result from repeated runs of the same scenario: the best req/s and the lowest
    CPU per request of the runs (the median req/s is kept beside them), and latency
    percentiles over all requests of all runs.

    Best, as `timeit` takes the fastest: other work on the machine only ever slows a run
    down, so the best pass is the closest estimate of what the CSE itself can do, and
    repeating interleaved runs (A, B, A, B, ...) gives both configurations the same chance
    to find a quiet moment.  Latencies are pooled: p99 is what a client would have seen."""
    if len(runs) == 1:
        return runs[0]
    first = runs[0]
    latencies = sorted(x for r in runs for x in r.latencies)
    rates = [r.per_second for r in runs]

    def lowest(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return min(known) if known else None

    return Result(first.scenario, first.concurrency, sum(r.requests for r in runs),
                  sum(r.errors for r in runs), round(sum(r.seconds for r in runs), 3), max(rates),
                  round(percentile(latencies, 0.50) * 1000, 2), round(percentile(latencies, 0.99) * 1000, 2),
                  label=first.label, cse_cpu_us=lowest([r.cse_cpu_us for r in runs]),
                  client_cpu_us=lowest([r.client_cpu_us for r in runs]),
                  first_error=next((r.first_error for r in runs if r.first_error), None),
                  runs=len(runs), per_second_runs=rates, per_second_median=round(statistics.median(rates), 1),
                  latencies=latencies)


# -- the CSE under test -------------------------------------------------------------------
class CseProcess:
    """A CSE started with the `cse` command on a free loopback port, stopped with SIGTERM.

    The CSE prints one "serving <url>" line once it listens; that line is awaited with a
    timeout so a CSE that fails to start is reported, not waited for forever."""

    def __init__(self, *args: str, data_dir: str | None = None, storage: str | None = None,
                 start_timeout: float = 30.0):
        """`storage`: None or "sqlite" (the default file), "tinydb", or a storage URL."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if data_dir:
            self.data_dir = data_dir
        else:
            self._tmp = tempfile.TemporaryDirectory(prefix="cse-bench-")
            self.data_dir = self._tmp.name
        url = storage_url(storage, self.data_dir)
        extra = ["--storage", url] if url else []
        self.args = ["--host", "127.0.0.1", "--port", "0", "--data-dir", self.data_dir,
                     "--log-level", "WARNING", *extra, *args]
        self.start_timeout = start_timeout
        self.process: subprocess.Popen | None = None
        self.url = ""

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running_pid(self) -> int:
        """The pid of the started CSE (inside `with`)."""
        if self.process is None:
            raise RuntimeError("the CSE process is not started")
        return self.process.pid

    def __enter__(self) -> "CseProcess":
        self.process = subprocess.Popen([sys.executable, "-m", "server", *self.args], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=sys.stderr, bufsize=0,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        url, seen = self._wait_for_url()
        if url is None:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the CSE did not start (cse {' '.join(self.args)}): {seen!r}")
        self.url = url
        return self

    def _wait_for_url(self) -> tuple[str | None, str]:
        """The URL of the "serving <url>" line, or None and the last thing seen instead."""
        deadline = time.monotonic() + self.start_timeout
        line = ""
        stdout = self.process.stdout if self.process is not None else None
        if stdout is None:
            return None, "the process was not started with a pipe"
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    return None, f"no 'serving' line within {self.start_timeout} s (last: {line!r})"
                # Unbuffered: readline takes exactly one line, so select() never waits for
                # a line already read ahead into a buffer.
                line = stdout.readline().decode(errors="replace")
                if not line:
                    return None, "the process ended"
                match = re.search(r"serving (\S+)", line)
                if match:
                    return match.group(1), line

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
        if self._tmp:
            self._tmp.cleanup()


def storage_url(storage: str | None, data_dir: str) -> str | None:
    """The --storage value for the cse command: None for its default (SQLite in the data
    directory), tinydb:///<data dir>/tinydb for "tinydb", any other URL unchanged."""
    if storage in (None, "", "sqlite"):
        return None
    if storage == "tinydb":
        return f"tinydb://{Path(data_dir).resolve()}/tinydb"
    return storage


# -- a lean oneM2M HTTP client ------------------------------------------------------------
class OneM2MHttp:
    """Sends oneM2M requests over HTTP with as little client-side work as possible.

    The load generator shares the machine with the CSE, so every microsecond spent here is
    taken from the CSE: bodies are pre-encoded bytes, headers are plain dicts, and a
    response is judged by its X-M2M-RSC header without decoding the body."""

    def __init__(self, url: str, *, connections: int = 64, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self._rqi = itertools.count(1)
        self._connections = connections
        self._timeout = timeout
        self.session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> "OneM2MHttp":
        connector = aiohttp.TCPConnector(limit=self._connections, force_close=False,
                                         use_dns_cache=True, ttl_dns_cache=None)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout),
            skip_auto_headers=("User-Agent", "Accept-Encoding"))
        return self

    async def __aexit__(self, *exc) -> None:
        if self.session is not None:
            await self.session.close()

    def headers(self, originator: str | None, ty: int | None = None) -> dict[str, str]:
        headers = {"X-M2M-RI": f"b{next(self._rqi)}", "X-M2M-RVI": "3", "Accept": "application/json"}
        if originator is not None:
            headers["X-M2M-Origin"] = originator
        if ty is not None:
            headers["Content-Type"] = f"application/json;ty={ty}"
        return headers

    async def send(self, method: str, path: str, originator: str | None, *, ty: int | None = None,
                   body: bytes | None = None) -> "Reply":
        """One request to `path` (an HTTP path such as /cse-in/meter or /~/id-in/cse-in)."""
        headers = self.headers(originator, ty)
        if body is not None and ty is None:
            headers["Content-Type"] = "application/json"
        if self.session is None:
            raise RuntimeError("open the client first (async with)")
        async with self.session.request(method, self.url + path, data=body, headers=headers) as response:
            payload = await response.read()
            rsc = response.headers.get("X-M2M-RSC", "")
            return Reply(int(rsc) if rsc.isdigit() else 0, response.status,
                         response.headers.get("Content-Location"), payload)

    async def create(self, path: str, ty: int, body: bytes, originator: str) -> "Reply":
        return await self.send("POST", path, originator, ty=ty, body=body)

    async def retrieve(self, path: str, originator: str) -> "Reply":
        return await self.send("GET", path, originator)

    async def update(self, path: str, body: bytes, originator: str) -> "Reply":
        return await self.send("PUT", path, originator, body=body)

    async def delete(self, path: str, originator: str) -> "Reply":
        return await self.send("DELETE", path, originator)


@dataclass
class Reply:
    rsc: int
    status: int
    location: str | None
    body: bytes = field(repr=False)

    def expect(self, rsc: int) -> "bool | str":
        """True when the CSE answered `rsc`, else a short text naming what came instead."""
        if self.rsc == rsc:
            return True
        return f"expected RSC {rsc}, got {self.rsc} (HTTP {self.status}): {self.body[:200]!r}"


def json_body(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# -- reporting ----------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    """What the figures were measured on; load average matters: the machine is shared."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(terse=True),
            "load_average": [round(x, 2) for x in load]}


def _fmt(value: float | None, digits: int = 0) -> str:
    if value is None or value != value:  # None or nan
        return "-"
    return f"{value:,.{digits}f}"


def table(results: Iterable[Result]) -> str:
    """A fixed-width table: one line per (label, scenario, concurrency).  "req/s" is the
    best pass, "median" the median pass (only when runs were merged)."""
    header = ("scenario", "label", "conc", "req/s", "median", "p50 ms", "p99 ms", "errors",
              "CSE µs/req", "client µs/req")
    rows = [header]
    for r in results:
        rows.append((r.scenario, r.label, str(r.concurrency), _fmt(r.per_second), _fmt(r.per_second_median),
                     _fmt(r.p50_ms, 2), _fmt(r.p99_ms, 2), str(r.errors), _fmt(r.cse_cpu_us),
                     _fmt(r.client_cpu_us)))
    return _render(rows, right_from=2)


def comparison(baseline: Iterable[Result], other: Iterable[Result]) -> str:
    """For each (scenario, concurrency) in both: req/s and p99 side by side with the change in %.

    A negative req/s change means slower with `other` than with `baseline`."""
    base = {(r.scenario, r.concurrency): r for r in baseline}
    rows = [("scenario", "conc", "", "req/s", "Δ req/s", "p99 ms", "Δ p99", "µs/req", "Δ µs/req")]
    for r in other:
        b = base.get((r.scenario, r.concurrency))
        if b is None:
            continue
        rows.append((r.scenario, str(r.concurrency), b.label, _fmt(b.per_second), "", _fmt(b.p99_ms, 2), "",
                     _fmt(b.cse_cpu_us), ""))
        rows.append(("", "", r.label, _fmt(r.per_second), change(b.per_second, r.per_second),
                     _fmt(r.p99_ms, 2), change(b.p99_ms, r.p99_ms), _fmt(r.cse_cpu_us),
                     change(b.cse_cpu_us, r.cse_cpu_us)))
    return _render(rows, right_from=3)


def change(before: float | None, after: float | None) -> str:
    if not before or after is None or before != before or after != after:
        return "-"
    return f"{(after - before) * 100 / before:+.1f}%"


def _render(rows: Sequence[tuple[str, ...]], right_from: int) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.rjust(w) if i >= right_from else cell.ljust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(results: list[Result], json_path: str | None = None, meta: dict | None = None) -> None:
    """Print the table; with `json_path`, also write {"meta": ..., "results": [...]}."""
    print(table(results), flush=True)
    if json_path:
        write_json(json_path, results, meta)


def write_json(json_path: str, results: list[Result], meta: dict | None = None) -> None:
    document = {"meta": {**machine(), **(meta or {})}, "results": [r.summary() for r in results]}
    Path(json_path).write_text(json.dumps(document, indent=2) + "\n")
