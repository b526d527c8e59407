"""The CSE processes of the demo: `python -m server` children that die with the demo, and
the check that a gateway has registered with the platform."""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path

from client import CseClient, CseUnreachable

ROOT = Path(__file__).resolve().parents[2]


def _die_with_parent() -> None:
    """In the child before exec: get SIGTERM when the demo dies, even by SIGKILL (Linux)."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)      # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class CseProcess:
    """`python -m server` in a child process in the demo's process group (a Ctrl-C in the
    terminal reaches it too); its log goes to a file, its URL comes from its first line."""

    def __init__(self, name: str, args: list[str], log: Path):
        self.name = name
        self.args = args
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""
        self._drain: asyncio.Task | None = None

    async def start(self, timeout: float = 30.0) -> "CseProcess":
        with open(self.log, "wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "server", *self.args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_die_with_parent)
        try:
            line = (await asyncio.wait_for(self.process.stdout.readline(), timeout)).decode()
        except asyncio.TimeoutError:
            line = ""
        match = re.search(r"serving (\S+)", line)
        if not match:
            await self.stop()
            raise RuntimeError(f"the {self.name} did not start: {line.strip() or 'no output'}\n{self.log_tail()}")
        self.url = match.group(1)
        self._drain = asyncio.create_task(self.process.stdout.read())
        return self

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self) -> None:
        """SIGTERM (a clean shutdown), SIGKILL if it takes more than 10 s."""
        process = self.process
        if process is None or process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except asyncio.TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
        if self._drain is not None:
            self._drain.cancel()


async def reachable_through(platform_url: str, gateway: str, timeout: float) -> bool:
    """The gateway answers through the platform (it has registered): RETRIEVE of its
    CSEBase, which anybody may read, forwarded by the platform."""
    async with CseClient(platform_url, originator="CDemo", cse_rn="cse-in") as probe:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            with contextlib.suppress(CseUnreachable):
                if (await probe.request(2, gateway)).rsc == 2000:
                    return True
            await asyncio.sleep(0.05)
    return False
