"""CoAP binding (TS-0008): an aiocoap server on UDP <-> request/response primitives.

aiocoap (maintained, pure Python, asyncio) does RFC 7252 messaging and RFC 7959 block-wise
transfer: large request bodies arrive here reassembled (Block1), large responses leave in
blocks (Block2).  The mapping of methods, Uri-Path, Uri-Query, the oneM2M options and
content formats to a `Request`, and of the `Response` back to a code, options and payload,
is `coap_codec` (pure; `coap_options` converts aiocoap's messages for it).  Every request
gets an answer: errors found here are oneM2M error responses like the core's, and an
unexpected exception becomes 5.00 with RSC 5000, never a crash.  It knows nothing about
resources.
"""
from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import aiocoap
import aiocoap.resource
from aiocoap.numbers.codes import Code
from aiocoap.util import hostportsplit

from cse.errors import RSC, OneM2MError
from cse.observe import RequestRecorder, not_recorded
from cse.primitives import Request, Response

from . import coap_codec, coap_options, media

if TYPE_CHECKING:
    from cse.auth import Authenticator
    from cse.config import Config
    from cse.dispatcher import Dispatcher

log = logging.getLogger(__name__)


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
                 authenticator: "Authenticator | None" = None, record: RequestRecorder = not_recorded):
        coap_options.register()
        # Told about every answered request (the request log and metrics, cse/observe.py).
        self.record = record
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
        self.port = bound_port(self._context) or self.settings.port

    async def stop(self) -> None:
        if self._context is not None:
            await self._context.shutdown()
            self._context = None

    # -- request handling -------------------------------------------------------------------
    async def handle(self, message: aiocoap.Message) -> aiocoap.Message:
        started = time.perf_counter()
        request: Request | None = None
        legacy = False
        rqi = ""
        op = None
        serialization = media.JSON
        try:
            if message.opt.uri_path == (".well-known", "core"):
                return self._link_format()
            received = coap_options.from_aiocoap(message)
            legacy = coap_codec.uses_legacy(received.options)
            rqi = coap_codec.option(received.options, "rqi", legacy) or ""
            request, serialization = coap_codec.decode_request(
                received, legacy, self.settings.max_body_bytes, peer_address(message.remote))
            op = request.op
            if self.authenticator is not None:
                request = await self.authenticator.authenticate(request, None)
            response = await self.dispatcher.handle(request)
        except OneM2MError as error:
            response = Response(rsc=error.rsc, rqi=rqi, rvi="3", pc={"m2m:dbg": error.message},
                                extra=dict(error.extra))
        except Exception:
            log.exception("CoAP binding failed on %s %s", message.code, message.opt.uri_path)
            response = Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=rqi, rvi="3",
                                pc={"m2m:dbg": "internal error in the CoAP binding"})
        # The path as received, for the request log (a path that is not UTF-8 arrives as bytes).
        self.record(started, request, response, "/".join(
            part if isinstance(part, str) else bytes(part).decode("utf-8", "replace") for part in message.opt.uri_path))
        return coap_options.to_aiocoap(coap_codec.encode_response(response, op, serialization, legacy))

    def too_large(self, request: aiocoap.Message) -> aiocoap.Message:
        return coap_options.to_aiocoap(
            coap_codec.too_large(coap_options.from_aiocoap(request), self.settings.max_body_bytes))

    def _link_format(self) -> aiocoap.Message:
        """/.well-known/core (RFC 6690): where the CSEBase is, for generic CoAP tools."""
        message = aiocoap.Message(code=Code.CONTENT,
                                  payload=f'</{self.cse_name}>;rt="oneM2M.CSEBase"'.encode())
        message.opt.content_format = coap_codec.LINK_FORMAT
        return message


def bound_port(context: aiocoap.Context) -> int | None:
    """The UDP port a server context actually bound (the configured one may be 0).

    aiocoap has no public API for it: its own `_local_port()` is private (and reports 0 until
    a message was sent on a client socket).  So this walks aiocoap's attribute chain from the
    context to the asyncio transport (request interface -> token manager -> message manager
    -> transport; not underscored, though not documented) and asks the socket the public way,
    `get_extra_info("socket").getsockname()`.  It is kept in this one function, tested by
    tests/bindings/test_coap.py::test_the_bound_port_is_the_one_that_answers; should aiocoap
    change the chain, it returns None and the configured port is reported."""
    for interface in getattr(context, "request_interfaces", ()):
        manager = getattr(interface, "token_interface", None)
        endpoint = getattr(manager, "message_interface", None)
        transport = getattr(endpoint, "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is not None:
            return sock.getsockname()[1]
    return None
