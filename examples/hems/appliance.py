"""Appliance firmware (a water heater, an EV charger, a heat pump): an AE on the home energy
gateway that reports its power draw and is switched on and off through its TS-0023 device
model.

Set-up (idempotent):
* register as an AE with a notification receiver (its poa);
* a container `power` (hems:appliance): its draw, a reading {"t", "w"} at every change and
  periodically (the simulated time of each draw, for the energy accounting);
* the device as a flexContainer `device` of its TS-0023 class (`MODELS`: the EV charger
  `deviceElectricVehicleCharger`, the water heater `deviceWaterHeater`; TS-0023 has no heat
  pump class, so the heat pump is a `deviceAirConditioner`, which the TS describes as
  "also an air-to-air heat pump"), labelled hems:device, with two of its modules as child
  flexContainers: `binarySwitch` (`state`: may it run?) and `energyConsumption` (`power`
  now in W, `abECn` its energy so far in Wh);
* for the EV charger, its allowed charging window as a `<schedule>` `chargingWindow`
  (hems:window) under its flexContainer: when the energy application may switch it back
  on after a peak;
* access control policies for the energy application (`--grant`): find, read and subscribe
  to `power`, the device, its `energyConsumption` and its schedule; find, read and UPDATE
  `binarySwitch` (and nothing else);
* a subscription (net 1) to its own `binarySwitch`: each UPDATE of `state` is notified;
* with `node` (the ri of its `<node>`, nodes.py), its AE links to it (`nl`): the gateway
  then delivers the node's management actions to it, and `managed_receiver` answers a
  firmware update (`ud` of its firmware mgmtObj): accepted for an https image, "flashed"
  in a moment, and reported (`uds` successful, the new `vr`) with client.device.

A command is an UPDATE of `binarySwitch` `state` (false: off, true: on).  The appliance
obeys ("off" stops it until "on"; its own schedule decides when it wants power), reports its
new draw in `power`, and shows it in `energyConsumption` (an UPDATE of `power` and `abECn`
after every command and every change of draw): that is how the energy application sees the
command carried out.

It reports a new draw before the wiring changes (as of the reported time), so the platform
never sees a meter total that no appliance reading explains yet.

Run alone against a gateway (see examples/README.md):
    python -m examples.hems.appliance ev-charger --cse http://127.0.0.1:8081 --speed 600 --wiring /tmp/home1
"""
from __future__ import annotations

import argparse
import asyncio
from datetime import datetime, timedelta

from client import (Access, ActionRefused, CseClient, CseUnreachable, ManagementAction, ManagementAgent, Notification,
                    NotificationInbox, RequestFailed, grant, receiver_for, subscriber)

from .common import (APPLIANCE, DEVICE, ENERGY_APP, PLATFORM, WINDOW, Console, clock_from, clock_options, cse_options,
                     kw, run_role)
from .house import ApplianceModel, ApplianceSpec, FileWiring, MemoryWiring, SimClock, Wiring
from .nodes import version_in
from .timestamps import stamp

COMMANDS = ("off", "on")
FLEX = 28                                   # flexContainer

# TS-0023 classes (schemas/device_models/): appliance -> (device root, cnd).  The heat pump
# is an air conditioner: TS-0023 has no heat pump class ("also an air-to-air heat pump").
MODELS = {
    "water-heater": ("hod:deWHr", "org.onem2m.home.device.deviceWaterHeater"),
    "ev-charger": ("ved:dEVCr", "org.onem2m.vehicular.device.deviceElectricVehicleCharger"),
    "heat-pump": ("hod:deACr", "org.onem2m.home.device.deviceAirConditioner"),
}
SWITCH = ("cod:binSh", "org.onem2m.common.moduleclass.binarySwitch")
CONSUMPTION = ("cod:eneCn", "org.onem2m.common.moduleclass.energyConsumption")

# The EV charger's allowed charging window (simulated local time; TS-0001 scheduleEntry:
# second minute hour day-of-month month day-of-week year): from 22:30 to 07:00.
CHARGING_WINDOW = ("* 30-59 22 * * * *", "* * 23 * * * *", "* * 0-6 * * * *")

# The appliances of the simulation (house.ApplianceSpec): name -> spec.
CATALOGUE = {
    "water-heater": ApplianceSpec("water-heater", 3000, ((2.0, 4.5), (17.0, 18.0)), label="water heater"),
    "ev-charger": ApplianceSpec("ev-charger", 7200, ((18.5, 24.0),), needs_wh=30_000, label="EV charger"),
    "heat-pump": ApplianceSpec("heat-pump", 2000, ((6.0, 8.0), (16.0, 22.0)), label="heat pump"),
}
WINDOWS = {"ev-charger": CHARGING_WINDOW}
FLASH_SECONDS = 0.3                         # how long "flashing" a firmware image takes


def managed_receiver(client: CseClient) -> tuple[NotificationInbox, ManagementAgent]:
    """A receiver whose management actions go to a ManagementAgent (the appliance adds its
    handlers) and whose other notifications (its subscriptions) queue up as usual."""
    agent = ManagementAgent(client)
    receiver = receiver_for(client, on_notification=agent)
    agent.others = receiver.queue.put_nowait
    return receiver, agent


class Appliance:
    def __init__(self, client: CseClient, receiver: NotificationInbox, wiring: Wiring, spec: ApplianceSpec,
                 console: Console, *, grant_to: list[str] | None = None, interval: float = 900.0,
                 agent: ManagementAgent | None = None, node: str = "", firmware: str = "1.0"):
        self.client = client
        self.receiver = receiver
        self.wiring = wiring
        self.model = ApplianceModel(spec)
        self.console = console
        self.name = spec.name
        self.grant_to = grant_to if grant_to is not None else [f"{PLATFORM}/{ENERGY_APP}"]
        self.interval = interval
        self.power = self.device = self.switch = self.consumption = ""
        self.executed: list[dict] = []       # commands carried out, in order
        self.shown: list[dict] = []          # energyConsumption updates, in order
        self.posted = 0                      # readings the gateway took
        self._failure = ""                   # why the last reading was not posted
        self._lock = asyncio.Lock()          # one change of state at a time
        self._clock: SimClock | None = None
        self.node = node
        self.firmware = firmware             # the version running
        self.firmware_updates: list[dict] = []
        if agent is not None:
            agent.handles("m2m:fwr", "ud")(self._update_firmware)

    def _update_firmware(self, action: ManagementAction):
        """A firmware update asked through the node: refuse what is not an https image of a
        version; accept the rest and flash it (the agent reports the outcome)."""
        url = str(action.resource.get("url", ""))
        version = version_in(url)
        if not url.startswith("https://") or not version:
            self.say(f"refuses the firmware update {url!r} (an https image of a version only)")
            raise ActionRefused(f"{self.name}: firmware only as an https image of a version, not {url!r}")
        self.say(f"firmware update {self.firmware} -> {version} accepted ({url}), flashing")

        async def flash() -> dict:
            await asyncio.sleep(FLASH_SECONDS)
            self.firmware_updates.append({"from": self.firmware, "to": version, "url": url})
            self.firmware = version
            self.say(f"runs firmware {version}")
            return {"vr": version}
        return flash()

    def say(self, text: str, t: datetime | None = None) -> None:
        self.console.say(self.name, text, t)

    async def setup(self) -> None:
        client = self.client
        await client.register(f"Nhems.{self.name}", rn=self.name, receiver=self.receiver,
                              **({"nl": self.node} if self.node else {}))
        base = client.ae_address
        readings = await client.create_acp(base, rn="share-readings", rules=subscriber(self.grant_to))
        commands = await client.create_acp(base, rn="take-commands", rules=[
            grant(self.grant_to, Access.RETRIEVE | Access.UPDATE | Access.DISCOVER)] if self.grant_to else [])
        await client.create(base, {"m2m:cnt": {"rn": "power", "mni": 200, "lbl": [APPLIANCE],
                                               "acpi": [readings["ri"]]}}, exist_ok=True)
        self.power = f"{base}/power"
        root, cnd = MODELS.get(self.name, MODELS["water-heater"])
        await client.create(base, {root: {"rn": "device", "cnd": cnd, "lbl": [DEVICE, f"hems:kind:{self.name}"],
                                          "acpi": [readings["ri"]]}}, ty=FLEX, exist_ok=True)
        self.device = f"{base}/device"
        await client.create(self.device, {SWITCH[0]: {"rn": "binarySwitch", "cnd": SWITCH[1], "state": True,
                                                      "acpi": [commands["ri"]]}}, ty=FLEX, exist_ok=True)
        await client.create(self.device, {CONSUMPTION[0]: {
            "rn": "energyConsumption", "cnd": CONSUMPTION[1], "power": 0.0, "abECn": 0.0, "mni": 50,
            "acpi": [readings["ri"]]}}, ty=FLEX, exist_ok=True)
        self.switch, self.consumption = f"{self.device}/binarySwitch", f"{self.device}/energyConsumption"
        window = WINDOWS.get(self.name)
        if window:
            await client.create(self.device, {"m2m:sch": {"rn": "chargingWindow", "se": {"sce": list(window)},
                                                          "lbl": [WINDOW], "acpi": [readings["ri"]]}}, exist_ok=True)
        await client.subscribe(self.switch, net=(1,), rn="obey", exist_ok=True)
        who = ", ".join(self.grant_to) or "nobody"
        extra = f"; charging window {' | '.join(window)}" if window else ""
        self.say(f"registered as {client.originator}; a {cnd.rsplit('.', 1)[-1]} switched through "
                 f"{self.switch} by {who}{extra}")

    async def run(self, clock: SimClock, until: datetime | None = None) -> None:
        """Follow the schedule and obey commands until `until`."""
        self._clock = clock
        commands = asyncio.create_task(self._obey())
        try:
            await self._follow_schedule(clock, until)
        finally:
            commands.cancel()
            await asyncio.gather(commands, return_exceptions=True)

    async def _follow_schedule(self, clock: SimClock, until: datetime | None) -> None:
        begin = max(clock.now(), clock.start)
        late = timedelta(seconds=self.interval / 2)
        k = 0
        while True:
            due = clock.start + timedelta(seconds=k * self.interval)
            k += 1
            if due < begin - late:
                continue
            if until is not None and due > until:
                return
            await clock.sleep_until(due)
            async with self._lock:
                await self._update(clock.now(), report_always=True)

    async def _update(self, now: datetime, *, report_always: bool = False, why: str = "") -> float:
        before = self.model.watts
        watts = self.model.advance(now)
        if watts != before or report_always:
            await self._report(now, watts)
        if watts != before:
            self.wiring.switch(self.name, watts, now)
            if not why:
                await self._show(now, watts)
                self.say(f"starts drawing {kw(watts)}" if watts else "has finished, draws nothing", now)
        return watts

    async def _report(self, now: datetime, watts: float) -> None:
        """Post a reading of the draw.  One the gateway does not take (it restarts, say) is
        lost, and said once; the appliance works on regardless."""
        try:
            await self.client.add_instance(self.power, {"t": stamp(now), "w": round(watts)}, cnf="application/json:0")
        except (RequestFailed, CseUnreachable) as exc:
            if str(exc) != self._failure:
                self.say(f"could not post a reading: {exc}", now)
            self._failure = str(exc)
            return
        if self._failure:
            self.say("posting readings again", now)
            self._failure = ""
        self.posted += 1

    async def _show(self, now: datetime, watts: float) -> None:
        """The draw in the device model: UPDATE of energyConsumption (power, abECn)."""
        values = {"power": float(round(watts)), "abECn": round(self.wiring.energy_wh(now, self.name), 1)}
        try:
            await self.client.update(self.consumption, {CONSUMPTION[0]: values})
        except (RequestFailed, CseUnreachable) as exc:
            self.say(f"could not update {self.consumption}: {exc}", now)
            return
        self.shown.append({"t": stamp(now), **values})

    async def _obey(self) -> None:
        async for note in self.receiver:
            try:
                await self.execute(note)
            except Exception as exc:         # keep obeying later commands
                self.say(f"could not handle a notification: {exc}")

    async def execute(self, note: Notification) -> None:
        """One notification of the binarySwitch (an UPDATE of `state`): carry it out, show it."""
        if note.event != 1 or not isinstance(note.resource, dict) or not isinstance(note.resource.get("state"), bool):
            return
        command = "on" if note.resource["state"] else "off"
        async with self._lock:
            now = self._clock.now() if self._clock else datetime.now()
            self.model.enabled = command == "on"
            watts = await self._update(now, why=command)
            await self._show(now, watts)
        done = {"cmd": command, "status": "done", "state": command, "w": round(watts), "t": stamp(now)}
        self.executed.append(done)
        running = f"draws {kw(watts)}" if watts else "draws nothing"
        self.say(f"binarySwitch state {str(command == 'on').lower()} -> "
                 f"{'enabled' if command == 'on' else 'switched off'}, {running}; shown in energyConsumption", now)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.hems.appliance", description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=sorted(CATALOGUE), help="which appliance to simulate")
    cse_options(parser, url="http://127.0.0.1:8081", cse_id="/id-mn", rn="cse-mn", originator="")
    clock_options(parser)
    parser.add_argument("--interval", type=float, default=900.0, help="simulated seconds between readings")
    parser.add_argument("--grant", action="append", default=None,
                        help=f"originator that may read and command (default {PLATFORM}/{ENERGY_APP}; repeatable)")
    parser.add_argument("--wiring", default="", help="directory shared with the meter's process")
    args = parser.parse_args(argv)
    spec = CATALOGUE[args.kind]
    originator = args.originator or "C" + "".join(part.capitalize() for part in spec.name.split("-"))
    clock = clock_from(args, parser)
    wiring = FileWiring(args.wiring) if args.wiring else MemoryWiring()
    async with CseClient(args.cse, originator=originator, cse_rn=args.cse_rn, cse_id=args.cse_id) as client:
        async with receiver_for(client) as receiver:
            appliance = Appliance(client, receiver, wiring, spec, Console(), grant_to=args.grant,
                                  interval=args.interval)
            await appliance.setup()
            until = clock.start + timedelta(hours=args.hours) if args.hours else None
            await appliance.run(clock, until)


if __name__ == "__main__":
    run_role(main)
