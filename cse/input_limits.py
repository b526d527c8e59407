"""The CSE's own input limits (`[limits]`), checked on every CREATE and UPDATE before the
resource type's rules: attribute sizes and storability, resource names that an address can
carry, labels (count, length, xs:token form), the depth of the tree.  Pure functions."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, AbstractSet

import orjson

from .errors import bad_request

if TYPE_CHECKING:
    from .config import LimitSettings

# An xs:token (a label): words without tab or line break, separated by single spaces.
_TOKEN = re.compile(r"[^\t\n\r ]+(?: [^\t\n\r ]+)*\Z")
# Characters no address can carry in a resource name (the bindings split on '/', decode '%',
# end the path at '?' and '#'; a space or backslash is not a URL character).
_UNADDRESSABLE = frozenset("/%?# \\")


def check_limits(limits: "LimitSettings", reserved_names: AbstractSet[str], attributes: dict,
                 parent: dict) -> None:
    """The CSE's input limits on a new resource: sizes, its name, its labels, the tree depth."""
    check_sizes(limits, attributes)
    rn = attributes.get("rn")
    if isinstance(rn, str):
        if len(rn) > limits.max_rn_length:
            raise bad_request(f"attribute 'rn' is longer than {limits.max_rn_length} characters")
        if rn in reserved_names:
            raise bad_request(f"attribute 'rn': {rn!r} is reserved for a virtual resource")
        if rn in (".", ".."):
            # URLs drop or resolve dot segments, and arp climbs with "..".
            raise bad_request(f"attribute 'rn': {rn!r} is a dot segment, which no address can name")
        unaddressable = sorted({c for c in rn if c in _UNADDRESSABLE or not c.isprintable()})
        if unaddressable:
            # '/' splits the address, '%' is decoded by the bindings (a%2Fb would be read
            # as a/b), '?' and '#' end the path: such a name could never be requested.
            raise bad_request(f"attribute 'rn': {rn!r} holds {', '.join(map(repr, unaddressable))}, "
                              "which no address can carry; use letters, digits and - . _ ~")
    check_labels(limits, attributes)
    if parent["_path"].count("/") + 1 >= limits.max_tree_depth:
        raise bad_request(f"the resource tree may not be deeper than {limits.max_tree_depth} levels")


def check_sizes(limits: "LimitSettings", attributes: dict) -> None:
    """No attribute may be larger than max_attribute_bytes (its JSON size), and each must
    be storable as JSON: CBOR also carries byte strings, integers beyond 64 bits and
    maps with non-text keys, which no resource can hold."""
    limit = limits.max_attribute_bytes
    for name, value in attributes.items():
        if isinstance(value, str):
            # A str has at most 4 bytes per character in UTF-8: count only when it might matter.
            size = len(value) if len(value) * 4 <= limit else len(value.encode("utf-8", "replace"))
        elif value is None or isinstance(value, bool):
            continue
        else:
            try:
                size = len(orjson.dumps(value))
            except orjson.JSONEncodeError as error:
                raise bad_request(f"attribute {name!r} has a value that cannot be stored: {error}") from None
        if size > limit:
            raise bad_request(f"attribute {name!r} is {size} bytes; the limit is {limit} bytes")


def check_labels(limits: "LimitSettings", attributes: dict) -> None:
    labels = attributes.get("lbl")
    if isinstance(labels, list) and labels:
        if len(labels) > limits.max_labels:
            raise bad_request(f"attribute 'lbl' has more than {limits.max_labels} labels")
        for label in labels:
            if isinstance(label, str):
                if len(label) > limits.max_label_length:
                    raise bad_request(f"attribute 'lbl': a label is longer than "
                                      f"{limits.max_label_length} characters")
                if label and not _TOKEN.match(label):     # '' is refused by minLength
                    raise bad_request(f"attribute 'lbl': {label[:80]!r} is not a token (an xs:token of "
                                      "m2m:labels): no tab, line break, leading, trailing or "
                                      "double space")
