"""The PostgreSQL-next-to-SQLite benchmark still runs end to end, so it cannot rot unnoticed.

Tiny request counts: every scenario runs on both backends and every request succeeds;
never how fast (speed targets live in bench/, not in tests)."""
import json
import os
import subprocess
import sys

from bench import postgresql
from bench.common import ROOT
from tests.postgres import connect, server_url


def test_every_scenario_runs_on_both_backends_and_the_schema_is_dropped(tmp_path):
    report = tmp_path / "bench.json"
    completed = subprocess.run(
        [sys.executable, "-m", "bench.postgresql", "--postgres", server_url(), "--requests", "20",
         "--concurrency", "2", "--repeat", "1", "--meters", "20", "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=120, env={**os.environ})
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    document = json.loads(report.read_text())
    seen = {(r["scenario"], r["label"]) for r in document["results"]}
    assert seen == {(s, b) for s in postgresql.SCENARIOS for b in ("sqlite", "postgresql")}
    assert all(r["errors"] == 0 and r["per_second"] > 0 for r in document["results"])
    assert set(document["server_cpu_us"]) == set(postgresql.SCENARIOS)
    assert "CSE+PG µs/req" in completed.stdout
    schema = document["meta"]["schema"]
    assert schema.startswith("bench_")
    with connect() as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()[0] == 0
