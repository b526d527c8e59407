"""The flexContainer benchmark still runs end to end (tiny counts: that every scenario runs
and every request succeeds, never how fast)."""
import json
import subprocess
import sys

from bench import flex_update
from bench.common import ROOT


def test_the_command_runs_every_scenario_and_compares_with_cin(tmp_path):
    report = tmp_path / "flex.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.flex_update", "--requests", "10", "--concurrency", "1,4", "--repeat", "1",
         "--json", str(report)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    results = json.loads(report.read_text())["results"]
    assert {(r["scenario"], r["concurrency"]) for r in results} == {
        (s, c) for s in flex_update.SCENARIOS for c in (1, 4)}
    assert all(r["errors"] == 0 and r["requests"] == 10 and r["per_second"] > 0 for r in results)
    assert "update fcnt (makes fci) c=4 vs create cin: req/s" in completed.stdout


async def test_against_a_running_cse_it_measures_and_cleans_up(http_cse):
    cse, client = http_cse
    before = cse.storage.count()
    results = await flex_update.run(client.base, None, requests=5, concurrency=[2], repeat=1)
    assert [r.errors for r in results] == [0, 0, 0]
    assert cse.storage.count() == before


def test_bad_options_are_refused(capsys):
    for argv in (["--requests", "0"], ["--concurrency", "x"], ["--repeat", "0"], ["--concurrency", "0"]):
        try:
            flex_update.main(argv)
        except SystemExit as exit_:
            assert exit_.code == 2
        else:
            raise AssertionError(f"{argv} was accepted")
