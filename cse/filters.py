"""Filter criteria (TS-0004 7.3.3.17.x, reference section 8.2) on one resource.

Discovery, conditional retrieval, child lists (rcn 4/5/6/8) and subscription criteria all
decide "does this resource match?" with `matches`; the conditions are written once here.
Conditions that need other resources (children, parent) are evaluated by the caller.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Callable

from .errors import bad_request

AND, OR = 1, 2

_INT = (int,)
# member -> (validator, description)
_SCALAR_INT = {"fu", "fo", "lim", "lvl", "ofst", "sts", "stb", "sza", "szb", "cfs", "gmty", "gsf"}
_TIMESTAMPS = {"crb", "cra", "ms", "us", "exb", "exa"}
_INT_LISTS = {"ty", "chty", "pty"}
_STR_LISTS = {"lbl", "clbl", "palb", "cty", "lbq"}
_STRINGS = {"arp", "smf", "cfq", "geom"}
KNOWN = _SCALAR_INT | _TIMESTAMPS | _INT_LISTS | _STR_LISTS | _STRINGS | {"atr", "catr", "patr"}
# Members evaluated by `matches` itself.
LOCAL_CONDITIONS = ("crb", "cra", "ms", "us", "sts", "stb", "exb", "exa", "lbl", "ty", "sza", "szb",
                    "cty", "atr")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_filter_criteria(fc: Any) -> dict:
    """Validate member types (the core sees fc from JSON/CBOR bodies too); 4000 if wrong."""
    if not isinstance(fc, dict):
        raise bad_request("filter criteria (fc) must be an object")
    for name, value in fc.items():
        if name not in KNOWN:
            raise bad_request(f"filter criteria: unknown member '{name}'")
        if name in _SCALAR_INT:
            if not _is_int(value):
                raise bad_request(f"filter criteria '{name}': {value!r} is not an integer")
            if name in ("lim", "lvl", "ofst", "sza", "szb", "sts", "stb") and value < 0:
                raise bad_request(f"filter criteria '{name}': {value} is negative")
        elif name in _TIMESTAMPS:
            from .clock import parse_timestamp
            if not isinstance(value, str):
                raise bad_request(f"filter criteria '{name}': {value!r} is not a timestamp")
            parse_timestamp(value, f"filter criteria '{name}'")
        elif name in _INT_LISTS:
            if not isinstance(value, list) or not all(_is_int(v) for v in value):
                raise bad_request(f"filter criteria '{name}' must be a list of integers")
        elif name in _STR_LISTS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise bad_request(f"filter criteria '{name}' must be a list of strings")
        elif name in _STRINGS:
            if not isinstance(value, str):
                raise bad_request(f"filter criteria '{name}' must be a string")
        else:  # atr, catr, patr
            if not isinstance(value, list) or not all(
                    isinstance(v, dict) and isinstance(v.get("nm"), str) and "val" in v for v in value):
                raise bad_request(f"filter criteria '{name}' must be a list of {{nm, val}} objects")
    if fc.get("fu", 2) not in (1, 2, 3):
        raise bad_request(f"filter usage (fu) {fc['fu']} is not 1 (discovery) or 2 (conditional retrieval)")
    if fc.get("fo", AND) not in (AND, OR):
        raise bad_request(f"filter operation (fo) {fc['fo']} is not 1 (AND) or 2 (OR)")
    return fc


def _attribute_equals(resource: dict, item: dict) -> bool:
    actual = resource.get(item["nm"])
    expected = item["val"]
    if actual is None:
        return False
    if isinstance(expected, str) and ("*" in expected or "?" in expected) and isinstance(actual, str):
        return fnmatch.fnmatchcase(actual, expected)
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    if isinstance(actual, (int, float)) and isinstance(expected, str):
        try:
            return actual == type(actual)(expected)
        except ValueError:
            return False
    if isinstance(actual, list):
        return expected in actual or str(expected) in [str(a) for a in actual]
    return actual == expected or str(actual) == str(expected)


def _content_type(resource: dict) -> str | None:
    cnf = resource.get("cnf")
    return cnf.split(":", 1)[0] if isinstance(cnf, str) else None


_CHECKS: dict[str, Callable[[dict, Any], bool]] = {
    "crb": lambda r, v: r.get("ct", "") < v,
    "cra": lambda r, v: v <= r.get("ct", ""),
    "ms": lambda r, v: v <= r.get("lt", ""),
    "us": lambda r, v: r.get("lt", "") < v,
    "sts": lambda r, v: "st" in r and r["st"] < v,
    "stb": lambda r, v: "st" in r and v <= r["st"],
    "exb": lambda r, v: "et" in r and r["et"] < v,
    "exa": lambda r, v: "et" in r and v <= r["et"],
    "lbl": lambda r, v: bool(set(r.get("lbl") or ()) & set(v)),
    "ty": lambda r, v: r.get("ty") in v,
    "sza": lambda r, v: "cs" in r and v <= r["cs"],
    "szb": lambda r, v: "cs" in r and r["cs"] < v,
    "cty": lambda r, v: _content_type(r) in v,
    "atr": lambda r, v: any(_attribute_equals(r, item) for item in v),
}


def has_conditions(fc: dict | None) -> bool:
    return bool(fc) and any(name in fc for name in LOCAL_CONDITIONS)


def matches(resource: dict, fc: dict, extra: dict[str, bool] | None = None) -> bool:
    """Whether `resource` meets the conditions of `fc`, combined by fo (AND by default).

    `extra` carries results of conditions the caller evaluated (e.g. {"clbl": True}).
    Several values of one condition are always OR-ed (e.g. ty=[2, 3])."""
    results = [check(resource, fc[name]) for name, check in _CHECKS.items() if name in fc]
    if extra:
        results.extend(extra.values())
    if not results:
        return True
    return any(results) if fc.get("fo", AND) == OR else all(results)
