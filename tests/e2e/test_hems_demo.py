"""`python -m examples.hems`, run as a user runs it: real CSE processes, one simulated day,
and a JSON summary.  Checks what the demo claims (peak, alert received by another app,
responsible appliance, command round trip, outsider refused, consumption matching what the
simulated homes drew), and that no CSE process survives the demo, however it ends."""
from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.bindings.brokers import shared_broker

ROOT = Path(__file__).resolve().parents[2]
DEMO = [sys.executable, "-m", "examples.hems"]


class DemoProcess:
    """The demo in its own session (process group), so a hung run is killed with
    everything it started; stdout lines are collected by a thread."""

    def __init__(self, *args: str):
        self.process = subprocess.Popen([*DEMO, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True, start_new_session=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for_line(self, pattern: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s:\n"
                                     + "\n".join(self.lines)) from None
            if line is None:
                raise AssertionError(f"the demo ended without {pattern!r}:\n" + "\n".join(self.lines)
                                     + "\n" + self.process.stderr.read())
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    def finish(self, timeout: float) -> int:
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill_group()
            raise AssertionError(f"the demo did not finish within {timeout} s:\n" + "\n".join(self.lines)) from None
        while (line := self._queue.get(timeout=5)) is not None:
            self.lines.append(line)
        return code

    def kill_group(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def cse_pids(self) -> list[int]:
        return [int(pid) for line in self.lines for pid in re.findall(r"\(pid (\d+)\)", line)]


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # Still there, or a zombie nobody reaped yet: only the first is a survivor.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return True


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        alive = [pid for pid in pids if not gone(pid)]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


@pytest.fixture
def demo_processes():
    started: list[DemoProcess] = []

    def start(*args: str) -> DemoProcess:
        demo = DemoProcess(*args)
        started.append(demo)
        return demo
    yield start
    for demo in started:             # whatever happened: nothing of its group keeps running
        demo.kill_group()


def test_the_demo_runs_the_scenario_end_to_end(tmp_path, demo_processes):
    summary_file = tmp_path / "summary.json"
    demo = demo_processes("--summary", str(summary_file))
    code = demo.finish(timeout=55)
    output = "\n".join(demo.lines)
    assert code == 0, output
    summary = json.loads(summary_file.read_text())
    assert demo.lines[-1] == f"HEMS-SUMMARY {summary_file.read_text()}"
    assert summary["ok"] is True and all(summary["checks"].values()), summary["checks"]

    # The peak: in home-1, over the threshold, caused by the EV charger.
    peak = summary["peaks"][0]
    assert (peak["home"], peak["appliance"], peak["appliance_kw"]) == ("home-1", "ev-charger", 7.2)
    assert peak["kw"] > peak["threshold_kw"] == 8.0
    assert re.search(r"energy-app: PEAK \d+\.\d kW > 8\.0 kW at home-1; ev-charger draws 7\.2 kW -> switch off", output)
    # The alert, as the phone app (another AE, subscribed to the alert container) got it.
    assert peak in summary["alerts_received"]["phone"]
    assert "phone: ALERT home-1" in output
    assert summary["checks_not_reached"] == []
    # home-2's meter fell silent 10:00-14:00: the gateway's timeSeries noticed the missing
    # readings (net 8), the energy app alerted once, the phone got the alert.
    (missing,) = summary["missing_data"]
    assert (missing["type"], missing["home"], missing["meter"]) == ("missing-data", "home-2", "meter")
    assert missing in summary["alerts_received"]["phone"]
    assert missing["t"] < "20240601T100000"                        # the last reading before the outage
    assert summary["readings_skipped"] == {"home-1": 0, "home-2": 16}
    assert summary["missing_readings"]["home-2"] >= 16 - 1          # reported mdt after each was due
    assert summary["meter_period_ms"] == 125                        # pei: 15 simulated minutes at 7200x
    assert "phone: ALERT home-2: its meter stopped reporting" in output
    # The command round trip: UPDATE of the charger's binarySwitch by the app, executed by
    # the charger, shown in its energyConsumption (power 0 after off, 7.2 kW after on).
    off = next(c for c in summary["commands"] if c["cmd"] == "off")
    assert (off["appliance"], off["status"], off["ri"]) == ("ev-charger", "done", peak["command"])
    assert (off["before_w"], off["shown_w"]) == (7200, 0)
    assert off["rtt_ms"] > 0
    on = next(c for c in summary["commands"] if c["cmd"] == "on")
    assert (on["appliance"], on["status"], on["shown_w"]) == ("ev-charger", "done", 7200)
    assert summary["executed"]["home-1/ev-charger"][:2] == ["off", "on"]
    assert summary["executed"]["home-2/heat-pump"] == []            # home-2 stayed under the threshold
    assert "ev-charger: binarySwitch state false -> switched off" in output
    assert re.search(r"energy-app: ev-charger switched off: energyConsumption shows 0\.0 kW; round trip \d+ ms",
                     output)
    # The charging window (a schedule under the charger's flexContainer, from 22:30): the
    # load left room at 22:00, the app waited for the window.
    assert summary["windows"]["home-1/ev-charger"][0] == "* 30-59 22 * * * *"
    assert "20240601T223000" <= on["t"] < "20240601T230000"
    assert summary["deferred_switch_on"] and all("20240601T220000" <= d["t"] < "20240601T223000"
                                                 for d in summary["deferred_switch_on"])
    assert "ev-charger stays off until its allowed window" in output
    # Device management: a node per gateway and device; the heat pumps' firmware (one in each
    # home) updated through a group with one request, the outcome read per device.
    (rollout,) = summary["firmware_rollouts"]
    assert rollout["members"] == ["/id-mn/cse-mn/node-heat-pump/firmware", "/id-mn2/cse-mn2/node-heat-pump/firmware"]
    assert rollout["requests"] == 1 and [a["rsc"] for a in rollout["answers"]] == [2004, 2004]
    assert [(d["outcome"], d["uds"], d["vr"]) for d in rollout["devices"]] == [
        ("successful", {"acn": "ud", "sus": 1}, "1.1")] * 2
    assert "home-2/heat-pump: runs firmware 1.1" in output
    assert "home-1: nodes node-gateway, node-meter, node-water-heater, node-heat-pump, node-ev-charger" in output
    # Privacy: the outsider found nothing and was refused everything.
    attempts = summary["outsider"]
    assert [a["found"] for a in attempts if a["op"] == "DISCOVER"] == [0]
    assert {a["rsc"] for a in attempts if a["op"] != "DISCOVER"} == {4103}
    assert len(attempts) == 5
    # Daily consumption per home and appliance, as the simulated homes really drew it.
    days = {d["home"]: d for d in summary["days"] if d["day"] == "2024-06-01"}
    assert set(days) == {"home-1", "home-2"}
    for home, truth in summary["truth"].items():
        assert days[home]["kwh"] == pytest.approx(truth["kwh"], rel=0.01)
        assert days[home]["appliances"] == pytest.approx(truth["appliances"], rel=0.01, abs=0.01)
    assert re.search(r"energy-app: daily consumption 2024-06-01: home-1 \d+\.\d kWh \(\d+\.\d kWh from power "
                     r"readings\); ev-charger", output)
    assert wait_gone(summary["cse_pids"], timeout=5) == []
    assert sorted(demo.cse_pids()) == sorted(summary["cse_pids"])


def test_the_demo_with_devices_talking_mqtt(tmp_path, demo_processes):
    broker = shared_broker()
    summary_file = tmp_path / "summary.json"
    # 20 simulated hours: the day is not over, its consumption is reported as partial.
    demo = demo_processes("--mqtt", f"{broker.host}:{broker.port}", "--homes", "1", "--hours", "20",
                          "--seconds", "5", "--summary", str(summary_file))
    assert demo.finish(timeout=50) == 0, "\n".join(demo.lines)
    summary = json.loads(summary_file.read_text())
    assert summary["ok"] is True and summary["device_transport"] == "mqtt"
    # One home, 20 hours: no silent meter, the charging window not reached (named, not passed).
    assert summary["checks_not_reached"] == ["missing_data_alert_received_by_phone",
                                             "switch_on_shown_in_energy_consumption", "schedule_respected"]
    # Unique gateway IDs keep demos sharing the broker apart.
    assert re.fullmatch(r"/id-mn-[0-9a-f]{4}/cse-mn", summary["homes"]["home-1"]["gateway"])
    off = next(c for c in summary["commands"] if c["cmd"] == "off")
    assert (off["appliance"], off["status"]) == ("ev-charger", "done")
    assert "devices talk to their gateways over MQTT" in "\n".join(demo.lines)
    (day,) = summary["days"]
    assert (day["day"], day["partial"]) == ("2024-06-01", True)
    assert day["kwh"] == pytest.approx(summary["truth"]["home-1"]["kwh"], rel=0.01)
    assert "daily consumption 2024-06-01 (so far): home-1" in "\n".join(demo.lines)


def test_ctrl_c_stops_the_demo_and_its_cses(demo_processes):
    demo = demo_processes("--homes", "1", "--seconds", "30")
    demo.wait_for_line(r"demo: simulating", timeout=40)
    pids = demo.cse_pids()
    assert len(pids) == 2
    demo.process.send_signal(signal.SIGINT)          # only to the demo: it must stop its CSEs itself
    assert demo.finish(timeout=30) == 130
    summary = json.loads(demo.lines[-1].removeprefix("HEMS-SUMMARY "))
    assert summary["interrupted"] is True and summary["ok"] is False
    assert wait_gone(pids, timeout=5) == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's prctl")
def test_the_cses_die_with_a_killed_demo(tmp_path, demo_processes):
    demo = demo_processes("--homes", "1", "--seconds", "30", "--workdir", str(tmp_path))
    demo.wait_for_line(r"demo: simulating", timeout=40)
    pids = demo.cse_pids()
    demo.process.kill()                               # SIGKILL: no clean-up code runs
    demo.process.wait()
    assert wait_gone(pids, timeout=15) == []


@pytest.mark.parametrize("args, words", [
    (["--homes", "3"], "invalid choice"),
    (["--hours", "0"], "must be positive"),
    (["--seconds", "-1"], "must be positive"),
    (["--mqtt", "localhost"], "HOST:PORT"),
])
def test_bad_options_are_refused_before_anything_starts(args, words):
    result = subprocess.run([*DEMO, *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert words in result.stderr
