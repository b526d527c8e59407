"""The `cse` command as an operator meets it: version, help, and start-up failures as one
line with a documented exit status (docs/operations.md)."""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import pytest

from server.cli import EXIT_LISTEN, EXIT_STORAGE, EXIT_USAGE, version
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def cse(*args: str, timeout: float = 30, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "server", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd or ROOT)


def one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_version():
    done = cse("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"cse (onem2m-cse) {version()}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", version())


def test_help_lists_the_subcommands_and_exit_codes():
    done = cse("--help")
    assert done.returncode == 0
    assert "cse certs" in done.stdout and "cse hash-secret" in done.stdout
    assert "3 a port cannot be listened on" in done.stdout


@pytest.mark.parametrize("args, message", [
    (["--log-level", "LOUD"], "cse: log_level must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, not 'LOUD'"),
    (["--admin-port", "0", "--admin-host", "0.0.0.0"], "cse: admin.host 0.0.0.0 is not a loopback address"),
])
def test_bad_settings_are_refused_at_start(tmp_path, args, message):
    done = cse("--port", "0", "--data-dir", str(tmp_path), *args)
    assert done.returncode == EXIT_USAGE
    assert one_line(done.stderr).startswith(message)


def test_a_port_in_use_is_one_line(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = cse("--port", str(port), "--data-dir", str(tmp_path), "--log-level", "ERROR")
    assert done.returncode == EXIT_LISTEN
    line = one_line(done.stderr)
    assert line.startswith("cse: cannot listen: the address is already in use") and str(port) in line


def test_a_read_only_data_directory_is_one_line(tmp_path):
    # Not below tmp_path: pytest's base directory is private to its user (0700).
    where = Path(tempfile.mkdtemp(prefix="cse-ro-"))
    where.chmod(0o755)
    data = where / "data"
    data.mkdir()
    data.chmod(0o555)
    command = [sys.executable, "-m", "server", "--port", "0", "--data-dir", str(data), "--log-level", "ERROR"]
    if os.geteuid() == 0:
        # root writes anywhere: run the CSE as nobody, for whom the directory is read-only.
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make a directory read-only for the CSE")
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=ROOT)
    finally:
        data.chmod(0o755)
        shutil.rmtree(where)
    assert done.returncode == EXIT_STORAGE, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("cse: storage: cannot open SQLite database " + str(data))


def test_request_log_as_json_and_switched_off(tmp_path):
    """--log-format json: every line is an object; the request line has the fields;
    --no-request-log: the request gets no line."""
    def run(*flags: str) -> list[str]:
        process = subprocess.Popen([sys.executable, "-m", "server", "--port", "0", "--data-dir", str(tmp_path),
                                    *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        try:
            url = re.search(r"serving (http://\S+)", process.stdout.readline()).group(1)
            request = urllib.request.Request(url + "/cse-in", headers={"X-M2M-Origin": "CAdmin", "X-M2M-RI": "j-1",
                                                                        "X-M2M-RVI": "3"})
            urllib.request.urlopen(request, timeout=10).read()
        finally:
            process.terminate()
            _, stderr = process.communicate(timeout=15)
        assert process.returncode == 0, stderr
        return stderr.splitlines()

    lines = [json.loads(line) for line in run("--log-format", "json")]
    (request,) = [line for line in lines if line["logger"] == "cse.requests"]
    assert {k: request[k] for k in ("binding", "op", "to", "fr", "rqi", "rsc")} == \
        {"binding": "http", "op": "RETRIEVE", "to": "cse-in", "fr": "CAdmin", "rqi": "j-1", "rsc": 2000}
    assert not [line for line in run("--no-request-log") if "cse.requests" in line]
