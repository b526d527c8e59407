"""The `cse` process: notifications queued when SIGTERM arrives are delivered before it exits,
and those a dead receiver could not take are delivered after the next start."""
from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys

import aiohttp

from .receiver import Receiver


def start_cse(data_dir, *extra: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "server", "--port", "0", "--data-dir", str(data_dir),
               "--log-level", "ERROR"]
    process = subprocess.Popen([*command, *extra], stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"serving (\S+)", line)
    if not match:
        process.kill()
        raise AssertionError(f"the CSE did not start: {line!r}")
    return process, match.group(1)


async def stop_cse(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    return await asyncio.to_thread(process.wait, 30)


async def _post(session, url: str, ty: int, body: dict, originator: str = "Cmeter") -> int:
    headers = {"X-M2M-Origin": originator, "X-M2M-RI": "t", "X-M2M-RVI": "3",
               "Content-Type": f"application/json;ty={ty}"}
    async with session.post(url, json=body, headers=headers) as response:
        await response.read()
        return response.status


async def _reading(session, base: str, value: int) -> int:
    return await _post(session, f"{base}/cse-in/meter/power", 4, {"m2m:cin": {"con": str(value)}})


async def _meter_with_subscription(session, base: str, nu: str) -> None:
    assert await _post(session, f"{base}/cse-in", 2,
                       {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}) == 201
    assert await _post(session, f"{base}/cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}) == 201
    assert await _post(session, f"{base}/cse-in/meter/power", 23,
                       {"m2m:sub": {"nu": [nu], "enc": {"net": [3], "chty": [4]}}}) == 201


async def test_sigterm_delivers_what_is_queued(tmp_path):
    gate = asyncio.Event()
    receiver = await Receiver(gate=gate).start()          # answers nothing until SIGTERM is sent
    process, base = start_cse(tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await _meter_with_subscription(session, base, receiver.url())
            for value in range(50):
                assert await _reading(session, base, value) == 201
        assert len(receiver.notifications) <= 1              # still queued when SIGTERM arrives
        gate.set()
        assert await stop_cse(process) == 0
        got = [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in receiver.notifications]
        assert got == [str(v) for v in range(50)]
    finally:
        if process.poll() is None:
            process.kill()
        await receiver.stop()


async def test_what_a_dead_receiver_missed_is_delivered_after_a_restart(tmp_path):
    receiver = await Receiver().start()
    process, base = start_cse(tmp_path)
    try:
        async with aiohttp.ClientSession() as session:
            await _meter_with_subscription(session, base, receiver.url())
            await receiver.stop()                              # the subscriber goes down
            for value in range(5):
                assert await _reading(session, base, value) == 201
        assert await stop_cse(process) == 0
        back = await Receiver(port=receiver.port).start()
        process, base = start_cse(tmp_path)
        try:
            received = await back.wait_for(5)
            assert [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in received] == ["0", "1", "2", "3", "4"]
        finally:
            assert await stop_cse(process) == 0
            await back.stop()
    finally:
        if process.poll() is None:
            process.kill()
