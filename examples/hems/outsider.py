"""An application nobody granted anything (say, an advertiser's app registered on the
same platform): it tries to find, read, subscribe to and command a home's devices, and to
read the energy application's alerts.  Every attempt must fail: discovery finds nothing
and everything else is refused with 4103 (originator has no privilege).  This is the
privacy side of the use case: a home's data goes to the partners it names, and no further.

Run alone (see examples/README.md):
    python -m examples.hems.outsider --cse http://127.0.0.1:8080 --gateway /id-mn/cse-mn
"""
from __future__ import annotations

import argparse

from client import CseClient, RequestFailed

from .common import METER, Console, cse_options, run_role

NO_PRIVILEGE = 4103


class Outsider:
    def __init__(self, client: CseClient, console: Console, *, name: str = "outsider"):
        self.client = client
        self.console = console
        self.name = name
        self.attempts: list[dict] = []

    def say(self, text: str) -> None:
        self.console.say(self.name, text)

    async def setup(self) -> None:
        await self.client.register("Nads.tracker", rn=self.name)
        self.say(f"registered as {self.client.originator} (granted nothing)")

    async def probe(self, gateway: str, *, meter: str, appliance: str, alerts: str = "") -> list[dict]:
        """Try what the energy application may do, with addresses guessed from the usual
        layout (`gateway`/`meter`/power, `gateway`/`appliance`/device/binarySwitch)."""
        client = self.client
        try:
            found = await client.discover(gateway, ty=29, labels=[METER])
            self._note("DISCOVER", f"{gateway} lbl={METER}", 2000, found=len(found))
        except RequestFailed as failed:
            self._note("DISCOVER", f"{gateway} lbl={METER}", failed.rsc, found=0)
        tries = [
            ("RETRIEVE", f"{gateway}/{meter}/power/la", lambda: client.latest(f"{gateway}/{meter}/power")),
            ("SUBSCRIBE", f"{gateway}/{meter}/power",
             lambda: client.subscribe(f"{gateway}/{meter}/power", rn=self.name)),
            ("UPDATE", f"{gateway}/{appliance}/device/binarySwitch",
             lambda: client.update(f"{gateway}/{appliance}/device/binarySwitch", {"cod:binSh": {"state": True}})),
        ]
        if alerts:
            tries.append(("RETRIEVE", f"{alerts}/la", lambda: client.latest(alerts)))
        for operation, target, call in tries:
            try:
                await call()
                rsc = 2000
            except RequestFailed as failed:
                rsc = failed.rsc
            self._note(operation, target, rsc)
        return self.attempts

    def _note(self, operation: str, target: str, rsc: int, **extra) -> None:
        self.attempts.append({"op": operation, "target": target, "rsc": rsc, **extra})
        if operation == "DISCOVER" and rsc == 2000:
            self.say(f"discovery on {target} finds {extra['found']} containers")
            return
        if rsc == NO_PRIVILEGE:
            verdict = "refused (no privilege)"
        elif rsc < 3000:
            verdict = "ALLOWED: privacy breach!"
        else:                   # e.g. 4004: the guessed address is wrong, access was not even tried
            verdict = "failed otherwise: proves nothing"
        self.say(f"{'discovery on' if operation == 'DISCOVER' else operation} {target} -> {rsc} {verdict}")

    @property
    def all_refused(self) -> bool:
        """Discovery answered and found nothing, and every other attempt got 4103."""
        return bool(self.attempts) and all(
            (a["rsc"] == 2000 and a["found"] == 0) if a["op"] == "DISCOVER" else a["rsc"] == NO_PRIVILEGE
            for a in self.attempts)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.hems.outsider", description=__doc__.split("\n\n")[0])
    cse_options(parser, url="http://127.0.0.1:8080", cse_id="/id-in", rn="cse-in", originator="COutsider")
    parser.add_argument("--gateway", default="/id-mn/cse-mn", help="the gateway's CSEBase (default /id-mn/cse-mn)")
    parser.add_argument("--meter", default="meter", help="the meter AE's name (default meter)")
    parser.add_argument("--appliance", default="ev-charger", help="an appliance AE's name (default ev-charger)")
    parser.add_argument("--alerts", default="cse-in/energy/alerts", help="the energy application's alerts")
    args = parser.parse_args(argv)
    async with CseClient(args.cse, originator=args.originator, cse_rn=args.cse_rn, cse_id=args.cse_id) as client:
        outsider = Outsider(client, Console())
        await outsider.setup()
        await outsider.probe(args.gateway, meter=args.meter, appliance=args.appliance, alerts=args.alerts)
    raise SystemExit(0 if outsider.all_refused else 1)


if __name__ == "__main__":
    run_role(main)
