"""aiocoap's side of the CoAP binding: its messages <-> `coap_codec.CoapMessage`.

The mapping itself (option numbers, content formats, codes, primitives) is `coap_codec`, pure;
this module is the only one that knows how aiocoap holds options, so the server (`coap.py`)
and the sender (`coap_client.py`) convert at the edge and hand plain values to the codec.
`register()` tells aiocoap how to decode the oneM2M options (text or unsigned integers); it
only configures the library's option table, once, and is safe to call many times.  `get`,
`put` and `uses_legacy` work on aiocoap messages directly, for clients (tests, the bench).
"""
from __future__ import annotations

import warnings
from typing import Any

from aiocoap import optiontypes
from aiocoap.message import Message
from aiocoap.numbers.codes import Code
from aiocoap.numbers.optionnumbers import OptionNumber

from . import coap_codec
from .coap_codec import CURRENT, LEGACY, ONEM2M_OPTIONS, UINT_PARAMETERS


class TextOption(optiontypes.StringOption):
    """A oneM2M string option.  Bytes that are not UTF-8 are kept as bytes, for the codec to
    refuse with a oneM2M error: aiocoap's StringOption raises while the datagram is parsed,
    and the request is then dropped without any answer."""

    def decode(self, rawdata: bytes) -> None:
        try:
            self.value: str | bytes = rawdata.decode("utf-8")
        except UnicodeDecodeError:
            self.value = bytes(rawdata)


def register() -> None:
    for table in (CURRENT, LEGACY):
        for name, number in table.items():
            kind = optiontypes.UintOption if name in UINT_PARAMETERS else TextOption
            option = OptionNumber(number)
            if option.format is not kind:
                option.set_format(kind)
    # Uri-Path and Uri-Query too: a path that is not UTF-8 would otherwise raise inside
    # aiocoap's datagram parsing (an ERROR traceback and no answer at all); kept as bytes,
    # the codec answers it 4.00 like any other malformed request.
    # (aiocoap warns about changing a standard option's format; the wire format is the same
    # text, only the handling of bad bytes differs.)
    for option in (OptionNumber.URI_PATH, OptionNumber.URI_QUERY):
        if option.format is not TextOption:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                option.set_format(TextOption)


# The options aiocoap knows (RFC 7252 and later RFCs); it handles those it implements itself.
COAP_OPTIONS = frozenset(int(number) for number in OptionNumber.__members__.values())


def onem2m_options(message: Message) -> dict[int, list[Any]]:
    """The oneM2M options of an aiocoap message, by number, values in order."""
    options: dict[int, list[Any]] = {}
    for item in message.opt.option_list():
        number = int(item.number)
        if number in ONEM2M_OPTIONS:
            options.setdefault(number, []).append(item.value)
    return options


def from_aiocoap(message: Message) -> coap_codec.CoapMessage:
    opt = message.opt
    options: dict[int, list[Any]] = {}
    unknown: list[int] = []
    for item in opt.option_list():
        number = int(item.number)
        if number in ONEM2M_OPTIONS:
            options.setdefault(number, []).append(item.value)
        elif number not in COAP_OPTIONS:
            unknown.append(number)
    content_format, accept = opt.content_format, opt.accept
    return coap_codec.CoapMessage(
        code=int(message.code), uri_path=tuple(opt.uri_path), uri_query=tuple(opt.uri_query),
        location_path=tuple(opt.location_path), options=options, unknown_options=tuple(unknown),
        content_format=None if content_format is None else int(content_format),
        accept=None if accept is None else int(accept), max_age=opt.max_age, size1=opt.size1,
        payload=message.payload)


def to_aiocoap(message: coap_codec.CoapMessage, uri: str | None = None) -> Message:
    """An aiocoap message; `uri` (scheme and authority, e.g. coap://host:5683/) for a
    request, which aiocoap resolves and sends to."""
    out = Message(code=Code(message.code), payload=message.payload, **({"uri": uri} if uri else {}))
    opt = out.opt
    if message.uri_path:
        opt.uri_path = message.uri_path
    if message.uri_query:
        opt.uri_query = message.uri_query
    if message.location_path:
        opt.location_path = message.location_path
    if message.content_format is not None:
        opt.content_format = message.content_format
    if message.accept is not None:
        opt.accept = message.accept
    if message.max_age is not None:
        opt.max_age = message.max_age
    if message.size1 is not None:
        opt.size1 = message.size1
    for number, values in message.options.items():
        option_number = OptionNumber(number)
        for value in values:
            opt.add_option(option_number.create_option(value=value))
    return out


def uses_legacy(message: Message) -> bool:
    """True when the peer numbered its oneM2M options the pre-V3.7.0 way."""
    return coap_codec.uses_legacy(onem2m_options(message))


def get(message: Message, name: str, legacy: bool = False) -> Any:
    """The value of oneM2M option `name`, or None; 4000 when it is repeated or not UTF-8."""
    return coap_codec.option(onem2m_options(message), name, legacy)


def put(message: Message, name: str, value: Any, legacy: bool = False) -> None:
    if value is not None:
        numbers = LEGACY if legacy else CURRENT
        message.opt.add_option(OptionNumber(numbers[name]).create_option(value=value))
