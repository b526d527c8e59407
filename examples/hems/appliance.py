"""Appliance firmware (a water heater, an EV charger, ...): an AE on the home energy
gateway that reports its power draw and obeys on/off commands.

Set-up (idempotent):
* register as an AE with a notification receiver (its poa);
* containers `power` (hems:appliance: its draw, a reading at every change and
  periodically), `command` (hems:command: commands to it) and `ack` (hems:ack: its
  acknowledgements);
* two access control policies for the energy application (`--grant`): find, read and
  subscribe to `power` and `ack`; find `command` and add commands to it (CREATE of
  contentInstances only: it cannot read, change or delete anything there);
* a subscription (net 3) to its own `command` container, so each command is notified.

A command is a contentInstance {"cmd": "off" | "on", "reason": ...}.  The appliance obeys
("off" stops it until "on"; its own schedule decides when it wants power), reports its new
draw, and adds an acknowledgement {"ref": <the command's ri>, "cmd", "status": "done" |
"rejected", "state", "w", "t"} to `ack`.

It reports a new draw before the wiring changes (as of the reported time), so the platform
never sees a meter total that no appliance reading explains yet.

Run alone against a gateway (see examples/README.md):
    python -m examples.hems.appliance ev-charger --cse http://127.0.0.1:8081 --speed 600 --wiring /tmp/home1
"""
from __future__ import annotations

import argparse
import asyncio
from datetime import datetime, timedelta

from client import (CseClient, CseUnreachable, Notification, NotificationInbox, RequestFailed, commander, receiver_for,
                    subscriber)

from .common import (ACK, APPLIANCE, COMMAND, ENERGY_APP, PLATFORM, Console, clock_from, clock_options, cse_options, kw,
                     run_role)
from .house import ApplianceModel, ApplianceSpec, FileWiring, MemoryWiring, SimClock, Wiring
from .timestamps import stamp

COMMANDS = ("off", "on")

# The appliances of the simulation (house.ApplianceSpec): name -> spec.
CATALOGUE = {
    "water-heater": ApplianceSpec("water-heater", 3000, ((2.0, 4.5), (17.0, 18.0)), label="water heater"),
    "ev-charger": ApplianceSpec("ev-charger", 7200, ((18.5, 24.0),), needs_wh=30_000, label="EV charger"),
    "heat-pump": ApplianceSpec("heat-pump", 2000, ((6.0, 8.0), (16.0, 22.0)), label="heat pump"),
}


class Appliance:
    def __init__(self, client: CseClient, receiver: NotificationInbox, wiring: Wiring, spec: ApplianceSpec,
                 console: Console, *, grant_to: list[str] | None = None, interval: float = 900.0):
        self.client = client
        self.receiver = receiver
        self.wiring = wiring
        self.model = ApplianceModel(spec)
        self.console = console
        self.name = spec.name
        self.grant_to = grant_to if grant_to is not None else [f"{PLATFORM}/{ENERGY_APP}"]
        self.interval = interval
        self.power = self.command = self.ack = ""
        self.executed: list[dict] = []       # commands carried out or refused, in order
        self.posted = 0                      # readings the gateway took
        self._failure = ""                   # why the last reading was not posted
        self._lock = asyncio.Lock()          # one change of state at a time
        self._clock: SimClock | None = None

    def say(self, text: str, t: datetime | None = None) -> None:
        self.console.say(self.name, text, t)

    async def setup(self) -> None:
        client = self.client
        await client.register(f"Nhems.{self.name}", rn=self.name, receiver=self.receiver)
        base = client.ae_address
        readings = await client.create_acp(base, rn="share-readings", rules=subscriber(self.grant_to))
        commands = await client.create_acp(base, rn="take-commands", rules=commander(self.grant_to))
        for rn, label, acp, kept in (("power", APPLIANCE, readings, 200), ("command", COMMAND, commands, 20),
                                     ("ack", ACK, readings, 20)):
            await client.create(base, {"m2m:cnt": {"rn": rn, "mni": kept, "lbl": [label], "acpi": [acp["ri"]]}},
                                exist_ok=True)
        self.power, self.command, self.ack = (f"{base}/{rn}" for rn in ("power", "command", "ack"))
        await client.subscribe(self.command, rn="obey", exist_ok=True)
        who = ", ".join(self.grant_to) or "nobody"
        self.say(f"registered as {client.originator}; takes commands in {self.command} from {who}")

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

    async def _obey(self) -> None:
        async for note in self.receiver:
            try:
                await self.execute(note)
            except Exception as exc:         # keep obeying later commands
                self.say(f"could not handle a notification: {exc}")

    async def execute(self, note: Notification) -> None:
        """One notification of the command container: carry the command out, acknowledge it."""
        if note.event != 3 or not isinstance(note.resource, dict) or "ri" not in note.resource:
            return
        ri = note.resource["ri"]
        content = note.resource.get("con")
        command = content.get("cmd") if isinstance(content, dict) else None
        async with self._lock:
            now = self._clock.now() if self._clock else datetime.now()
            if command not in COMMANDS:
                status, reason = "rejected", f"unknown command {command!r} (known: {', '.join(COMMANDS)})"
                watts = self.model.watts
            else:
                status, reason = "done", ""
                self.model.enabled = command == "on"
                watts = await self._update(now, why=command)
            state = "on" if self.model.enabled else "off"
            ack = {"ref": ri, "cmd": command, "status": status, "state": state, "w": round(watts), "t": stamp(now)}
            if reason:
                ack["reason"] = reason
            await self.client.add_instance(self.ack, ack, cnf="application/json:0")
        self.executed.append(ack)
        if status == "done":
            running = f"draws {kw(watts)}" if watts else "draws nothing"
            self.say(f"command {command} received -> {'enabled' if command == 'on' else 'switched off'}, "
                     f"{running}; acknowledged", now)
        else:
            self.say(f"command refused: {reason}; acknowledged", now)


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
