"""How the client reaches its CSE.  A transport sends one request primitive and returns
the response primitive; it knows the wire, the client does not.

HTTP is here, MQTT in `client.mqtt`, the choice by URL in `client.factory`; another
transport only has to offer the same three methods (see docs/client.md).  A transport
raises `CseUnreachable` when nothing came back, never a library-specific exception.
"""
from __future__ import annotations

import asyncio
import ssl
from typing import Protocol
from urllib.parse import urlsplit

import aiohttp

from bindings.http_client import HttpSender
from cse.primitives import Request, Response


class CseUnreachable(ConnectionError):
    """The CSE could not be reached, or did not answer in time."""


class Transport(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, request: Request, timeout: float) -> Response:
        """Deliver `request` to the CSE; raise CseUnreachable when no response arrives."""


class HttpTransport:
    """oneM2M over HTTP (TS-0009), using the same mapping as the CSE's own HTTP sender."""

    def __init__(self, url: str, *, serialization: str = "json", ssl_context: ssl.SSLContext | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL of a CSE")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"give the CSE's point of access without a path (http://host:port), not {url!r}")
        if serialization not in ("json", "cbor"):
            raise ValueError(f"serialization must be 'json' or 'cbor', not {serialization!r}")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.serialization = serialization
        self._sender = HttpSender(ssl_context, pool_size=10)

    async def open(self) -> None:
        await self._sender.start()

    async def close(self) -> None:
        await self._sender.stop()

    async def send(self, request: Request, timeout: float) -> Response:
        try:
            return await self._sender.send(self.url, request, serialization=self.serialization, timeout=timeout)
        except asyncio.TimeoutError:
            raise CseUnreachable(f"{self.url} did not answer within {timeout} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise CseUnreachable(f"{self.url} is not reachable: {exc}") from None
