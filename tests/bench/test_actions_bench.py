"""bench.actions runs end to end and reports what it claims to measure."""
from __future__ import annotations

import json
import subprocess
import sys

from bench import actions


def test_the_actions_bench_reports_cpu_per_request_and_the_reaction(tmp_path):
    out = tmp_path / "actions.json"
    done = subprocess.run([sys.executable, "-m", "bench.actions", "--requests", "20", "--repeat", "1",
                           "--samples", "5", "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["actions_watched"] == 1000
    assert set(result["cpu_us_per_request"]) == set(actions.SCENARIOS)
    for by_state in result["cpu_us_per_request"].values():
        assert set(by_state) == {"0", "containers", "1000"} and all(v > 0 for v in by_state.values())
    assert 0 < result["reaction_ms"]["median"] <= result["reaction_ms"]["max"] < 1000
    assert "local action reaction" in done.stdout
