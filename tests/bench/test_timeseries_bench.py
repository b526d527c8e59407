"""The timeSeries benchmark still runs end to end (tiny counts: that every scenario runs in
both the empty and the prefilled CSE and every request succeeds, never how fast)."""
import json
import subprocess
import sys

from bench import timeseries
from bench.common import ROOT


def test_the_command_compares_tsi_with_cin_empty_and_prefilled(tmp_path):
    report = tmp_path / "ts.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.timeseries", "--requests", "10", "--concurrency", "1,4", "--repeat", "1",
         "--prefill", "300", "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads(report.read_text())["results"]
    assert {(r["label"], r["scenario"], r["concurrency"]) for r in results} == {
        (label, s, c) for label in ("0 stored", "300 stored") for s in timeseries.SCENARIOS for c in (1, 4)}
    assert all(r["errors"] == 0 and r["requests"] == 10 and r["per_second"] > 0 for r in results)
    assert "create tsi vs create cin c=4 (300 stored): req/s" in completed.stdout
    assert "create tsi c=4: 300 stored vs 0 stored: req/s" in completed.stdout
    assert "create tsi within 20% of create cin (CSE µs/req, c=4, 300 stored)" in completed.stdout


async def test_against_a_running_cse_it_measures_and_cleans_up(http_cse):
    cse, client = http_cse
    before = cse.storage.count()
    results = await timeseries.run(5, [2], 1, prefill=0, url=client.base)
    assert [(r.scenario, r.errors) for r in results] == [("create cin", 0), ("create tsi", 0)]
    assert cse.storage.count() == before


def test_bad_options_are_refused():
    for argv in (["--requests", "0"], ["--concurrency", "x"], ["--repeat", "0"], ["--prefill", "-1"]):
        try:
            timeseries.main(argv)
        except SystemExit as exit_:
            assert exit_.code == 2
        else:
            raise AssertionError(f"{argv} was accepted")
