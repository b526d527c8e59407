"""CoAP sender (TS-0008): primitives this CSE originates, as CoAP requests over UDP.

Registered with `cse.outbound.Outbound` for coap (DTLS, coaps, is not supported).  A URL
with a path is the exact destination (a notification URI); a bare point of access
(coap://host:port) is the entity itself, and the Uri-Path is derived from `request.to` as
in TS-0008 6.2.2.2.  A `ct=json|cbor` query on the URL picks the serialization and is not
sent.  One aiocoap client context serves every request and is closed at stop; aiocoap does
retransmission and block-wise transfer.  It never retries beyond CoAP's own retransmission:
what to do with a failed delivery is the caller's decision.
"""
from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl, unquote, urlsplit

import aiocoap

from cse.outbound_policy import OutboundPolicy
from cse.primitives import Request, Response

from . import coap_codec, coap_options, media


class CoapSender:
    name = "coap-client"

    def __init__(self, policy: OutboundPolicy | None = None):
        coap_options.register()
        # Where targets may be: the datagram goes to an address the policy allowed.
        self.policy = policy
        self._context: aiocoap.Context | None = None
        self._opening = asyncio.Lock()

    @property
    def poa(self) -> list[str]:
        return []

    async def start(self) -> None:
        """The client context is created on first use."""

    async def stop(self) -> None:
        if self._context is not None:
            context, self._context = self._context, None
            await context.shutdown()

    async def _client(self) -> aiocoap.Context:
        async with self._opening:
            if self._context is None:
                self._context = await aiocoap.Context.create_client_context(transports=["udp6"])
        return self._context

    async def send(self, url: str, request: Request, *, serialization: str, timeout: float) -> Response:
        parts = urlsplit(url)
        if not parts.hostname:
            raise ValueError(f"{url!r} names no CoAP host")
        url_query = parse_qsl(parts.query, keep_blank_values=True)
        for name, value in url_query:
            if name == "ct" and value in (media.JSON, media.CBOR):
                serialization = value
        if parts.path in ("", "/"):
            segments = coap_codec.target_to_path(request.to)
        else:
            segments = [unquote(s) for s in parts.path[1:].split("/")]
        wire = coap_codec.encode_request(request, serialization, segments,
                                         [(name, value) for name, value in url_query if name != "ct"])
        netloc = parts.netloc
        if self.policy is not None:
            port = parts.port or 5683
            address = (await self.policy.addresses(parts.hostname, port))[0]
            netloc = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        message = coap_options.to_aiocoap(wire, uri=f"coap://{netloc}/")
        context = await self._client()
        answer = await asyncio.wait_for(context.request(message).response, timeout)
        return coap_codec.decode_response(coap_options.from_aiocoap(answer), request)
