"""The simulation clock against the wall clock, and `python -m examples.building.sim` as a
user runs it: it prints where its servers listen, they answer while the day runs, the
day's ground truth is the same as an in-process run with the same seed, Ctrl-C stops it."""
from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from examples.building.fieldbus.modbus import ModbusDevice, ModbusLink
from examples.building.fieldbus.results import Value
from examples.building.sim.building import SimulatedBuilding
from examples.building.sim.model import BuildingModel

ROOT = Path(__file__).resolve().parents[2]


async def test_the_clock_follows_the_wall_clock_and_values_change_live(point_lists):
    async with SimulatedBuilding(bacnet=False, start_hour=6.0) as building:
        host, port, unit = building.endpoint("weather")
        station = ModbusDevice(ModbusLink(host, port), unit, point_lists.modbus["weather"], "weather")
        first = await station.read("outdoor_temp")
        building.start_clock(day_seconds=8.64)  # an hour in 0.36 s
        await building.wait_until(9 * 3600.0, timeout=10.0)
        later = await station.read("outdoor_temp")
        await building.stop_clock()
        assert isinstance(first, Value) and isinstance(later, Value)
        assert later.value > first.value + 1.0  # the morning warms up
        assert building.model.t >= 9 * 3600.0
        await station.link.close()


async def test_a_clock_bounded_by_until_stops_there():
    async with SimulatedBuilding(bacnet=False) as building:
        runner = building.start_clock(day_seconds=4.32, until=3600.0)  # an hour in 0.18 s
        await asyncio.wait_for(runner, 10.0)
        assert building.model.t == pytest.approx(3600.0)
        with pytest.raises(ValueError):
            await building.run(day_seconds=0)


async def start_cli(*args: str) -> asyncio.subprocess.Process:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "examples.building.sim", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)


async def lines_until(proc: asyncio.subprocess.Process, marker: str, timeout: float = 20.0) -> list[str]:
    lines = []
    while True:
        raw = await asyncio.wait_for(proc.stdout.readline(), timeout)
        if not raw:
            raise AssertionError(f"output ended before {marker!r}: {lines}")
        lines.append(raw.decode().rstrip())
        if marker in lines[-1]:
            return lines


async def finish(proc: asyncio.subprocess.Process, timeout: float = 30.0) -> tuple[int, str, str]:
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return proc.returncode, out.decode(), err.decode()


async def test_the_cli_prints_its_servers_they_answer_and_the_truth_matches(tmp_path, point_lists):
    inventory = tmp_path / "inventory.json"
    proc = await start_cli("--day-seconds", "2", "--quiet", "--inventory", str(inventory))
    head = await lines_until(proc, "simulating")
    listening = {m.group(1): int(m.group(2)) for line in head
                 if (m := re.match(r"building-sim: (?:modbus|bacnet) (\S+)\s+127\.0\.0\.1:(\d+)", line))}
    assert set(listening) == {"chillers", "ahus", "air_conditioners", "lighting", "meters", "sensors", "weather",
                              "bms-controller"}
    meter = ModbusDevice(ModbusLink("127.0.0.1", listening["meters"]), 1, point_lists.modbus["meter"], "meter-main")
    reading = await meter.read("energy")
    await meter.link.close()
    assert isinstance(reading, Value) and reading.value > 1000.0
    code, out, err = await finish(proc)
    assert code == 0, err
    truth = json.loads(out.split("BUILDING-SIM-TRUTH ", 1)[1])
    offline = BuildingModel()
    offline.advance(86400.0)
    assert truth["energy_kwh"]["meter-main"] == pytest.approx(offline.truth.energy_kwh["meter-main"], abs=0.001)
    assert truth["peak"]["meter-main"]["start"] == offline.truth.peak().label()
    assert "peak demand" in out
    data = json.loads(inventory.read_text())
    assert data["modbus"]["meters"]["port"] == listening["meters"]
    assert {d["name"] for d in data["devices"]} >= {"chiller-1", "ahu-3", "meter-main", "sensor-3-3", "weather"}


async def test_the_cli_stops_on_ctrl_c():
    proc = await start_cli("--days", "0", "--no-bacnet", "--quiet")
    await lines_until(proc, "simulating")
    proc.send_signal(signal.SIGINT)
    code, out, _ = await finish(proc, timeout=15.0)
    assert code == 130
    assert "interrupted" in out and "BUILDING-SIM-TRUTH" in out


@pytest.mark.parametrize("args, message", [
    (["--step", "7"], "step_s"),
    (["--floors", "0"], "floors"),
    (["--day-seconds", "0"], "day-seconds"),
    (["--day", "yesterday"], "--day"),
])
async def test_bad_options_exit_2_with_a_message(args, message):
    proc = await start_cli(*args)
    code, _, err = await finish(proc, timeout=20.0)
    assert code == 2
    assert message in err
