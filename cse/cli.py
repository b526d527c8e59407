"""Command line: `cse [options]` runs a CSE until SIGINT/SIGTERM.

Settings come from defaults, then `--config FILE` (TOML), then the flags.  Once every
binding listens, one line says where the CSE serves; logs go to stderr.
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from .app import Cse, build_cse
from .config import Config, ConfigError, load_config

log = logging.getLogger("cse")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cse", description="Run a oneM2M CSE.")
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
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ERROR (default INFO)")
    parser.add_argument("--mqtt", action=argparse.BooleanOptionalAction, default=None,
                        help="serve over MQTT (default off; on when --mqtt-port is given)")
    parser.add_argument("--mqtt-host", help="MQTT broker address (default 127.0.0.1)")
    parser.add_argument("--mqtt-port", type=int, help="MQTT broker port (default 1883)")
    parser.add_argument("--coap", action=argparse.BooleanOptionalAction, default=None,
                        help="serve over CoAP/UDP (default off; on when --coap-port is given)")
    parser.add_argument("--coap-host", help="CoAP listen address (default 127.0.0.1)")
    parser.add_argument("--coap-port", type=int, help="CoAP port (default 5683; 0 = any free port)")
    return parser


def config_from_args(argv: list[str] | None) -> Config:
    args = _parser().parse_args(argv)
    return load_config(args.config, {
        "http.host": args.host, "http.port": args.port, "cse.cse_id": args.cse_id,
        "cse.rn": args.rn, "cse.sp_id": args.sp_id, "cse.type": args.type,
        "storage.data_dir": args.data_dir, "storage.url": args.storage,
        "storage.durability": args.durability, "cse.admin_originator": args.admin_originator,
        "log_level": args.log_level,
        "mqtt.enabled": _enabled(args.mqtt, args.mqtt_port), "mqtt.host": args.mqtt_host,
        "mqtt.port": args.mqtt_port,
        "coap.enabled": _enabled(args.coap, args.coap_port), "coap.host": args.coap_host,
        "coap.port": args.coap_port,
    })


def _enabled(flag: bool | None, port: int | None) -> bool | None:
    """--mqtt/--no-mqtt decide; otherwise giving a port switches the binding on."""
    if flag is not None:
        return flag
    return True if port is not None else None


def add_bindings(cse: Cse) -> None:
    """The bindings the configuration enables, in start order."""
    from bindings.coap import CoapBinding
    from bindings.coap_client import CoapSender
    from bindings.http import HttpBinding
    from bindings.http_client import HttpSender
    from bindings.mqtt import MqttBinding
    from bindings.mqtt_client import MqttSender

    sender = HttpSender()
    cse.outbound.register(("http", "https"), sender)
    cse.bindings.append(sender)
    mqtt = MqttBinding(cse.config, cse.dispatcher) if cse.config.mqtt.enabled else None
    mqtt_sender = MqttSender(cse.config, mqtt)
    cse.outbound.register(("mqtt", "mqtts"), mqtt_sender)
    cse.bindings.append(mqtt_sender)
    coap_sender = CoapSender()
    cse.outbound.register(("coap",), coap_sender)
    cse.bindings.append(coap_sender)
    if cse.config.http.enabled:
        cse.bindings.append(HttpBinding(cse.config.http, cse.dispatcher))
    if mqtt is not None:
        cse.bindings.append(mqtt)
    if cse.config.coap.enabled:
        cse.bindings.append(CoapBinding(cse.config, cse.dispatcher))


async def serve(config: Config) -> None:
    cse = build_cse(config)
    add_bindings(cse)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await cse.start()
    try:
        urls = " ".join(url for binding in cse.bindings for url in binding.poa)
        print(f"CSE {config.cse.cse_id} ({config.cse.type}-CSE, CSEBase {config.cse.rn}) serving {urls}",
              flush=True)
        await stop.wait()
        log.info("shutting down")
    finally:
        await cse.stop()


def run(config: Config) -> None:
    try:
        import uvloop
    except ImportError:  # optional: plain asyncio works, only slower
        uvloop = None
    if uvloop is not None:
        uvloop.run(serve(config))
    else:
        asyncio.run(serve(config))


def main(argv: list[str] | None = None) -> int:
    try:
        config = config_from_args(argv)
    except ConfigError as error:
        print(f"cse: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=getattr(logging, config.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        run(config)
    except OSError as error:
        print(f"cse: {error}", file=sys.stderr)
        return 1
    except RuntimeError as error:
        print(f"cse: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
