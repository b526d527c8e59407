"""Command line: `cse [options]` (or `python -m server`) runs a CSE until SIGINT/SIGTERM.

Settings come from defaults, then `--config FILE` (TOML), then the flags.  Once every
binding listens, one line says where the CSE serves; logs go to stderr.
`cse certs DIR` and `cse hash-secret` make TLS material and credentials for the config.

Failures at start-up are one line on stderr (no traceback) and an exit status an init
system can act on (docs/operations.md): 2 usage or configuration, 3 a port cannot be
listened on, 4 the storage cannot be opened or written, 1 anything else.
"""
from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import signal
import sqlite3
import sys
from importlib import metadata

from cse.auth import DEFAULT_ITERATIONS, MIN_ITERATIONS, hash_secret, new_token
from cse.certs import LOOPBACK_NAMES, create_dev_pki
from cse.config import Config, ConfigError, load_config
from cse.storage import StorageError

from . import logs
from .compose import build_cse, configured_bindings

log = logging.getLogger("cse")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_LISTEN, EXIT_STORAGE = 0, 1, 2, 3, 4
SUBCOMMANDS = {
    "certs": "make a development CA and server certificate (cse certs DIR --help)",
    "hash-secret": "print the hashed form of a password or token for the config (cse hash-secret --help)",
}


class CannotListen(Exception):
    """A binding could not open its port (in use, not allowed, address not local)."""


def version() -> str:
    try:
        return metadata.version("onem2m-cse")
    except metadata.PackageNotFoundError:       # run from a source tree that is not installed
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    epilog = "subcommands:\n" + "\n".join(f"  cse {name:<12} {text}" for name, text in SUBCOMMANDS.items())
    epilog += ("\n\nexit status: 0 stopped cleanly, 1 failed while running, 2 bad usage or configuration, "
               "3 a port cannot be listened on, 4 the storage cannot be opened or written")
    parser = argparse.ArgumentParser(prog="cse", description="Run a oneM2M CSE (without a subcommand).",
                                     epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"cse (onem2m-cse) {version()}")
    parser.add_argument("--config", help="TOML configuration file")
    parser.add_argument("--host", help="HTTP listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="HTTP port (default 8080; 0 = any free port)")
    parser.add_argument("--cse-id", help="CSE-ID, SP-relative (default /id-in)")
    parser.add_argument("--rn", help="CSEBase resource name (default cse-in)")
    parser.add_argument("--sp-id", help="M2M-SP-ID (default //onem2m.example.net)")
    parser.add_argument("--type", choices=["IN", "MN", "ASN"], help="CSE type (default IN)")
    parser.add_argument("--data-dir", help="directory of the embedded database (default ./cse-data)")
    parser.add_argument("--storage", help="storage URL: sqlite:///file, tinydb:///dir or memory:")
    parser.add_argument("--durability", choices=["process", "power"],
                        help="what an acknowledged write survives (default process)")
    parser.add_argument("--admin-originator", help="originator with all rights (default CAdmin)")
    parser.add_argument("--registrar-url", help="point of access of the registrar CSE (MN-CSE: its IN-CSE)")
    parser.add_argument("--registrar-id", help="CSE-ID of the registrar, e.g. /id-in")
    parser.add_argument("--registrar-rn", help="CSEBase resource name of the registrar (default cse-in)")
    parser.add_argument("--registrar-keepalive", type=float,
                        help="seconds between checks that the registration still exists (default 30)")
    parser.add_argument("--deregister-on-exit", action="store_true", default=None,
                        help="delete the registration at the registrar on clean shutdown")
    parser.add_argument("--releases", type=_release_list,
                        help="release versions accepted in rvi, comma-separated (default 2a,3,4,5)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR, CRITICAL (default INFO)")
    parser.add_argument("--log-format", choices=["text", "json"], help="log lines as text (default) or JSON")
    parser.add_argument("--request-log", action=argparse.BooleanOptionalAction, default=None,
                        help="one line per request answered (default on; --no-request-log turns it off)")
    parser.add_argument("--request-log-file", help="write the request log to this file instead of stderr")
    parser.add_argument("--admin-host", help="admin listener (/metrics, /health) address (default 127.0.0.1)")
    parser.add_argument("--admin-port", type=int,
                        help="admin listener port (default off; on when given; 0 = any free port)")
    parser.add_argument("--mqtt", action=argparse.BooleanOptionalAction, default=None,
                        help="serve over MQTT (default off; on when --mqtt-port is given)")
    parser.add_argument("--mqtt-host", help="MQTT broker address (default 127.0.0.1)")
    parser.add_argument("--mqtt-port", type=int, help="MQTT broker port (default 1883)")
    parser.add_argument("--coap", action=argparse.BooleanOptionalAction, default=None,
                        help="serve over CoAP/UDP (default off; on when --coap-port is given)")
    parser.add_argument("--coap-host", help="CoAP listen address (default 127.0.0.1)")
    parser.add_argument("--coap-port", type=int, help="CoAP port (default 5683; 0 = any free port)")
    parser.add_argument("--ws", action=argparse.BooleanOptionalAction, default=None,
                        help="serve over WebSocket, TS-0020 (default off; on when --ws-port is given)")
    parser.add_argument("--ws-host", help="WebSocket listen address (default 127.0.0.1)")
    parser.add_argument("--ws-port", type=int, help="WebSocket port (default 8180; 0 = any free port)")
    return parser


def config_from_args(argv: list[str] | None) -> Config:
    args = _parser().parse_args(argv)
    return load_config(args.config, {
        "http.host": args.host, "http.port": args.port, "cse.cse_id": args.cse_id,
        "cse.rn": args.rn, "cse.sp_id": args.sp_id, "cse.type": args.type,
        "storage.data_dir": args.data_dir, "storage.url": args.storage,
        "storage.durability": args.durability, "cse.admin_originator": args.admin_originator,
        "log_level": args.log_level, "cse.supported_releases": args.releases, "log.format": args.log_format,
        "log.requests": args.request_log, "log.request_file": args.request_log_file,
        "admin.enabled": _enabled(None, args.admin_port), "admin.host": args.admin_host,
        "admin.port": args.admin_port,
        "registrar.url": args.registrar_url, "registrar.cse_id": args.registrar_id,
        "registrar.rn": args.registrar_rn, "registrar.keepalive": args.registrar_keepalive,
        "registrar.deregister_on_shutdown": args.deregister_on_exit,
        "mqtt.enabled": _enabled(args.mqtt, args.mqtt_port), "mqtt.host": args.mqtt_host,
        "mqtt.port": args.mqtt_port,
        "coap.enabled": _enabled(args.coap, args.coap_port), "coap.host": args.coap_host,
        "coap.port": args.coap_port,
        "ws.enabled": _enabled(args.ws, args.ws_port), "ws.host": args.ws_host, "ws.port": args.ws_port,
    })


def _release_list(text: str) -> list[str]:
    """--releases 2a,3,4,5 -> ["2a", "3", "4", "5"] (values are checked with the config)."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _enabled(flag: bool | None, port: int | None) -> bool | None:
    """--mqtt/--no-mqtt decide; otherwise giving a port switches the binding on."""
    if flag is not None:
        return flag
    return True if port is not None else None


async def serve(config: Config) -> None:
    cse = build_cse(config, bindings=configured_bindings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await cse.start()
    except OSError as error:
        # A socket's error names no file; the storage's (mkdir, open) do.
        if error.filename is None and error.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
            raise CannotListen(_listen_message(error)) from None
        raise
    try:
        urls = " ".join(url for binding in cse.bindings for url in binding.poa)
        print(f"CSE {config.cse.cse_id} ({config.cse.type}-CSE, CSEBase {config.cse.rn}) serving {urls}",
              flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        await cse.stop()


def _listen_message(error: OSError) -> str:
    reasons = {errno.EADDRINUSE: "the address is already in use (another process listens there)",
               errno.EACCES: "permission denied (ports below 1024 need privileges)",
               errno.EADDRNOTAVAIL: "the address is not one of this machine's"}
    return f"cannot listen: {reasons.get(error.errno or 0, error.strerror or str(error))} ({error})"


def run(config: Config) -> None:
    try:
        import uvloop
    except ImportError:  # optional: plain asyncio works, only slower
        uvloop = None  # type: ignore[assignment]
    if uvloop is not None:
        uvloop.run(serve(config))
    else:
        asyncio.run(serve(config))


def certs_main(argv: list[str]) -> int:
    """`cse certs DIR`: a development CA and a server certificate for the loopback names."""
    parser = argparse.ArgumentParser(prog="cse certs", description=(
        "Create a development CA (ca.crt, ca.key) and a server certificate (server.crt, "
        "server.key) in DIR. For trying TLS and for tests, never for production."))
    parser.add_argument("directory", help="where to write the files (created if missing)")
    parser.add_argument("--host", action="append", dest="hosts",
                        help=f"name or address the server certificate is valid for (repeatable; "
                             f"default {', '.join(LOOPBACK_NAMES)})")
    parser.add_argument("--force", action="store_true", help="replace existing files")
    args = parser.parse_args(argv)
    try:
        pki = create_dev_pki(args.directory, tuple(args.hosts or LOOPBACK_NAMES), overwrite=args.force)
    except (OSError, ValueError) as error:
        print(f"cse certs: {error}", file=sys.stderr)
        return 1
    print(f"CA certificate {pki.ca_cert}\nserver certificate {pki.server_cert}\n"
          f"server key {pki.server_key}")
    return 0


def hash_secret_main(argv: list[str]) -> int:
    """`cse hash-secret`: the configuration form of a password or token."""
    parser = argparse.ArgumentParser(prog="cse hash-secret", description=(
        "Print the hashed form of a secret for [auth.credentials]. The secret is read from "
        "standard input (one line) or asked for; with --new-token a random token is made."))
    parser.add_argument("--new-token", action="store_true",
                        help="make a random bearer token, print it and its hash")
    parser.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS,
                        help=f"PBKDF2 iterations (default {DEFAULT_ITERATIONS})")
    args = parser.parse_args(argv)
    if args.iterations < MIN_ITERATIONS:
        print(f"cse hash-secret: use at least {MIN_ITERATIONS} iterations", file=sys.stderr)
        return 2
    if args.new_token:
        secret = new_token()
        print(f"token {secret}")
    elif sys.stdin.isatty():
        secret = getpass.getpass("secret: ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if not secret:
        print("cse hash-secret: the secret is empty", file=sys.stderr)
        return 2
    print(hash_secret(secret, args.iterations))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["certs"]:
        return certs_main(argv[1:])
    if argv[:1] == ["hash-secret"]:
        return hash_secret_main(argv[1:])
    try:
        config = config_from_args(argv)
    except ConfigError as error:
        print(f"cse: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        logs.configure(config)
    except OSError as error:            # the request log file cannot be opened
        print(f"cse: cannot open the request log: {error}", file=sys.stderr)
        return EXIT_USAGE
    try:
        run(config)
    except CannotListen as error:
        print(f"cse: {error}", file=sys.stderr)
        return EXIT_LISTEN
    except (StorageError, sqlite3.Error) as error:
        print(f"cse: storage: {_one_line(error)} (is {config.storage.resolved_url()} writable?)", file=sys.stderr)
        return EXIT_STORAGE
    except OSError as error:
        if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC):
            print(f"cse: storage: {_one_line(error)}", file=sys.stderr)
            return EXIT_STORAGE
        print(f"cse: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILED
    except RuntimeError as error:
        print(f"cse: {_one_line(error)}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


if __name__ == "__main__":
    sys.exit(main())
