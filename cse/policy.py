"""accessControlPolicy rules in a form that is cheap to evaluate on every request.

`compile_rules` turns the `pv`/`pvs` value of an <accessControlPolicy> (`{"acr": [...]}`)
into `Rule`s, checking what the JSON schema cannot (schedule strings, IP blocks, features
this CSE does not support); `Rule.grants` answers one question for one request.  Parsing
happens once per ACP version, matching many times, so matching must stay free of parsing,
regular-expression compilation and storage access.

What this module must never do: read storage or look at anything but the rule and the
facts handed to `grants` (it is pure, and the access-decision code relies on that).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import AbstractSet, Any, Callable, Iterable

from .errors import RSC, OneM2MError, bad_request
from .schedule_entries import Schedule

ALL_OPERATIONS = 63
EVERYONE = "all"


@dataclass(frozen=True, slots=True)
class Facts:
    """What a rule may depend on besides the originator and the operation."""

    now: float                         # seconds since the epoch
    remote_address: str | None         # None when unknown (internal requests)
    authenticated: bool
    target_ty: int | None              # type of the resource the rule is evaluated for
    child_ty: int | None               # for CREATE: type of the resource being created
    target_spty: object = None         # specialization of the resource (flexContainer cnd, mgmtObj mgd)


@dataclass(frozen=True, slots=True)
class AccessContext:
    """One accessControlContexts entry: every part present must match."""

    windows: Schedule | None           # accessControlWindow (actw): any of its entries
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] | None

    def matches(self, facts: Facts) -> bool:
        if self.windows is not None and not self.windows.contains(facts.now):
            return False
        if self.networks is not None:
            if facts.remote_address is None:
                return False
            address = _ip(facts.remote_address)
            if address is None:
                return False
            return any(address in network for network in self.networks
                       if network.version == address.version)
        return True


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address in what a binding reports: '10.0.0.1', '::1', and (CoAP) the host-info
    forms '10.0.0.1:5683' and '[::1]:5683'."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Wildcard:
    """An acor entry with `*` (any run of characters, possibly empty); the rest is literal.

    Matched by locating the literal parts in order, leftmost first, which is exact for
    patterns whose only special character is `*` and takes time linear in the originator's
    length.  A regular expression (`.*a.*a...`) backtracks: "*a" repeated 12 times plus "b"
    against an originator of 40 "a"s kept the event loop busy for a minute."""

    __slots__ = ("prefix", "middle", "suffix", "shortest")

    def __init__(self, pattern: str, normalize: Callable[[str], str]):
        parts = pattern.split("*")
        self.prefix = normalize(parts[0]) if parts[0] else ""
        self.middle = tuple(part for part in parts[1:-1] if part)
        self.suffix = parts[-1]
        self.shortest = len(self.prefix) + sum(map(len, self.middle)) + len(self.suffix)

    def matches(self, originator: str) -> bool:
        if len(originator) < self.shortest or not originator.startswith(self.prefix) \
                or not originator.endswith(self.suffix):
            return False
        position = len(self.prefix)
        end = len(originator) - len(self.suffix)
        for part in self.middle:
            found = originator.find(part, position, end)
            if found < 0:
                return False
            position = found + len(part)
        return True


@dataclass(frozen=True, slots=True)
class Rule:
    """One accessControlRule, ready to match."""

    operations: int
    everyone: bool
    names: frozenset[str]
    patterns: tuple[Wildcard, ...]
    contexts: tuple[AccessContext, ...]
    needs_authentication: bool
    object_details: tuple[tuple[int | None, frozenset[int] | None, object], ...]
    conditional: bool = False          # has contexts, acaf, acod or aca: needs more than the originator
    # [R4] accessControlAttributes (aca): the rule grants its operations on these attributes
    # only, i.e. for a request that names only these (a partial RETRIEVE, an UPDATE).
    attributes: frozenset[str] | None = None

    def grants(self, originator: str, operation: int, facts: "Facts | Callable[[], Facts]",
               attributes: "AbstractSet[str] | None" = None) -> bool:
        """`facts` may be a function: it is called only when the rule has conditions.
        `attributes`: the attributes the request reads or writes, when it names them."""
        if not self.operations & operation:
            return False
        if not (self.everyone or originator in self.names
                or any(p.matches(originator) for p in self.patterns)):
            return False
        if not self.conditional:
            return True
        if self.attributes is not None and (attributes is None or not attributes <= self.attributes):
            return False
        if callable(facts):
            facts = facts()
        if self.needs_authentication and not facts.authenticated:
            return False
        if self.contexts and not any(c.matches(facts) for c in self.contexts):
            return False
        if self.object_details and not self._object_matches(operation, facts):
            return False
        return True

    def _object_matches(self, operation: int, facts: Facts) -> bool:
        for target_ty, child_types, specialization in self.object_details:
            if target_ty is not None and target_ty != facts.target_ty:
                continue
            if specialization is not None and specialization != facts.target_spty:
                continue
            if child_types is not None and operation == 1 and facts.child_ty not in child_types:
                continue
            return True
        return False


def compile_rules(value: Any, where: str, normalize) -> tuple[Rule, ...]:
    """`{"acr": [...]}` -> rules.  `normalize` maps an originator ID to the form the
    access decision compares (CSE-relative for this CSE's own entities)."""
    if not isinstance(value, dict) or not isinstance(value.get("acr"), list):
        raise bad_request(f"{where} must be an object {{\"acr\": [rules]}}")
    return tuple(_compile_rule(rule, f"{where}.acr[{i}]", normalize) for i, rule in enumerate(value["acr"]))


def _compile_rule(rule: Any, where: str, normalize) -> Rule:
    if not isinstance(rule, dict):
        raise bad_request(f"{where} must be an object with acor and acop")
    unknown = set(rule) - {"acor", "acop", "acco", "acaf", "acod", "aca"}
    if unknown:
        raise bad_request(f"{where}: unknown member(s) {', '.join(sorted(unknown))}")
    originators = rule.get("acor")
    if not isinstance(originators, list) or not all(isinstance(o, str) and o for o in originators):
        raise bad_request(f"{where}.acor must be a list of originator IDs (or 'all')")
    operations = rule.get("acop")
    if not isinstance(operations, int) or isinstance(operations, bool) or \
            not 0 <= operations <= ALL_OPERATIONS:
        raise bad_request(f"{where}.acop must be an integer bit mask 0..63 (create 1, retrieve 2, "
                          "update 4, delete 8, notify 16, discover 32)")
    everyone = EVERYONE in originators
    names = set()
    patterns = []
    for originator in originators:
        if originator == EVERYONE:
            continue
        if "*" in originator:
            patterns.append(Wildcard(originator, normalize))
        else:
            names.add(normalize(originator))
    needs_authentication = rule.get("acaf", False)
    if not isinstance(needs_authentication, bool):
        raise bad_request(f"{where}.acaf must be true or false")
    contexts = _compile_contexts(rule.get("acco"), f"{where}.acco")
    object_details = _compile_object_details(rule.get("acod"), f"{where}.acod")
    attributes = _compile_attributes(rule.get("aca"), f"{where}.aca", operations)
    return Rule(operations, everyone, frozenset(names), tuple(patterns), contexts, needs_authentication,
                object_details, conditional=bool(contexts or needs_authentication or object_details
                                                 or attributes is not None),
                attributes=attributes)


# The operations a rule with aca can grant: those that name attributes (TS-0001 R4).
ATTRIBUTE_OPERATIONS = 2 | 4         # RETRIEVE, UPDATE


def _compile_attributes(value: Any, where: str, operations: int) -> frozenset[str] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(a, str) and a for a in value):
        raise bad_request(f"{where} must be a non-empty list of attribute names")
    if operations & ~ATTRIBUTE_OPERATIONS:
        raise OneM2MError(RSC.NOT_IMPLEMENTED,
                          f"{where}: accessControlAttributes are supported with RETRIEVE (2) and UPDATE (4) "
                          f"only; acop {operations} also names operations on whole resources")
    return frozenset(value)


def _compile_contexts(value: Any, where: str) -> tuple[AccessContext, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a list of contexts")
    contexts = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{here} must be an object (actw, acip)")
        if "aclr" in item:
            raise OneM2MError(RSC.NOT_IMPLEMENTED,
                              f"{here}.aclr: location-based access control is not supported by this CSE")
        unknown = set(item) - {"actw", "acip"}
        if unknown:
            raise bad_request(f"{here}: unknown member(s) {', '.join(sorted(unknown))}")
        windows = item.get("actw", [])
        if not isinstance(windows, list) or not all(isinstance(w, str) for w in windows):
            raise bad_request(f"{here}.actw must be a list of schedule strings")
        networks = None
        if "acip" in item:
            networks = _compile_networks(item["acip"], f"{here}.acip")
        schedule = Schedule(windows, f"{here}.actw") if windows else None
        contexts.append(AccessContext(schedule, networks))
    return tuple(contexts)


def _compile_networks(value: Any, where: str) -> tuple:
    if not isinstance(value, dict) or set(value) - {"ipv4", "ipv6"}:
        raise bad_request(f"{where} must be an object with ipv4 and/or ipv6 lists")
    networks = []
    for version, kind in ((4, "ipv4"), (6, "ipv6")):
        entries = value.get(kind, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            raise bad_request(f"{where}.{kind} must be a list of addresses or address blocks")
        for entry in entries:
            try:
                network = ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise bad_request(f"{where}.{kind}: {entry!r} is not an address or block") from None
            if network.version != version:
                raise bad_request(f"{where}.{kind}: {entry!r} is not an IPv{version} address")
            networks.append(network)
    return tuple(networks)


def _compile_object_details(value: Any, where: str) -> tuple:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a list of {{ty, spty, chty}} objects")
    details = []
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{here} must be an object with ty, spty and/or chty")
        unknown = set(item) - {"ty", "spty", "chty"}
        if unknown:
            raise bad_request(f"{here}: unknown member(s) {', '.join(sorted(unknown))}")
        target_ty = item.get("ty")
        if target_ty is not None and (not isinstance(target_ty, int) or isinstance(target_ty, bool)):
            raise bad_request(f"{here}.ty must be a resource type number")
        child_types = item.get("chty")
        if child_types is not None:
            if not isinstance(child_types, list) or not all(
                    isinstance(t, int) and not isinstance(t, bool) for t in child_types):
                raise bad_request(f"{here}.chty must be a list of resource type numbers")
            child_types = frozenset(child_types)
        # spty: the specialization of the resource the rule is evaluated for (a flexContainer's
        # cnd, an mgmtObj's mgd; TS-0004 accessControlObjectDetails), never of a child.
        specialization = item.get("spty")
        if specialization is not None and (isinstance(specialization, bool)
                                           or not isinstance(specialization, (str, int))
                                           or specialization == ""):
            raise bad_request(f"{here}.spty must be a containerDefinition (cnd) string or a mgmtDefinition "
                              "(mgd) number")
        details.append((target_ty, child_types, specialization))
    return tuple(details)


def any_grants(rules: Iterable[Rule], originator: str, operation: int,
               facts: "Facts | Callable[[], Facts]", attributes: "AbstractSet[str] | None" = None) -> bool:
    for rule in rules:
        if rule.grants(originator, operation, facts, attributes):
            return True
    return False
