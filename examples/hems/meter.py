"""Smart meter firmware: an AE on the home energy gateway that posts the whole home's power
and energy register periodically.

Set-up (idempotent, so a restarted meter keeps its AE and data):
* register as an AE (fixed AE-ID, e.g. CMeter);
* an `<accessControlPolicy>` that lets the energy application (`--grant`, by the ID the
  gateway sees: /id-in/CEnergyApp) find, read and subscribe to the readings, and nothing
  else (no writing, no deleting, no other container);
* a timeSeries (ty 29) `power` labelled hems:meter, protected by that policy, with the
  reporting period `pei` (the real, wall-clock time between two readings: the CSE checks
  for missing readings on its own clock) and missing-data detection on (`mdd`, `mdt`,
  `mdn`), so the gateway itself notices when the meter falls silent.

Every `--interval` simulated seconds a reading is added as a timeSeriesInstance: `dgt` is
the wall-clock time of the reading (on the grid the timeSeries expects), `con` is
{"t", "w", "wh"}: the simulated time, the power now and the energy register.  With
`--silent FROM-TO` (simulated hours) the meter posts nothing in that window, as a meter
whose link is down.  At the end of its run it pauses the detection (`mdd` false): a
meter that stops on purpose is not missing data.  The meter measures the home's wiring
(see house.py), never another AE.

Run alone against a gateway (see examples/README.md):
    python -m examples.hems.meter --cse http://127.0.0.1:8081 --speed 600 --wiring /tmp/home1
"""
from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone

from client import CseClient, CseUnreachable, RequestFailed, subscriber

from .common import ENERGY_APP, METER, PLATFORM, Console, clock_from, clock_options, cse_options, kw, kwh, run_role
from .house import FileWiring, LoadProfile, MemoryWiring, SimClock, Wiring
from .timestamps import stamp

READINGS_KEPT = 200         # mni: a day of 15-minute readings and some
MISSING_KEPT = 50           # mdn: the missed readings the timeSeries lists (mdlt)


def detection_ms(period_ms: int) -> int:
    """mdt: how late (wall clock) a reading may come before the gateway calls it missing.
    Generous against a loaded machine (at least 1.5 s, three periods), so only a meter that
    really falls silent is reported."""
    return max(1500, 3 * period_ms)


def dgt_stamp(wall: float) -> str:
    """A wall-clock time (Unix seconds) as a oneM2M timestamp in UTC, as the CSE's clock reads."""
    return datetime.fromtimestamp(wall, timezone.utc).strftime("%Y%m%dT%H%M%S,%f")


class Meter:
    def __init__(self, client: CseClient, wiring: Wiring, console: Console, *, name: str = "meter",
                 profile: LoadProfile | None = None, grant_to: list[str] | None = None,
                 interval: float = 900.0, register_wh: float = 12_345_000.0, speed: float = 1.0,
                 silent: tuple[float, float] | None = None, node: str = ""):
        self.client = client
        self.wiring = wiring
        self.console = console
        self.name = name
        self.profile = profile or LoadProfile()
        self.speed = speed                      # simulated seconds per real second
        # pei: the real time between two readings, in whole ms (at least 1).
        self.period_ms = max(1, round(interval / speed * 1000))
        self.silent = silent                    # (from, to) simulated hours without readings
        self.skipped = 0                        # readings not posted because silent
        self.node = node                        # the ri of its <node> (nodes.py), linked with nl
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
        await client.register("Nhems.meter", rn=self.name, **({"nl": self.node} if self.node else {}))
        acp = await client.create_acp(client.ae_address, rn="share-readings", rules=subscriber(self.grant_to))
        detection = {"pei": self.period_ms, "mdt": detection_ms(self.period_ms), "mdn": MISSING_KEPT}
        self.power = f"{client.ae_address}/power"
        made = await client.create(client.ae_address, {"m2m:ts": {
            "rn": "power", "mni": READINGS_KEPT, "lbl": [METER], "acpi": [acp["ri"]], "mdd": True, **detection}},
            exist_ok=True)
        if any(made.get(name) != value for name, value in detection.items()) or not made.get("mdd"):
            # A restarted meter with another period: pause, change, resume (pei and mdt
            # change only while the detection is paused, TS-0004 7.4.38.2.3).
            await client.update(self.power, {"m2m:ts": {"mdd": False}})
            await client.update(self.power, {"m2m:ts": detection})
            await client.update(self.power, {"m2m:ts": {"mdd": True}})
        who = ", ".join(self.grant_to) or "nobody"
        self.say(f"registered as {client.originator}; readings in the timeSeries {self.power} "
                 f"(one every {self.period_ms} ms, missing-data detection after {detection['mdt']} ms), "
                 f"readable by {who} only")

    def is_silent(self, t: datetime) -> bool:
        if self.silent is None:
            return False
        hour = t.hour + t.minute / 60 + t.second / 3600
        return self.silent[0] <= hour < self.silent[1]

    async def pause_detection(self) -> None:
        """The meter stops on purpose: no missing data to report from now on."""
        try:
            await self.client.update(self.power, {"m2m:ts": {"mdd": False}})
        except (RequestFailed, CseUnreachable) as exc:
            self.say(f"could not pause the missing-data detection: {exc}")

    async def run(self, clock: SimClock, until: datetime | None = None) -> None:
        """Post a reading every `interval` simulated seconds, from the clock's start (on
        the grid start + k x interval) until `until` (inclusive); then pause the detection."""
        try:
            await self._run(clock, until)
        finally:
            await self.pause_detection()

    async def _run(self, clock: SimClock, until: datetime | None) -> None:
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
            if self.is_silent(due):
                if not self.is_silent(due - timedelta(seconds=self.interval)):
                    self.say("falls silent (its link is down): no readings for a while", due)
                self.skipped += 1
                continue
            if self.skipped and self.is_silent(due - timedelta(seconds=self.interval)):
                self.say("reports again", due)
            # dgt on the timeSeries' grid: reading k of the clock is expected k x pei after
            # the clock's epoch (wall clock), whatever the scheduling jitter of this task.
            dgt = dgt_stamp(clock.epoch + (k - 1) * self.period_ms / 1000)
            watts = self.wiring.total_w() + self.profile.watts(now)
            register = self.register_start_wh + self.wiring.energy_wh(now) - t0_energy \
                + self.profile.energy_wh(begin, now)
            if self.last is not None:
                # An appliance switches as of the time it reported, one round trip ago; a
                # reading taken within that round trip counted the old draw a little longer.
                # A register never runs backwards: it waits until the energy catches up.
                register = max(register, self.last[1])
            try:
                await self.client.create(self.power, {"m2m:tsi": {
                    "dgt": dgt, "snr": k - 1, "con": {"t": stamp(now), "w": round(watts), "wh": round(register, 1)}}})
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
    parser.add_argument("--silent", default="", metavar="FROM-TO",
                        help="simulated hours of the day without readings, e.g. 11-13 (default: none)")
    args = parser.parse_args(argv)
    clock = clock_from(args, parser)
    silent = None
    if args.silent:
        try:
            low, high = (float(part) for part in args.silent.split("-"))
        except ValueError:
            parser.error(f"--silent {args.silent!r}: give FROM-TO in hours, e.g. 11-13")
        if not 0 <= low < high <= 24:
            parser.error(f"--silent {args.silent!r}: need 0 <= FROM < TO <= 24")
        silent = (low, high)
    wiring = FileWiring(args.wiring) if args.wiring else MemoryWiring()
    async with CseClient(args.cse, originator=args.originator, cse_rn=args.cse_rn, cse_id=args.cse_id) as client:
        meter = Meter(client, wiring, Console(), name=args.name, grant_to=args.grant, interval=args.interval,
                      speed=args.speed, silent=silent)
        await meter.setup()
        until = clock.start + timedelta(hours=args.hours) if args.hours else None
        await meter.run(clock, until)


if __name__ == "__main__":
    run_role(main)
