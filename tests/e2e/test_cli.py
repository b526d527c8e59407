"""The `cse` command: starts, says where it serves, obeys the config file and flags, stops cleanly."""
import json
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import free_port


def start(*args, cwd=None):
    process = subprocess.Popen([sys.executable, "-m", "server", "--log-level", "WARNING", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd)
    line = process.stdout.readline()
    return process, line


def get(url, originator="CAdmin"):
    request = urllib.request.Request(url, headers={"X-M2M-Origin": originator, "X-M2M-RI": "1",
                                                   "X-M2M-RVI": "3"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_serves_then_stops_cleanly(tmp_path, stop_signal):
    process, line = start("--port", "0", "--data-dir", str(tmp_path))
    try:
        match = re.search(r"serving (http://127\.0\.0\.1:\d+)", line)
        assert match, line
        base = get(match.group(1) + "/cse-in")["m2m:cb"]
        assert base["csi"] == "/id-in" and base["cst"] == 1 and match.group(1) in base["poa"]
    finally:
        process.send_signal(stop_signal)
        assert process.wait(timeout=15) == 0


def test_config_file_and_flags(tmp_path):
    port = free_port()
    config = tmp_path / "cse.toml"
    config.write_text(f"""
log_level = "WARNING"
[cse]
cse_id = "/id-mn"
rn = "hemgw"
type = "MN"
[http]
port = {port}
[storage]
data_dir = "{tmp_path / 'data'}"
""")
    process, line = start("--config", str(config), "--rn", "gateway")
    try:
        assert f":{port}" in line and "MN-CSE" in line
        base = get(f"http://127.0.0.1:{port}/gateway")["m2m:cb"]
        assert base["csi"] == "/id-mn" and base["rn"] == "gateway" and base["cst"] == 2
        assert (tmp_path / "data" / "cse.sqlite").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0


@pytest.mark.parametrize("content, words", [
    ("[cse]\nunknown = 1\n", "unknown setting"),
    ("[cse]\ncse_id = 'no-slash'\n", "cse_id"),
    ("[http]\nport = 'eighty'\n", "http.port"),
    ("not toml at all [", "cannot read"),
    ("[mqtt]\nqos = 2\n", "mqtt.qos"),
    ("[mqtt]\nae_topic_form = 'short'\n", "ae_topic_form"),
    ("[mqtt]\nport = 0\n", "mqtt.port"),
    ("[mqtt]\ncert_file = 'c.pem'\n", "go together"),
    ("[mqtt]\nbroker = 'x'\n", "unknown setting"),
    ("[coap]\nport = 70000\n", "coap.port"),
    ("[coap]\nenabled = 'yes'\n", "coap.enabled"),
])
def test_bad_config_is_reported_before_start(tmp_path, content, words):
    config = tmp_path / "bad.toml"
    config.write_text(content)
    result = subprocess.run([sys.executable, "-m", "server", "--config", str(config)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert words in result.stderr


def test_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "server", "--port", str(port), "--data-dir", str(tmp_path)],
                                capture_output=True, text=True, timeout=30)
    assert result.returncode == 3       # docs/operations.md: a port cannot be listened on
    assert "address already in use" in result.stderr.lower() or "errno 98" in result.stderr.lower()


def test_storage_of_another_cse_is_refused(tmp_path):
    process, line = start("--port", "0", "--data-dir", str(tmp_path))
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=15)
    result = subprocess.run([sys.executable, "-m", "server", "--port", "0", "--data-dir", str(tmp_path),
                             "--rn", "other"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 1 and "resource names cannot change" in result.stderr


@pytest.mark.parametrize("storage, words", [
    ("foo://x", "unsupported storage URL"),
    ("tinydb://{busy}", "in use by another CSE process"),
])
def test_storage_that_cannot_be_opened_is_one_clear_line(tmp_path, storage, words):
    from cse.storage.tinydb import TinyDbStorage

    busy = TinyDbStorage(str(tmp_path / "busy"))
    busy.open()
    try:
        result = subprocess.run([sys.executable, "-m", "server", "--port", "0",
                                 "--storage", storage.format(busy=tmp_path / "busy")],
                                capture_output=True, text=True, timeout=30)
    finally:
        busy.close()
    assert result.returncode == 4       # docs/operations.md: the storage cannot be opened
    assert words in result.stderr and "Traceback" not in result.stderr
