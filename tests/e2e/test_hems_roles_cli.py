"""The home energy roles as separate processes, started with the command lines of
examples/README.md against two CSE processes: the devices share simulated time and the
home's wiring through the command line, the energy application finds them by rediscovery
whatever the start order, and the outsider's exit code says it was refused everything."""
from __future__ import annotations

import asyncio
import os
import sys
import time

from tests.conftest import free_port
from tests.e2e.federation_support import ROOT, CseProcess, eventually


class Role:
    """`python -m examples.hems.<module> ...`, its output collected line by line."""

    def __init__(self, module: str, *args: str):
        self.module = module
        self.args = args
        self.lines: list[str] = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> "Role":
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", f"examples.hems.{self.module}", *self.args, cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for line in self.process.stdout:
            self.lines.append(line.decode().rstrip())

    def said(self, words: str) -> bool:
        return any(words in line for line in self.lines)

    async def finish(self, timeout: float) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self._reader
        return code

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.terminate()                 # SIGTERM: the role ends quietly
        try:
            code = await asyncio.wait_for(self.process.wait(), 15)
        except asyncio.TimeoutError:
            self.process.kill()
            code = await self.process.wait()
        await self._reader
        return code


async def test_roles_run_as_separate_processes(tmp_path):
    platform = await CseProcess("--config", "examples/hems/platform.toml", "--port", str(free_port()),
                                "--storage", "memory:").start()
    gateway = await CseProcess("--config", "examples/hems/gateway.toml", "--port", str(free_port()),
                               "--storage", "memory:", "--registrar-url", platform.url).start()
    roles: list[Role] = []
    try:
        # The application first: it must find the devices when they appear.
        app = await Role("energy_app", "--cse", platform.url, "--home", "home-1=/id-mn/cse-mn",
                         "--alert-reader", "CPhone", "--rediscover", "0.3").start()
        roles.append(app)
        await eventually(lambda: app.said("registered as CEnergyApp"), timeout=20, what="the application's start")
        phone = await Role("phone", "--cse", platform.url).start()
        roles.append(phone)
        await eventually(lambda: phone.said("watching cse-in/energy/alerts"), timeout=20, what="the phone's start")
        simulated = ["--start", "2024-06-01T18:00", "--speed", "3600", "--epoch", str(time.time() + 4),
                     "--hours", "1.5", "--wiring", str(tmp_path / "home-1")]
        meter = await Role("meter", "--cse", gateway.url, *simulated).start()
        charger = await Role("appliance", "ev-charger", "--cse", gateway.url, *simulated).start()
        roles += [meter, charger]
        await eventually(lambda: app.said("ev-charger switched off: energyConsumption shows 0.0 kW"), timeout=40,
                         what="the command round trip")
        await eventually(lambda: phone.said("ALERT home-1"), timeout=10, what="the alert on the phone")
        assert app.said("found meter, appliances ev-charger")
        assert app.said("PEAK 8.7 kW > 8.0 kW at home-1; ev-charger draws 7.2 kW -> switch off")
        assert charger.said("binarySwitch state false -> switched off")
        assert meter.said("meter: 8.7 kW")                      # it measured the charger in another process

        outsider = await Role("outsider", "--cse", platform.url).start()
        roles.append(outsider)
        assert await outsider.finish(timeout=30) == 0, outsider.lines
        assert sum("-> 4103 refused" in line for line in outsider.lines) == 4
        for role in roles:
            assert await role.stop() in (0, -15), (role.module, role.lines)
        assert not any("Traceback" in line for role in roles for line in role.lines)
    finally:
        for role in roles:
            if role.process.returncode is None:
                role.process.kill()
                await role.process.wait()
        await gateway.stop()
        await platform.stop()
