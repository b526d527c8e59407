"""The HTTP CRUD benchmark still runs end to end, so it cannot rot unnoticed.

Tiny request counts: these check that every scenario runs and every request succeeds,
never how fast (speed targets live in bench/, not in tests)."""
import json
import subprocess
import sys

import pytest

from bench import http_crud
from bench.common import ROOT

SCENARIOS = set(http_crud.SCENARIOS)


def test_the_command_runs_every_scenario_against_its_own_cses(tmp_path):
    report = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.http_crud", "--requests", "12", "--concurrency", "1,4",
         "--prefill", "150", "--repeat", "1", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads(report.read_text())["results"]
    seen = {(r["label"], r["scenario"], r["concurrency"]) for r in results}
    assert seen == {(label, s, c) for label in ("0 stored", "150 stored") for s in SCENARIOS for c in (1, 4)}
    assert all(r["errors"] == 0 and r["per_second"] > 0 and r["p99_ms"] >= r["p50_ms"] > 0 for r in results)
    assert all(r["requests"] == 12 for r in results)
    # The table and the comparison are printed for a human.
    assert "retrieve by path" in completed.stdout and "Δ req/s" in completed.stdout


async def test_against_a_running_cse_it_measures_and_cleans_up(http_cse):
    cse, client = http_cse
    before = cse.storage.count()
    options = http_crud.Options(url=client.base, requests=6, concurrency=[2], repeat=1, prefill=40,
                                prefill_via="http")
    results = await http_crud.run(options)
    assert {(r.label, r.scenario) for r in results} == \
        {(label, s) for label in ("0 stored", "40 stored") for s in SCENARIOS}
    assert [r for r in results if r.errors] == []
    # The prefilled container really held the instances while it was measured.
    assert next(r for r in results if r.scenario == "retrieve by path" and r.label == "40 stored").requests == 6
    assert cse.storage.count() == before   # every AE (and what is below it) was deleted


def test_help_names_the_options(capsys):
    with pytest.raises(SystemExit) as exit_:
        http_crud.parse_args(["--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in ("--url", "--requests", "--storage", "--quick", "--json", "--prefill"):
        assert option in text


@pytest.mark.parametrize("argv, words", [
    (["--requests", "0"], "must be at least 1"),
    (["--concurrency", "1,x"], "not a comma-separated list"),
    (["--concurrency", "0"], "concurrency levels must be integers >= 1"),
    (["--prefill", "-5"], "must not be negative"),
    (["--url", "http://127.0.0.1:1", "--storage", "tinydb"], "--storage applies to the CSEs this run starts"),
    (["--url", "http://127.0.0.1:1", "--prefill-via", "core"], "needs CSEs this run starts"),
    (["--storage", "sqlite:///tmp/x.sqlite"], "both CSEs would share one database"),
])
def test_bad_options_are_refused_with_a_reason(capsys, argv, words):
    with pytest.raises(SystemExit) as exit_:
        http_crud.parse_args(argv)
    assert exit_.value.code == 2
    assert words in capsys.readouterr().err


def test_quick_is_a_short_run():
    options = http_crud.parse_args(["--quick"])
    assert (options.requests, options.repeat, options.prefill) == (300, 1, 10_000)


def test_a_cse_that_cannot_start_is_reported(tmp_path):
    completed = subprocess.run(
        [sys.executable, "-m", "bench.http_crud", "--requests", "1", "--prefill", "0",
         "--storage", "nosuch://x"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert "the CSE did not start" in completed.stderr and "the process ended" in completed.stderr


def test_the_websocket_bench_runs_both_bindings_in_one_run(tmp_path):
    report = tmp_path / "ws.json"
    completed = subprocess.run([sys.executable, "-m", "bench.websocket", "--requests", "10", "--repeat", "1",
                                "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=90)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads(report.read_text())["results"]
    seen = {(r["scenario"], r["concurrency"]) for r in results}
    assert seen == {(f"{b} {s}", c) for b in ("http", "ws") for s in ("create cin", "retrieve la") for c in (1, 32)}
    assert all(r["errors"] == 0 and r["requests"] == 10 and r["cse_cpu_us"] for r in results)
