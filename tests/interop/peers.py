"""Real peers for the interoperability tests: ACME (the `acmecse` package, in the checkout's
`.venv-acme`, made by scripts/test) and this CSE, each as its own process on free loopback
ports, plain HTTP calls to them, and notification receivers.

Everything here is synchronous (subprocess, urllib, a threaded HTTP server): the peers run
in other processes, so the tests need no event loop of their own.  Readiness is polled,
never slept for; every wait has a deadline and says what it waited for.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[2]
# The ACME release these tests were written and checked against (scripts/test installs it).
ACME_VERSION = "2026.5.3"
ACME_PYTHON = Path(os.environ.get("CSE_TEST_ACME_PYTHON", ROOT / ".venv-acme" / "bin" / "python"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def acme_missing() -> str | None:
    """Why ACME cannot be run here, or None when it can."""
    if not ACME_PYTHON.is_file():
        return f"{ACME_PYTHON} does not exist"
    probe = subprocess.run([str(ACME_PYTHON), "-c", "import importlib.metadata as m; print(m.version('acmecse'))"],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"acmecse is not importable with {ACME_PYTHON}: {probe.stderr.strip()[-300:]}"
    return None


def eventually(check: Callable[[], Any], what: str, timeout: float = 30.0, every: float = 0.1) -> Any:
    """Poll `check` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, urllib.error.URLError) as error:
            last = error
        else:
            if last:
                return last
        time.sleep(every)
    raise AssertionError(f"{what} did not happen within {timeout} s (last: {last!r})")


# -- HTTP ---------------------------------------------------------------------------------------
@dataclass
class Answer:
    rsc: int
    status: int
    headers: dict[str, str]
    pc: Any

    def __repr__(self) -> str:
        return f"Answer(rsc={self.rsc}, pc={self.pc!r})"


_rqi = iter(range(1, 10**9))


def call(base: str, method: str, path: str, fr: str, *, ty: int | None = None, body: Any = None,
         rvi: str = "3", query: str = "", timeout: float = 20.0) -> Answer:
    """One oneM2M request over HTTP (TS-0009); `path` is the HTTP path (/~/id-in/cse-in/x, /cse-in)."""
    headers = {"X-M2M-Origin": fr, "X-M2M-RI": f"interop-{next(_rqi)}", "X-M2M-RVI": rvi,
               "Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json" + (f";ty={ty}" if ty is not None else "")
    url = base.rstrip("/") + path + (f"?{query}" if query else "")
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        status, raw, got = error.code, error.read(), error.headers
    rsc = int(got.get("X-M2M-RSC") or 0)
    pc = json.loads(raw) if raw else None
    return Answer(rsc, status, {k.lower(): v for k, v in got.items()}, pc)


# -- notification receivers ---------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def sgn(self) -> dict:
        return (self.body or {}).get("m2m:sgn", {})


@dataclass
class Receiver:
    """An AE's notification endpoint.  `json_only`: like ACME's tools and many small AEs, it
    takes application/json and nothing else (415 otherwise, and records the refusal)."""

    json_only: bool = True
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:      # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                media_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if receiver.json_only and media_type != "application/json":
                    receiver.refused.append(media_type)
                    self._answer(415, 4015)
                    return
                body = json.loads(raw) if raw else None
                receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self._answer(200, 2000)

            def _answer(self, status: int, rsc: int) -> None:
                self.send_response(status)
                self.send_header("X-M2M-RSC", str(rsc))
                self.send_header("X-M2M-RI", self.headers.get("X-M2M-RI", ""))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def notifications(self, sur: str | None = None) -> list[Received]:
        """What arrived, verification requests left out (optionally of one subscription)."""
        return [r for r in self.received if not r.sgn.get("vrq") and (sur is None or r.sgn.get("sur") == sur)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- processes ----------------------------------------------------------------------------------
class Process:
    """A child process whose output goes to a file (read on failure)."""

    def __init__(self, args: list[str], cwd: Path, log: Path, env: dict | None = None):
        self.log = log
        self._out = open(log, "wb")
        self.popen = subprocess.Popen(args, cwd=cwd, stdout=self._out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env={**os.environ, **(env or {})},
                                      start_new_session=True)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 15.0) -> None:
        """SIGINT (both CSEs shut down cleanly on it), then SIGKILL if it does not end."""
        if self.alive():
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._out.close()


class Acme:
    """ACME with its stock configuration; the ini file sets only what the brief allows to
    change: the CSE type, IDs and names, addresses and ports, the registrar and who may
    register (CSE-IDs).  Data and logs stay in `workdir`."""

    def __init__(self, workdir: Path, *, cse_type: str, cse_id: str, rn: str, port: int,
                 registrar: tuple[int, str, str] | None = None, allowed_csr: list[str] | None = None):
        self.workdir = workdir
        self.cse_id, self.rn, self.port = cse_id, rn, port
        self.url = f"http://127.0.0.1:{port}"
        lines = ["[basic.config]", f"cseType={cse_type}", f"cseID={cse_id.lstrip('/')}", f"cseName={rn}",
                 "adminID=CAdmin", "networkInterface=127.0.0.1", "cseHost=127.0.0.1", f"httpPort={port}",
                 "databaseType=tinydb", "logLevel=info"]
        if registrar is not None:
            registrar_port, registrar_id, registrar_rn = registrar
            lines += ["registrarCseHost=127.0.0.1", f"registrarCsePort={registrar_port}",
                      f"registrarCseID={registrar_id.lstrip('/')}", f"registrarCseName={registrar_rn}",
                      f"INCSEcseID={registrar_id.lstrip('/')}"]
        if allowed_csr:
            lines += ["", "[cse.registration]", f"allowedCSROriginators={','.join(allowed_csr)}"]
        # Its log into workdir/logs (not a behaviour setting), to tell why a start failed.
        lines += ["", "[logging]", "enableFileLogging=True"]
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "acme.ini").write_text("\n".join(lines) + "\n")
        self.process: Process | None = None

    def start(self, timeout: float = 90.0, attempts: int = 3) -> "Acme":
        """Start ACME and wait until it answers.  ACME gives up by itself when its start-up
        takes more than 6 s (a constant of ACME's, "CSE did not start within 6.0 seconds",
        exit code 0), which happens on a loaded machine: then it is started again, afresh."""
        for attempt in range(1, attempts + 1):
            shutil.rmtree(self.workdir / "data", ignore_errors=True)
            self.process = Process([str(ACME_PYTHON), "-m", "acmecse", "--base-directory", str(self.workdir),
                                    "--config", "acme.ini", "--headless"], self.workdir,
                                   self.workdir / f"stdout-{attempt}.log")
            try:
                eventually(self._ready, f"ACME {self.cse_id} answering on {self.url}", timeout, every=0.2)
                return self
            except AssertionError as error:
                self.stop()
                gave_up = "did not start within" in self.process.output()
                if not gave_up or attempt == attempts:
                    raise AssertionError(f"{error}\n--- ACME output ---\n{self.process.output()}") from None
        return self

    def _ready(self) -> bool:
        assert self.process is not None
        if not self.process.alive():
            raise AssertionError(f"ACME exited with {self.process.popen.returncode}:\n{self.process.output()}")
        # Not a request before ACME says it has started: its HTTP server listens while its
        # plugins still add routes, and a request served then makes the rest of its start-up
        # fail (Flask: "add_url_rule can no longer be called"), after which it exits.
        if "CSE started" not in self.process.output():
            return False
        return call(self.url, "GET", f"/{self.rn}", "CAdmin", timeout=2).rsc == 2000

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class OurCse:
    """This CSE as `python -m server ...` (the `cse` command), memory storage."""

    def __init__(self, workdir: Path, *args: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = Process([sys.executable, "-m", "server", "--port", str(self.port), "--storage", "memory:",
                                "--log-level", "INFO", *args], ROOT, workdir / "cse.log",
                               env={"PYTHONUNBUFFERED": "1"})

    def wait_ready(self, timeout: float = 30.0) -> "OurCse":
        def serving() -> bool:
            if not self.process.alive():
                raise AssertionError(f"our CSE exited:\n{self.process.output()}")
            return bool(re.search(r"serving http://", self.process.output()))
        eventually(serving, "our CSE serving", timeout)
        return self

    def stop(self) -> None:
        self.process.stop()
