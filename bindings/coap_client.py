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
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import aiocoap
from aiocoap.numbers.codes import Code

from cse.primitives import Operation, Request, Response

from . import coap_options as options
from . import media
from .coap import STRING_OPTIONS, path_to_target, target_to_path
from .query import to_query

METHOD = {Operation.CREATE: Code.POST, Operation.RETRIEVE: Code.GET, Operation.UPDATE: Code.PUT,
          Operation.DELETE: Code.DELETE, Operation.NOTIFY: Code.POST}


class CoapSender:
    name = "coap-client"

    def __init__(self):
        options.register()
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
        query = parse_qsl(parts.query, keep_blank_values=True)
        for name, value in query:
            if name == "ct" and value in (media.JSON, media.CBOR):
                serialization = value
        query = [(name, value) for name, value in query if name != "ct"] + to_query(request)
        if parts.path in ("", "/"):
            segments = target_to_path(request.to)
        else:
            segments = [unquote(s) for s in parts.path[1:].split("/")]
        uri = f"coap://{parts.netloc}/" + "/".join(quote(s, safe="~") for s in segments)
        if query:
            uri += "?" + urlencode(query)
        payload = media.encode(request.pc, serialization) if request.pc is not None else b""
        message = aiocoap.Message(code=METHOD[request.op], uri=uri, payload=payload)
        if payload:
            message.opt.content_format = options.CONTENT_FORMAT[serialization]
        message.opt.accept = options.CONTENT_FORMAT[serialization]
        options.put(message, "fr", request.fr)
        options.put(message, "rqi", request.rqi)
        options.put(message, "rvi", request.rvi)
        if request.op == Operation.CREATE:
            options.put(message, "ty", request.ty)
        for name in STRING_OPTIONS:
            value = getattr(request, name)
            options.put(message, name, None if value is None else str(value))
        options.put(message, "ec", request.ec)
        if request.rtu:
            options.put(message, "rturi", "&".join(request.rtu))
        context = await self._client()
        answer = await asyncio.wait_for(context.request(message).response, timeout)
        return self._to_response(answer, request)

    @staticmethod
    def _to_response(answer: aiocoap.Message, request: Request) -> Response:
        legacy = options.uses_legacy(answer)
        rsc = options.get(answer, "rsc", legacy) or options.get(answer, "rsc", not legacy)
        if rsc is None:
            rsc = options.rsc_of_code(answer.code, request.op)
        pc = None
        if answer.payload:
            content_format = answer.opt.content_format
            kind = options.serialization_of(int(content_format) if content_format is not None else 50)
            try:
                pc = media.decode(answer.payload, kind or media.JSON)
            except Exception:
                pc = None
        response = Response(rsc=rsc, pc=pc,
                            rqi=options.get(answer, "rqi", legacy) or request.rqi,
                            rvi=options.get(answer, "rvi", legacy))
        if answer.opt.location_path:
            response.content_location = path_to_target(tuple(answer.opt.location_path))
        return response
