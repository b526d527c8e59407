"""oneM2M over CoAP (TS-0008) for an AE: `CoapTransport` sends request primitives to a CSE's
coap:// point of access with the CSE's own CoAP sender (`bindings.coap_client`), so the
oneM2M options (originator, request identifier, rvi, ty ...) are the CSE's mapping.
Notifications over CoAP would need a CoAP server on the AE side: not offered here (use an
HTTP or MQTT receiver)."""
from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from bindings.coap_client import CoapSender
from cse.primitives import Request, Response

from .transport import CseUnreachable


class CoapTransport:
    def __init__(self, url: str, *, serialization: str = "json"):
        parts = urlsplit(url)
        if parts.scheme != "coap" or not parts.hostname:
            raise ValueError(f"{url!r} is not a coap:// URL of a CSE (coaps, DTLS, is not supported)")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"give the CSE's point of access without a path (coap://host:port), not {url!r}")
        if serialization not in ("json", "cbor"):
            raise ValueError(f"serialization must be 'json' or 'cbor', not {serialization!r}")
        self.url = f"coap://{parts.netloc}"
        self.serialization = serialization
        self._sender = CoapSender()

    async def open(self) -> None:
        await self._sender.start()

    async def close(self) -> None:
        await self._sender.stop()

    async def send(self, request: Request, timeout: float) -> Response:
        try:
            return await self._sender.send(self.url, request, serialization=self.serialization, timeout=timeout)
        except asyncio.TimeoutError:
            raise CseUnreachable(f"{self.url} did not answer within {timeout} s") from None
        except OSError as exc:
            raise CseUnreachable(f"{self.url} is not reachable: {exc}") from None
