"""The MQTT mapping of TS-0010 as pure functions: primitives <-> (topic, payload).

A request or response travels as the primitive itself, one JSON or CBOR object with the
short names (`cse.envelope`; `{"m2m:rqp": ...}` / `{"m2m:rsp": ...}` wrappers accepted), in
the serialization the topic's last level names; the topics are `mqtt_topics`.  Both sides
use this module, so each direction is written once and the two are each other's inverse:
the binding (`mqtt.py`) and the AE client (`client/mqtt.py`) decode requests and encode
responses, the senders (`mqtt_client.py`, `mqtt_connection.py`) encode requests and decode
responses.  tests/bindings/test_mqtt_codec.py checks the round trips parameter by parameter.

It must never touch a broker, a socket or a paho object.
"""
from __future__ import annotations

import logging
import re


from cse.envelope import request_from_primitive, response_from_primitive
from cse.errors import RSC, OneM2MError, bad_request
from cse.primitives import Request, Response

from . import media
from .mqtt_topics import SERIALIZATIONS, Topic

log = logging.getLogger(__name__)


class UndecodableRequest(OneM2MError):
    """A message on a request topic that holds no usable request primitive.  `rqi` is what
    could be read of its request identifier, so that the error answer can still be matched."""

    def __init__(self, error: OneM2MError, rqi: str):
        super().__init__(error.rsc, error.message)
        self.rqi = rqi


def answer_serialization(topic: Topic) -> str:
    """The serialization of the answer: the topic's, or JSON when the topic's is unsupported."""
    return topic.serialization if topic.serialization in SERIALIZATIONS else media.JSON


def decode_request(topic: Topic, payload: bytes, max_payload_bytes: int | None = None) -> Request:
    """The request primitive a message carries; `UndecodableRequest` (4015 for a topic's
    serialization other than json/cbor, 4000 for an empty, oversized or malformed payload)."""
    serialization = topic.serialization
    if serialization not in SERIALIZATIONS:
        raise UndecodableRequest(OneM2MError(
            RSC.UNSUPPORTED_MEDIA_TYPE, f"the topic asks for serialization {serialization!r}; this CSE "
                                        "speaks json and cbor (the error is sent as json)"), _xml_rqi(payload))
    if max_payload_bytes is not None and len(payload) > max_payload_bytes:
        raise UndecodableRequest(bad_request(f"the payload is larger than the limit of "
                                             f"{max_payload_bytes} bytes"), "")
    if not payload:
        raise UndecodableRequest(bad_request("the MQTT message is empty; it must carry a request "
                                             "primitive"), "")
    try:
        primitive = media.decode(payload, serialization)
    except OneM2MError as error:
        raise UndecodableRequest(error, media.salvage_field(payload, serialization, "rqi")) from None
    try:
        # The one parameter the primitive does not carry is given to the constructor
        # (dataclasses.replace afterwards would copy all 25 fields, 3 µs per request).
        return request_from_primitive(primitive, accept=serialization)
    except OneM2MError as error:
        raise UndecodableRequest(error, media.primitive_field(primitive, "rqi")) from None


def encode_request(request: Request, serialization: str) -> bytes:
    return media.encode(request.to_primitive(), serialization)


def encode_response(response: Response, serialization: str) -> bytes:
    """The payload of an answer; one that cannot be encoded is logged and replaced by 5000."""
    try:
        return media.encode(response.to_primitive(), serialization)
    except Exception:
        log.exception("could not encode an MQTT response")
        return media.encode(Response(rsc=RSC.INTERNAL_SERVER_ERROR, rqi=response.rqi, rvi="3",
                                     pc={"m2m:dbg": "response could not be encoded"}).to_primitive(),
                            serialization)


def decode_response(topic: Topic, payload: bytes) -> Response:
    """The response primitive of a message on a response topic (ValueError, or OneM2MError
    for a body that does not decode, when it holds none)."""
    if topic.serialization not in SERIALIZATIONS:
        raise ValueError(f"unsupported serialization {topic.serialization!r}")
    return response_from_primitive(media.decode(payload, topic.serialization))


def error_response(error: OneM2MError, rqi: str) -> Response:
    """The answer to a request refused with `error` (MQTT answers carry rvi 3)."""
    return Response(rsc=error.rsc, rqi=rqi, rvi="3", pc={"m2m:dbg": error.message})


def _xml_rqi(payload: bytes) -> str:
    """Best effort, so an XML client can still match the 4015 answer to its request."""
    match = re.search(rb"<rqi>([^<]{1,255})</rqi>", payload)
    return match.group(1).decode("utf-8", "replace") if match else ""
