"""JSON Schemas of the resource types: one file per type, named by its short name, and
common.json with what all types share.

common.json holds
  $defs           value types, referenced as "common.json#/$defs/<name>";
  x-attributes    the universal and common attributes (ty, ri, rn, ..., acpi, at, cr, st),
                  each declared once: its value schema, its presence "<create> <update>"
                  (M mandatory, O optional, NP not permitted; TS-0004 notation) and
                  whether this CSE supports it;
  x-groups        names for sets of them ("universal", "announceable", ...).
A type's file is a JSON Schema (draft 2020-12) of its own attributes plus
  x-common        the groups (or single shared attributes) the type has, e.g.
                  ["universal", "common", "accessControlled"];
  x-presence      the presence of each own attribute, and of a shared attribute whose
                  presence differs for this type (e.g. "et": "O NP" for a contentInstance);
  x-unsupported   own attributes this CSE does not support (5001);
  x-release       own attributes that a later release than R3 added ("dcnt": "4"): a request
                  of an older release (rvi) may not carry them (4000).  A shared attribute
                  says so with "release" in common.json.
`resource_schema` merges the two into the complete declaration of one type.
"""
from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path

SCHEMA_DIR = Path(__file__).resolve().parent


@cache
def load(name: str) -> dict:
    """The parsed schema file `<name>.json`."""
    with open(SCHEMA_DIR / f"{name}.json", encoding="utf-8") as handle:
        return json.load(handle)


def resource_schema(short_name: str, ty: int) -> dict:
    """The schema of the type `short_name` (number `ty`) with the shared attributes it
    declares merged in (see `merge`)."""
    return merge(load(short_name), load("common"), ty)


def merge(document: dict, common: dict, ty: int) -> dict:
    """A type's schema `document` with the shared attributes of `common` it declares in
    x-common merged in: `properties` (value schemas), `x-presence` and `x-unsupported` then
    list every attribute of the type; the inputs are not changed.  Raises ValueError for a
    declaration that names an unknown group or attribute, or that redefines a shared one."""
    short_name = document.get("$id", "?").removesuffix(".json")
    document = copy.deepcopy(document)
    shared = common["x-attributes"]
    groups = common["x-groups"]
    own_properties = document.get("properties", {})
    own_presence = document.get("x-presence", {})
    names: list[str] = []
    for entry in document.get("x-common", ()):
        members = groups.get(entry, [entry] if entry in shared else None)
        if members is None:
            raise ValueError(f"{short_name}.json: x-common names {entry!r}, which is neither a group "
                             "nor an attribute of common.json")
        names.extend(name for name in members if name not in names)
    properties: dict = {}
    presence: dict = {}
    unsupported: list[str] = []
    releases: dict[str, str] = {}
    for name in names:
        if name in own_properties:
            raise ValueError(f"{short_name}.json: attribute {name!r} is declared in common.json; "
                             "give only its presence in x-presence if it differs")
        declaration = shared[name]
        properties[name] = {"const": ty} if name == "ty" else copy.deepcopy(declaration["schema"])
        presence[name] = own_presence.get(name, declaration["presence"])
        supported = declaration.get("supported", True)
        if supported == "x-announced":      # announceTo & co: only where the type declares its MA/OA
            supported = "x-announced" in document
        if not supported:
            unsupported.append(name)
        if "release" in declaration:
            releases[name] = declaration["release"]
    for name, spec in own_presence.items():
        if name in presence:
            continue
        if name not in own_properties:
            what = "a shared attribute the type does not declare in x-common" if name in shared \
                else "not an attribute of the type"
            raise ValueError(f"{short_name}.json: x-presence names {name!r}, {what}")
        presence[name] = spec
    missing = [name for name in own_properties if name not in presence]
    if missing:
        raise ValueError(f"{short_name}.json: no presence (x-presence) for {missing}")
    properties.update(own_properties)
    document["properties"] = properties
    document["x-presence"] = presence
    for name in document.get("x-release", {}):
        if name not in presence:
            raise ValueError(f"{short_name}.json: x-release names {name!r}, not an attribute of the type")
    document["x-release"] = {**releases, **document.get("x-release", {})}
    document["x-unsupported"] = unsupported + [n for n in document.get("x-unsupported", ()) if n not in unsupported]
    return document
