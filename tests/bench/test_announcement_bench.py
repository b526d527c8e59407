"""The announcement propagation benchmark still runs end to end (two CSE processes), so it
cannot rot unnoticed; never how fast."""
import json
import subprocess
import sys

from bench.common import ROOT


def test_the_announcement_bench_measures_every_container(tmp_path):
    report = tmp_path / "announcement.json"
    completed = subprocess.run([sys.executable, "-m", "bench.announcement", "--count", "3", "--json", str(report)],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    figures = json.loads(report.read_text())
    assert figures["count"] == 3 and 0 < figures["propagation_ms_median"] <= figures["propagation_ms_max"]
    assert "readable on the IN" in completed.stdout
