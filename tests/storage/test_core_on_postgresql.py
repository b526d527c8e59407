"""The core tests that lean on storage most, run with every CSE on PostgreSQL.

tests/conftest.py gives each CSE a fresh PostgreSQL schema when CSE_TEST_STORAGE=postgresql;
this runs a subset of tests/core that way in a child pytest (the whole core suite also
passes so, in about twice its SQLite time: `CSE_TEST_STORAGE=postgresql scripts/test tests/core`).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUBSET = ["test_container.py", "test_container_invariants.py", "test_concurrency.py", "test_discovery.py",
          "test_expiry.py", "test_child_lists.py", "test_registration.py", "test_smoke.py",
          "test_conditional_operations.py"]


def test_storage_heavy_core_tests_pass_on_postgresql():
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *(f"tests/core/{name}" for name in SUBSET)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600,
                         env={**os.environ, "CSE_TEST_STORAGE": "postgresql"})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    passed = re.search(r"(\d+) passed", run.stdout)
    assert passed and int(passed.group(1)) > 100, run.stdout[-2000:]
