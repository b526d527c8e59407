"""Where this CSE may connect: the outbound policy for addresses that others give it.

`nu` (notification targets) and `poa` (points of access of AEs and remote CSEs) are written by
clients, and the CSE then opens connections to them: without a policy any AE could make the
CSE reach a cloud metadata service, a link-local device or an internal port (SSRF).  The
policy says which addresses and ports are allowed:

* `allow_networks` win: an address in one of them is always allowed (the per-deployment
  allow list);
* then `deny_networks` (by default link-local 169.254.0.0/16 and fe80::/10, which hold the
  cloud metadata services 169.254.169.254 and fd00:ec2::254, listed too, and 0.0.0.0/8);
* then `default` ("allow" or "deny") for every other address; a locked-down deployment sets
  "deny" and lists its networks in `allow_networks`.
* `allowed_ports` (empty = any) and `denied_ports` apply on top.

Loopback is allowed by default (the tests and local receivers need it); a deployment that does
not want it adds 127.0.0.0/8 and ::1/128 to `deny_networks`.

It is applied twice: when the address is given (subscription CREATE/UPDATE, AE/remoteCSE
poa) with a clear 4000, and by the senders at connect time on the address actually
connected to (`addresses`), so a name that resolves to something else later (DNS rebinding)
is still refused.  This module does I/O only through the event loop's resolver.
"""
from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from typing import Iterable, Protocol
from urllib.parse import urlsplit

from .errors import bad_request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443, "mqtt": 1883, "mqtts": 8883, "coap": 5683, "coaps": 5684,
                 "ws": 80, "wss": 443}
RESOLVE_TIMEOUT = 5.0


class OutboundSettingsView(Protocol):
    """What the policy reads of `[outbound]` (cse.config.OutboundSettings, which checks its
    networks with `parse_networks` from here)."""

    allow_networks: list[str]
    deny_networks: list[str]
    default: str
    allowed_ports: list[int]
    denied_ports: list[int]


class OutboundRefused(ConnectionError):
    """The policy refuses every address of a destination."""


def parse_networks(values: Iterable[str], setting: str) -> tuple[Network, ...]:
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ValueError(f"{setting}: {value!r} is not an IP network (e.g. 10.0.0.0/8, fd00::/8)") from None
    return tuple(networks)


def _plain(address: Address) -> Address:
    """An IPv4 address written as IPv6 (::ffff:169.254.169.254) is judged as the IPv4 one."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True)
class OutboundPolicy:
    allow: tuple[Network, ...] = ()
    deny: tuple[Network, ...] = ()
    default_allow: bool = True
    allowed_ports: frozenset[int] = frozenset()
    denied_ports: frozenset[int] = frozenset()

    @classmethod
    def from_settings(cls, settings: OutboundSettingsView) -> "OutboundPolicy":
        return cls(parse_networks(settings.allow_networks, "outbound.allow_networks"),
                   parse_networks(settings.deny_networks, "outbound.deny_networks"),
                   settings.default == "allow", frozenset(settings.allowed_ports),
                   frozenset(settings.denied_ports))

    # -- judging one address ------------------------------------------------------------
    def refusal(self, address: str, port: int) -> str | None:
        """Why the policy refuses (address, port), or None when it allows it."""
        if port in self.denied_ports or (self.allowed_ports and port not in self.allowed_ports):
            return f"port {port} is not allowed (outbound.allowed_ports / denied_ports)"
        try:
            ip = _plain(ipaddress.ip_address(address.split("%", 1)[0]))
        except ValueError:
            return f"{address!r} is not an IP address"
        if any(ip in network for network in self.allow if network.version == ip.version):
            return None
        denied = next((n for n in self.deny if n.version == ip.version and ip in n), None)
        if denied is not None:
            return f"address {ip} is in the denied network {denied} (outbound.deny_networks)"
        if not self.default_allow:
            return f"address {ip} is not in outbound.allow_networks (outbound.default is deny)"
        return None

    # -- a destination by name ----------------------------------------------------------
    async def addresses(self, host: str, port: int) -> list[str]:
        """The allowed addresses of `host` (resolved now), best first; OutboundRefused when
        there is none.  What a sender connects to, so the check and the connection use the
        same address."""
        literal = _literal(host)
        if literal is not None:
            candidates = [literal]
        else:
            loop = asyncio.get_running_loop()
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT)
            candidates = list(dict.fromkeys(str(info[4][0]) for info in infos))
        allowed, reasons = [], []
        for candidate in candidates:
            reason = self.refusal(candidate, port)
            if reason is None:
                allowed.append(candidate)
            else:
                reasons.append(reason)
        if not allowed:
            raise OutboundRefused(f"the outbound policy refuses {host}:{port}: {'; '.join(reasons)}")
        return allowed

    async def check_url(self, url: str, attribute: str) -> None:
        """4000 naming the attribute when the policy refuses the URL's destination.  A name
        that does not resolve now is let through (it is checked again at connect time)."""
        if "://" not in url:
            return                      # an entity ID: its own poa was checked
        parts = urlsplit(url)
        host = parts.hostname
        if not host:
            return
        try:
            port = parts.port or DEFAULT_PORTS.get(parts.scheme.lower(), 0)
        except ValueError:
            raise bad_request(f"attribute '{attribute}': {url!r} has an invalid port") from None
        try:
            await self.addresses(host, port)
        except OutboundRefused as refused:
            raise bad_request(f"attribute '{attribute}': {url!r}: {refused}") from None
        except (OSError, asyncio.TimeoutError, UnicodeError):
            return


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%", 1)[0]))
    except ValueError:
        return None


__all__ = ["OutboundPolicy", "OutboundRefused", "parse_networks"]
