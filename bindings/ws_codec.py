"""The WebSocket mapping of TS-0020 as pure functions: primitives <-> WebSocket messages.

A WebSocket connection carries whole request and response primitives in both directions,
one per message, in the serialization its subprotocol names (`oneM2M.json` in text frames,
`oneM2M.cbor` in binary frames), with the short names of `cse.envelope`.  Either end may send
requests, so a message is told apart by its content: a primitive with `op` is a request, one
with `rsc` a response.  The binding (`ws.py`), its sender and the AE client (`client/ws.py`)
all use this module, so each direction is written once; tests/bindings/test_ws_codec.py
checks the round trips as tables.

It must never touch a socket or an aiohttp object.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from cse.envelope import request_from_primitive, response_from_primitive, unwrap
from cse.errors import RSC, OneM2MError, bad_request
from cse.primitives import Request, Response

from . import media

log = logging.getLogger(__name__)

# Subprotocol -> serialization (TS-0020 6.2); the order is the server's preference.
SUBPROTOCOLS = {"oneM2M.json": media.JSON, "oneM2M.cbor": media.CBOR}
SUBPROTOCOL_OF = {serialization: name for name, serialization in SUBPROTOCOLS.items()}


@dataclass(frozen=True)
class Incoming:
    """One decoded message: exactly one of `request` / `response` is set."""

    request: Request | None = None
    response: Response | None = None


class UndecodableMessage(OneM2MError):
    """A message that holds no usable primitive; `rqi` is what could be read of its request
    identifier, so the error answer can still be matched by the peer."""

    def __init__(self, error: OneM2MError, rqi: str):
        super().__init__(error.rsc, error.message)
        self.rqi = rqi


def serialization_of(subprotocol: str | None) -> str | None:
    """"json"/"cbor" for a negotiated subprotocol (case-insensitive, as peers differ), else None."""
    if not subprotocol:
        return None
    for name, serialization in SUBPROTOCOLS.items():
        if name.lower() == subprotocol.strip().lower():
            return serialization
    return None


def decode(data: bytes | str, serialization: str, *, binary: bool,
           max_bytes: int | None = None) -> Incoming:
    """The primitive a message carries.  A JSON connection takes text frames (and binary
    frames holding UTF-8 JSON, which some peers send); a CBOR connection takes binary frames
    only.  `UndecodableMessage` (4000) for an empty, oversized or malformed message."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if max_bytes is not None and len(payload) > max_bytes:
        raise UndecodableMessage(bad_request(f"the message is larger than the limit of {max_bytes} bytes"), "")
    if not payload:
        raise UndecodableMessage(bad_request("the WebSocket message is empty; it must carry a "
                                             "request or response primitive"), "")
    if serialization == media.CBOR and not binary:
        raise UndecodableMessage(bad_request("this connection speaks oneM2M.cbor: send CBOR in "
                                             "binary frames, not text"), "")
    try:
        primitive = media.decode(payload, serialization)
    except OneM2MError as error:
        raise UndecodableMessage(error, media.salvage_field(payload, serialization, "rqi")) from None
    inner = primitive
    if isinstance(primitive, dict) and len(primitive) == 1:
        inner = unwrap(unwrap(primitive, "m2m:rqp"), "m2m:rsp")
    if isinstance(inner, dict) and "op" not in inner and "rsc" in inner:
        try:
            return Incoming(response=response_from_primitive(inner))
        except ValueError as error:
            raise UndecodableMessage(bad_request(f"malformed response primitive: {error}"),
                                     media.primitive_field(inner, "rqi")) from None
    try:
        request = request_from_primitive(inner)
    except OneM2MError as error:
        raise UndecodableMessage(error, media.primitive_field(inner, "rqi")) from None
    return Incoming(request=request)


def with_transport(request: Request, serialization: str, remote_address: str | None) -> Request:
    """The request with what the connection knows: the answer's serialization and the peer."""
    return dataclasses.replace(request, accept=serialization, remote_address=remote_address)


def encode_request(request: Request, serialization: str) -> bytes | str:
    """A request message: text for JSON, bytes for CBOR."""
    return _frame(media.encode(request.to_primitive(), serialization), serialization)


def encode_response(response: Response, serialization: str) -> bytes | str:
    """A response message; one that cannot be encoded is logged and replaced by 5000."""
    try:
        body = media.encode(response.to_primitive(), serialization)
    except Exception:
        log.exception("could not encode a WebSocket response")
        body = media.encode(Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=response.rqi, rvi=response.rvi,
                                     pc={"m2m:dbg": "response could not be encoded"}).to_primitive(),
                            serialization)
    return _frame(body, serialization)


def error_response(error: OneM2MError, rqi: str, rvi: str | None = None) -> Response:
    return Response(rsc=error.rsc, rqi=rqi, rvi=rvi, pc={"m2m:dbg": error.message})


def _frame(body: bytes, serialization: str) -> bytes | str:
    return body.decode("utf-8") if serialization == media.JSON else body
