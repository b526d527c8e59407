"""The consumer's phone app: another application on the platform that subscribes to the
energy application's alerts ("real-time alerting" of the use case).  It finds the alert
containers by discovery (label hems:alerts) and prints every alert it is notified of.

It can read the alerts only because the energy application named it with
`--alert-reader`; started under another AE-ID it finds nothing.

Run alone (see examples/README.md):
    python -m examples.hems.phone --cse http://127.0.0.1:8080
"""
from __future__ import annotations

import argparse

from client import CseClient, NotificationInbox, receiver_for

from .common import ALERTS, Console, cse_options, run_role
from .timestamps import parse_stamp


class Phone:
    def __init__(self, client: CseClient, receiver: NotificationInbox, console: Console, *, name: str = "phone"):
        self.client = client
        self.receiver = receiver
        self.console = console
        self.name = name
        self.watching: list[str] = []
        self.received: list[dict] = []

    async def setup(self) -> None:
        client = self.client
        await client.register("Nhems.phone", rn=self.name, receiver=self.receiver)
        self.watching = await client.discover(client.cse_rn, ty=3, labels=[ALERTS])
        for address in self.watching:
            await client.subscribe(address, rn=self.name, exist_ok=True)
        where = ", ".join(self.watching) or "nothing (no application shares its alerts with me)"
        self.console.say(self.name, f"registered as {client.originator}; watching {where}")

    async def run(self) -> None:
        async for note in self.receiver:
            alert = note.resource.get("con") if note.event == 3 and isinstance(note.resource, dict) else None
            if not isinstance(alert, dict):
                continue
            self.received.append(alert)
            try:
                when = parse_stamp(alert.get("t"))
            except ValueError:
                when = None
            if alert.get("type") == "missing-data":
                self.console.say(self.name, f"ALERT {alert.get('home')}: its {alert.get('meter')} stopped "
                                            f"reporting ({alert.get('missing')} reading(s) missing)", when)
                continue
            culprit = f"{alert.get('appliance')} ({alert.get('appliance_kw')} kW)" if alert.get("appliance") \
                else "no appliance identified"
            self.console.say(self.name, f"ALERT {alert.get('home')}: {alert.get('kw')} kW > "
                                        f"{alert.get('threshold_kw')} kW; {culprit}; action: {alert.get('action')}",
                             when)


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.hems.phone", description=__doc__.split("\n\n")[0])
    cse_options(parser, url="http://127.0.0.1:8080", cse_id="/id-in", rn="cse-in", originator="CPhone")
    args = parser.parse_args(argv)
    async with CseClient(args.cse, originator=args.originator, cse_rn=args.cse_rn, cse_id=args.cse_id) as client:
        async with receiver_for(client) as receiver:
            phone = Phone(client, receiver, Console())
            await phone.setup()
            await phone.run()


if __name__ == "__main__":
    run_role(main)
