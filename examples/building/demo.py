"""One simulated day of a public building, end to end, in one command:

    python -m examples.building [--day-seconds 120]

1. starts the platform (IN-CSE) and the building gateway (MN-CSE) as real `python -m server`
   processes on free loopback ports; the gateway registers with the platform;
2. starts the simulated building: Modbus TCP servers per device group (chillers, AHUs, air
   conditioners, lighting, meters, sensors, weather) and a BACnet/IP controller (the AHUs and
   zone sensors), whose physics follow the loads;
3. starts the interworking proxy, an AE on the gateway that maps the devices into TS-0023
   flexContainers and reading series and turns commands into Modbus writes;
4. starts the energy application, an AE on the platform that reads the building only through
   oneM2M (SP-relative addresses of the gateway), computes usage, demand, carbon and the
   goal, keeps the alarm history, and controls the peak;
5. runs the day against the wall clock, with a device that stops answering in the morning and
   a sensor that reports nonsense before noon; the manager acknowledges the fault alarm;
6. prints the results next to the ground truth of the simulation, and a last line
   `BUILDING-SUMMARY {...}` (JSON; also written to --summary FILE).

With `--dashboard` the dashboard AE (examples/dashboard) runs too, with its own token on the
platform, and the page is at http://127.0.0.1:<--dashboard-port>/; `--linger` keeps everything
running after the day until Ctrl-C.  The workdir's `inventory.json` names the CSEs, the
dashboard and the simulated devices' ports.

Exit code 0 only if every check holds (usage and peak match the ground truth, both faults
were alarmed and cleared, the alarm was acknowledged, the peak control ran through the CSE
to the chillers and lowered the peak below what the same day gives without it); 1 otherwise;
130 on Ctrl-C.  The CSE processes and the servers are stopped on every way out.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import tempfile
import traceback
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from client import CseClient, CseUnreachable, NotificationReceiver, RequestFailed
from examples.dashboard.server import DashboardServer, Where, platform_credentials
from examples.hems.processes import CseProcess, reachable_through

from .energy_app import APP_ID, BuildingEnergyApp, Settings
from .proxy import InterworkingProxy, application_grants
from .sim.building import SimulatedBuilding
from .sim.layout import BuildingSpec
from .sim.model import BuildingModel

PROXY_ID = "CBuildingProxy"
DASHBOARD_ID = "CDashboard"
GATEWAY = "/id-mn/cse-mn"
POLL_SIM_SECONDS = 180.0          # the proxy reads every device every 3 simulated minutes
# Scripted field-bus trouble (simulated time): (hour, what).
FAULT_DEVICE, FAULT_FROM, FAULT_TO = "ac-2-2", 9.0, 9.5
BAD_SENSOR, BAD_FROM, BAD_TO = "sensor-1-3", 11.0, 11.25
ACK_AT = 12.0


class Demo:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.spec = BuildingSpec(day=args.day, seed=args.seed)
        self.start = datetime.combine(args.day, datetime.min.time())
        self.workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="building-demo-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.stack = contextlib.AsyncExitStack()
        self.summary: dict[str, Any] = {"ok": False}
        self.building: SimulatedBuilding | None = None
        self.platform_ws: str | None = None
        self.dashboard_token: str | None = None
        self.dashboard: DashboardServer | None = None

    def say(self, text: str, t: datetime | None = None) -> None:
        if not self.args.quiet:
            print(f"[{(t or self.now()):%H:%M}] {text}", flush=True)

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.building.model.t if self.building else 0.0)

    async def start_cses(self) -> tuple[CseProcess, CseProcess]:
        common = ["--port", "0", "--log-level", "WARNING"]
        platform = CseProcess("platform (IN-CSE)", [*common, "--data-dir", str(self.workdir / "platform"),
                                                    "--ws-port", "0", *self.dashboard_config()],
                              self.workdir / "platform.log")
        await platform.start()
        self.stack.push_async_callback(platform.stop)
        gateway = CseProcess("building gateway (MN-CSE)", [
            *common, "--data-dir", str(self.workdir / "gateway"), "--type", "MN", "--cse-id", "/id-mn",
            "--rn", "cse-mn", "--registrar-url", platform.url, "--registrar-id", "/id-in"],
            self.workdir / "gateway.log")
        await gateway.start()
        self.stack.push_async_callback(gateway.stop)
        if not await reachable_through(platform.url, GATEWAY, timeout=20):
            raise RuntimeError(f"the gateway did not register with the platform\n{gateway.log_tail()}")
        self.say(f"platform IN-CSE /id-in at {platform.url}; building gateway MN-CSE /id-mn at {gateway.url}, "
                 "registered with the platform")
        return platform, gateway

    def dashboard_config(self) -> list[str]:
        """With --dashboard: a platform config giving CDashboard its own token (hashed)."""
        if not self.args.dashboard:
            return []
        self.dashboard_token, config = platform_credentials(self.workdir, DASHBOARD_ID)
        return ["--config", str(config)]

    async def start_dashboard(self, platform: CseProcess, gateway: CseProcess, app: BuildingEnergyApp) -> None:
        assert self.building is not None
        inventory = {"platform": platform.url, "gateway": gateway.url, "platform_ws": self.platform_ws,
                     "dashboard": None, **self.building.inventory()}
        if self.args.dashboard and self.dashboard_token:
            self.dashboard = DashboardServer(platform.url, token=self.dashboard_token, port=self.args.dashboard_port,
                                             where=Where(app.base, f"{GATEWAY}/building-proxy"), ws_url=self.platform_ws)
            await self.dashboard.start()
            self.stack.push_async_callback(self.dashboard.stop)
            inventory["dashboard"] = self.dashboard.url
            self.say(f"dashboard: {self.dashboard.url} (AE {DASHBOARD_ID} on the platform, reading over "
                     f"{self.platform_ws})")
        (self.workdir / "inventory.json").write_text(json.dumps(inventory, indent=1))

    async def linger(self) -> None:
        """--linger: keep the CSEs, the building and the dashboard up until Ctrl-C."""
        self.say("the day is over; everything keeps running (Ctrl-C stops)")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()

    async def client(self, url: str, originator: str, cse_rn: str) -> tuple[CseClient, NotificationReceiver]:
        client = await self.stack.enter_async_context(CseClient(url, originator=originator, cse_rn=cse_rn))
        receiver = await self.stack.enter_async_context(NotificationReceiver())
        return client, receiver

    async def run(self) -> dict[str, Any]:
        platform, gateway = await self.start_cses()
        async with CseClient(platform.url, originator="CAdmin", cse_rn="cse-in") as admin:
            base = await admin.retrieve("cse-in")
        self.platform_ws = next((url for url in base.get("poa", []) if url.startswith("ws://")), None)
        self.building = await self.stack.enter_async_context(SimulatedBuilding(self.spec, bacnet=True,
                                                                                start_hour=self.args.start_hour))
        inventory = self.building.inventory()
        self.say(f"simulated building: {self.spec.floors} floors x {self.spec.zones_per_floor} zones, "
                 f"{len(inventory['devices'])} field devices on {len(inventory['modbus'])} Modbus servers")

        proxy_client, proxy_receiver = await self.client(gateway.url, PROXY_ID, "cse-mn")
        readers = [f"/id-in/{APP_ID}", f"/id-in/{DASHBOARD_ID}"]
        proxy = InterworkingProxy(proxy_client, inventory, grants=application_grants(readers), clock=self.now,
                                  on_alarm=lambda alarm: self.say(f"proxy: alarm {alarm['kind']}: {alarm['message']}"))
        proxy_receiver.on_notification = proxy.handle
        self.stack.push_async_callback(proxy.close)
        await proxy.setup(proxy_receiver)
        protocols = ", ".join(f"{n} over {p}" for p, n in sorted(proxy.protocols().items()))
        self.say(f"proxy: {len(proxy.devices)} devices ({protocols}) as TS-0023 flexContainers under "
                 f"{GATEWAY}/building-proxy")
        self.summary["protocols"] = proxy.protocols()

        app_client, app_receiver = await self.client(platform.url, APP_ID, "cse-in")
        settings = Settings(peak_limit_kw=self.args.peak_limit, goal_kwh=self.args.goal,
                            emission_factor=self.args.emission_factor)
        app = BuildingEnergyApp(app_client, f"{GATEWAY}/building-proxy", clock=self.now, settings=settings,
                                readers=[DASHBOARD_ID], say=lambda text: self.say(f"energy-app: {text}"))
        app_receiver.on_notification = app.handle
        await app.setup(app_receiver)
        self.say(f"energy-app: on the platform, following {len(app.meters)} meters and the alarms through "
                 f"{GATEWAY}")
        await self.start_dashboard(platform, gateway, app)
        await self.simulate(proxy, app)
        return await self.results(proxy, app)

    async def simulate(self, proxy: InterworkingProxy, app: BuildingEnergyApp) -> None:
        building = self.building
        assert building is not None
        day = 86400.0
        end = (self.args.start_hour + self.args.hours) * 3600.0
        await proxy.poll()
        # The simulation advances one poll period at a time and the proxy reads the devices in
        # between, paced to the wall clock (one day in --day-seconds) but never ahead of the
        # proxy: on a busy machine the day takes longer instead of the readings getting stale.
        loop = asyncio.get_running_loop()
        wall_per_poll = self.args.day_seconds * POLL_SIM_SECONDS / day
        started = loop.time()
        next_hour = 1.0
        events = {"fault": False, "fault_end": False, "bad": False, "bad_end": False, "ack": False}
        first = building.model.t
        while building.model.t < end - 1e-6:
            building.advance(POLL_SIM_SECONDS)
            polls = round((building.model.t - first) / POLL_SIM_SECONDS)
            await asyncio.sleep(max(0.0, started + polls * wall_per_poll - loop.time()))
            hour = building.model.t / 3600.0
            if hour >= FAULT_FROM and not events["fault"]:
                events["fault"] = True
                building.silence(FAULT_DEVICE)
                self.say(f"field bus: {FAULT_DEVICE} stops answering")
            if hour >= FAULT_TO and not events["fault_end"]:
                events["fault_end"] = True
                building.unsilence(FAULT_DEVICE)
            if hour >= BAD_FROM and not events["bad"]:
                events["bad"] = True
                building.bad_value(BAD_SENSOR, "temperature", 95.0)
                self.say(f"field bus: {BAD_SENSOR} reports 95 degC")
            if hour >= BAD_TO and not events["bad_end"]:
                events["bad_end"] = True
                building.bad_value(BAD_SENSOR, "temperature", None)
            if hour >= ACK_AT and not events["ack"]:
                fault = next((a for a in app.alarms if a["kind"] == "fault"), None)
                if fault is not None:
                    events["ack"] = True
                    await app.acknowledge(fault["id"], "facility-manager")
                    self.say(f"facility manager acknowledges alarm {fault['id']}")
            await proxy.poll()
            if hour >= next_hour:
                latest = app.meters["meter-main"].latest
                self.say(f"main meter {latest.kw if latest else 0:.1f} kW; intervals {len(app.demand)}, "
                         f"alarms {len(app.alarms)}, peak control {'on' if app.control.active else 'off'}")
                next_hour = float(int(hour) + 1)
                if self.args.dashboard:
                    await app.publish_usage()   # the day's carbon so far, for the page
        await asyncio.sleep(1.0)                # let the last notifications arrive
        await app.finish()

    async def results(self, proxy: InterworkingProxy, app: BuildingEnergyApp) -> dict[str, Any]:
        building = self.building
        assert building is not None
        truth = building.model.truth.summary()
        shadow = BuildingModel(self.spec, start_hour=self.args.start_hour)
        shadow.advance(self.args.hours * 3600.0)
        uncontrolled = shadow.truth.peak("meter-main")
        figures = await app.publish_usage()
        energy = truth["energy_kwh"]

        def close(measured: float, real: float, tolerance: float) -> bool:
            return abs(measured - real) <= tolerance * max(real, 1e-9)
        peak_truth = truth["peak"]["meter-main"]
        fault_alarms = [a for a in app.alarms if a.get("device") == FAULT_DEVICE]
        bad_alarms = [a for a in app.alarms if a.get("device") == BAD_SENSOR]
        acked = [a for a in app.alarms if a.get("id") in app.acks]
        chiller_commands = [c for c in proxy.commands if c["device"].startswith("chiller") and c["result"] == "written"]
        checks = {
            "usage_matches_truth": close(figures["building_kwh"], energy["meter-main"], 0.01)
            and all(close(v, energy[k], 0.02) for k, v in {**figures["floors_kwh"], **figures["zones_kwh"]}.items()),
            "peak_matches_truth": figures["peak"] is not None and close(figures["peak"]["kw"], peak_truth["demand_kw"], 0.01)
            and figures["peak"]["start"] == peak_truth["start"],
            "fault_alarmed_and_cleared": {a["kind"] for a in fault_alarms} >= {"fault", "recovered"},
            "bad_value_alarmed_and_cleared": {a["kind"] for a in bad_alarms} >= {"bad-value", "recovered"},
            "alarm_acknowledged": bool(acked),
            "peak_control_reached_the_chillers": bool(app.control.actions) and bool(chiller_commands),
            "peak_control_lowered_the_peak": uncontrolled is not None
            and peak_truth["demand_kw"] < uncontrolled.demand_kw,
        }
        self.say(f"usage: building {figures['building_kwh']:.1f} kWh (truth {energy['meter-main']:.1f}); "
                 + ", ".join(f"{k.removeprefix('meter-')} {v:.1f}" for k, v in figures["floors_kwh"].items()))
        if figures["peak"]:
            self.say(f"maximum demand {figures['peak']['kw']:.1f} kW from {figures['peak']['start']} "
                     f"(truth {peak_truth['demand_kw']:.1f} kW from {peak_truth['start']}); without peak control "
                     f"the same day peaks at {uncontrolled.demand_kw if uncontrolled else 0:.1f} kW")
        self.say(f"carbon {figures['carbon_kg']:.0f} kg CO2 at {self.args.emission_factor} kg/kWh; goal "
                 f"{self.args.goal:.0f} kWh {'met' if figures['goal_met'] else 'exceeded'}")
        self.say(f"alarms {len(app.alarms)} ({', '.join(sorted({a['kind'] for a in app.alarms}))}), acknowledged "
                 f"{len(acked)}; peak-control commands {len(app.control.actions)}, written to devices "
                 f"{len([c for c in proxy.commands if c['result'] == 'written'])}")
        for name, ok in checks.items():
            self.say(f"check {name}: {'ok' if ok else 'FAILED'}")
        self.summary = {"ok": all(checks.values()), "checks": checks, "usage": figures, "truth": truth,
                        "uncontrolled_peak_kw": round(uncontrolled.demand_kw, 3) if uncontrolled else None,
                        "alarms": app.alarms, "acks": list(app.acks.values()),
                        "control_actions": len(app.control.actions),
                        "commands_written": len([c for c in proxy.commands if c["result"] == "written"]),
                        "platform_ws": self.platform_ws, "protocols": proxy.protocols()}
        return self.summary

    async def close(self) -> None:
        await self.stack.aclose()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    from datetime import date
    parser = argparse.ArgumentParser(prog="python -m examples.building", description=__doc__.split("\n\n")[0])
    parser.add_argument("--day-seconds", type=float, default=120.0, help="wall seconds per simulated day (default 120)")
    parser.add_argument("--day", type=date.fromisoformat, default=date(2024, 7, 15), help="simulated date")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--start-hour", type=int, default=0, help="simulated start, a whole hour (default 0)")
    parser.add_argument("--hours", type=int, default=24, help="simulated hours to run (default 24)")
    parser.add_argument("--peak-limit", type=float, default=150.0, help="kW above which peak control acts")
    parser.add_argument("--goal", type=float, default=1900.0, help="the building's daily goal, kWh")
    parser.add_argument("--emission-factor", type=float, default=0.45, help="kg CO2 per kWh (default 0.45)")
    parser.add_argument("--workdir", help="where the CSEs keep data and logs (default: a temporary directory)")
    parser.add_argument("--summary", help="also write the summary JSON to this file")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--dashboard", action="store_true", help="also run the dashboard (examples/dashboard)")
    parser.add_argument("--dashboard-port", type=int, default=8765, help="the dashboard's port (default 8765; 0 = any)")
    parser.add_argument("--linger", action="store_true", help="after the day keep everything running until Ctrl-C")
    args = parser.parse_args(argv)
    if args.day_seconds < 20:
        parser.error("--day-seconds must be at least 20 (the proxy polls every 3 simulated minutes)")
    if not (0 <= args.start_hour < 24 and 1 <= args.hours <= 24 - args.start_hour):
        parser.error("--start-hour must lie in 0..23 and --hours in 1..(24 - start hour)")
    return args


async def run(args: argparse.Namespace) -> int:
    demo = Demo(args)
    try:
        summary = await demo.run()
        code = 0 if summary["ok"] else 1
        if args.linger:
            await demo.linger()
    except asyncio.CancelledError:
        demo.summary["interrupted"] = True
        code = 130
    except (RuntimeError, CseUnreachable, RequestFailed, OSError) as exc:
        print(f"error: {exc}", flush=True)
        demo.summary["error"] = str(exc)
        code = 1
    except Exception as exc:                  # a bug: say where, still clean up and summarise
        traceback.print_exc()
        demo.summary["error"] = f"{type(exc).__name__}: {exc}"
        code = 1
    finally:
        await demo.close()
    text = json.dumps(demo.summary, default=str)
    print(f"BUILDING-SUMMARY {text}", flush=True)
    if args.summary:
        Path(args.summary).write_text(text)
    return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)      # a silent device is ours to report

    async def guarded() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, task.cancel)
        try:
            return await run(args)
        except asyncio.CancelledError:
            return 130

    return asyncio.run(guarded())
