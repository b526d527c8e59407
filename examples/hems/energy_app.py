"""The energy application on the platform (an AE on the IN-CSE): watches the homes'
gateways, keeps daily consumption per home and per appliance, and manages peaks.

Set-up:
* register with a notification receiver;
* containers `alerts` (hems:alerts) and `daily` (hems:daily) under its AE, readable and
  subscribable by the applications named with `--alert-reader` (a consumer's phone app) and
  by nobody else;
* for each home gateway (`--home home-1=/id-mn/cse-mn`): discover, through the platform,
  the meter (label hems:meter), the appliances (hems:appliance) and their command and
  acknowledgement containers (hems:command, hems:ack), and subscribe to the readings and
  the acknowledgements.  The subscriptions live on the gateway; their notifications name
  this AE (/id-in/CEnergyApp) and reach it through the platform.

Then, for each notification:
* a meter reading: the day's consumption of the home (from the energy register); over the
  threshold it is a peak: the appliances' draws are read now (RETRIEVE of their latest
  reading), the one responsible is chosen (energy.responsible), a switch-off command goes to
  its command container and an alert to `alerts`;  when the load leaves room again, an
  appliance switched off is switched on (energy.resumable);
* an appliance reading: its consumption, and its draw history;
* an acknowledgement: the command's round trip is complete (printed with its time).
A day whose readings are all in (every source reported on a later day) is summarised once,
printed and written to `daily`.

Run alone (see examples/README.md):
    python -m examples.hems.energy_app --cse http://127.0.0.1:8080 --home home-1=/id-mn/cse-mn
"""
from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

from client import (CseClient, CseUnreachable, Notification, NotificationInbox, RequestFailed, hosting_cse_prefix,
                    receiver_for, subscriber)

from .common import ACK, ALERTS, APPLIANCE, COMMAND, DAILY, ENERGY_APP, METER, Console, cse_options, kw, kwh, run_role
from .energy import DailyEnergy, Decision, HomeLoad
from .timestamps import parse_stamp, stamp


@dataclass
class Device:
    name: str
    power: str                  # SP-relative address of its readings container
    command: str = ""
    ack: str = ""


@dataclass
class Home:
    name: str
    gateway: str                # SP-relative address of the gateway's CSEBase, e.g. /id-mn/cse-mn
    load: HomeLoad
    meter: Device | None = None
    appliances: dict[str, Device] = field(default_factory=dict)
    subscribed: set[str] = field(default_factory=set)     # containers subscribed to
    problem: str = ""           # why its devices could not be looked for last time

    def keys(self) -> list[str]:
        """The consumption keys of this home: itself and each appliance."""
        return [self.name] + [f"{self.name}/{name}" for name in sorted(self.appliances)]


@dataclass
class Command:
    ri: str
    home: str
    appliance: str
    cmd: str
    sent: float                 # time.monotonic() when written
    status: str = "pending"     # done | rejected | no answer
    rtt_ms: float | None = None


class EnergyApp:
    def __init__(self, client: CseClient, receiver: NotificationInbox, console: Console, homes: dict[str, str], *,
                 threshold_w: float = 8000.0, margin_w: float = 200.0, min_off: float = 3600.0,
                 alert_readers: list[str] | None = None, ack_timeout: float = 10.0, name: str = "energy-app"):
        self.client = client
        self.receiver = receiver
        self.console = console
        self.name = name
        self.threshold_w = threshold_w
        self.alert_readers = alert_readers or []
        self.ack_timeout = ack_timeout
        self.homes = {home: Home(home, gateway, HomeLoad(threshold_w, margin_w, min_off))
                      for home, gateway in homes.items()}
        self.energy = DailyEnergy()
        self.alerts_container = self.daily_container = ""
        self.alerts: list[dict] = []
        self.peaks: list[dict] = []
        self.commands: dict[str, Command] = {}
        self.days: list[dict] = []               # daily summaries written, in order
        self.refusals: list[str] = []            # requests the gateways refused
        self.handled = 0
        self._routes: dict[str, tuple[Home, str, Device]] = {}   # subscription ri -> (home, kind, device)
        self._reported: set[tuple[str, date]] = set()
        self._changed = asyncio.Event()

    def say(self, text: str, t: datetime | None = None) -> None:
        self.console.say(self.name, text, t)

    # -- set-up -------------------------------------------------------------------------
    async def setup(self) -> None:
        client = self.client
        await client.register("Nhems.energy", rn="energy", receiver=self.receiver)
        acp = await client.create_acp(client.ae_address, rn="share-alerts", rules=subscriber(self.alert_readers)
                                      if self.alert_readers else [])
        for rn, label in (("alerts", ALERTS), ("daily", DAILY)):
            await client.create(client.ae_address, {"m2m:cnt": {"rn": rn, "mni": 100, "lbl": [label],
                                                                "acpi": [acp["ri"]]}}, exist_ok=True)
        self.alerts_container = f"{client.ae_address}/alerts"
        self.daily_container = f"{client.ae_address}/daily"
        readers = ", ".join(self.alert_readers) or "nobody else"
        self.say(f"registered as {client.originator}; alerts in {self.alerts_container} for {readers}")
        await self.discover_all()

    async def discover_all(self) -> None:
        """Look for new devices in every home.  A gateway that cannot be searched now (not
        registered with the platform yet, restarting, unreachable) is said once and tried
        again at the next look; the other homes go on."""
        for home in self.homes.values():
            try:
                await self.discover(home)
            except (RequestFailed, CseUnreachable) as exc:
                if str(exc) != home.problem:
                    self.say(f"{home.name} ({home.gateway}): cannot look for devices now: {exc}")
                home.problem = str(exc)
            else:
                if home.problem:
                    self.say(f"{home.name} ({home.gateway}): reachable again")
                home.problem = ""

    async def discover(self, home: Home) -> None:
        """Find the home's devices on its gateway and subscribe to what is new."""
        found = {}
        for label in (METER, APPLIANCE, COMMAND, ACK):
            found[label] = await self.client.discover(home.gateway, ty=3, labels=[label])
        for address in found[METER]:
            if home.meter is None:
                home.meter = Device(_device_of(address), address)
        for address in found[APPLIANCE]:
            name = _device_of(address)
            home.appliances.setdefault(name, Device(name, address))
        for label, attribute in ((COMMAND, "command"), (ACK, "ack")):
            for address in found[label]:
                device = home.appliances.get(_device_of(address))
                if device is not None:
                    setattr(device, attribute, address)
        watched = [("meter", home.meter, home.meter.power)] if home.meter else []
        for device in home.appliances.values():
            watched.append(("appliance", device, device.power))
            if device.ack:
                watched.append(("ack", device, device.ack))
        new = [(kind, device, address) for kind, device, address in watched if address not in home.subscribed]
        for kind, device, address in new:
            sub = await self.client.subscribe(address, rn="energy-app", exist_ok=True)
            self._routes[sub["ri"]] = (home, kind, device)
            home.subscribed.add(address)
        if new:
            meter = home.meter.name if home.meter else "no meter"
            appliances = ", ".join(sorted(home.appliances)) or "none"
            self.say(f"{home.name} ({home.gateway}): found {meter}, appliances {appliances}; "
                     f"subscribed to {len(home.subscribed)} containers")

    # -- the notification loop ----------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None, rediscover: float | None = None) -> None:
        """Handle notifications until `stop` is set (forever without it).  `rediscover`:
        seconds between looks for devices added to the gateways."""
        stop = stop or asyncio.Event()
        next_look = time.monotonic() + rediscover if rediscover else None
        while not stop.is_set():
            try:
                note = await self.receiver.next(timeout=0.2)
            except asyncio.TimeoutError:
                note = None
            if note is not None:
                try:
                    await self.handle(note)
                except (RequestFailed, CseUnreachable) as exc:
                    self.say(f"could not act on a notification: {exc}")
            self._expire_commands()
            if next_look is not None and time.monotonic() >= next_look:
                next_look = time.monotonic() + rediscover
                await self.discover_all()

    async def wait_for(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait (without polling) until `condition` holds after a notification was handled."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return condition()
        return True

    async def handle(self, note: Notification) -> None:
        route = self._routes.get((note.subscription or "").rsplit("/", 1)[-1])
        if route is None or note.event != 3 or not isinstance(note.resource, dict):
            return
        home, kind, device = route
        content = note.resource.get("con")
        try:
            t = parse_stamp(content["t"])
        except (TypeError, KeyError, ValueError):
            self.say(f"ignoring a malformed reading from {device.name}: {content!r}")
            return
        if kind == "meter":
            await self._meter_reading(home, t, content)
        elif kind == "appliance":
            watts = float(content.get("w", 0))
            self.energy.add_power(f"{home.name}/{device.name}", t, watts)
            home.load.appliance_reading(device.name, t, watts)
        else:
            self._acknowledgement(home, device, t, content)
        await self._close_days(home)
        self.handled += 1
        self._changed.set()

    async def _meter_reading(self, home: Home, t: datetime, content: dict) -> None:
        watts = float(content.get("w", 0))
        # The day's consumption of the home: from the energy register when the meter has
        # one (exact), else from its power readings; the latter is kept anyway to compare.
        self.energy.add_power(f"{home.name}#power", t, watts)
        if "wh" in content:
            self.energy.add_register(home.name, t, float(content["wh"]))
        else:
            self.energy.add_power(home.name, t, watts)
        load = home.load
        if load.over(watts):
            draws = {} if load.busy() else await self._draws_now(home)     # busy: nothing is decided
            decision = load.on_peak(t, watts, draws)
        else:
            decision = load.on_normal(t, watts)
        if decision is not None:
            await self._act(home, decision, t)

    async def _draws_now(self, home: Home) -> dict[str, float]:
        """What each appliance draws, from its latest reading, read now (RETRIEVE la)."""
        draws = {}
        for device in home.appliances.values():
            try:
                latest = (await self.client.latest(device.power))["con"]
                draws[device.name] = float(latest["w"])
                home.load.appliance_reading(device.name, parse_stamp(latest["t"]), draws[device.name])
            except RequestFailed as failed:
                self.refusals.append(f"RETRIEVE {device.power}/la: {failed.rsc}")
            except (KeyError, TypeError, ValueError):
                continue
        return draws

    async def _act(self, home: Home, decision: Decision, t: datetime) -> None:
        threshold = kw(self.threshold_w)
        if decision.action == "unresolved":
            self.say(f"PEAK {kw(decision.total_w)} > {threshold} at {home.name}; no appliance to switch off", t)
            await self._alert(home, t, decision, action="none")
            return
        device = home.appliances[decision.appliance]
        if decision.action == "shed":
            cmd, reason = "off", f"peak {kw(decision.total_w)} > {threshold}"
            self.say(f"PEAK {kw(decision.total_w)} > {threshold} at {home.name}; {device.name} draws "
                     f"{kw(decision.appliance_w)} -> switch off", t)
        else:
            cmd, reason = "on", f"load {kw(decision.total_w)} leaves room"
            room = kw(self.threshold_w - home.load.margin_w)
            self.say(f"{home.name} has room again ({kw(decision.total_w)} + {kw(decision.appliance_w)} <= {room}); "
                     f"{device.name} -> switch on", t)
        if not device.command:
            self.say(f"{device.name} takes no commands (no hems:command container found)", t)
            return
        try:
            written = await self.client.add_instance(device.command, {"cmd": cmd, "reason": reason, "t": stamp(t)},
                                                     cnf="application/json:0")
        except RequestFailed as failed:
            self.refusals.append(f"CREATE {device.command}: {failed.rsc}")
            self.say(f"the command to {device.name} was refused: {failed}", t)
            return
        self.commands[written["ri"]] = Command(written["ri"], home.name, device.name, cmd, time.monotonic())
        home.load.sent(decision, t)
        if decision.action == "shed":
            await self._alert(home, t, decision, action=f"switch off {device.name}", command=written["ri"])

    async def _alert(self, home: Home, t: datetime, decision: Decision, action: str, command: str = "") -> None:
        alert = {"type": "peak", "home": home.name, "t": stamp(t), "kw": round(decision.total_w / 1000, 2),
                 "threshold_kw": round(self.threshold_w / 1000, 2), "appliance": decision.appliance,
                 "appliance_kw": round(decision.appliance_w / 1000, 2), "action": action}
        if command:
            alert["command"] = command
        await self.client.add_instance(self.alerts_container, alert, cnf="application/json:0")
        self.alerts.append(alert)
        self.peaks.append(alert)

    def _acknowledgement(self, home: Home, device: Device, t: datetime, content: dict) -> None:
        command = self.commands.get(content.get("ref", ""))
        if command is None or command.status != "pending":
            return                   # not ours, or answered already
        command.rtt_ms = (time.monotonic() - command.sent) * 1000
        command.status = "done" if content.get("status") == "done" else "rejected"
        home.load.acknowledged(device.name, command.cmd, command.status == "done")
        extra = "" if command.status == "done" else f": {content.get('reason', 'no reason given')}"
        self.say(f"{device.name} acknowledged {command.cmd} ({command.status}{extra}); "
                 f"round trip {command.rtt_ms:.0f} ms", t)

    def _expire_commands(self) -> None:
        now = time.monotonic()
        for command in self.commands.values():
            if command.status == "pending" and now - command.sent > self.ack_timeout:
                command.status = "no answer"
                self.homes[command.home].load.acknowledged(command.appliance, command.cmd, False)
                self.say(f"no acknowledgement of {command.cmd} from {command.appliance} "
                         f"within {self.ack_timeout:.0f} s")

    # -- daily consumption --------------------------------------------------------------
    def consumption(self, home: Home, day: date) -> dict:
        return {"day": day.isoformat(), "home": home.name, "kwh": round(self.energy.wh(home.name, day) / 1000, 3),
                "kwh_from_power": round(self.energy.wh(f"{home.name}#power", day) / 1000, 3),
                "appliances": {name: round(self.energy.wh(f"{home.name}/{name}", day) / 1000, 3)
                               for name in sorted(home.appliances)}}

    async def _close_days(self, home: Home) -> None:
        for day in self.energy.complete_days(home.keys()):
            if (home.name, day) not in self._reported:
                self._reported.add((home.name, day))
                await self._report_day(home, day)

    async def _report_day(self, home: Home, day: date, partial: bool = False) -> None:
        summary = self.consumption(home, day)
        if partial:
            summary["partial"] = True
        appliances = ", ".join(f"{name} {kwh(v * 1000)}" for name, v in summary["appliances"].items())
        self.say(f"daily consumption {day.isoformat()}{' (so far)' if partial else ''}: {home.name} "
                 f"{kwh(summary['kwh'] * 1000)} ({kwh(summary['kwh_from_power'] * 1000)} from power readings); "
                 f"{appliances or 'no appliances'}")
        self.days.append(summary)
        await self.client.add_instance(self.daily_container, summary, cnf="application/json:0")

    async def report_partial_days(self, before: datetime | None = None) -> None:
        """At the end of a run: the days not complete yet, marked as such (only those that
        began before `before`: a run that ends at midnight has no next day to speak of)."""
        for home in self.homes.values():
            for day in self.energy.days():
                if before is not None and datetime.combine(day, datetime.min.time()) >= before:
                    continue
                if (home.name, day) not in self._reported and self.energy.wh(home.name, day) > 0:
                    self._reported.add((home.name, day))
                    await self._report_day(home, day, partial=True)

    def caught_up(self, t: datetime) -> bool:
        """Every device of every home has reported at or after `t`, and no command waits for
        its acknowledgement: nothing from before `t` is still on its way."""
        readings = all((last := self.energy.last_reading(key)) is not None and last >= t
                       for home in self.homes.values() for key in home.keys())
        return readings and all(command.status != "pending" for command in self.commands.values())

    def summary(self) -> dict[str, Any]:
        return {
            "homes": {home.name: {"gateway": home.gateway, "meter": home.meter.name if home.meter else None,
                                  "appliances": sorted(home.appliances)} for home in self.homes.values()},
            "peaks": self.peaks,
            "alerts_raised": len(self.alerts),
            "commands": [{"ri": c.ri, "home": c.home, "appliance": c.appliance, "cmd": c.cmd, "status": c.status,
                          "rtt_ms": None if c.rtt_ms is None else round(c.rtt_ms, 1)} for c in self.commands.values()],
            "days": self.days,
            "refused_to_energy_app": self.refusals,
        }


def _device_of(address: str) -> str:
    """.../<device AE>/<container> -> the device's name."""
    return address.rsplit("/", 2)[-2]


def parse_homes(values: list[str]) -> dict[str, str]:
    homes = {}
    for value in values:
        name, sep, gateway = value.partition("=")
        if not sep or not name or not gateway.startswith("/") or not hosting_cse_prefix(gateway):
            raise argparse.ArgumentTypeError(f"--home {value!r}: give NAME=/CSE-ID/CSEBASE, e.g. home-1=/id-mn/cse-mn")
        homes[name] = gateway
    return homes


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.hems.energy_app", description=__doc__.split("\n\n")[0])
    cse_options(parser, url="http://127.0.0.1:8080", cse_id="/id-in", rn="cse-in", originator=ENERGY_APP)
    parser.add_argument("--home", action="append", default=[], metavar="NAME=GATEWAY",
                        help="a home and its gateway's CSEBase, e.g. home-1=/id-mn/cse-mn (repeatable)")
    parser.add_argument("--threshold-kw", type=float, default=8.0, help="peak threshold per home (default 8.0)")
    parser.add_argument("--margin-kw", type=float, default=0.2,
                        help="room left under the threshold before an appliance is switched on again (default 0.2)")
    parser.add_argument("--min-off-hours", type=float, default=1.0,
                        help="simulated hours an appliance stays off at least (default 1)")
    parser.add_argument("--ack-timeout", type=float, default=10.0,
                        help="seconds to wait for an acknowledgement (default 10)")
    parser.add_argument("--alert-reader", action="append", default=[], help="AE-ID that may read and subscribe "
                                                                            "to the alerts (repeatable)")
    parser.add_argument("--rediscover", type=float, default=30.0, help="seconds between looks for new devices")
    args = parser.parse_args(argv)
    if args.threshold_kw <= 0 or args.margin_kw < 0 or args.min_off_hours < 0 or args.ack_timeout <= 0:
        parser.error("--threshold-kw and --ack-timeout must be positive, --margin-kw and --min-off-hours not negative")
    try:
        homes = parse_homes(args.home or ["home-1=/id-mn/cse-mn"])
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    async with CseClient(args.cse, originator=args.originator, cse_rn=args.cse_rn, cse_id=args.cse_id) as client:
        async with receiver_for(client) as receiver:
            app = EnergyApp(client, receiver, Console(), homes, threshold_w=args.threshold_kw * 1000,
                            margin_w=args.margin_kw * 1000, min_off=args.min_off_hours * 3600,
                            alert_readers=args.alert_reader, ack_timeout=args.ack_timeout)
            await app.setup()
            try:
                await app.run(rediscover=args.rediscover)
            finally:
                await app.report_partial_days()


if __name__ == "__main__":
    run_role(main)
