"""`python -m examples.building` runs one simulated day end to end and says whether
everything happened: usage and peak against the ground truth, faults alarmed and cleared, an
alarm acknowledged, the peak control through the CSEs to the Modbus chillers and its effect."""
from __future__ import annotations

import json
import subprocess
import sys

from bench.common import ROOT


def test_the_working_day_of_the_public_building(tmp_path):
    """08:00-16:00: the fault, the bad value, the acknowledgement and the afternoon peak."""
    summary_file = tmp_path / "summary.json"
    completed = subprocess.run([sys.executable, "-m", "examples.building", "--day-seconds", "40",
                                "--start-hour", "8", "--hours", "8",
                                "--workdir", str(tmp_path / "work"), "--summary", str(summary_file)],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
    summary = json.loads(summary_file.read_text())
    assert completed.returncode == 0, (completed.stdout[-4000:], completed.stderr[-3000:])
    assert summary["ok"] and all(summary["checks"].values()), summary["checks"]
    usage, truth = summary["usage"], summary["truth"]
    assert abs(usage["building_kwh"] - truth["energy_kwh"]["meter-main"]) < 0.01 * truth["energy_kwh"]["meter-main"]
    assert set(usage["zones_kwh"]) == {f"meter-{f}-{z}" for f in (1, 2, 3) for z in (1, 2, 3)}
    assert usage["carbon_kg"] == round(usage["building_kwh"] * 0.45, 1)
    assert usage["intervals"] == 32                         # a 15-minute interval for every quarter
    assert summary["protocols"]["bacnet"] == 12 and summary["protocols"]["modbus"] > 30
    assert truth["peak"]["meter-main"]["demand_kw"] < summary["uncontrolled_peak_kw"]
    kinds = {(a["kind"], a.get("device")) for a in summary["alarms"]}
    assert {("fault", "ac-2-2"), ("bad-value", "sensor-1-3"), ("recovered", "ac-2-2")} <= kinds
    assert summary["acks"] and summary["acks"][0]["by"] == "facility-manager"
    assert summary["commands_written"] >= 2 and summary["control_actions"] >= 2
    assert "PEAK CONTROL on" in completed.stdout and "check usage_matches_truth: ok" in completed.stdout


def test_bad_options_are_refused():
    completed = subprocess.run([sys.executable, "-m", "examples.building", "--day-seconds", "5"], cwd=ROOT,
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2 and "at least 20" in completed.stderr
