"""Helpers for tests with several CSEs: in-process CSEs on real ports, CSE processes, and
waiting for a condition with a deadline (never a bare sleep)."""
from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

from cse.app import Cse
from cse.primitives import Request, Response
from server.compose import build_cse, configured_bindings
from tests.conftest import make_config

ROOT = Path(__file__).resolve().parents[2]

MN = {"cse.cse_id": "/id-mn", "cse.rn": "cse-mn", "cse.type": "MN", "registrar.cse_id": "/id-in",
      "registrar.rn": "cse-in", "registrar.keepalive": 0.2, "registrar.retry_min": 0.05,
      "registrar.retry_max": 0.2, "registrar.timeout": 2.0}


async def start_cse(port: int = 0, storage: str = "memory:", **settings: Any) -> Cse:
    cse = build_cse(make_config(**{"http.port": port, "storage.url": storage, **settings}),
                    bindings=configured_bindings)
    await cse.start()
    return cse


def url_of(cse: Cse) -> str:
    return next(b for b in cse.bindings if b.name == "http").url


async def ask(cse: Cse, op: int, to: str, fr: str = "CAdmin", **fields: Any) -> Response:
    fields.setdefault("rvi", "3")
    fields.setdefault("rqi", f"t-{op}-{to}")
    return await cse.dispatcher.handle(Request(op=op, to=to, fr=fr, **fields))


async def remote_cses(cse: Cse) -> list[dict]:
    """The remoteCSE records under the CSEBase, as a client would list them."""
    listing = await ask(cse, 2, cse.config.cse.rn, rcn=4, fc={"ty": [16]})
    return listing.pc["m2m:cb"].get("m2m:csr", [])


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 10.0,
                     what: str = "condition") -> None:
    """Re-check `check` until it holds; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s")
        await asyncio.sleep(0.02)


class CseProcess:
    """`python -m server ...` in its own process; `url` is read from its start-up line."""

    def __init__(self, *args: str):
        self.args = ["--log-level", "WARNING", *args]
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self, timeout: float = 20.0) -> "CseProcess":
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server", *self.args, cwd=ROOT, stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            line = (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode()
        except asyncio.TimeoutError:
            await self.stop()
            raise
        match = re.search(r"serving (\S+)", line)
        if not match:
            await self.stop()
            raise RuntimeError(f"the CSE did not start ({self.args}): {line!r}")
        self.url = match.group(1)
        return self

    async def stop(self) -> None:
        """SIGTERM: the clean shutdown a service manager does."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except asyncio.TimeoutError:
                self.process.kill()
                await self.process.wait()
        self.process = None
