"""MQTT brokers for tests: the shared one (CSE_TEST_MQTT, default 127.0.0.1:1883) and
private mosquitto processes on free ports that a test may stop, restart or give TLS.

A private broker is never the system one: tests that break the broker start their own.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from bindings.mqtt_connection import BrokerAddress


def shared_broker() -> BrokerAddress:
    """The broker scripts/test made sure of; fails (not skips) when nothing listens there."""
    host, _, port = os.environ.get("CSE_TEST_MQTT", "127.0.0.1:1883").rpartition(":")
    address = BrokerAddress(host or "127.0.0.1", int(port))
    if not _listening(address.host, address.port):
        pytest.fail(f"no MQTT broker listens on {address.host}:{address.port}; run scripts/test "
                    "(it starts one) or set CSE_TEST_MQTT=host:port")
    return address


def mosquitto_binary() -> str | None:
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)), None)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class Mosquitto:
    """A private mosquitto on 127.0.0.1:`port`, optionally with a TLS listener."""

    def __init__(self, directory: Path, port: int, *, tls: dict[str, Path] | None = None):
        binary = mosquitto_binary()
        if binary is None:
            pytest.fail("mosquitto is not installed; scripts/test installs it (apt-get install mosquitto)")
        self.binary = binary
        self.port = port
        self.config = directory / f"mosquitto-{port}.conf"
        lines = [f"listener {port} 127.0.0.1", "allow_anonymous true", "persistence false",
                 "log_dest stderr", "log_type error", "log_type warning", "set_tcp_nodelay true"]
        if os.geteuid() == 0:
            lines.append("user root")  # else mosquitto drops to a user that cannot read tmp files
        if tls:
            lines += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}",
                      "require_certificate false"]
        self.config.write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while not _listening("127.0.0.1", self.port):
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.process.stderr.read().decode(errors='replace')}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mosquitto did not listen on port {self.port} within {timeout} s")
            time.sleep(0.02)  # polling a condition (the port accepts), bounded by the deadline

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
