"""Smart meter firmware: an AE on the home energy gateway that posts the whole home's power
and energy register periodically.

Set-up (idempotent, so a restarted meter keeps its AE and data):
* register as an AE (fixed AE-ID, e.g. CMeter);
* an `<accessControlPolicy>` that lets the energy application (`--grant`, by the ID the
  gateway sees: /id-in/CEnergyApp) find, read and subscribe to the readings, and nothing
  else (no writing, no deleting, no other container);
* a container `power` labelled hems:meter, protected by that policy.

Every `--interval` simulated seconds a reading {"t", "w", "wh"} is added: the time, the
power now and the energy register.  The meter measures the home's wiring (see house.py),
never another AE.

Run alone against a gateway (see examples/README.md):
    python -m examples.hems.meter --cse http://127.0.0.1:8081 --speed 600 --wiring /tmp/home1
"""
from __future__ import annotations

import argparse
from datetime import datetime, timedelta

from client import CseClient, CseUnreachable, RequestFailed, subscriber

from .common import ENERGY_APP, METER, PLATFORM, Console, clock_from, clock_options, cse_options, kw, kwh, run_role
from .house import FileWiring, LoadProfile, MemoryWiring, SimClock, Wiring
from .timestamps import stamp

READINGS_KEPT = 200         # mni: a day of 15-minute readings and some


class Meter:
    def __init__(self, client: CseClient, wiring: Wiring, console: Console, *, name: str = "meter",
                 profile: LoadProfile | None = None, grant_to: list[str] | None = None,
                 interval: float = 900.0, register_wh: float = 12_345_000.0):
        self.client = client
        self.wiring = wiring
        self.console = console
        self.name = name
        self.profile = profile or LoadProfile()
        self.grant_to = grant_to if grant_to is not None else [f"{PLATFORM}/{ENERGY_APP}"]
        self.interval = interval
        self.register_start_wh = register_wh
        self.power: str = ""                 # address of the readings container
        self.posted = 0
        self.first: tuple[datetime, float] | None = None     # (t, register) of the first reading
        self.last: tuple[datetime, float] | None = None

    def say(self, text: str, t: datetime | None = None) -> None:
        self.console.say(self.name, text, t)

    async def setup(self) -> None:
        client = self.client
        await client.register("Nhems.meter", rn=self.name)
        acp = await client.create_acp(client.ae_address, rn="share-readings", rules=subscriber(self.grant_to))
        await client.create(client.ae_address, {"m2m:cnt": {
            "rn": "power", "mni": READINGS_KEPT, "lbl": [METER], "acpi": [acp["ri"]]}}, exist_ok=True)
        self.power = f"{client.ae_address}/power"
        who = ", ".join(self.grant_to) or "nobody"
        self.say(f"registered as {client.originator}; readings in {self.power}, readable by {who} only")

    async def run(self, clock: SimClock, until: datetime | None = None) -> None:
        """Post a reading every `interval` simulated seconds, from the clock's start (on
        the grid start + k x interval) until `until` (inclusive)."""
        begin = max(clock.now(), clock.start)
        late = timedelta(seconds=self.interval / 2)     # a reading due just before we started: post it
        t0_energy = self.wiring.energy_wh(begin)
        k = 0
        printed_w: float | None = None
        printed_hour: int | None = None
        failure = ""                                    # why the last reading was not posted
        while True:
            due = clock.start + timedelta(seconds=k * self.interval)
            k += 1
            if due < begin - late:
                continue
            if until is not None and due > until:
                return
            await clock.sleep_until(due)
            now = clock.now()
            watts = self.wiring.total_w() + self.profile.watts(now)
            register = self.register_start_wh + self.wiring.energy_wh(now) - t0_energy \
                + self.profile.energy_wh(begin, now)
            if self.last is not None:
                # An appliance switches as of the time it reported, one round trip ago; a
                # reading taken within that round trip counted the old draw a little longer.
                # A register never runs backwards: it waits until the energy catches up.
                register = max(register, self.last[1])
            try:
                await self.client.add_instance(self.power, {"t": stamp(now), "w": round(watts),
                                                            "wh": round(register, 1)}, cnf="application/json:0")
            except (RequestFailed, CseUnreachable) as exc:
                # The gateway restarts, say: this reading is lost, the register is not (the
                # next one carries it); measuring goes on.
                if str(exc) != failure:
                    self.say(f"could not post a reading: {exc}", now)
                failure = str(exc)
                continue
            if failure:
                self.say("posting readings again", now)
                failure = ""
            self.posted += 1
            self.first = self.first or (now, register)
            self.last = (now, register)
            if printed_hour != now.hour or printed_w is None or abs(watts - printed_w) >= 1000:
                self.say(f"{kw(watts)}, register {kwh(register)}", now)
                printed_w, printed_hour = watts, now.hour


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.hems.meter", description=__doc__.split("\n\n")[0])
    cse_options(parser, url="http://127.0.0.1:8081", cse_id="/id-mn", rn="cse-mn", originator="CMeter")
    clock_options(parser)
    parser.add_argument("--name", default="meter", help="the AE's resource name (default meter)")
    parser.add_argument("--interval", type=float, default=900.0, help="simulated seconds between readings")
    parser.add_argument("--grant", action="append", default=None,
                        help=f"originator that may read the readings (default {PLATFORM}/{ENERGY_APP}; repeatable)")
    parser.add_argument("--wiring", default="", help="directory shared with the appliances' processes "
                                                     "(default: no appliances, the base load only)")
    args = parser.parse_args(argv)
    clock = clock_from(args, parser)
    wiring = FileWiring(args.wiring) if args.wiring else MemoryWiring()
    async with CseClient(args.cse, originator=args.originator, cse_rn=args.cse_rn, cse_id=args.cse_id) as client:
        meter = Meter(client, wiring, Console(), name=args.name, grant_to=args.grant, interval=args.interval)
        await meter.setup()
        until = clock.start + timedelta(hours=args.hours) if args.hours else None
        await meter.run(clock, until)


if __name__ == "__main__":
    run_role(main)
