"""What the request log and the metrics cost per request, measured in-process on the
recorder a binding calls (`server/observe.py`), without any socket or CSE around it.

    python -m bench.observe_cost            # ~10 s

Rows: metrics only (--no-request-log), metrics + a text line to a file, metrics + a JSON
line to a file, and a scrape of /metrics' exposition.  Compare the microseconds per request
with a request's CPU cost in `python -m bench.http_crud` (hundreds of microseconds).
"""
from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from typing import cast

from cse.config import load_config
from cse.notify import Notifier
from cse.primitives import Request, Response
from server.compose import build_cse
from server.logs import formatter
from server.metrics import Metrics
from server.observe import Observer, request_log


def per_call_us(call, n: int) -> float:
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(n):
            call()
        best = min(best, (time.process_time() - started) / n)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.observe_cost", description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="calls per measurement (best of 5)")
    args = parser.parse_args(argv)
    cse = build_cse(load_config(None, {"storage.url": "memory:"}))
    cse.storage.open()
    # Metrics as the composition root makes them (cse.events is the notifier).
    observer_metrics = Metrics(cse.config.cse.cse_id.lstrip("/"), cse.storage, cast(Notifier, cse.events))
    request = Request(op=2, to="cse-in/meter/power/la", fr="Cmeter", rqi="r-1", rvi="3")
    ok = Response(rsc=2000, rqi="r-1")
    refused = Response(rsc=4004, rqi="r-1", pc={"m2m:dbg": "resource 'cse-in/x' does not exist"})
    rows = []
    quiet = Observer(observer_metrics, log_requests=False).recorder("http")
    rows.append(("metrics only (--no-request-log)", per_call_us(lambda: quiet(time.perf_counter(), request, ok), args.n)))
    with tempfile.TemporaryDirectory() as directory:
        for form in ("text", "json"):
            handler = logging.FileHandler(os.path.join(directory, f"requests.{form}"))
            handler.setFormatter(formatter(form))
            request_log.addHandler(handler)
            request_log.setLevel(logging.INFO)
            request_log.propagate = False
            logged = Observer(observer_metrics, log_requests=True).recorder("http")
            rows.append((f"metrics + {form} line (2000)", per_call_us(lambda: logged(time.perf_counter(), request, ok),
                                                                    args.n)))
            rows.append((f"metrics + {form} line (4004 + reason)",
                         per_call_us(lambda: logged(time.perf_counter(), request, refused), args.n)))
            request_log.removeHandler(handler)
            handler.close()
    rows.append(("one /metrics exposition", per_call_us(observer_metrics.exposition, 200)))
    width = max(len(name) for name, _ in rows)
    print(f"{'recorder call':<{width}}  us per call (CPU, best of 5)")
    for name, us in rows:
        print(f"{name:<{width}}  {us:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
