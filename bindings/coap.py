"""CoAP binding (TS-0008): an aiocoap server on UDP <-> request/response primitives.

aiocoap (maintained, pure Python, asyncio) does RFC 7252 messaging and RFC 7959 block-wise
transfer: large request bodies arrive here reassembled (Block1), large responses leave in
blocks (Block2).  This module maps methods, Uri-Path, Uri-Query, the oneM2M options and
content formats to a `Request`, and the `Response` back to a code, options and payload.
Every request gets an answer: errors found here are oneM2M error responses like the
core's, and an unexpected exception becomes 5.00 with RSC 5000, never a crash.  It knows
nothing about resources.
"""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import aiocoap
import aiocoap.resource
from aiocoap.numbers.codes import Code
from aiocoap.util import hostportsplit

from cse.errors import RSC, OneM2MError, bad_request
from cse.primitives import Operation, Request, Response

from . import coap_options as options
from . import media
from .query import parse_query

if TYPE_CHECKING:
    from cse.auth import Authenticator
    from cse.config import Config
    from cse.dispatcher import Dispatcher

log = logging.getLogger(__name__)

METHODS = {Code.GET: Operation.RETRIEVE, Code.PUT: Operation.UPDATE, Code.DELETE: Operation.DELETE}
STRING_OPTIONS = ("ot", "rqet", "rset", "oet", "gid", "vsi")


def path_to_target(segments: tuple[str, ...]) -> str:
    """TS-0008 6.2.2.2: ~ starts an SP-relative, _ an absolute address, else CSE-relative."""
    if segments and segments[0] == "~":
        return "/" + "/".join(segments[1:])
    if segments and segments[0] == "_":
        return "//" + "/".join(segments[1:])
    return "/".join(segments)


def target_to_path(to: str) -> list[str]:
    if to.startswith("//"):
        return ["_", *to[2:].split("/")]
    if to.startswith("/"):
        return ["~", *to[1:].split("/")]
    return to.split("/")


def peer_address(remote) -> str | None:
    """The peer's IP address without the port, as HTTP reports it (acip rules, and the rate
    limit per address that a new source port must not escape)."""
    try:
        return hostportsplit(remote.hostinfo)[0]
    except (AttributeError, ValueError):
        return None


class _Root(aiocoap.resource.Resource):
    """Every path of the server: the oneM2M resource tree is addressed by Uri-Path."""

    def __init__(self, binding: "CoapBinding"):
        super().__init__()
        self.binding = binding

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self.binding.handle(request)

    async def render_to_pipe(self, pipe) -> None:
        # Refuse an oversized block-wise upload before aiocoap collects it in memory.
        request = pipe.request
        block1 = request.opt.block1
        limit = self.binding.settings.max_body_bytes
        announced = request.opt.size1
        if (block1 is not None and block1.start + len(request.payload) > limit) or \
                (announced is not None and announced > limit):
            pipe.add_response(self.binding.too_large(request), is_last=True)
            return
        await super().render_to_pipe(pipe)

    def get_link_description(self):
        return None


class CoapBinding:
    name = "coap"

    def __init__(self, config: "Config", dispatcher: "Dispatcher",
                 authenticator: "Authenticator | None" = None):
        options.register()
        self.settings = config.coap
        self.cse_name = config.cse.rn
        self.dispatcher = dispatcher
        # No DTLS, so no credential: with authentication on, the originators it protects
        # are refused here.
        self.authenticator = authenticator
        self._context: aiocoap.Context | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = self.settings.host
        if ":" in host:
            host = f"[{host}]"
        return f"coap://{host}:{self.port}"

    @property
    def poa(self) -> list[str]:
        return [self.settings.public_url or self.url]

    async def start(self) -> None:
        self._context = await aiocoap.Context.create_server_context(
            _Root(self), bind=(self.settings.host, self.settings.port), transports=["udp6"])
        self.port = self._bound_port() or self.settings.port

    def _bound_port(self) -> int | None:
        """The UDP port actually bound (the configured one may be 0)."""
        for interface in self._context.request_interfaces:
            manager = getattr(interface, "token_interface", None)
            transport = getattr(manager, "message_interface", None)
            if transport is not None and hasattr(transport, "_local_port"):
                try:
                    return transport._local_port()
                except Exception:  # aiocoap internals moved: fall back to the configured port
                    return None
        return None

    async def stop(self) -> None:
        if self._context is not None:
            await self._context.shutdown()
            self._context = None

    # -- request handling -------------------------------------------------------------------
    async def handle(self, message: aiocoap.Message) -> aiocoap.Message:
        legacy = False
        rqi = ""
        op = None
        serialization = media.JSON
        try:
            if message.opt.uri_path == (".well-known", "core"):
                return self._link_format()
            legacy = options.uses_legacy(message)
            rqi = options.get(message, "rqi", legacy) or ""
            request, serialization = self._to_request(message, legacy)
            op = request.op
            if self.authenticator is not None:
                await self.authenticator.authenticate(request, None)
            response = await self.dispatcher.handle(request)
        except OneM2MError as error:
            response = Response(rsc=error.rsc, rqi=rqi, rvi="3", pc={"m2m:dbg": error.message})
        except Exception:
            log.exception("CoAP binding failed on %s %s", message.code, message.opt.uri_path)
            response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=rqi, rvi="3",
                                pc={"m2m:dbg": "internal error in the CoAP binding"})
        return self._to_message(response, op, serialization, legacy)

    def _to_request(self, message: aiocoap.Message, legacy: bool) -> tuple[Request, str]:
        pairs = [item.partition("=")[::2] for item in message.opt.uri_query]
        ty = options.get(message, "ty", legacy)
        if message.code == Code.POST:
            op = Operation.CREATE if ty is not None else Operation.NOTIFY
            explicit = [value for name, value in pairs if name == "op"]
            if explicit:  # non-blocking requests are all POSTs with op= (TS-0008 6.2.2.4)
                try:
                    op = int(explicit[-1])
                except ValueError:
                    raise bad_request(f"query parameter 'op': {explicit[-1]!r} is not an integer") from None
        else:
            op = METHODS.get(message.code)
            if op is None:
                raise OneM2MError(RSC.OPERATION_NOT_ALLOWED,
                                  f"CoAP method {message.code} has no oneM2M meaning")
        payload = message.payload
        request_format = media.JSON
        content_format = message.opt.content_format
        if content_format is not None:
            kind = options.serialization_of(int(content_format))
            if kind is None:
                raise OneM2MError(RSC.UNSUPPORTED_MEDIA_TYPE,
                                  f"content format {int(content_format)} is not supported; use 50 "
                                  "(application/json) or 60 (application/cbor)")
            request_format = kind
        accept = message.opt.accept
        response_format = request_format
        if accept is not None:
            response_format = options.serialization_of(int(accept))
            if response_format is None:
                raise OneM2MError(RSC.NOT_ACCEPTABLE,
                                  f"accept {int(accept)} is not supported; use 50 (application/json) "
                                  "or 60 (application/cbor)")
        if len(payload) > self.settings.max_body_bytes:
            raise bad_request(f"the body is larger than the limit of {self.settings.max_body_bytes} bytes")
        fields = parse_query(pairs) if pairs else {}
        rturi = options.get(message, "rturi", legacy)
        request = Request(
            op=op, to=path_to_target(message.opt.uri_path), fr=options.get(message, "fr", legacy),
            rqi=options.get(message, "rqi", legacy) or "", rvi=options.get(message, "rvi", legacy),
            ty=ty, pc=media.decode(payload, request_format) if payload else None,
            rtu=rturi.split("&") if rturi else None, accept=response_format,
            remote_address=peer_address(message.remote), **fields)
        for name in STRING_OPTIONS:
            value = options.get(message, name, legacy)
            if value is not None:
                setattr(request, name, value)
        request.ec = options.get(message, "ec", legacy)
        return request, response_format

    def _to_message(self, response: Response, op: int | None, serialization: str,
                    legacy: bool) -> aiocoap.Message:
        payload = b""
        if response.pc is not None:
            try:
                payload = media.encode(response.pc, serialization)
            except Exception:
                log.exception("could not encode a CoAP response body")
                response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=response.rqi, rvi="3",
                                    pc={"m2m:dbg": "response could not be encoded"})
                payload = media.encode(response.pc, serialization)
        message = aiocoap.Message(code=options.coap_code(response.rsc, op), payload=payload)
        if payload:
            message.opt.content_format = options.CONTENT_FORMAT[serialization]
        if message.code == Code.CONTENT:
            message.opt.max_age = 0   # a CoAP cache must not answer oneM2M requests
        if response.content_location:
            message.opt.location_path = target_to_path(response.content_location)
        options.put(message, "rsc", int(response.rsc), legacy)
        options.put(message, "rqi", response.rqi, legacy)
        options.put(message, "rvi", response.rvi, legacy)
        for name, value in (("ot", response.ot), ("rset", response.rset), ("ec", response.ec),
                            ("cts", response.cnst), ("cto", response.cnot), ("vsi", response.vsi)):
            options.put(message, name, value, legacy)
        return message

    def too_large(self, request: aiocoap.Message) -> aiocoap.Message:
        legacy = options.uses_legacy(request)
        limit = self.settings.max_body_bytes
        try:
            rqi = options.get(request, "rqi", legacy) or ""
        except OneM2MError:   # the size is the problem to report
            rqi = ""
        response = Response(rsc=RSC.BAD_REQUEST, rqi=rqi, rvi="3",
                            pc={"m2m:dbg": f"the body is larger than the limit of {limit} bytes"})
        message = self._to_message(response, None, media.JSON, legacy)
        message.code = Code.REQUEST_ENTITY_TOO_LARGE
        message.opt.size1 = limit
        return message

    def _link_format(self) -> aiocoap.Message:
        """/.well-known/core (RFC 6690): where the CSEBase is, for generic CoAP tools."""
        message = aiocoap.Message(code=Code.CONTENT,
                                  payload=f'</{self.cse_name}>;rt="oneM2M.CSEBase"'.encode())
        message.opt.content_format = options.LINK_FORMAT
        return message
