"""Shared pieces of the load generators: start a CSE process, run a closed loop of
concurrent workers, and report requests/s and latency percentiles.

Every scenario module uses these, so all figures in the notes are measured the same way:
a separate CSE process on a free loopback port, the load generator in this process.
"""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Awaitable, Callable

ROOT = Path(__file__).resolve().parent.parent


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

    def row(self) -> str:
        return (f"{self.scenario:<38} c={self.concurrency:<3} {self.per_second:>9.0f} req/s  "
                f"p50 {self.p50_ms:>7.2f} ms  p99 {self.p99_ms:>7.2f} ms  errors {self.errors}")


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


async def closed_loop(name: str, concurrency: int, total: int,
                      operation: Callable[[int], Awaitable[bool]]) -> Result:
    """`total` calls of `operation(i)` by `concurrency` workers; it returns success."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def worker() -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            ok = await operation(i)
            latencies.append(time.perf_counter() - started)
            errors += 0 if ok else 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(name, concurrency, total, errors, round(elapsed, 3), round(total / elapsed, 1),
                  round(percentile(latencies, 0.50) * 1000, 2), round(percentile(latencies, 0.99) * 1000, 2))


class CseProcess:
    """A CSE started with the `cse` command on a free port, stopped with SIGTERM."""

    def __init__(self, *args: str, data_dir: str | None = None):
        self._tmp = None if data_dir else tempfile.TemporaryDirectory(prefix="cse-bench-")
        self.data_dir = data_dir or self._tmp.name
        self.args = ["--port", "0", "--data-dir", self.data_dir, "--log-level", "WARNING", *args]
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> "CseProcess":
        self.process = subprocess.Popen([sys.executable, "-m", "cse", *self.args], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        line = self.process.stdout.readline()
        match = re.search(r"serving (\S+)", line)
        if not match:
            self.__exit__(None, None, None)
            raise RuntimeError(f"the CSE did not start: {line!r}")
        self.url = match.group(1)
        return self

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self._tmp:
            self._tmp.cleanup()


def report(results: list[Result], json_path: str | None = None) -> None:
    for result in results:
        print(result.row(), flush=True)
    if json_path:
        Path(json_path).write_text(json.dumps([asdict(r) for r in results], indent=2))
