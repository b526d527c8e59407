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

from bindings import http_codec
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

    def __init__(self, url: str, *, serialization: str = "json", ssl_context: ssl.SSLContext | None = None,
                 authorization: str | None = None):
        """`authorization`: an Authorization header value ("Basic ...", "Bearer ...") sent with
        every request, for a CSE that checks credentials (docs/security.md)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{url!r} is not an http(s) URL of a CSE")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"give the CSE's point of access without a path (http://host:port), not {url!r}")
        if serialization not in ("json", "cbor"):
            raise ValueError(f"serialization must be 'json' or 'cbor', not {serialization!r}")
        self.url = f"{parts.scheme}://{parts.netloc}"
        self.serialization = serialization
        self.authorization = authorization
        self.ssl_context = ssl_context
        self._sender = HttpSender(ssl_context, pool_size=10)
        self._session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        await self._sender.start()

    async def close(self) -> None:
        await self._sender.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, request: Request, timeout: float) -> Response:
        try:
            if self.authorization:
                return await self._send_with_credentials(request, timeout)
            return await self._sender.send(self.url, request, serialization=self.serialization, timeout=timeout)
        except asyncio.TimeoutError:
            raise CseUnreachable(f"{self.url} did not answer within {timeout} s") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise CseUnreachable(f"{self.url} is not reachable: {exc}") from None

    async def _send_with_credentials(self, request: Request, timeout: float) -> Response:
        """The sender's mapping (http_codec) plus the Authorization header, which the CSE's
        own sender never sends."""
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
                limit=10, ssl=self.ssl_context if self.ssl_context is not None else True))
        wire = http_codec.encode_request(request, self.serialization)
        headers = {**wire.headers, "Authorization": self.authorization or ""}
        async with self._session.request(wire.method, self.url + (wire.path or "/"), data=wire.body,
                                         headers=headers, params=wire.query or None,
                                         timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            return http_codec.decode_response(http.status, http.headers, await http.read(), request.rqi)
