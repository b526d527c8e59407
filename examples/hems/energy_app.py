"""The energy application on the platform (an AE on the IN-CSE): watches the homes'
gateways, keeps daily consumption per home and per appliance, and manages peaks.

Set-up:
* register with a notification receiver;
* containers `alerts` (hems:alerts) and `daily` (hems:daily) under its AE, readable and
  subscribable by the applications named with `--alert-reader` (a consumer's phone app) and
  by nobody else;
* for each home gateway (`--home home-1=/id-mn/cse-mn`): discover, through the platform,
  the meter's timeSeries (ty 29, label hems:meter), the appliances' readings (hems:appliance),
  their TS-0023 device models (flexContainers, hems:device: the `binarySwitch` and
  `energyConsumption` modules below) and their allowed windows (schedules, hems:window);
  subscribe to the meter's readings (net 3), to its missing data (net 8, with `md`), to the
  appliances' readings and to their `energyConsumption` (net 1).  The subscriptions live on
  the gateway; their notifications name this AE (/id-in/CEnergyApp) and reach it through
  the platform.

Then, for each notification:
* a meter reading: the day's consumption of the home (from the energy register); over the
  threshold it is a peak: the appliances' draws are read now (RETRIEVE of their latest
  reading), the one responsible is chosen (energy.responsible), switched off (UPDATE of its
  `binarySwitch` `state` to false) and an alert goes to `alerts`;  when the load leaves room
  again, an appliance switched off is switched on (`state` true; energy.resumable), but only
  inside its allowed window when it has one (its schedule's `se`);
* missing data of a meter (net 8): an alert "missing-data" to `alerts` (the phone shows it);
* an appliance reading: its consumption, and its draw history;
* an energyConsumption update after a command: the command's round trip is complete
  (written, executed, shown), printed with its time.
A day whose readings are all in (every source reported on a later day) is summarised once,
printed and written to `daily`.

Run alone (see examples/README.md):
    python -m examples.hems.energy_app --cse http://127.0.0.1:8080 --home home-1=/id-mn/cse-mn
"""
from __future__ import annotations

import argparse
import asyncio
import calendar
import time
from datetime import date, datetime
from typing import Any, Callable

from client import CseClient, CseUnreachable, Notification, NotificationInbox, RequestFailed, receiver_for, subscriber
from cse.schedule_entries import Schedule

from .common import ALERTS, APPLIANCE, DAILY, DEVICE, ENERGY_APP, METER, WINDOW, Console, cse_options, kw, kwh, run_role
from .energy import DailyEnergy, Decision, HomeLoad
from .homes import Command, Device, Home, device_of, dgt_key, parse_homes
from .nodes import roll_out_firmware
from .timestamps import parse_stamp, stamp


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
        self.missing: list[dict] = []            # missing-data alerts
        self.rollouts: list[dict] = []           # firmware roll-outs, with the outcome per device
        self.missing_points: dict[str, int] = {}  # home -> readings the gateway reported missing
        self.deferred: list[dict] = []           # switch-ons put off until the allowed window
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
        meters = await self.client.discover(home.gateway, ty=29, labels=[METER])
        readings = await self.client.discover(home.gateway, ty=3, labels=[APPLIANCE])
        models = await self.client.discover(home.gateway, ty=28, labels=[DEVICE])
        windows = await self.client.discover(home.gateway, ty=18, labels=[WINDOW])
        for address in meters:
            if home.meter is None:
                home.meter = Device(device_of(home, address), address)
        for address in readings:
            name = device_of(home, address)
            home.appliances.setdefault(name, Device(name, address))
        for address in models:
            device = home.appliances.get(device_of(home, address))
            if device is not None:
                device.model = address
        for address in windows:
            device = home.appliances.get(device_of(home, address))
            if device is not None and device.window is None:
                se = (await self.client.retrieve(address)).get("se", {}).get("sce", [])
                try:
                    device.window = Schedule(se, where=address)
                except Exception as exc:         # the CSE validated it; say it anyway
                    self.say(f"{device.name}: cannot read its window {se!r}: {exc}")
                    continue
                device.window_text = list(se)
                self.say(f"{home.name}: {device.name} may be switched on only in {' | '.join(se)}")
        watched = []
        if home.meter:
            watched += [("meter", home.meter, home.meter.power, {}),
                        ("missing", home.meter, home.meter.power,
                         {"net": (8,), "enc_md": {"num": 1, "dur": "PT1H"}})]
        for device in home.appliances.values():
            watched.append(("appliance", device, device.power, {}))
            if device.model:
                watched.append(("consumption", device, device.consumption, {"net": (1,)}))
        new = [w for w in watched if (w[0], w[2]) not in home.subscribed]
        for kind, device, address, options in new:
            sub = await self._subscribe(address, kind, options)
            self._routes[sub["ri"]] = (home, kind, device)
            home.subscribed.add((kind, address))
        if new:
            meter = home.meter.name if home.meter else "no meter"
            appliances = ", ".join(sorted(home.appliances)) or "none"
            self.say(f"{home.name} ({home.gateway}): found {meter}, appliances {appliances}; "
                     f"{len(home.subscribed)} subscriptions")

    async def _subscribe(self, address: str, kind: str, options: dict) -> dict:
        """net 8 (missing data) with `md`: one notification per missing reading, at once
        (num 1) within a window of an hour; the others the defaults."""
        rn = "energy-app" if kind in ("meter", "appliance") else f"energy-app-{kind}"
        if kind == "missing":
            return await self.client.create(address, {"m2m:sub": {
                "rn": rn, "nu": [await self.client.notification_target()],
                "enc": {"net": [8], "md": options["enc_md"]}, "nct": 5}}, exist_ok=True)
        return await self.client.subscribe(address, rn=rn, net=options.get("net", (3,)), exist_ok=True)

    # -- device management ----------------------------------------------------------------
    async def roll_out_firmware(self, kind: str, url: str, *, timeout: float = 30.0) -> dict:
        """Update the firmware of every `kind` device of every home with one request through
        a group (nodes.roll_out_firmware); the outcome per device is in the result."""
        result = await roll_out_firmware(self.client, [h.gateway for h in self.homes.values()], kind, url,
                                         say=self.say, timeout=timeout)
        self.rollouts.append(result)
        return result

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
        if route is None or not isinstance(note.resource, dict):
            return
        home, kind, device = route
        if kind == "missing":
            if note.event == 8:
                await self._missing_data(home, device, note.resource)
        elif kind == "consumption":
            if note.event == 1:
                self._shown(home, device, note.resource)
        elif note.event == 3 and note.resource.get("ty") in (4, 30):     # a reading, not a sibling subscription
            content = note.resource.get("con")
            try:
                t = parse_stamp(content["t"])
            except (TypeError, KeyError, ValueError):
                self.say(f"ignoring a malformed reading from {device.name}: {content!r}")
                return
            if kind == "meter":
                if isinstance(note.resource.get("dgt"), str):
                    home.dgts.append(dgt_key(note.resource["dgt"]))
                await self._meter_reading(home, t, content)
            else:
                watts = float(content.get("w", 0))
                self.energy.add_power(f"{home.name}/{device.name}", t, watts)
                home.load.appliance_reading(device.name, t, watts)
            await self._close_days(home)
        else:
            return
        self.handled += 1
        self._changed.set()

    async def _missing_data(self, home: Home, meter: Device, tsn: dict) -> None:
        """The gateway says readings of the meter did not come (mdlt: their expected dgt,
        wall clock): alert, with the simulated time of the last reading we had."""
        points = [dgt_key(p) for p in tsn.get("mdlt", []) if isinstance(p, str)]
        self.missing_points[home.name] = self.missing_points.get(home.name, 0) + len(points)
        # One alert per outage: an outage is named by the last reading before it (its dgt;
        # the gateway reports each missed reading `mdt` after it was due, so points of an
        # outage also come in after the meter is back).
        gaps = {max((d for d in home.dgts if d < point), default="") for point in points}
        new = gaps - home.outages
        if not new:
            return                   # alerted already for this outage
        home.outages |= new
        last = self.energy.last_reading(home.name)
        alert = {"type": "missing-data", "home": home.name, "t": stamp(last) if last else "",
                 "meter": meter.name, "missing": len(points), "mdc": tsn.get("mdc"), "mdlt": points}
        self.say(f"MISSING DATA from {home.name}/{meter.name}: the reading expected at {', '.join(points)} "
                 f"(gateway clock) did not come; the last one was of {last:%H:%M}" if last else
                 f"MISSING DATA from {home.name}/{meter.name}", last)
        await self.client.add_instance(self.alerts_container, alert, cnf="application/json:0")
        self.alerts.append(alert)
        self.missing.append(alert)

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
            if device.window is not None and not device.window.contains(calendar.timegm(t.timetuple())):
                if not home.deferring:
                    self.say(f"{home.name} has room again, but {device.name} stays off until its allowed window "
                             f"({' | '.join(device.window_text)})", t)
                home.deferring = True
                self.deferred.append({"home": home.name, "appliance": device.name, "t": stamp(t)})
                return               # asked again at the next reading
            home.deferring = False
            room = kw(self.threshold_w - home.load.margin_w)
            self.say(f"{home.name} has room again ({kw(decision.total_w)} + {kw(decision.appliance_w)} <= {room}); "
                     f"{device.name} -> switch on", t)
        if not device.model:
            self.say(f"{device.name} takes no commands (no device model with a binarySwitch found)", t)
            return
        ref = f"cmd-{len(self.commands) + 1}"
        command = Command(ref, home.name, device.name, cmd, time.monotonic(), t=stamp(t),
                          before_w=decision.appliance_w)
        self.commands[ref] = command
        try:
            await self.client.update(device.switch, {"cod:binSh": {"state": cmd == "on"}})
        except RequestFailed as failed:
            del self.commands[ref]
            self.refusals.append(f"UPDATE {device.switch}: {failed.rsc}")
            self.say(f"the command to {device.name} was refused: {failed}", t)
            return
        home.load.sent(decision, t)
        if decision.action == "shed":
            await self._alert(home, t, decision, action=f"switch off {device.name}", command=ref)

    async def _alert(self, home: Home, t: datetime, decision: Decision, action: str, command: str = "") -> None:
        alert = {"type": "peak", "home": home.name, "t": stamp(t), "kw": round(decision.total_w / 1000, 2),
                 "threshold_kw": round(self.threshold_w / 1000, 2), "appliance": decision.appliance,
                 "appliance_kw": round(decision.appliance_w / 1000, 2), "action": action}
        if command:
            alert["command"] = command
        await self.client.add_instance(self.alerts_container, alert, cnf="application/json:0")
        self.alerts.append(alert)
        self.peaks.append(alert)

    def _shown(self, home: Home, device: Device, module: dict) -> None:
        """energyConsumption changed: the pending command to that device, if the change
        shows it carried out (off: no power drawn; on: the first change after it)."""
        power = module.get("power")
        if not isinstance(power, (int, float)):
            return
        for command in self.commands.values():
            if command.home != home.name or command.appliance != device.name or command.status != "pending":
                continue
            if command.cmd == "off" and power > 0:
                continue             # a change from before the command, still on its way
            command.rtt_ms = (time.monotonic() - command.sent) * 1000
            command.status = "done"
            command.shown_w = float(power)
            home.load.acknowledged(device.name, command.cmd, True)
            self.say(f"{device.name} switched {command.cmd}: energyConsumption shows {kw(power)}; "
                     f"round trip {command.rtt_ms:.0f} ms")

    def _expire_commands(self) -> None:
        now = time.monotonic()
        for command in self.commands.values():
            if command.status == "pending" and now - command.sent > self.ack_timeout:
                command.status = "no answer"
                self.homes[command.home].load.acknowledged(command.appliance, command.cmd, False)
                self.say(f"{command.appliance} did not show {command.cmd} in its energyConsumption "
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
            "commands": [{"ri": c.ri, "home": c.home, "appliance": c.appliance, "cmd": c.cmd, "t": c.t,
                          "status": c.status, "before_w": c.before_w, "shown_w": c.shown_w,
                          "rtt_ms": None if c.rtt_ms is None else round(c.rtt_ms, 1)} for c in self.commands.values()],
            "missing_data": self.missing,
            "firmware_rollouts": self.rollouts,
            "missing_readings": self.missing_points,
            "deferred_switch_on": self.deferred,
            "windows": {f"{home.name}/{d.name}": d.window_text for home in self.homes.values()
                        for d in home.appliances.values() if d.window_text},
            "days": self.days,
            "refused_to_energy_app": self.refusals,
        }


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
                        help="seconds to wait for the energyConsumption to show a command (default 10)")
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
