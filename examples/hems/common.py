"""What the roles of the home energy example share: the labels by which the energy
application finds devices, the readable console output, and the command-line options for
reaching a CSE and for simulated time.  Nothing here sends a request."""
from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime
from typing import Awaitable, Callable, TextIO

from .house import SimClock

# Labels (lbl) the devices put on their containers; the energy application discovers by them.
METER = "hems:meter"                # whole-home power and energy readings
APPLIANCE = "hems:appliance"        # an appliance's power readings
DEVICE = "hems:device"              # an appliance's TS-0023 device model (a flexContainer)
WINDOW = "hems:window"              # an appliance's allowed operating window (a schedule)
ALERTS = "hems:alerts"              # the energy application's alerts
DAILY = "hems:daily"                # its daily consumption summaries

ENERGY_APP = "CEnergyApp"           # the energy application's AE-ID on the platform
PLATFORM = "/id-in"                 # the platform's (IN-CSE's) CSE-ID


class Console:
    """Readable lines, one per event: "[18:30] energy-app: PEAK ...".  The time in
    brackets is simulated time, when the event has one."""

    def __init__(self, out: TextIO | None = None, *, quiet: bool = False, prefix: str = ""):
        self.out = out or sys.stdout
        self.quiet = quiet
        self.prefix = prefix            # e.g. "home-2/" when several homes speak

    def say(self, role: str, text: str, t: datetime | None = None) -> None:
        if self.quiet:
            return
        when = f"[{t:%H:%M}] " if t is not None else ""
        print(f"{when}{self.prefix}{role}: {text}", file=self.out, flush=True)


def kw(watts: float) -> str:
    return f"{watts / 1000:.1f} kW"


def kwh(wh: float) -> str:
    return f"{wh / 1000:.1f} kWh"


# -- command lines of the roles ----------------------------------------------------------
def cse_options(parser: argparse.ArgumentParser, *, url: str, cse_id: str, rn: str, originator: str) -> None:
    group = parser.add_argument_group("the CSE this AE registers with")
    group.add_argument("--cse", default=url, help=f"its point of access, http://host:port or mqtt://broker:port "
                                                  f"(default {url})")
    group.add_argument("--cse-id", default=cse_id, help=f"its CSE-ID (default {cse_id})")
    group.add_argument("--cse-rn", default=rn, help=f"its CSEBase name (default {rn})")
    group.add_argument("--originator", default=originator, help=f"this AE's AE-ID (default {originator})")


def clock_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("simulated time (give devices of one home the same values)")
    group.add_argument("--start", default="", help="simulated start, e.g. 2024-06-01T00:00 (default: now)")
    group.add_argument("--speed", type=float, default=1.0,
                       help="simulated seconds per real second (default 1: real time; 7200: a day in 12 s)")
    group.add_argument("--epoch", type=float, default=None,
                       help="wall-clock time (Unix seconds) at which the simulation was at --start "
                            "(default: when this process starts)")
    group.add_argument("--hours", type=float, default=None, help="stop after this many simulated hours")


def clock_from(args: argparse.Namespace, parser: argparse.ArgumentParser) -> SimClock:
    """The simulated clock the options describe; bad values stop the program with a usage error."""
    if args.speed <= 0:
        parser.error(f"--speed must be positive, not {args.speed:g}")
    if args.hours is not None and args.hours <= 0:
        parser.error(f"--hours must be positive, not {args.hours:g}")
    if getattr(args, "interval", 1) <= 0:
        parser.error(f"--interval must be positive, not {args.interval:g}")
    try:
        start = datetime.fromisoformat(args.start) if args.start else datetime.now().replace(microsecond=0)
    except ValueError:
        parser.error(f"--start {args.start!r}: give a date and time such as 2024-06-01T18:00")
    return SimClock(start, args.speed, args.epoch)


def run_role(main: Callable[[], Awaitable[None]]) -> None:
    """`asyncio.run(main())` for a role's command line: Ctrl-C and SIGTERM (a service
    manager, `timeout`) end it quietly, after its clean-up (`finally`, `async with`) ran."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
