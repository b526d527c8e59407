"""The mgmtObj specializations as data: one file per kind in schemas/mgmt_objs/, loaded
once into `Kind`s (resources/mgmt_obj.py serves them, resources/mgmt_actions.py delivers
their management actions).

A file gives the kind's mgd, its attributes (`properties`, JSON Schema values, may refer to
mgo.json's `actionStatus`) and their presence (`x-presence`, "<create> <update>"), the
executable attributes (`x-actions`: name -> {"status": the attribute reporting the outcome,
"failed": its value for a failed action when it is no actionStatus}), the actions that
exclude each other (`x-exclusive`) and how many a node may have (`x-per-node`).  The file's
name is the kind's short name and so its root (`fwr.json` -> `m2m:fwr`).
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import schemas

KINDS_DIR = Path(schemas.SCHEMA_DIR) / "mgmt_objs"
LOCAL_REF = "mgo.json#/$defs/"
# mgmtDefinition values of TS-0004 Table 6.3.4.2.22-1 this CSE does not serve (5001).
UNSERVED = {0: "self-defined (mgs)", 1011: "cmdhPolicy", 1012: "activeCmdhPolicy", 1013: "cmdhDefaults",
            1014: "cmdhDefEcValue", 1015: "cmdhEcDefParamValues", 1016: "cmdhLimits",
            1017: "cmdhNetworkAccessRules", 1018: "cmdhNwAccessRule", 1019: "cmdhBuffer",
            1020: "registration", 1021: "dataCollection", 1022: "authenticationProfile",
            1023: "myCertFileCred", 1024: "trustAnchorCred", 1025: "MAFClientRegCfg", 1026: "MEFClientRegCfg"}
UNSERVED_ROOTS = {"m2m:cmp", "m2m:acmp", "m2m:cmdf", "m2m:cmdv", "m2m:cmpv", "m2m:cml", "m2m:cmnr", "m2m:cmwr",
                  "m2m:cmbf"}


@dataclass(frozen=True, slots=True)
class Action:
    """One executable attribute: setting it to true asks the device to do something."""

    name: str                   # "ud"
    status: str | None          # the attribute that reports the outcome ("uds"), if the kind has one
    failed: Any = None          # the status value of a failed action; None: an actionStatus {acn, sus 2}

    def status_value(self, sus: int) -> Any:
        """The status attribute's value for m2m:status `sus` (1 successful, 2 failure, 3 in process)."""
        if self.failed is not None:
            return self.failed if sus == 2 else None
        return {"acn": self.name, "sus": sus}


@dataclass(frozen=True, slots=True)
class Kind:
    """One specialization of mgmtObj, as its file declares it."""

    mgd: int
    sn: str
    name: str
    document: dict
    actions: dict[str, Action]
    exclusive: tuple[tuple[str, ...], ...]
    per_node: int | None

    @property
    def root(self) -> str:
        return f"m2m:{self.sn}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.root}, mgd {self.mgd})"


def _inline_local(spec: Any, definitions: dict) -> Any:
    """`spec` with references to mgo.json's own $defs (actionStatus) replaced by the definition."""
    if isinstance(spec, list):
        return [_inline_local(item, definitions) for item in spec]
    if not isinstance(spec, dict):
        return spec
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith(LOCAL_REF):
        return copy.deepcopy(definitions[ref[len(LOCAL_REF):]])
    return {key: _inline_local(value, definitions) for key, value in spec.items()}


def load_kinds(directory: Path = KINDS_DIR) -> dict[int, Kind]:
    """Every specialization file in `directory`, by mgd.  A file that redefines a common
    attribute, repeats a mgd or root, or names an action or status that is not one of its
    attributes is refused when the CSE starts (ValueError naming the file)."""
    common = schemas.load("mgo")
    definitions = common["$defs"]
    kinds: dict[int, Kind] = {}
    roots: set[str] = set()
    for path in sorted(directory.glob("*.json")):
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        sn = path.stem
        where = f"schemas/mgmt_objs/{path.name}"
        properties = data.get("properties", {})
        presence = data.get("x-presence", {})
        clash = sorted((properties.keys() | presence.keys()) & (common["properties"].keys()))
        if clash:
            raise ValueError(f"{where}: redefines attributes of the common part (mgo.json): {clash}")
        if set(properties) != set(presence):
            raise ValueError(f"{where}: properties and x-presence name different attributes")
        mgd = data.get("mgd")
        if not isinstance(mgd, int) or mgd in kinds or mgd in UNSERVED:
            raise ValueError(f"{where}: mgd {mgd!r} is missing, repeated or reserved")
        if f"m2m:{sn}" in roots:
            raise ValueError(f"{where}: the root m2m:{sn} is repeated")
        roots.add(f"m2m:{sn}")
        actions = {}
        for name, spec in data.get("x-actions", {}).items():
            status = spec.get("status")
            if name not in properties or (status is not None and status not in properties):
                raise ValueError(f"{where}: action {name!r} or its status {status!r} is not an attribute")
            actions[name] = Action(name, status, spec.get("failed"))
        exclusive = tuple(tuple(group) for group in data.get("x-exclusive", ()))
        if any(name not in actions for group in exclusive for name in group):
            raise ValueError(f"{where}: x-exclusive names an attribute that is not an action")
        document = copy.deepcopy(common)
        document["$id"] = f"{sn}.json"
        document["title"] = data.get("title", sn)
        document["properties"].update(_inline_local(properties, definitions))
        document["x-presence"].update(presence)
        kinds[mgd] = Kind(mgd, sn, data.get("name", sn), document, actions, exclusive, data.get("x-per-node"))
    return kinds


__all__ = ["Action", "KINDS_DIR", "Kind", "UNSERVED", "UNSERVED_ROOTS", "load_kinds"]
