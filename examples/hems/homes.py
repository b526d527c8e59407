"""What the energy application knows of each home: its devices as found on the gateway
(their addresses, device model, allowed window), the commands it sent, and the parsing of
`--home`.  No requests here."""
from __future__ import annotations

import argparse
from collections import deque
from dataclasses import dataclass, field

from client import hosting_cse_prefix
from cse.schedule_entries import Schedule

from .energy import HomeLoad


@dataclass
class Device:
    name: str
    power: str                  # SP-relative address of its readings (container or timeSeries)
    model: str = ""             # its TS-0023 device flexContainer
    window: Schedule | None = None      # its allowed window (schedule), if any
    window_text: list[str] = field(default_factory=list)

    @property
    def switch(self) -> str:
        return f"{self.model}/binarySwitch" if self.model else ""

    @property
    def consumption(self) -> str:
        return f"{self.model}/energyConsumption" if self.model else ""


@dataclass
class Home:
    name: str
    gateway: str                # SP-relative address of the gateway's CSEBase, e.g. /id-mn/cse-mn
    load: HomeLoad
    meter: Device | None = None
    appliances: dict[str, Device] = field(default_factory=dict)
    subscribed: set[tuple[str, str]] = field(default_factory=set)     # (kind, address) subscribed to
    problem: str = ""           # why its devices could not be looked for last time
    deferring: bool = False     # a switch-on waits for the appliance's window
    dgts: deque = field(default_factory=lambda: deque(maxlen=500))   # dgt of the meter's latest readings
    outages: set[str] = field(default_factory=set)      # dgt of the last reading before each outage alerted

    def keys(self) -> list[str]:
        """The consumption keys of this home: itself and each appliance."""
        return [self.name] + [f"{self.name}/{name}" for name in sorted(self.appliances)]


@dataclass
class Command:
    ri: str
    home: str
    appliance: str
    cmd: str
    sent: float                 # time.monotonic() when written
    t: str = ""                 # simulated time it was written
    status: str = "pending"     # done | no answer
    rtt_ms: float | None = None
    before_w: float | None = None       # the draw it was decided on
    shown_w: float | None = None        # energyConsumption power shown after it


def dgt_key(text: str) -> str:
    """A dgt as the gateway lists missed ones ("20240601T101500,000000"), comparable as text."""
    return text if "," in text else f"{text},000000"


def device_of(home: Home, address: str) -> str:
    """<gateway>/<device AE>/... -> the device's name."""
    rest = address[len(home.gateway):] if address.startswith(home.gateway + "/") else address.split("/", 3)[-1]
    return rest.strip("/").split("/", 1)[0]


def parse_homes(values: list[str]) -> dict[str, str]:
    homes = {}
    for value in values:
        name, sep, gateway = value.partition("=")
        if not sep or not name or not gateway.startswith("/") or not hosting_cse_prefix(gateway):
            raise argparse.ArgumentTypeError(f"--home {value!r}: give NAME=/CSE-ID/CSEBASE, e.g. home-1=/id-mn/cse-mn")
        homes[name] = gateway
    return homes
