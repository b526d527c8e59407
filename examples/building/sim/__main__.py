"""`python -m examples.building.sim`: run the simulated public building on loopback.

Starts the Modbus servers (one per device group) and the BACnet controller on free ports,
prints where each listens, then runs the simulated day against the wall clock (default:
one day in 60 s), printing one line per simulated hour and the day's ground truth at the
end (also as one JSON line, `BUILDING-SIM-TRUTH {...}`).  `--inventory FILE` writes the
endpoints and devices as JSON for a proxy; `--days 0` runs until interrupted.

Exit codes: 0 the run ended; 1 the servers could not start; 2 bad options; 130
interrupted (Ctrl-C or SIGTERM).  The servers are stopped on every way out.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from datetime import date

from .layout import BuildingSpec
from .profiles import WeatherDay

PREFIX = "building-sim:"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m examples.building.sim", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--floors", type=int, default=3)
    parser.add_argument("--zones", type=int, default=3, help="zones per floor")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--day", type=date.fromisoformat, default=date(2024, 7, 15), help="simulated date (YYYY-MM-DD)")
    parser.add_argument("--day-seconds", type=float, default=60.0, help="wall seconds per simulated day (default 60)")
    parser.add_argument("--days", type=float, default=1.0, help="simulated days to run; 0: until interrupted")
    parser.add_argument("--start-hour", type=float, default=0.0, help="simulated start time (a quarter hour)")
    parser.add_argument("--step", type=float, default=30.0, help="simulated seconds per physics step (divides 900)")
    parser.add_argument("--mean-temp", type=float, default=27.0, help="mean outdoor temperature of the day, degC")
    parser.add_argument("--no-bacnet", action="store_true", help="Modbus only")
    parser.add_argument("--inventory", metavar="FILE", help="write endpoints and devices as JSON")
    parser.add_argument("--quiet", action="store_true", help="no hourly lines")
    args = parser.parse_args(argv)
    if args.day_seconds <= 0 or args.days < 0:
        parser.error("--day-seconds must be positive and --days not negative")
    return args


def hourly_line(building) -> str:
    m = building.model
    main = m.meters["meter-main"]
    zone_temps = [z.temperature for z in m.zones.values()]
    people = sum(z.occupancy for z in m.zones.values())
    return (f"[{m.clock()}] outdoor {m.weather_station.outdoor_temp:4.1f} degC, {people:3d} people, "
            f"zones {min(zone_temps):4.1f}-{max(zone_temps):4.1f} degC; main {main.active_power:6.1f} kW "
            f"(chillers {m.meters['meter-plant'].active_power:5.1f} kW), last 15 min {main.demand:6.1f} kW")


def truth_lines(building) -> list[str]:
    m, truth = building.model, building.model.truth
    e = truth.energy_kwh
    floors = ", ".join(f"floor {f} {e[f'meter-floor-{f}']:.1f}" for f in m.ahus)
    peak = truth.peak()
    lines = [f"{PREFIX} ground truth over {truth.elapsed_s / 3600:.2f} h: building {e['meter-main']:.1f} kWh "
             f"(chillers {e['meter-plant']:.1f}, common {e['meter-common']:.1f}, {floors})"]
    if peak is not None:
        lines.append(f"{PREFIX} peak demand {peak.demand_kw:.1f} kW in the 15 minutes from {peak.label()}")
    names = ["meter-main", "meter-plant", "meter-common", *[f"meter-floor-{f}" for f in m.ahus],
             *[f"meter-{f}-{z}" for f, z in m.zones]]
    lines.append("BUILDING-SIM-TRUTH " + json.dumps(truth.summary(names), separators=(",", ":")))
    return lines


async def serve(args: argparse.Namespace, spec: BuildingSpec) -> int:
    from .building import SimulatedBuilding  # the protocol stacks: only once the options are good

    building = SimulatedBuilding(spec, host=args.host, bacnet=not args.no_bacnet, start_hour=args.start_hour)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await building.start()
    except OSError as exc:
        print(f"{PREFIX} cannot start the servers: {exc}", file=sys.stderr)
        return 1
    try:
        for group, server in building.servers.items():
            names = [d.name for d in server.devices.values()]
            print(f"{PREFIX} modbus {group:<17} {args.host}:{server.port:<6} units "
                  f"{','.join(map(str, sorted(server.devices)))} ({names[0]}..{names[-1]})")
        if building.bacnet is not None:
            print(f"{PREFIX} bacnet {'bms-controller':<17} {building.bacnet_address():<12} device "
                  f"{building.bacnet.device_instance} (AHUs and zone sensors)")
        if args.inventory:
            with open(args.inventory, "w") as out:
                json.dump(building.inventory(), out, indent=1)
            print(f"{PREFIX} inventory written to {args.inventory}")
        until = building.model.t + args.days * 86400.0 if args.days else None
        span = f"{args.days:g} day(s)" if args.days else "until interrupted"
        print(f"{PREFIX} simulating {spec.day} from {building.model.clock()}, {span}, one day in "
              f"{args.day_seconds:g} s (seed {spec.seed}, step {spec.step_s:g} s)", flush=True)
        runner = building.start_clock(args.day_seconds, until)
        next_hour = (int(building.model.t // 3600) + 1) * 3600.0
        while not runner.done():
            waiter = asyncio.ensure_future(building.wait_until(next_hour, timeout=3600.0))
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopping, runner}, return_when=asyncio.FIRST_COMPLETED)
            for task in (waiter, stopping):
                task.cancel()
            if stop.is_set():
                print(f"{PREFIX} interrupted at {building.model.clock()}")
                for line in truth_lines(building):
                    print(line)
                return 130
            if building.model.t >= next_hour - 1e-6:
                if not args.quiet:
                    print(hourly_line(building), flush=True)
                next_hour += 3600.0
        runner.result()
        for line in truth_lines(building):
            print(line)
        return 0
    finally:
        await building.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        spec = BuildingSpec(floors=args.floors, zones_per_floor=args.zones, seed=args.seed, day=args.day,
                            step_s=args.step, weather=WeatherDay(mean_temp=args.mean_temp))
        if not 0.0 <= args.start_hour < 24.0 or (args.start_hour * 3600.0) % 900.0:
            raise ValueError("--start-hour must be a quarter hour in [0, 24)")
    except ValueError as exc:  # a bad combination of options (BuildingSpec says which)
        print(f"{PREFIX} {exc}", file=sys.stderr)
        return 2
    for noisy in ("pymodbus", "bacpypes3"):  # their per-request error logs drown the output
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    return asyncio.run(serve(args, spec))


if __name__ == "__main__":
    sys.exit(main())
