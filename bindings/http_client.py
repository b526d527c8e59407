"""HTTP sender (TS-0009): primitives this CSE originates, as HTTP requests.

Registered with `cse.outbound.Outbound` for http and https.  One aiohttp session with a
connection pool is kept for the life of the CSE; notifications go over pipelined
keep-alive connections instead (`http_pipeline`), one per destination URL.  What goes on
the wire and how an answer becomes a `Response` is `http_codec`'s, the same mapping the
server side uses.
"""
from __future__ import annotations

import socket
import ssl
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from cse.primitives import Operation, Request, Response

from . import http_codec
from .http_pipeline import PipelineClient

from cse.outbound_policy import OutboundRefused

if TYPE_CHECKING:
    from cse.outbound_policy import OutboundPolicy


class PolicyResolver(AbstractResolver):
    """aiohttp's name resolution through the outbound policy: only allowed addresses are
    returned, so the connection goes to an address that was checked (DNS rebinding)."""

    def __init__(self, policy: "OutboundPolicy"):
        self.policy = policy

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list[Any]:
        addresses = await self.policy.addresses(host, port)
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST} for address in addresses]

    async def close(self) -> None:
        return None


class HttpSender:
    name = "http-client"

    # Concurrent NOTIFYs to one URL are transmitted in the order `send` was called, so the
    # notifier may keep several in flight per target without reordering them.
    keeps_order = True

    def __init__(self, ssl_context: ssl.SSLContext | None = None, pool_size: int = 100, *,
                 vendor_notify_type: bool = False, policy: "OutboundPolicy | None" = None,
                 max_connections: int = 1000, connect_timeout: float = 5.0):
        self.ssl_context = ssl_context
        # NOTIFY bodies as application/vnd.onem2m-ntfy+json (+cbor) instead of application/json.
        self.vendor_notify_type = vendor_notify_type
        self.pool_size = pool_size
        self.policy = policy
        self.max_connections = max_connections
        self.connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None
        self._pipeline: PipelineClient | None = None

    async def start(self) -> None:
        # ssl=True: aiohttp's default verification, for https:// without a context of ours.
        ssl = self.ssl_context if self.ssl_context is not None else True
        if self.policy is not None:
            connector = aiohttp.TCPConnector(limit=self.pool_size, ssl=ssl, resolver=PolicyResolver(self.policy))
        else:
            connector = aiohttp.TCPConnector(limit=self.pool_size, ssl=ssl)
        self._session = aiohttp.ClientSession(connector=connector)

    async def stop(self) -> None:
        if self._pipeline is not None:
            await self._pipeline.close()
            self._pipeline = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def poa(self) -> list[str]:
        return []

    async def _first_allowed(self, host: str, port: int) -> str:
        assert self.policy is not None
        return (await self.policy.addresses(host, port))[0]

    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        parts = urlsplit(url)
        # A bare point of access (no path) means the entity: the path comes from request.to.
        address_in_path = parts.path in ("", "/") and "://" not in request.to
        wire = http_codec.encode_request(request, serialization, address_in_path, self.vendor_notify_type)
        if wire.path is not None:
            url = f"{parts.scheme}://{parts.netloc}{wire.path}"
        if request.op == Operation.NOTIFY:
            # Synchronous until the request is written: concurrent notifications to one URL
            # leave in call order (see `keeps_order`).
            if self._pipeline is None:
                self._pipeline = PipelineClient(self.ssl_context, max_connections=self.max_connections,
                                                connect_timeout=self.connect_timeout,
                                                resolve=self._first_allowed if self.policy else None)
            answer = await self._pipeline.request(wire.method, url, wire.headers, wire.body, timeout)
            return http_codec.decode_response(answer.status, answer.headers, answer.body, request.rqi)
        if self._session is None:
            await self.start()
        assert self._session is not None
        try:
            async with self._session.request(
                    wire.method, url, data=wire.body, headers=wire.headers, params=wire.query or None,
                    timeout=aiohttp.ClientTimeout(total=timeout, sock_connect=self.connect_timeout)) as http:
                raw = await http.read()
                return http_codec.decode_response(http.status, http.headers, raw, request.rqi)
        except aiohttp.ClientConnectorError as error:
            # aiohttp wraps the resolver's refusal; say why (the outbound policy) rather
            # than "cannot connect".
            if isinstance(error.os_error, OutboundRefused):
                raise error.os_error from None
            raise
