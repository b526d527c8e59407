"""`m2m`: oneM2M requests from the command line, printing JSON (what curl is to HTTP).

    m2m retrieve cse-in                                  # the CSEBase, over HTTP
    m2m -o Cmeter register Nmeter --rn meter             # CREATE <AE>
    m2m -o Cmeter create cse-in/meter '{"m2m:cnt": {"rn": "power"}}'
    m2m -o Cmeter subscribe cse-in/meter/power           # prints each notification
    m2m --url mqtt://127.0.0.1:1883 --cse-id /id-in retrieve cse-in
    m2m --url coap://127.0.0.1:5683 discover cse-in --ty 3 --lbl zone:7

The transport comes from the URL's scheme (client/factory.py TRANSPORTS: http, https,
mqtt, mqtts, coap, ws, wss); the oneM2M parameters are options, not headers or CoAP option numbers.
Output: the response content (pc) as JSON on stdout; `--full` prints the whole response
primitive (rsc, rqi, rvi, pc, ...).  Exit status: 0 success, 1 the CSE refused (its rsc and
m2m:dbg also go to stderr), 2 bad usage, 3 the CSE could not be reached.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import sys
from dataclasses import dataclass
from typing import Any

from bindings.query import parse_query
from cse.errors import OneM2MError
from cse.primitives import Operation, Response

from .client import RESOURCE_TYPES, CseClient
from .factory import TRANSPORTS, transport_for
from .receiver import Notification, NotificationReceiver
from .transport import CseUnreachable, HttpTransport, Transport

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3
DEFAULT_URL = "http://127.0.0.1:8080"


class UsageError(Exception):
    """A bad argument, reported in one line with exit status 2."""


@dataclass
class Outcome:
    response: Response
    exit_status: int


def _json_argument(text: str, what: str) -> Any:
    """JSON given inline, as @file, or - for standard input."""
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise UsageError(f"cannot read {what} from {text[1:]}: {error.strerror}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"{what} is not JSON: {error}") from None


def filter_criteria(args: argparse.Namespace) -> dict[str, Any]:
    """--fc NAME=VALUE pairs (and discover's --ty, --lbl, --lim, --lvl) typed as the HTTP
    binding types its query string (bindings/query.py), so every transport sends the same
    filter criteria: ty and lbl as lists, lim as a number, other names as attributes to match."""
    pairs: list[tuple[str, str]] = []
    for item in args.fc or ():
        name, equals, value = item.partition("=")
        if not equals or not name:
            raise UsageError(f"--fc takes NAME=VALUE (e.g. lbl=zone:7, cra=20250101T000000), not {item!r}")
        pairs.append((name, value))
    pairs += [("ty", str(ty)) for ty in getattr(args, "ty", None) or ()]
    pairs += [("lbl", label) for label in getattr(args, "lbl", None) or ()]
    for name in ("lim", "lvl"):
        if getattr(args, name, None) is not None:
            pairs.append((name, str(getattr(args, name))))
    try:
        fields = parse_query(pairs)
    except OneM2MError as error:
        raise UsageError(f"--fc: {error.message}") from None
    if set(fields) - {"fc"}:
        raise UsageError(f"--fc takes filter criteria, not {', '.join(sorted(set(fields) - {'fc'}))}")
    return fields.get("fc", {})


def authorization(args: argparse.Namespace) -> str | None:
    """--user ORIGINATOR:PASSWORD (Basic) or --token TOKEN (Bearer); also from M2M_TOKEN."""
    if args.user:
        if ":" not in args.user:
            raise UsageError("--user takes ORIGINATOR:PASSWORD")
        return "Basic " + base64.b64encode(args.user.encode("utf-8")).decode("ascii")
    token = args.token or os.environ.get("M2M_TOKEN")
    return f"Bearer {token}" if token else None


def make_transport(args: argparse.Namespace) -> Transport:
    credentials = authorization(args)
    scheme = args.url.split("://", 1)[0].lower()
    if credentials and scheme not in ("http", "https"):
        raise UsageError("credentials travel only over HTTP (MQTT and CoAP carry none; docs/security.md)")
    try:
        if credentials:
            return HttpTransport(args.url, serialization=args.ct, authorization=credentials)
        return transport_for(args.url, args.ct, args.cse_id)
    except ValueError as error:
        raise UsageError(str(error)) from None


def _printable(response: Response, full: bool) -> Any:
    if not full:
        return response.pc
    primitive: dict[str, Any] = {"rsc": int(response.rsc), "rqi": response.rqi}
    for name in ("rvi", "fr", "to", "ot", "rset", "ec"):
        value = getattr(response, name, None)
        if value is not None:
            primitive[name] = value
    if response.content_location:
        primitive["location"] = response.content_location
    if response.pc is not None:
        primitive["pc"] = response.pc
    return primitive


def emit(value: Any) -> None:
    if value is not None:
        print(json.dumps(value, indent=2, ensure_ascii=False, default=str), flush=True)


def report(response: Response, full: bool) -> int:
    emit(_printable(response, full))
    if response.ok:
        return EXIT_OK
    pc = response.pc
    reason = pc.get("m2m:dbg", "") if isinstance(pc, dict) else ""
    print(f"m2m: {int(response.rsc)} {reason}".rstrip(), file=sys.stderr)
    return EXIT_REFUSED


def common_fields(args: argparse.Namespace) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if getattr(args, "rcn", None) is not None:
        fields["rcn"] = args.rcn
    return fields


# -- the commands ---------------------------------------------------------------------------
async def retrieve(client: CseClient, args: argparse.Namespace) -> Response:
    fields = common_fields(args)
    fc = filter_criteria(args)
    if fc:
        fields["fc"] = fc
    if args.attributes:
        fields["atrl"] = args.attributes.split(",")
    return await client.request(Operation.RETRIEVE, args.target, **fields)


async def create(client: CseClient, args: argparse.Namespace) -> Response:
    content = _json_argument(args.content, "the content")
    if not isinstance(content, dict) or len(content) != 1:
        raise UsageError('the content must be one resource, e.g. {"m2m:cnt": {"rn": "power"}}')
    root = next(iter(content))
    ty = args.ty if args.ty is not None else RESOURCE_TYPES.get(root)
    if ty is None:
        raise UsageError(f"no resource type known for {root!r}: give --ty")
    return await client.request(Operation.CREATE, args.parent, ty=ty, pc=content, **common_fields(args))


async def update(client: CseClient, args: argparse.Namespace) -> Response:
    content = _json_argument(args.content, "the content")
    if not isinstance(content, dict) or len(content) != 1:
        raise UsageError('the content must be one resource root, e.g. {"m2m:cnt": {"mni": 10}}')
    return await client.request(Operation.UPDATE, args.target, pc=content, **common_fields(args))


async def delete(client: CseClient, args: argparse.Namespace) -> Response:
    return await client.request(Operation.DELETE, args.target, **common_fields(args))


async def discover(client: CseClient, args: argparse.Namespace) -> Response:
    fc = {"fu": 1, **filter_criteria(args)}
    return await client.request(Operation.RETRIEVE, args.target, fc=fc, drt=2 if args.unstructured else 1)


async def register(client: CseClient, args: argparse.Namespace) -> Response:
    ae: dict[str, Any] = {"api": args.app_id, "rr": bool(args.poa) if args.rr is None else args.rr,
                          "srv": [client.release]}
    if args.rn:
        ae["rn"] = args.rn
    if args.poa:
        ae["poa"] = list(args.poa)
    return await client.request(Operation.CREATE, args.cse, ty=RESOURCE_TYPES["m2m:ae"], pc={"m2m:ae": ae})


async def subscribe(client: CseClient, args: argparse.Namespace) -> Response:
    """CREATE a subscription whose nu is a listener of this process, print every
    notification as one JSON line, delete the subscription at the end (Ctrl-C, SIGTERM,
    --count reached) unless --keep."""
    done = asyncio.Event()
    received = 0

    def show(notification: Notification) -> None:
        nonlocal received
        line: dict[str, Any] = {"sur": notification.subscription, "net": notification.event,
                                "rep": notification.representation}
        if notification.deletion:
            line["sud"] = True
        print(json.dumps(line, ensure_ascii=False, default=str), flush=True)
        received += 1
        if notification.deletion or (args.count and received >= args.count):
            done.set()

    receiver = NotificationReceiver(args.listen_host, args.listen_port, public_url=args.public_url or "",
                                    on_notification=show)
    await receiver.start()
    try:
        sub: dict[str, Any] = {"nu": [receiver.url], "enc": {"net": args.net}}
        if args.rn:
            sub["rn"] = args.rn
        if args.nct is not None:
            sub["nct"] = args.nct
        made = await client.request(Operation.CREATE, args.target, ty=RESOURCE_TYPES["m2m:sub"],
                                    pc={"m2m:sub": sub})
        if not made.ok:
            return made
        print(f"m2m: subscribed ({receiver.url}); waiting for notifications, Ctrl-C to stop",
              file=sys.stderr, flush=True)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
        resource = made.pc.get("m2m:sub", {}) if isinstance(made.pc, dict) else {}
        if not args.keep and resource.get("ri"):
            await client.request(Operation.DELETE, resource["ri"])
        return Response(rsc=2000, rqi=made.rqi)
    finally:
        await receiver.stop()


COMMANDS = {"retrieve": retrieve, "create": create, "update": update, "delete": delete,
            "discover": discover, "register": register, "subscribe": subscribe}


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def add_common(top: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The options of every command; on a subcommand they only override what was given
    before it (SUPPRESS: no default of their own)."""
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if suppress else value

    top.add_argument("--url", default=default(os.environ.get("M2M_URL", DEFAULT_URL)),
                     help=f"the CSE's point of access; the scheme picks the transport "
                          f"({', '.join(TRANSPORTS)}) (default $M2M_URL or {DEFAULT_URL})")
    top.add_argument("--cse-id", default=default(os.environ.get("M2M_CSE_ID", "/id-in")),
                     help="CSE-ID of the CSE (MQTT addresses it by ID; default $M2M_CSE_ID or /id-in)")
    top.add_argument("-o", "--originator", default=default(os.environ.get("M2M_ORIGIN")),
                     help="originator, X-M2M-Origin (default $M2M_ORIGIN, else CAdmin; for register: C, "
                          "the CSE assigns an AE-ID)")
    top.add_argument("--rvi", default=default("3"), help="release version indicator (default 3)")
    top.add_argument("--ct", choices=["json", "cbor"], default=default("json"), help="serialization on the wire")
    top.add_argument("--user", default=default(None), help="credentials ORIGINATOR:PASSWORD (HTTP Basic)")
    top.add_argument("--token", default=default(None), help="bearer token (HTTP; also $M2M_TOKEN)")
    top.add_argument("--timeout", type=float, default=default(10.0), help="seconds to wait for the answer (default 10)")
    top.add_argument("--full", action="store_true", default=default(False), help="print the whole response primitive, not only pc")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="m2m", description="Send oneM2M requests to a CSE over HTTP, MQTT or CoAP and print JSON.",
        epilog="exit status: 0 success, 1 the CSE refused (rsc and m2m:dbg on stderr), 2 bad usage, "
               "3 the CSE could not be reached")
    add_common(top, suppress=False)
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text, description=text)
        add_common(sub, suppress=True)      # like curl, the options may also follow the command
        return sub

    def filters(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--fc", action="append", metavar="NAME=VALUE",
                         help="a filter criterion by short name (repeatable): lbl=zone:7, cra=..., lim=10")

    sub = command("retrieve", "RETRIEVE a resource")
    sub.add_argument("target")
    sub.add_argument("--rcn", type=int, help="result content (1 attributes, 4 with child resources, 6 children ...)")
    sub.add_argument("--attributes", "-a", help="comma-separated attributes to retrieve (atrl)")
    filters(sub)
    sub = command("create", "CREATE a resource under PARENT")
    sub.add_argument("parent")
    sub.add_argument("content", help='JSON, e.g. \'{"m2m:cnt": {"rn": "power"}}\', @file or - (stdin)')
    sub.add_argument("--ty", type=int, help="resource type (default: from the JSON root)")
    sub.add_argument("--rcn", type=int, help="result content of the answer")
    sub = command("update", "UPDATE a resource")
    sub.add_argument("target")
    sub.add_argument("content", help='JSON, e.g. \'{"m2m:cnt": {"mni": 10}}\', @file or - (stdin)')
    sub.add_argument("--rcn", type=int, help="result content of the answer")
    sub = command("delete", "DELETE a resource")
    sub.add_argument("target")
    sub = command("discover", "discovery (RETRIEVE with fu=1): the addresses of matching resources")
    sub.add_argument("target")
    sub.add_argument("--ty", type=int, action="append", help="resource type (repeatable)")
    sub.add_argument("--lbl", action="append", help="label (repeatable)")
    sub.add_argument("--lim", type=int, help="most results")
    sub.add_argument("--lvl", type=int, help="deepest level below the target")
    sub.add_argument("--unstructured", action="store_true", help="resource IDs instead of structured addresses")
    filters(sub)
    sub = command("register", "register an AE (CREATE <AE>) with the originator given by -o")
    sub.add_argument("app_id", help="App-ID (api), e.g. Nmeter")
    sub.add_argument("--rn", help="resource name of the AE")
    sub.add_argument("--poa", action="append", help="point of access (repeatable)")
    sub.add_argument("--rr", action=argparse.BooleanOptionalAction, default=None,
                     help="request reachability (default: true when --poa is given)")
    sub.add_argument("--cse", default="cse-in", help="the CSEBase to register with (default cse-in)")
    sub = command("subscribe", "subscribe and print notifications as JSON lines (a built-in listener)")
    sub.add_argument("target")
    sub.add_argument("--net", type=int, action="append",
                     help="notification event type (repeatable; default 1 update, 3 child created)")
    sub.add_argument("--nct", type=int, help="notification content type")
    sub.add_argument("--rn", help="resource name of the subscription")
    sub.add_argument("--count", type=_positive_int, help="stop after this many notifications")
    sub.add_argument("--keep", action="store_true", help="leave the subscription in place at the end")
    sub.add_argument("--listen-host", default="127.0.0.1", help="where the listener listens (default 127.0.0.1)")
    sub.add_argument("--listen-port", type=int, default=0, help="listener port (default any free port)")
    sub.add_argument("--public-url", help="the listener's URL as the CSE must use it (NAT, 0.0.0.0)")
    return top


async def run(args: argparse.Namespace) -> int:
    if args.command == "subscribe" and not args.net:
        args.net = [1, 3]
    if args.originator is None:
        args.originator = "C" if args.command == "register" else "CAdmin"
    transport = make_transport(args)
    client = CseClient(args.url, originator=args.originator, cse_id=args.cse_id, release=args.rvi,
                       timeout=args.timeout, transport=transport)
    async with client:
        response = await COMMANDS[args.command](client, args)
    if args.command == "subscribe" and response.ok:
        return EXIT_OK
    return report(response, args.full)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return asyncio.run(run(args))
    except UsageError as error:
        print(f"m2m: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CseUnreachable as error:
        print(f"m2m: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except OSError as error:
        print(f"m2m: {error}", file=sys.stderr)
        return EXIT_UNREACHABLE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
