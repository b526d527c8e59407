"""scripts/test without a broker at CSE_TEST_MQTT: it starts a private mosquitto, points
CSE_TEST_MQTT at it, and stops it when pytest ends, here with a failing test."""
from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from tests.conftest import free_port

from .brokers import mosquitto_binary

ROOT = Path(__file__).resolve().parents[2]

INNER_TEST = '''
import os, socket
from pathlib import Path

def test_a_broker_listens_and_then_this_fails():
    host, _, port = os.environ["CSE_TEST_MQTT"].rpartition(":")
    socket.create_connection((host, int(port)), timeout=5).close()
    Path(os.environ["BROKER_RECORD"]).write_text(port)
    assert False, "failing on purpose"
'''


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(mosquitto_binary() is None, reason="mosquitto is not installed (scripts/test installs it)")
def test_private_broker_is_started_and_stopped_even_when_pytest_fails(tmp_path):
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    record = tmp_path / "broker-port"
    unused = free_port()
    run = subprocess.run([str(ROOT / "scripts" / "test"), "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "CSE_TEST_MQTT": f"127.0.0.1:{unused}", "BROKER_RECORD": str(record)})
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert f"no MQTT broker on 127.0.0.1:{unused}" in run.stderr
    assert "started mosquitto for this run" in run.stderr
    assert "failing on purpose" in run.stdout
    port = int(record.read_text())
    assert port != unused
    assert not _listening(port), "the private broker still runs"
