"""`python -m client.listen --port 9000`: print the notifications a CSE sends to this URL.

A notification target for trying subscriptions by hand (the README walkthrough) and for
debugging: it accepts verification requests and prints every notification as one JSON line.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys

from .receiver import Notification, NotificationReceiver


def _print(notification: Notification) -> None:
    line = {"sur": notification.subscription, "net": notification.event,
            "rep": notification.representation}
    if notification.deletion:
        line["sud"] = True
    print(json.dumps(line), flush=True)


async def _listen(host: str, port: int) -> None:
    receiver = NotificationReceiver(host, port, on_notification=_print)
    await receiver.start()
    print(f"listening for notifications on {receiver.url}", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await receiver.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m client.listen", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    args = parser.parse_args(argv)
    try:
        asyncio.run(_listen(args.host, args.port))
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
