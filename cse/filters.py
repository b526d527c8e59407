"""Filter criteria (TS-0004 7.3.3.17.x, reference section 8.2) on one resource.

Discovery, conditional retrieval, child lists (rcn 4/5/6/8) and subscription criteria all
decide "does this resource match?" here; the conditions are written once.  Conditions that
need other resources (clbl/chty/catr on children, palb/pty/patr on the parent) are answered
by a caller-supplied function, because this module must never read storage: it only knows
one resource and the criteria.

`Criteria(fc)` compiles the criteria once per request (the form to use in a loop over many
candidates); `matches(resource, fc, extra)` is the one-shot form.
"""
from __future__ import annotations

import fnmatch
from typing import Any, Callable

from .clock import format_timestamp, parse_timestamp
from .errors import RSC, OneM2MError, bad_request

AND, OR = 1, 2
DISCOVERY, CONDITIONAL_RETRIEVAL, IPE_ON_DEMAND_DISCOVERY = 1, 2, 3

_SCALAR_INT = {"fu", "fo", "lim", "lvl", "ofst", "sts", "stb", "sza", "szb", "cfs", "gmty", "gsf"}
_TIMESTAMPS = {"crb", "cra", "ms", "us", "exb", "exa"}
_INT_LISTS = {"ty", "chty", "pty"}
_STR_LISTS = {"lbl", "clbl", "palb", "cty", "lbq"}
_STRINGS = {"arp", "smf", "cfq", "geom"}
_ATTRIBUTE_LISTS = {"atr", "catr", "patr"}
# Members that are conditions on one attribute of the same name: rewritten into `atr`, the
# form an HTTP or CoAP query (`?cnd=...`) gives them anyway, so both forms mean the same.
_ATTRIBUTE_SHORTHANDS = {"cnd", "mgd"}
# Those whose values are integers (mgmtDefinition), the others take strings.
_INTEGER_SHORTHANDS = {"mgd"}
MAX_INTEGER = 2 ** 53 - 1     # largest integer every JSON reader keeps exactly
KNOWN = _SCALAR_INT | _TIMESTAMPS | _INT_LISTS | _STR_LISTS | _STRINGS | _ATTRIBUTE_LISTS | _ATTRIBUTE_SHORTHANDS
# Members evaluated on a child (clbl, chty, catr) or on the parent (palb, pty, patr).
RELATED_CONDITIONS = ("clbl", "chty", "catr", "palb", "pty", "patr")
# Members this CSE understands but does not implement: refused with 5001, never ignored.
UNSUPPORTED = {
    "smf": "semantic filters (smf)",
    "cfs": "content filters (cfs/cfq)",
    "cfq": "content filters (cfs/cfq)",
    "lbq": "label queries (lbq)",
    "gmty": "geographic queries (gmty/geom/gsf)",
    "geom": "geographic queries (gmty/geom/gsf)",
    "gsf": "geographic queries (gmty/geom/gsf)",
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_range(name: str, value: int) -> None:
    """Integers beyond any count or type number would only overflow the storage queries."""
    if not -MAX_INTEGER <= value <= MAX_INTEGER:
        raise bad_request(f"filter criteria '{name}': the value is out of range "
                          f"(-{MAX_INTEGER}..{MAX_INTEGER})")


def check_filter_criteria(fc: Any) -> dict:
    """Validate member types (the core sees fc from JSON/CBOR bodies too); 4000 if wrong,
    5001 for members this CSE does not implement.  Timestamps are rewritten in place to the
    CSE's own format, so that comparisons with stored timestamps are plain string ones."""
    if not isinstance(fc, dict):
        raise bad_request("filter criteria (fc) must be an object")
    for name in _ATTRIBUTE_SHORTHANDS & fc.keys():
        _attribute_shorthand(fc, name)
    for name, value in fc.items():
        if name not in KNOWN:
            raise bad_request(f"filter criteria: unknown member '{name}'")
        if name in _SCALAR_INT:
            if not _is_int(value):
                raise bad_request(f"filter criteria '{name}': {value!r} is not an integer")
            _check_range(name, value)
            if name in ("lim", "lvl", "ofst", "sza", "szb", "sts", "stb") and value < 0:
                raise bad_request(f"filter criteria '{name}': {value} is negative")
        elif name in _TIMESTAMPS:
            if not isinstance(value, str):
                raise bad_request(f"filter criteria '{name}': {value!r} is not a timestamp")
            fc[name] = format_timestamp(parse_timestamp(value, f"filter criteria '{name}'"))
        elif name in _INT_LISTS:
            if not isinstance(value, list) or not value or not all(_is_int(v) for v in value):
                raise bad_request(f"filter criteria '{name}' must be a non-empty list of integers")
            for item in value:
                _check_range(name, item)
        elif name in _STR_LISTS:
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise bad_request(f"filter criteria '{name}' must be a non-empty list of strings")
        elif name in _STRINGS:
            if not isinstance(value, str) or not value:
                raise bad_request(f"filter criteria '{name}' must be a non-empty string")
        else:  # atr, catr, patr
            if not isinstance(value, list) or not value or not all(
                    isinstance(v, dict) and isinstance(v.get("nm"), str) and v["nm"] and "val" in v
                    for v in value):
                raise bad_request(f"filter criteria '{name}' must be a non-empty list of "
                                  "{nm, val} objects")
    fu = fc.get("fu", CONDITIONAL_RETRIEVAL)
    if fu not in (DISCOVERY, CONDITIONAL_RETRIEVAL, IPE_ON_DEMAND_DISCOVERY):
        raise bad_request(f"filter usage (fu) {fu} is not 1 (discovery) or 2 (conditional retrieval)")
    if fu == IPE_ON_DEMAND_DISCOVERY:
        raise OneM2MError(RSC.NOT_IMPLEMENTED, "IPE on-demand discovery (fu=3) is not supported")
    if fc.get("fo", AND) not in (AND, OR):
        raise bad_request(f"filter operation (fo) {fc['fo']} is not 1 (AND) or 2 (OR)")
    for name in fc:
        if name in UNSUPPORTED:
            raise OneM2MError(RSC.NOT_IMPLEMENTED, f"filter criteria '{name}': {UNSUPPORTED[name]} "
                                                   "are not supported by this CSE")
    if "arp" in fc and fu != DISCOVERY:
        raise bad_request("filter criteria 'arp' (applyRelativePath) only applies to discovery (fu=1)")
    return fc


def _attribute_shorthand(fc: dict, name: str) -> None:
    """fc {"cnd": "org.onem2m..."} (a string or a list of alternatives, TS-0004 R4
    containerDefinition) becomes {"atr": [{"nm": "cnd", "val": ...}]}; so does
    {"mgd": 1001} (an integer or a list, the mgmtDefinition of mgmtObjs)."""
    value = fc.pop(name)
    values = value if isinstance(value, list) else [value]
    if name in _INTEGER_SHORTHANDS:
        if not values or not all(_is_int(v) for v in values):
            raise bad_request(f"filter criteria '{name}' must be an integer or a non-empty list of integers")
    elif not values or not all(isinstance(v, str) and v for v in values):
        raise bad_request(f"filter criteria '{name}' must be a non-empty string or list of strings")
    attributes = fc.get("atr", [])
    if not isinstance(attributes, list):
        raise bad_request("filter criteria 'atr' must be a non-empty list of {nm, val} objects")
    fc["atr"] = [*attributes, *({"nm": name, "val": v} for v in values)]


def _attribute_equals(actual: Any, expected: Any) -> bool:
    """One {nm, val}: equality that tolerates values that arrived as query strings, with `*`
    and `?` wildcards for strings, and membership for list attributes (e.g. `poa`)."""
    if actual is None:
        return False
    if isinstance(actual, list):
        return any(_attribute_equals(item, expected) for item in actual) or actual == expected
    if isinstance(expected, str) and isinstance(actual, str):
        if "*" in expected or "?" in expected:
            return fnmatch.fnmatchcase(actual, expected)
        return actual == expected
    if isinstance(actual, bool) or isinstance(expected, bool):
        return str(actual).lower() == str(expected).lower()
    if isinstance(actual, (int, float)) and isinstance(expected, str):
        try:
            return actual == type(actual)(expected)
        except ValueError:
            return False
    return actual == expected or (not isinstance(actual, (dict, list)) and str(actual) == str(expected))


def attribute_groups(items: list[dict]) -> dict[str, list[Any]]:
    """{nm: [val, ...]}: values for one attribute name are alternatives (OR)."""
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item["nm"], []).append(item["val"])
    return groups


def attributes_match(resource: dict, groups: dict[str, list[Any]]) -> bool:
    """Every named attribute equals one of its values (used for catr/patr on one resource)."""
    return all(any(_attribute_equals(resource.get(name), v) for v in values)
               for name, values in groups.items())


def _content_type(resource: dict) -> str | None:
    cnf = resource.get("cnf")
    return cnf.split(":", 1)[0] if isinstance(cnf, str) else None


# A resource without et never expires: it expires after any time, never before one.
_CHECKS: dict[str, Callable[[dict, Any], bool]] = {
    "crb": lambda r, v: r.get("ct", "") < v,
    "cra": lambda r, v: v <= r.get("ct", ""),
    "ms": lambda r, v: v <= r.get("lt", ""),
    "us": lambda r, v: r.get("lt", "") < v,
    "sts": lambda r, v: "st" in r and r["st"] < v,
    "stb": lambda r, v: "st" in r and v <= r["st"],
    "exb": lambda r, v: "et" in r and r["et"] < v,
    "exa": lambda r, v: "et" not in r or v <= r["et"],
    "lbl": lambda r, v: bool(r.get("lbl")) and not v.isdisjoint(r["lbl"]),
    "ty": lambda r, v: r.get("ty") in v,
    "sza": lambda r, v: "cs" in r and v <= r["cs"],
    "szb": lambda r, v: "cs" in r and r["cs"] < v,
    "cty": lambda r, v: _content_type(r) in v,
}
_SET_VALUED = ("lbl", "ty", "cty")


def _bind(check: Callable[[dict, Any], bool], value: Any) -> Callable[[dict], bool]:
    return lambda resource: check(resource, value)


def _attribute_check(name: str, values: list[Any]) -> Callable[[dict], bool]:
    return lambda resource: any(_attribute_equals(resource.get(name), v) for v in values)


# Answers a related condition ("clbl", "palb", ...) for one candidate resource.
RelatedCheck = Callable[[str, dict], bool]


class Criteria:
    """fc compiled once: the checks to run on each candidate, combined by fo.

    Condition tags are combined by fo (AND by default); several values of one tag are
    always alternatives (ty=[2, 3]); each attribute name in atr is its own tag, so
    `?rn=meter*&mni=10` means both (AND) and `?rn=a&rn=b` either."""

    def __init__(self, fc: dict | None):
        fc = fc or {}
        self.fc = fc
        self.any_of = fc.get("fo", AND) == OR
        self.local: list[Callable[[dict], bool]] = []
        for name, check in _CHECKS.items():
            if name in fc:
                value = frozenset(fc[name]) if name in _SET_VALUED else fc[name]
                self.local.append(_bind(check, value))
        for attribute, values in attribute_groups(fc.get("atr", ())).items():
            self.local.append(_attribute_check(attribute, values))
        self.related = tuple(name for name in RELATED_CONDITIONS if name in fc)

    @property
    def empty(self) -> bool:
        return not self.local and not self.related

    @property
    def tag_count(self) -> int:
        return len(self.local) + len(self.related)

    @property
    def answered_by_index(self) -> bool:
        """True when the storage's ty/lbl narrowing (index_hints) already is the whole test."""
        fc = self.fc
        indexed = ("ty" in fc) + ("lbl" in fc)
        return indexed == self.tag_count and (not self.any_of or indexed == 1)

    def index_hints(self) -> tuple[list[int] | None, list[str] | None]:
        """(types, labels) a storage index may narrow candidates by without losing matches:
        under AND every match has them; under OR only when they are the only condition."""
        fc = self.fc
        if self.any_of and self.tag_count > 1:
            return None, None
        return fc.get("ty"), fc.get("lbl")

    def matches(self, resource: dict, related: RelatedCheck | None = None) -> bool:
        if self.any_of:
            if any(check(resource) for check in self.local):
                return True
            return related is not None and any(related(name, resource) for name in self.related)
        if not all(check(resource) for check in self.local):
            return False
        if self.related:
            return related is not None and all(related(name, resource) for name in self.related)
        return True


def matches(resource: dict, fc: dict, extra: dict[str, bool] | None = None) -> bool:
    """Whether `resource` meets the conditions of `fc`, combined by fo (AND by default).

    `extra` carries results of related conditions the caller evaluated (e.g. {"clbl": True});
    related conditions in fc that `extra` does not answer are not met."""
    criteria = Criteria(fc)
    if criteria.empty and not extra:
        return True
    answers = dict(extra or {})
    tags = set(criteria.related) | set(answers)
    if not criteria.local and not tags:
        return True
    results = [check(resource) for check in criteria.local]
    results.extend(bool(answers.get(name)) for name in tags)
    return any(results) if criteria.any_of else all(results)
