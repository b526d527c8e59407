"""Serializations (JSON, CBOR) and media types shared by the bindings."""
from __future__ import annotations

from typing import Any

import cbor2
import orjson

from cse.errors import RSC, OneM2MError

JSON = "json"
CBOR = "cbor"

_MEDIA_TYPES = {
    "application/json": JSON,
    "application/cbor": CBOR,
    "application/vnd.onem2m-res+json": JSON,
    "application/vnd.onem2m-ntfy+json": JSON,
    "application/vnd.onem2m-preq+json": JSON,
    "application/vnd.onem2m-prsp+json": JSON,
    "application/vnd.onem2m-res+cbor": CBOR,
    "application/vnd.onem2m-ntfy+cbor": CBOR,
    "application/vnd.onem2m-preq+cbor": CBOR,
    "application/vnd.onem2m-prsp+cbor": CBOR,
}
CONTENT_TYPE = {JSON: "application/json", CBOR: "application/cbor"}


def serialization_of(media_type: str) -> str | None:
    """"json"/"cbor" for a supported media type (parameters ignored), else None."""
    return _MEDIA_TYPES.get(media_type.split(";", 1)[0].strip().lower())


def parse_content_type(header: str) -> tuple[str, dict[str, str]]:
    """("application/json", {"ty": "3"}) from 'application/json; ty=3'."""
    parts = header.split(";")
    params = {}
    for part in parts[1:]:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return parts[0].strip().lower(), params


def negotiate(accept: str | None, default: str) -> str:
    """Pick the response serialization from an Accept header (5207 when none fits)."""
    if not accept:
        return default
    best, best_q = None, -1.0
    for item in accept.split(","):
        media, params = parse_content_type(item)
        try:
            quality = float(params.get("q", "1"))
        except ValueError:
            quality = 0.0
        if quality <= 0:
            continue
        kind: str | None
        if media in ("*/*", "application/*"):
            kind = default
        else:
            kind = serialization_of(media)
        if kind is not None and quality > best_q:
            best, best_q = kind, quality
    if best is None:
        raise OneM2MError(RSC.NOT_ACCEPTABLE,
                          f"none of the accepted media types ({accept}) is supported; use "
                          "application/json or application/cbor")
    return best


MAX_NESTING = 64


def decode(body: bytes, serialization: str) -> Any:
    if serialization == JSON:
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise OneM2MError(RSC.BAD_REQUEST, f"the body is not valid JSON: {exc}") from None
        # Counting brackets is cheap; only a body that could be too deep is walked.
        if body.count(b"{") + body.count(b"[") > MAX_NESTING:
            _check_depth(value, 0)
        return value
    try:
        value = cbor2.loads(body)
        return _plain(value, 0)
    except OneM2MError:
        raise
    except Exception as exc:  # cbor2 raises several types for malformed input
        raise OneM2MError(RSC.BAD_REQUEST, f"the body is not valid CBOR: {exc}") from None


def _too_deep() -> OneM2MError:
    return OneM2MError(RSC.BAD_REQUEST, f"the body is nested deeper than {MAX_NESTING} levels")


def _check_depth(value: Any, depth: int) -> None:
    if depth > MAX_NESTING:
        raise _too_deep()
    if isinstance(value, dict):
        for item in value.values():
            if isinstance(item, (dict, list)):
                _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                _check_depth(item, depth + 1)


_INT_RANGE = (-(2**63), 2**64 - 1)


def _plain(value: Any, depth: int) -> Any:
    """CBOR may carry values JSON cannot (tags, byte strings, non-text keys, integers
    beyond 64 bits, NaN): refuse them here so the core sees the same data model from
    both serializations and can store every value it accepted."""
    if isinstance(value, (str, bool)) or value is None:
        return value
    if isinstance(value, int):
        if not _INT_RANGE[0] <= value <= _INT_RANGE[1]:
            raise OneM2MError(RSC.BAD_REQUEST, "CBOR integer outside the 64-bit range")
        return value
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise OneM2MError(RSC.BAD_REQUEST, "CBOR number is NaN or infinite")
        return value
    if depth > MAX_NESTING:
        raise _too_deep()
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise OneM2MError(RSC.BAD_REQUEST, f"CBOR map key {key!r} is not a text string")
            out[key] = _plain(item, depth + 1)
        return out
    raise OneM2MError(RSC.BAD_REQUEST,
                      f"CBOR value of type {type(value).__name__} has no oneM2M meaning")


def encode(value: Any, serialization: str) -> bytes:
    if serialization == JSON:
        return orjson.dumps(value)
    return cbor2.dumps(value)


def salvage_field(payload: bytes, serialization: str, name: str) -> str:
    """A string parameter (e.g. rqi) of a body that media.decode refused, for echoing it in
    the error answer so the peer can match it; "" when it cannot be read."""
    return primitive_field(_salvage(payload, serialization), name)


def _salvage(payload: bytes, serialization: str) -> Any:
    """The raw object of a body refused by media.decode (too deep, CBOR bytes...), only to
    echo its rqi; None when it does not parse at all."""
    try:
        return orjson.loads(payload) if serialization == JSON else cbor2.loads(payload)
    except Exception:  # any parse failure or recursion limit: nothing to echo
        return None


def primitive_field(primitive: Any, name: str) -> str:
    """A string parameter of a possibly malformed primitive, for echoing in an error answer."""
    if isinstance(primitive, dict):
        inner = primitive.get("m2m:rqp")
        if isinstance(inner, dict) and len(primitive) == 1:
            primitive = inner
        value = primitive.get(name)
        if isinstance(value, str):
            return value
    return ""
