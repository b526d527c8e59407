"""scripts/test when no PostgreSQL answers at CSE_TEST_POSTGRES: it initialises and starts
a private one, points CSE_TEST_POSTGRES at it, says so, and stops and removes it when
pytest ends, here with a failing test."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]

INNER_TEST = '''
import os
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

def test_a_private_postgres_answers_and_then_this_fails():
    url = os.environ["CSE_TEST_POSTGRES"]
    with psycopg.connect(url) as conn:
        directory = conn.execute("SHOW data_directory").fetchone()[0]
        conn.execute("CREATE TABLE t (x integer)")
    Path(os.environ["POSTGRES_RECORD"]).write_text(f"{urlsplit(url).port} {directory}")
    assert False, "failing on purpose"
'''


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def _postgres_installed() -> bool:
    return any(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or bool(
        subprocess.run(["sh", "-c", "command -v initdb"], capture_output=True).stdout)


@pytest.mark.skipif(not _postgres_installed() and os.geteuid() != 0,
                    reason="PostgreSQL is not installed and cannot be (scripts/test installs it as root)")
def test_private_postgres_is_started_and_removed_even_when_pytest_fails(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    record = tmp_path / "postgres-record"
    unused = free_port()
    wanted = f"postgresql://127.0.0.1:{unused}/postgres"
    run = subprocess.run([str(ROOT / "scripts" / "test"), "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "CSE_TEST_POSTGRES": wanted, "POSTGRES_RECORD": str(record)})
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"no PostgreSQL answers at {wanted}" in run.stderr
    assert "started a private PostgreSQL" in run.stderr
    assert "failing on purpose" in run.stdout
    port, directory = record.read_text().split()
    assert int(port) != unused
    assert not _listening(int(port)), "the private PostgreSQL still runs"
    assert not Path(directory).exists(), "its data directory was left behind"
