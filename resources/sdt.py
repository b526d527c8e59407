"""The SDT value types of TS-0023 data points, and what a value of each must look like in a
request (JSON or CBOR): the check behind every custom attribute of a flexContainer.

    boolean          true / false
    integer          a whole number (not a boolean)
    nonNegInteger    an integer >= 0          positiveInteger   an integer >= 1
    byte             an integer 0..255
    float            any finite number (an integer is a float too)
    string, uri      a string (a uri is not empty)
    enum             a nonNegInteger code out of the class's list (TS-0023 transports SDT
                     enumerations as their codes)
    timestamp        a oneM2M timestamp YYYYMMDDThhmmss[,ffffff] (SDT datetime; alias)
    date             xs:date YYYY-MM-DD           time   xs:time hh:mm:ss[.fff][Z|+hh:mm]
    blob             a base64 string
    list             an array; its elements are of the element type (`of`)

A data point may narrow its type: `minimum`/`maximum` (numbers), `maxLength` (strings),
`minItems`/`maxItems` (lists), `values` (the codes of an enum).
`ValueType.problem(value)` says what is wrong with a value, or None.

What this module must never do: know a device or module class, or read files.
"""
from __future__ import annotations

import base64
import binascii
import datetime
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

_TIMESTAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(?:,\d{1,6})?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))?$")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def _is_timestamp(value: Any) -> bool:
    match = _TIMESTAMP.match(value) if isinstance(value, str) else None
    if match is None:
        return False
    try:
        year, month, day, hour, minute, second = (int(part) for part in match.groups())
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        return False
    return True


def _is_date(value: Any) -> bool:
    if not (isinstance(value, str) and _DATE.match(value)):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_time(value: Any) -> bool:
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        return False
    hour, minute, second, zone_hour, zone_minute = match.groups()
    if int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        return False
    return zone_hour is None or (int(zone_hour) <= 14 and int(zone_minute) <= 59)


def _is_blob(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


# type name: (test, what a value must be, numeric bounds implied by the type)
_BASE: dict[str, tuple[Callable[[Any], bool], str, float | None, float | None]] = {
    "boolean": (lambda v: isinstance(v, bool), "true or false", None, None),
    "integer": (_is_int, "an integer", None, None),
    "nonNegInteger": (_is_int, "a non-negative integer", 0, None),
    "positiveInteger": (_is_int, "a positive integer", 1, None),
    "byte": (_is_int, "a byte (an integer 0..255)", 0, 255),
    "float": (_is_number, "a float (a number)", None, None),
    "string": (lambda v: isinstance(v, str), "a string", None, None),
    "uri": (lambda v: isinstance(v, str) and v != "", "a URI (a non-empty string)", None, None),
    "enum": (_is_int, "an enumeration code (a non-negative integer)", 0, None),
    "timestamp": (_is_timestamp, "a oneM2M timestamp (YYYYMMDDThhmmss[,ffffff])", None, None),
    "datetime": (_is_timestamp, "a oneM2M timestamp (YYYYMMDDThhmmss[,ffffff])", None, None),
    "date": (_is_date, "a date (YYYY-MM-DD)", None, None),
    "time": (_is_time, "a time of day (hh:mm:ss)", None, None),
    "blob": (_is_blob, "a base64 string", None, None),
    "list": (lambda v: isinstance(v, list), "a list", None, None),
}
TYPE_NAMES = frozenset(_BASE)
NUMERIC = frozenset({"integer", "nonNegInteger", "positiveInteger", "byte", "float"})
TEXTUAL = frozenset({"string", "uri"})


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


@dataclass(frozen=True, slots=True)
class ValueType:
    """One data point's value type, with the narrowing its class gives it."""

    name: str
    element: "ValueType | None" = None          # list elements
    minimum: float | None = None
    maximum: float | None = None
    values: frozenset[int] | None = None        # enum codes
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None

    def __post_init__(self) -> None:
        if self.name not in _BASE:
            raise ValueError(f"unknown SDT type {self.name!r}; known: {', '.join(sorted(_BASE))}")
        if (self.name == "list") != (self.element is not None):
            raise ValueError("a list needs an element type ('of'), and only a list has one")
        if (self.minimum is not None or self.maximum is not None) and self.name not in NUMERIC:
            raise ValueError(f"minimum/maximum apply to numeric types, not to {self.name}")
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"minimum {self.minimum} is above maximum {self.maximum}")
        if self.values is not None and self.name != "enum":
            raise ValueError(f"'values' apply to an enum, not to {self.name}")
        if self.name == "enum" and not self.values:
            raise ValueError("an enum needs its codes ('values')")
        if self.max_length is not None and self.name not in TEXTUAL:
            raise ValueError(f"maxLength applies to strings, not to {self.name}")
        if (self.min_items is not None or self.max_items is not None) and self.name != "list":
            raise ValueError(f"minItems/maxItems apply to lists, not to {self.name}")

    def describe(self) -> str:
        if self.name == "list" and self.element is not None:
            return f"a list of {self.element.describe()}"
        if self.name == "enum" and self.values is not None:
            return f"one of the codes {sorted(self.values)}"
        return _BASE[self.name][1]

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` for this type, or None when it is a valid value."""
        test, _, low, high = _BASE[self.name]
        if not test(value):
            return f"{_shown(value)} is not {self.describe()}"
        if self.name in NUMERIC or self.name == "enum":
            if self.values is not None and value not in self.values:
                return f"{_shown(value)} is not {self.describe()}"
            low = self.minimum if self.minimum is not None else low
            high = self.maximum if self.maximum is not None else high
            if low is not None and value < low:
                return f"{_shown(value)} is below the minimum {low:g}"
            if high is not None and value > high:
                return f"{_shown(value)} is above the maximum {high:g}"
        elif self.name in TEXTUAL:
            if self.max_length is not None and len(value) > self.max_length:
                return f"{_shown(value)} is longer than {self.max_length} characters"
        elif self.name == "list" and self.element is not None:
            if self.min_items is not None and len(value) < self.min_items:
                return f"the list has {len(value)} elements, fewer than {self.min_items}"
            if self.max_items is not None and len(value) > self.max_items:
                return f"the list has {len(value)} elements, more than {self.max_items}"
            for index, item in enumerate(value):
                trouble = self.element.problem(item)
                if trouble is not None:
                    return f"element {index}: {trouble}"
        return None


def value_type(spec: dict) -> ValueType:
    """A ValueType from its description in a class file ({"type": "float", "minimum": 0}).
    Raises ValueError naming what is wrong."""
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ValueError("a data point needs a 'type' (a string)")
    name = spec["type"]
    element = spec.get("of")
    values = spec.get("values")
    return ValueType(
        name=name,
        element=value_type(element if isinstance(element, dict) else {"type": element}) if element is not None
        else None,
        minimum=spec.get("minimum"),
        maximum=spec.get("maximum"),
        values=frozenset(int(code) for code in values) if values is not None else None,
        max_length=spec.get("maxLength"),
        min_items=spec.get("minItems"),
        max_items=spec.get("maxItems"),
    )


__all__ = ["NUMERIC", "TYPE_NAMES", "ValueType", "value_type"]
