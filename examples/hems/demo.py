"""The whole home energy management scenario on this machine, in one command:

    python -m examples.hems

1. starts the platform (IN-CSE) and one home energy gateway (MN-CSE) per home as real
   `python -m server` processes on free loopback ports with temporary data directories; each
   gateway registers with the platform;
2. as the installer (each gateway's admin), makes a <node> per gateway and device with
   deviceInfo, firmware and battery (nodes.py);
3. starts, as AEs on each gateway, the smart meter (a timeSeries with missing-data
   detection) and the appliances (TS-0023 flexContainers: water heater, heat pump, EV
   charger with its charging-window schedule), linked to their nodes, which grant the
   energy application exactly the rights it needs;
4. starts, as AEs on the platform, the energy application, the consumer's phone app (which
   subscribes to the alerts) and an outsider app without any grant, which is refused; the
   energy application updates every heat pump's firmware through a group (one request);
5. runs one simulated day (by default in about 12 s): home-2's meter falls silent 10:00-14:00
   and the gateway's missing-data notification becomes an alert; in home-1 the EV charger
   starts at 18:30, the energy application sees the peak, alerts, switches the charger's
   binarySwitch off (its energyConsumption shows it), and on again when the load allows and
   its charging window is open;
6. prints what happens, the daily consumption per home and appliance, and a final line
   `HEMS-SUMMARY {...}` (JSON; also written to --summary FILE).

Exit code 0 only if every check in the summary holds (docs/hems-demo.md lists them: the
alerts raised and received, the responsible appliance identified, the switch round trip
written, executed and shown, the window respected, the firmware on every heat pump with its
outcome read, a node per device, the outsider refused); 1 otherwise; 130 on Ctrl-C.  The CSE processes are
stopped on every way out (and die with this process if it is killed).

Roles run here as tasks of one process, each with its own client and notification
receiver, talking to the CSEs only over HTTP; each also runs as a process of its own
against any CSE (see examples/README.md).
"""
from __future__ import annotations

import argparse
import asyncio
import calendar
import contextlib
import json
import re
import secrets
import shutil
import signal
import tempfile
import time
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from client import CseClient, CseUnreachable, NotificationInbox, RequestFailed, receiver_for
from cse.schedule_entries import Schedule

from .appliance import CATALOGUE, WINDOWS, Appliance, managed_receiver
from .common import ENERGY_APP, PLATFORM, Console, kwh
from .energy_app import EnergyApp
from .house import LoadProfile, MemoryWiring, SimClock
from .meter import Meter
from .nodes import provision
from .outsider import Outsider
from .phone import Phone
from .processes import CseProcess, reachable_through
from .timestamps import parse_stamp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DAY_START = datetime(2024, 6, 1)
FIRMWARE = ("heat-pump", "https://firmware.example/heat-pump-1.1.bin", "1.1")     # rolled out at the start


@dataclass
class HomeSetup:
    """A home of the demo: its gateway and its devices."""

    name: str
    cse_id: str
    rn: str
    appliances: tuple[str, ...]
    profile: LoadProfile = field(default_factory=LoadProfile)
    silent: tuple[float, float] | None = None       # simulated hours its meter does not report

    @property
    def gateway(self) -> str:
        return f"{self.cse_id}/{self.rn}"


HOMES = (
    # Both homes have a heat pump: the firmware roll-out updates them together.
    HomeSetup("home-1", "/id-mn", "cse-mn", ("water-heater", "heat-pump", "ev-charger")),
    # A second home with a heat pump and no EV: it stays under the threshold all day.
    HomeSetup("home-2", "/id-mn2", "cse-mn2", ("water-heater", "heat-pump"),
              LoadProfile((250,) * 6 + (500, 1200, 1200) + (400,) * 8 + (1200, 1200) + (1500,) * 3 + (500, 500)),
              # Its meter's link is down from 10:00 to 14:00: the gateway notices the missing data.
              silent=(10.0, 14.0)),
)


@dataclass
class HomeDevices:
    """A home's devices once started, and the wiring they share."""

    setup: HomeSetup
    wiring: MemoryWiring
    meter: Meter
    appliances: list[Appliance]
    nodes: dict = field(default_factory=dict)       # kind -> nodes.Node


def _inside(entries: tuple[str, ...], t: str) -> bool:
    """Is the simulated time `t` (a stamp) inside the schedule `entries`?"""
    return Schedule(entries).contains(calendar.timegm(parse_stamp(t).timetuple()))


# -- the demo ------------------------------------------------------------------------------
class Demo:
    def __init__(self, args: argparse.Namespace, console: Console):
        self.args = args
        self.console = console
        self.homes = list(HOMES[:args.homes])
        if args.mqtt:
            # Topics name CSEs by ID: unique IDs keep demos that share a broker apart.
            tag = secrets.token_hex(2)
            self.homes = [replace(home, cse_id=f"{home.cse_id}-{tag}") for home in self.homes]
        self.cses: list[CseProcess] = []
        self.stack = contextlib.AsyncExitStack()
        self.summary: dict[str, Any] = {"ok": False}
        if args.workdir:
            self.workdir = Path(args.workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="hems-demo-"))

    def say(self, text: str) -> None:
        self.console.say("demo", text)

    async def client(self, url: str, originator: str, cse_rn: str, cse_id: str | None = None) -> CseClient:
        return await self.stack.enter_async_context(CseClient(url, originator=originator, cse_rn=cse_rn,
                                                              cse_id=cse_id))

    async def receiver(self, client: CseClient) -> NotificationInbox:
        """HTTP: a receiver of its own on a free port; MQTT: the client's broker connection."""
        return await self.stack.enter_async_context(receiver_for(client))

    async def managed_receiver(self, client: CseClient) -> tuple[NotificationInbox, Any]:
        """A receiver that answers management actions (client.device.ManagementAgent)."""
        receiver, agent = managed_receiver(client)
        return await self.stack.enter_async_context(receiver), agent

    async def device_client(self, home: HomeSetup, gateway: "CseProcess", originator: str) -> CseClient:
        """A device reaches its gateway over MQTT with --mqtt, over HTTP otherwise."""
        if self.args.mqtt:
            return await self.client(f"mqtt://{self.args.mqtt}", originator, home.rn, cse_id=home.cse_id)
        return await self.client(gateway.url, originator, home.rn)

    async def start_cses(self) -> tuple[CseProcess, dict[str, CseProcess]]:
        common = ["--port", "0", "--log-level", "WARNING"]
        mqtt = []
        if self.args.mqtt:
            host, _, port = self.args.mqtt.rpartition(":")
            mqtt = ["--mqtt-host", host, "--mqtt-port", port]
        platform = CseProcess("platform (IN-CSE)", ["--config", str(HERE / "platform.toml"), *common,
                                                    "--data-dir", str(self.workdir / "platform")],
                              self.workdir / "platform.log")
        self.cses.append(platform)
        await platform.start()
        self.say(f"platform IN-CSE {PLATFORM} at {platform.url} (pid {platform.pid})")
        gateways = {}
        for home in self.homes:
            gateway = CseProcess(f"gateway of {home.name}", [
                "--config", str(HERE / "gateway.toml"), *common, "--data-dir", str(self.workdir / home.name),
                "--cse-id", home.cse_id, "--rn", home.rn, "--registrar-url", platform.url, *mqtt],
                self.workdir / f"{home.name}.log")
            self.cses.append(gateway)
            gateways[home.name] = gateway
        await asyncio.gather(*(gateway.start() for gateway in gateways.values()))
        for home in self.homes:
            if not await reachable_through(platform.url, home.gateway, timeout=20):
                raise RuntimeError(f"the gateway {home.cse_id} did not register with the platform\n"
                                   f"{gateways[home.name].log_tail()}")
            self.say(f"{home.name}: gateway MN-CSE {home.cse_id} at {gateways[home.name].url} "
                     f"(pid {gateways[home.name].pid}), registered with {PLATFORM}")
        return platform, gateways

    async def run(self) -> dict[str, Any]:
        platform, gateways = await self.start_cses()
        self.summary["cse_pids"] = [cse.pid for cse in self.cses]
        homes = [await self.start_home(index, home, gateways[home.name]) for index, home in enumerate(self.homes)]
        app, phone, outsider = await self.start_applications(platform)
        kind, url, version = FIRMWARE
        rollout = await app.roll_out_firmware(kind, url)
        heat_pumps = [a for h in homes for a in h.appliances if a.name == kind]
        until = await self.simulate(homes, app, phone)
        truth = self.ground_truth(homes, until)
        executed = {f"{home.setup.name}/{a.name}": [e["cmd"] for e in a.executed if e["status"] == "done"]
                    for home in homes for a in home.appliances}
        acknowledged = [c for c in app.commands.values() if c.status == "done"]
        peak = app.peaks[0] if app.peaks else None
        received = [json.dumps(a, sort_keys=True) for a in phone.received]
        # What this run's simulated time covers: a meter's silence (home-2, 10:00-14:00, in a
        # run of two homes), the charging window (22:30) after the peak.
        silent = [home for home in homes if home.setup.silent and until >= DAY_START + timedelta(
            hours=home.setup.silent[1])]
        window_reached = until >= DAY_START + timedelta(hours=23)
        on_commands = [c for c in app.commands.values() if c.cmd == "on"]
        windows = {f"{h.setup.name}/{a.name}": a for h in homes for a in h.appliances if a.name in WINDOWS}
        checks = {
            "alert_raised": bool(app.peaks),
            "responsible_identified": bool(peak and peak["appliance"]),
            "alert_received_by_phone": bool(peak) and json.dumps(peak, sort_keys=True) in received,
            # The meter that fell silent: the gateway's missing-data notification reached the
            # energy application, whose alert reached the phone.
            "missing_data_alert_received_by_phone": all(
                any(a["home"] == h.setup.name and json.dumps(a, sort_keys=True) in received for a in app.missing)
                for h in silent),
            # binarySwitch off, then on, each executed by the appliance and shown in its
            # energyConsumption (power 0 after off, the rated draw after on).
            "command_acknowledged": any(c.cmd == "off" for c in acknowledged),
            "command_executed_by_appliance": any(executed.values()),
            "switch_off_shown_in_energy_consumption": any(
                c.cmd == "off" and c.shown_w == 0 and (c.before_w or 0) > 0 for c in acknowledged),
            "switch_on_shown_in_energy_consumption": any(
                c.cmd == "on" and (c.shown_w or 0) > 0 for c in acknowledged),
            # The charging window: every switch-on inside it (and the app read it).
            "schedule_respected": bool(on_commands) and all(
                _inside(WINDOWS[c.appliance], c.t) for c in on_commands if c.appliance in WINDOWS)
            and all(app.summary()["windows"].get(key) == list(WINDOWS[a.name]) for key, a in windows.items()),
            "outsider_refused": outsider.all_refused,
            # One UPDATE of the group's fopt reached every heat pump; each flashed the image and
            # reported it, and the app read the outcome per device (uds successful, the new vr).
            "firmware_rolled_out_to_every_heat_pump": bool(heat_pumps) and rollout["requests"] == 1
            and len(rollout["members"]) == len(heat_pumps)
            and all(a["rsc"] == 2004 for a in rollout["answers"]) and len(rollout["answers"]) == len(heat_pumps)
            and all(a.firmware == version for a in heat_pumps),
            "firmware_outcome_read_per_device": len(rollout["devices"]) == len(heat_pumps) and all(
                d["outcome"] == "successful" and d["uds"].get("acn") == "ud" and d["vr"] == version
                for d in rollout["devices"]),
            "every_device_has_a_node": all(
                set(h.nodes) == {"gateway", "meter", *h.setup.appliances} for h in homes),
        }
        # Checks this run's scenario does not reach are left out (and named), never passed idly.
        skipped = ([] if silent else ["missing_data_alert_received_by_phone"]) + (
            [] if window_reached else ["switch_on_shown_in_energy_consumption", "schedule_respected"])
        for name in skipped:
            del checks[name]
        self.summary.update(app.summary())
        self.summary.update({
            "ok": all(checks.values()),
            "checks": checks,
            "checks_not_reached": skipped,
            "simulated": {"start": DAY_START.isoformat(), "hours": self.args.hours, "speed": self.speed},
            "threshold_kw": self.args.threshold_kw,
            "device_transport": "mqtt" if self.args.mqtt else "http",
            "alerts_received": {"phone": phone.received},
            "executed": executed,
            "outsider": outsider.attempts,
            "readings_posted": {home.setup.name: home.meter.posted for home in homes},
            "readings_skipped": {home.setup.name: home.meter.skipped for home in homes},
            "meter_period_ms": homes[0].meter.period_ms if homes else None,
            "energy_consumption_shown": {f"{home.setup.name}/{a.name}": a.shown[-4:]
                                         for home in homes for a in home.appliances if a.name in WINDOWS},
            "truth": truth,
        })
        self._print_outcome(checks, acknowledged)
        return self.summary

    @property
    def speed(self) -> float:
        return self.args.hours * 3600 / self.args.seconds

    async def start_home(self, index: int, home: HomeSetup, gateway: CseProcess) -> "HomeDevices":
        """The meter and the appliances of a home, set up on its gateway, sharing its wiring."""
        args = self.args
        wiring = MemoryWiring()
        suffix = "" if index == 0 else str(index + 1)          # AE-IDs: CMeter, CMeter2, ...
        prefix = f"{home.name}/" if len(self.homes) > 1 else ""
        originators = {kind: "C" + "".join(p.capitalize() for p in kind.split("-")) + suffix
                       for kind in home.appliances}
        nodes = await self.install_nodes(home, gateway, {"meter": f"CMeter{suffix}", **originators})
        meter = Meter(await self.device_client(home, gateway, f"CMeter{suffix}"), wiring,
                      Console(prefix=prefix, quiet=index > 0 and not args.verbose),
                      name="meter", profile=home.profile, interval=args.interval, speed=self.speed,
                      silent=home.silent, node=nodes["meter"].ri)
        await meter.setup()
        appliances = []
        for kind in home.appliances:
            client = await self.device_client(home, gateway, originators[kind])
            receiver, agent = await self.managed_receiver(client)
            appliance = Appliance(client, receiver, wiring, CATALOGUE[kind], Console(prefix=prefix),
                                  interval=args.interval, agent=agent, node=nodes[kind].ri)
            await appliance.setup()
            appliances.append(appliance)
        return HomeDevices(home, wiring, meter, appliances, nodes)

    async def install_nodes(self, home: HomeSetup, gateway: CseProcess, owners: dict[str, str]) -> dict:
        """The installer (the gateway's admin) makes the gateway's node (hcl: its CSEBase)
        and one per device, each with deviceInfo, firmware and battery (nodes.py)."""
        installer = await self.client(gateway.url, "CAdmin", home.rn)
        readers = [f"{PLATFORM}/{ENERGY_APP}"]
        base = await installer.retrieve(home.rn)
        nodes = {"gateway": await provision(installer, home.rn, "gateway", owner="", readers=readers,
                                            hcl=base["ri"])}
        for kind, owner in owners.items():
            nodes[kind] = await provision(installer, home.rn, kind, owner=owner, readers=readers)
        self.say(f"{home.name}: nodes {', '.join(n.rn for n in nodes.values())} on {home.cse_id}, "
                 f"each with deviceInfo, firmware and battery")
        return nodes

    async def start_applications(self, platform: CseProcess) -> tuple[EnergyApp, Phone, Outsider]:
        """The energy application, the phone app reading its alerts, and the outsider's attempts."""
        client = await self.client(platform.url, ENERGY_APP, "cse-in")
        app = EnergyApp(client, await self.receiver(client), self.console,
                        {home.name: home.gateway for home in self.homes}, threshold_w=self.args.threshold_kw * 1000,
                        alert_readers=["CPhone"])
        await app.setup()
        client = await self.client(platform.url, "CPhone", "cse-in")
        phone = Phone(client, await self.receiver(client), self.console)
        await phone.setup()
        outsider = Outsider(await self.client(platform.url, "COutsider", "cse-in"), self.console)
        await outsider.setup()
        first = self.homes[0]
        await outsider.probe(first.gateway, meter="meter", appliance=first.appliances[-1], alerts=app.alerts_container)
        return app, phone, outsider

    async def simulate(self, homes: list["HomeDevices"], app: EnergyApp, phone: Phone) -> datetime:
        """Run the simulated time; return when all of it was posted and notified."""
        args = self.args
        clock = SimClock(DAY_START, self.speed, epoch=time.time() + 0.3)
        until = DAY_START + timedelta(hours=args.hours)
        transport = f"MQTT via {args.mqtt}" if args.mqtt else "HTTP"
        self.say(f"devices talk to their gateways over {transport}; gateways and platform over HTTP")
        self.say(f"simulating {args.hours:g} h of {DAY_START:%Y-%m-%d} in {args.seconds:g} s "
                 f"(a reading every {args.interval / 60:g} simulated minutes); peak threshold "
                 f"{args.threshold_kw:g} kW per home")
        stop = asyncio.Event()
        background = [asyncio.create_task(app.run(stop)), asyncio.create_task(phone.run())]
        devices = [asyncio.create_task(home.meter.run(clock, until)) for home in homes]
        devices += [asyncio.create_task(a.run(clock, until)) for home in homes for a in home.appliances]
        try:
            await asyncio.gather(*devices)
            # Everything was posted; let the last notifications and acknowledgements arrive.
            # (A day closes, and is summarised, once every device reported past midnight.)
            if not await app.wait_for(lambda: app.caught_up(until), timeout=10):
                self.say("not every reading or acknowledgement arrived within 10 s after the simulated time")
            await app.report_partial_days(before=until)
            await app.wait_for(lambda: len(phone.received) >= len(app.alerts), timeout=5)
            if len(phone.received) < len(app.alerts):     # the phone's own notifications still on their way
                deadline = time.monotonic() + 5
                while len(phone.received) < len(app.alerts) and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            for task in devices + background:
                task.cancel()
            await asyncio.gather(*devices, *background, return_exceptions=True)
        return until

    def ground_truth(self, homes: list["HomeDevices"], until: datetime) -> dict[str, dict]:
        """What the simulated homes really drew on the first simulated day (up to `until`)."""
        midnight = datetime.combine(DAY_START.date() + timedelta(days=1), datetime.min.time())
        end = min(until, midnight)
        truth = {}
        for home in homes:
            drawn = home.setup.profile.energy_wh(DAY_START, end) + home.wiring.energy_between(DAY_START, end)
            truth[home.setup.name] = {
                "kwh": round(drawn / 1000, 3),
                "appliances": {a.name: round(home.wiring.energy_between(DAY_START, end, a.name) / 1000, 3)
                               for a in home.appliances},
            }
        return truth

    def _print_outcome(self, checks: dict[str, bool], acknowledged: list) -> None:
        for home, numbers in self.summary["truth"].items():
            details = ", ".join(f"{name} {kwh(v * 1000)}" for name, v in numbers["appliances"].items())
            self.say(f"{home} actually drew {kwh(numbers['kwh'] * 1000)} ({details}) on {DAY_START:%Y-%m-%d}")
        if acknowledged:
            times = ", ".join(f"{c.appliance} {c.cmd} {c.rtt_ms:.0f} ms" for c in acknowledged)
            self.say(f"command round trips: {times}")
        failed = [name for name, ok in checks.items() if not ok]
        self.say("all checks passed" if not failed else f"FAILED: {', '.join(failed)}")

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.stack.aclose()
        await asyncio.gather(*(cse.stop() for cse in reversed(self.cses)), return_exceptions=True)
        if not self.args.keep and not self.args.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            self.say(f"data and logs kept in {self.workdir}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.hems", description=__doc__.split("\n\n")[0],
                                     epilog="See examples/README.md.")
    parser.add_argument("--homes", type=int, default=2, choices=range(1, len(HOMES) + 1),
                        help=f"number of homes (gateways) to simulate (default 2, at most {len(HOMES)})")
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours from midnight (default 24)")
    parser.add_argument("--seconds", type=float, default=12.0, help="real seconds they take (default 12)")
    parser.add_argument("--interval", type=float, default=900.0,
                        help="simulated seconds between periodic readings (default 900)")
    parser.add_argument("--threshold-kw", type=float, default=8.0, help="peak threshold per home (default 8.0)")
    parser.add_argument("--mqtt", default="", metavar="HOST:PORT",
                        help="devices talk to their gateway over MQTT through this broker (default: HTTP)")
    parser.add_argument("--summary", default="", help="also write the JSON summary to this file")
    parser.add_argument("--keep", action="store_true", help="keep the CSEs' data directories and logs")
    parser.add_argument("--workdir", default="", help="put the CSEs' data and logs here and keep them "
                                                      "(default: a temporary directory, removed at the end)")
    parser.add_argument("--verbose", action="store_true", help="print the meter readings of every home")
    args = parser.parse_args(argv)
    if args.hours <= 0 or args.seconds <= 0 or args.interval <= 0 or args.threshold_kw <= 0:
        parser.error("--hours, --seconds, --interval and --threshold-kw must be positive")
    if args.mqtt and not re.fullmatch(r"[\w.-]+:\d+", args.mqtt):
        parser.error(f"--mqtt {args.mqtt!r}: give the broker as HOST:PORT, e.g. 127.0.0.1:1883")
    return args


async def run(args: argparse.Namespace, console: Console) -> int:
    demo = Demo(args, console)
    try:
        summary = await demo.run()
        code = 0 if summary["ok"] else 1
    except asyncio.CancelledError:
        demo.say("interrupted: stopping the CSEs")
        demo.summary["interrupted"] = True
        code = 130
    except (RuntimeError, CseUnreachable, RequestFailed, OSError) as exc:
        demo.say(f"error: {exc}")
        demo.summary["error"] = str(exc)
        code = 1
    except Exception as exc:                  # a bug: say where, still clean up and summarise
        traceback.print_exc()
        demo.summary["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    finally:
        await demo.close()
    text = json.dumps(demo.summary, default=str)
    print(f"HEMS-SUMMARY {text}", flush=True)
    if args.summary:
        Path(args.summary).write_text(text)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console()

    async def guarded() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        interrupted = False

        def interrupt() -> None:
            nonlocal interrupted
            if not interrupted:          # a second Ctrl-C must not cut the clean-up short
                interrupted = True
                task.cancel()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, interrupt)
        try:
            return await run(args, console)
        except asyncio.CancelledError:
            return 130

    return asyncio.run(guarded())
