"""The oneM2M vocabulary of CoAP (TS-0008): option numbers, content formats, response codes.

Shared by the CoAP server binding and the CoAP sender.  Option numbers follow TS-0008
V3.7.0 and later (ACME, tinyIoT); the older 256..275 numbers (Mobius, oneM2MTester) are
understood too, and a request that used them is answered with them.  `register()` tells
aiocoap how to decode these options (strings or unsigned integers); it only configures the
library's option table, once, and is safe to call many times.
"""
from __future__ import annotations

from aiocoap import optiontypes
from aiocoap.message import Message
from aiocoap.numbers.codes import Code
from aiocoap.numbers.optionnumbers import OptionNumber

from cse.errors import bad_request

from . import media

# parameter -> option number
CURRENT = {"fr": 279, "rqi": 283, "ot": 259, "rqet": 291, "rset": 295, "oet": 299, "rturi": 263,
           "ec": 303, "rsc": 307, "gid": 311, "ty": 267, "cto": 319, "cts": 323, "ati": 327,
           "rvi": 271, "vsi": 331, "gtm": 335, "aus": 339, "asri": 275}
LEGACY = {"fr": 256, "rqi": 257, "ot": 259, "rqet": 260, "rset": 261, "oet": 262, "rturi": 263,
          "ec": 264, "rsc": 265, "gid": 266, "ty": 267, "cto": 268, "cts": 269, "ati": 270,
          "rvi": 271, "vsi": 272, "gtm": 273, "aus": 274, "asri": 275}
UINT_PARAMETERS = frozenset({"ec", "rsc", "ty", "cto", "cts"})

# Content-Format numbers (TS-0008 6.2.2.3; RFC 7252 / RFC 7049 registry for 50 and 60).
JSON_FORMATS = frozenset({50, 10001, 10003, 10007, 10009})
CBOR_FORMATS = frozenset({60, 10010, 10011, 10012, 10013})
CONTENT_FORMAT = {media.JSON: 50, media.CBOR: 60}
LINK_FORMAT = 40

# RSC -> CoAP response code "c.dd" (TS-0008 Table 6.2.4-1); 2000 depends on the operation.
_CODES = {
    1001: "2.01", 1002: "2.04", 2001: "2.01", 2002: "2.02", 2004: "2.04",
    4000: "4.00", 4001: "5.01", 4004: "4.04", 4005: "4.05", 4008: "5.04", 4015: "4.15",
    4101: "4.03", 4102: "4.00", 4103: "4.03", 4104: "4.00", 4105: "4.03", 4106: "4.03",
    4107: "4.03", 4108: "4.03", 4109: "4.03", 4110: "4.00", 4111: "4.03", 4112: "4.03",
    4113: "4.03", 4114: "4.03", 4115: "4.03", 4116: "4.03", 4117: "4.03", 4118: "4.04",
    4119: "4.04", 4120: "4.02", 4121: "4.04", 4122: "4.02", 4123: "4.00", 4124: "4.00",
    4125: "5.01", 4126: "4.03", 4127: "4.03", 4128: "4.03", 4143: "4.00",
    5000: "5.00", 5001: "5.01", 5103: "4.04", 5105: "4.03", 5106: "4.00", 5107: "4.04",
    5203: "4.03", 5204: "5.00", 5205: "4.03", 5206: "5.01", 5207: "4.06", 5208: "4.03",
    5209: "5.00", 5210: "5.00", 5211: "5.00", 5212: "5.00", 5214: "4.03", 5215: "4.03",
    5216: "5.00", 5217: "5.00", 5218: "4.03", 5219: "4.00", 5220: "4.00", 5221: "5.00",
    5222: "4.03",
    6003: "4.04", 6005: "4.04", 6010: "4.00", 6020: "5.00", 6021: "5.00", 6022: "4.00",
    6023: "4.00", 6024: "4.00", 6025: "5.00", 6026: "5.00", 6028: "4.00", 6029: "4.00",
    6030: "5.04", 6031: "5.04",
}
_CLASS_DEFAULT = {1: "2.04", 2: "2.04", 4: "4.00", 5: "5.00", 6: "5.00"}
RETRIEVE = 2


def _code(text: str) -> Code:
    major, minor = text.split(".")
    return Code((int(major) << 5) | int(minor))


def coap_code(rsc: int, op: int | None) -> Code:
    """The CoAP response code of a response status code (2000 is 2.05 only for RETRIEVE)."""
    if rsc == 2000:
        return _code("2.05" if op == RETRIEVE else "2.04")
    return _code(_CODES.get(rsc) or _CLASS_DEFAULT.get(rsc // 1000, "5.00"))


def rsc_of_code(code: Code, op: int | None) -> int:
    """A response status code for a peer that sent no oneM2M-RSC option."""
    major, minor = int(code) >> 5, int(code) & 0x1F
    if major == 2:
        return {1: 2001, 2: 2002, 4: 2004 if op == 3 else 2000}.get(minor, 2000)
    if major == 4:
        return {3: 4103, 4: 4004, 5: 4005, 6: 5207, 15: 4015}.get(minor, 4000)
    return {1: 5001, 4: 4008}.get(minor, 5000) if major == 5 else 5000


def serialization_of(content_format: int | None) -> str | None:
    if content_format is None:
        return None
    if content_format in JSON_FORMATS:
        return media.JSON
    if content_format in CBOR_FORMATS:
        return media.CBOR
    return None


class TextOption(optiontypes.StringOption):
    """A oneM2M string option.  Bytes that are not UTF-8 are kept as bytes, for `get` to
    refuse with a oneM2M error: aiocoap's StringOption raises while the datagram is parsed,
    and the request is then dropped without any answer."""

    def decode(self, rawdata: bytes) -> None:
        try:
            self.value = rawdata.decode("utf-8")
        except UnicodeDecodeError:
            self.value = bytes(rawdata)


def register() -> None:
    for table in (CURRENT, LEGACY):
        for name, number in table.items():
            kind = optiontypes.UintOption if name in UINT_PARAMETERS else TextOption
            option = OptionNumber(number)
            if getattr(option, "_format", None) is not kind:
                option.set_format(kind)


def uses_legacy(message: Message) -> bool:
    """True when the peer numbered its oneM2M options the pre-V3.7.0 way."""
    opt = message.opt
    current = opt.get_option(OptionNumber(CURRENT["fr"])) or opt.get_option(OptionNumber(CURRENT["rqi"]))
    legacy = opt.get_option(OptionNumber(LEGACY["fr"])) or opt.get_option(OptionNumber(LEGACY["rqi"]))
    return bool(legacy) and not current


def get(message: Message, name: str, legacy: bool = False):
    """The value of oneM2M option `name`, or None; 4000 when it is repeated or not UTF-8."""
    number = (LEGACY if legacy else CURRENT)[name]
    found = message.opt.get_option(OptionNumber(number))
    if not found:
        return None
    if len(found) > 1:
        raise bad_request(f"the CoAP option oneM2M-{name.upper()} ({number}) is repeated")
    value = found[0].value
    if isinstance(value, bytes):
        raise bad_request(f"the CoAP option oneM2M-{name.upper()} ({number}) is not UTF-8 text")
    return value


def put(message: Message, name: str, value, legacy: bool = False) -> None:
    if value is None:
        return
    numbers = LEGACY if legacy else CURRENT
    message.opt.add_option(OptionNumber(numbers[name]).create_option(value=value))
