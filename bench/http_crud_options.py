"""The command line of bench.http_crud: its options and their checks (bench/http_crud.py
runs them; it re-exports `Options` and `parse_args`)."""
from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field

SCENARIOS = ("register AE", "create cin", "retrieve la", "retrieve by path", "update cnt lbl",
             "delete cin")


@dataclass
class Options:
    url: str | None = None
    requests: int = 2000
    concurrency: list[int] = field(default_factory=lambda: [1, 32])
    repeat: int = 3
    prefill: int = 100_000
    prefill_via: str = "core"
    prefill_concurrency: int = 64
    storage: str = "sqlite"
    cse_rn: str = "cse-in"
    cse_pid: int | None = None
    json: str | None = None
    seed: int = 1
    cse_args: list[str] = field(default_factory=list)
    compare_args: list[str] | None = None

    @property
    def full_label(self) -> str:
        return f"{self.prefill:,} stored"



# -- command line ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m bench.http_crud",
        description="HTTP CRUD load generator for the CSE: req/s and p50/p99 latency per scenario "
                    f"({', '.join(SCENARIOS)}) at each concurrency, with a container starting empty "
                    "and with a prefilled one.  Without --url it starts its own CSE processes on free "
                    "loopback ports.  Exit status 1 when any request failed, 2 when the run could not "
                    "be set up.")
    parser.add_argument("--url", help="base URL of a running CSE (e.g. http://127.0.0.1:8080) "
                                      "instead of starting one; both containers are made there")
    parser.add_argument("--requests", "-n", type=_positive, help="requests per scenario, concurrency "
                                                                  "and pass (default 2000; 300 with --quick)")
    parser.add_argument("--concurrency", "-c", type=_int_list, default=[1, 32],
                        help="comma-separated concurrency levels (default 1,32)")
    parser.add_argument("--repeat", type=_positive,
                        help="passes over all scenarios; req/s is the best pass, the median is shown "
                             "beside it (default 3; 1 with --quick)")
    parser.add_argument("--prefill", type=_non_negative,
                        help="instances stored in the second container (default 100000; 10000 with "
                             "--quick; 0 skips the comparison)")
    parser.add_argument("--prefill-via", choices=["core", "http"],
                        help="core: the CSE's dispatcher in this process writes the data directory before "
                             "the CSE process starts (fast; default without --url); http: POSTs at high "
                             "concurrency (the only way with --url)")
    parser.add_argument("--storage", default="sqlite",
                        help="storage of the CSEs this run starts: sqlite (default), tinydb, or a storage "
                             "URL passed as --storage to the cse command")
    parser.add_argument("--cse-rn", default="cse-in", help="CSEBase resource name (default cse-in)")
    parser.add_argument("--cse-pid", type=int, help="with --url: pid of the CSE process, to report its "
                                                    "CPU time per request")
    parser.add_argument("--quick", action="store_true",
                        help="short run: 300 requests, 1 pass, 10000 prefilled")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    parser.add_argument("--seed", type=int, default=1, help="seed of the retrieve-by-path target choice")
    parser.add_argument("--cse-args", default="", help="extra arguments of the cse command for every CSE this "
                                                       "run starts, one string (--cse-args='--log-level INFO')")
    parser.add_argument("--compare-args", help="also start a second empty CSE with these further arguments and "
                                               "measure both interleaved (e.g. --compare-args=--no-request-log)")
    args = parser.parse_args(argv)
    if args.url and (args.cse_args or args.compare_args is not None):
        parser.error("--cse-args and --compare-args apply to the CSEs this run starts, not to --url")
    if args.url and args.storage != "sqlite":
        parser.error("--storage applies to the CSEs this run starts, not to --url")
    if args.url and args.prefill_via == "core":
        parser.error("--prefill-via core needs CSEs this run starts (without --url)")
    if ("://" in args.storage or args.storage == "memory:") and args.prefill != 0:
        parser.error("with a storage URL both CSEs would share one database (or, for memory:, lose the "
                     "prefilled one); use --storage sqlite or tinydb, or add --prefill 0")
    return Options(
        url=args.url, requests=args.requests or (300 if args.quick else 2000),
        concurrency=args.concurrency, repeat=args.repeat or (1 if args.quick else 3),
        prefill=args.prefill if args.prefill is not None else (10_000 if args.quick else 100_000),
        prefill_via=args.prefill_via or ("http" if args.url else "core"), storage=args.storage,
        cse_rn=args.cse_rn, cse_pid=args.cse_pid, json=args.json, seed=args.seed,
        cse_args=shlex.split(args.cse_args),
        compare_args=shlex.split(args.compare_args) if args.compare_args is not None else None)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {value}")
    return value


def _int_list(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of integers") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("concurrency levels must be integers >= 1")
    return values
