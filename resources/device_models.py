"""The TS-0023 device, sub-device, module and action classes this CSE knows as flexContainer
specializations, loaded from data files (schemas/device_models/<name>.json, one per class;
the format is schemas/sdt_class.json and docs/device-models.md).

Each class has one current JSON root and cnd (`cod:eneCn`,
`org.onem2m.common.moduleclass.energyConsumption`) and may have aliases: older names of the
same class (`hd:eneCn`, `org.onem2m.home.moduleclass.energyConsumption`), under which some
data points may have other short names (binarySwitch's `state` is `powSe` under `hd:binSh`).
A `Specialization` is one such root with the data points as named under it.

Every class also has the data point `dgt` (dataGenerationTime, as in TS-0023 R5 and ACME),
and every device `nodLk` and `flNLk` (nodeLink, flexNodeLink; ACME's R5 data): the loader adds
them, so class files do not repeat them.

A class file that is not valid (format, names that do not fit together, a module or action
that is not a class, a root or cnd used twice, a data point named like an attribute every
flexContainer has) stops the CSE at start-up with `DeviceModelError` naming the file and
what is wrong.

What this module must never do: touch storage or requests; it only reads the class files.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import jsonschema

import schemas

from .sdt import ValueType, value_type

MODELS_DIR = Path(schemas.__file__).resolve().parent / "device_models"
# Namespace prefixes of the JSON roots and the domain of the cnd each stands for (TS-0023
# R4+ one prefix per domain; `hd:` is the R2/R3 home domain).
PREFIX_DOMAINS = {"cod": "common", "hod": "home", "cid": "city", "ved": "vehicular", "hed": "health",
                  "mad": "management", "agd": "agriculture", "rad": "railway", "psd": "publicsafety",
                  "ind": "industry", "mdd": "metadata", "hd": "home"}
KIND_IN_CND = {"device": "device", "subDevice": "subdevice", "moduleClass": "moduleclass", "action": "action"}
IMPLICIT_POINTS = {"dgt": {"name": "dataGenerationTime", "type": "timestamp"}}
IMPLICIT_DEVICE_POINTS = {"nodLk": {"name": "nodeLink", "type": "string"},
                          "flNLk": {"name": "flexNodeLink", "type": "string"}}


class DeviceModelError(ValueError):
    """A class file that cannot be used; the message names the file and the fault."""


@dataclass(frozen=True, slots=True)
class DataPoint:
    short_name: str
    name: str
    type: ValueType
    mandatory: bool
    unit: str | None = None


@dataclass(frozen=True)
class DeviceClass:
    kind: str
    name: str
    short_name: str
    root: str
    cnd: str
    data_points: dict[str, DataPoint]
    modules: tuple[tuple[str, str], ...] = ()          # (rn, class name)
    actions: tuple[str, ...] = ()
    description: str = ""
    source: str = ""


@dataclass(frozen=True)
class Specialization:
    """One JSON root of a class, with the data points as they are named under that root."""

    root: str
    cnd: str
    cls: DeviceClass
    points: dict[str, DataPoint]                      # by the name under this root
    mandatory: tuple[str, ...]

    @property
    def label(self) -> str:
        """How messages name it: `cod:eneCn (energyConsumption)`."""
        return f"{self.root} ({self.cls.name})"


class DeviceModels:
    """Every class, by name, by root and by cnd."""

    def __init__(self, specializations: Iterable[Specialization]):
        self.classes: dict[str, DeviceClass] = {}
        self.by_root: dict[str, Specialization] = {}
        self.by_cnd: dict[str, DeviceClass] = {}
        for spec in specializations:
            self.classes[spec.cls.name] = spec.cls
            self.by_root[spec.root] = spec
            self.by_cnd[spec.cnd] = spec.cls

    def specializations_of(self, name: str) -> list[Specialization]:
        """The roots of class `name`, the current one first."""
        return [spec for spec in self.by_root.values() if spec.cls.name == name]

    def __len__(self) -> int:
        return len(self.classes)


def load_device_models(directory: Path = MODELS_DIR, reserved: Iterable[str] = ()) -> DeviceModels:
    """All class files of `directory`; `reserved` are attribute names no data point may take
    (those of the flexContainer itself).  Raises DeviceModelError for the first bad file."""
    reserved = frozenset(reserved)
    validator = jsonschema.Draft202012Validator(schemas.load("sdt_class"))
    files = sorted(directory.glob("*.json"))
    if not files:
        raise DeviceModelError(f"{directory}: no class files (*.json)")
    loaded: list[Specialization] = []
    roots: dict[str, str] = {}
    cnds: dict[str, str] = {}
    for path in files:
        cls, specializations = _load_class(path, validator, reserved)
        for spec in specializations:
            for key, table in ((spec.root, roots), (spec.cnd, cnds)):
                owner = table.get(key)
                if owner is not None and owner != cls.name:
                    raise DeviceModelError(f"{path.name}: {key!r} is already used by class {owner!r}")
                table[key] = cls.name
        loaded.extend(specializations)
    models = DeviceModels(loaded)
    for cls in models.classes.values():
        _check_references(cls, models)
    return models


def _load_class(path: Path, validator: jsonschema.Draft202012Validator,
                reserved: frozenset[str]) -> tuple[DeviceClass, list[Specialization]]:
    where = path.name
    try:
        document = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_no_duplicates)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, DeviceModelError) as error:
        raise DeviceModelError(f"{where}: cannot be read as JSON: {error}") from None
    invalid = next(iter(sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))), None)
    if invalid is not None:
        at = "/".join(str(p) for p in invalid.absolute_path) or "(top level)"
        raise DeviceModelError(f"{where}: {at}: {invalid.message}")
    name = document["name"]
    if path.stem != name:
        raise DeviceModelError(f"{where}: the file of class {name!r} must be named {name}.json")
    kind = document["kind"]
    _check_names(where, kind, name, document["shortName"], document["root"], document["cnd"])
    points: dict[str, DataPoint] = {}
    declared = dict(document.get("dataPoints", {}))
    implicit = {**IMPLICIT_POINTS, **(IMPLICIT_DEVICE_POINTS if kind == "device" else {})}
    declared.update((sn, spec) for sn, spec in implicit.items() if sn not in declared)
    for short_name, spec in declared.items():
        if short_name in reserved:
            raise DeviceModelError(f"{where}: data point {short_name!r} is named like an attribute of every "
                                   "flexContainer")
        try:
            points[short_name] = DataPoint(short_name, spec["name"], value_type(spec),
                                           spec.get("cardinality") == "1", spec.get("unit"))
        except (ValueError, TypeError) as problem:
            raise DeviceModelError(f"{where}: data point {short_name!r}: {problem}") from None
    if kind not in ("device", "subDevice") and "modules" in document:
        raise DeviceModelError(f"{where}: only a device or sub-device lists modules")
    if kind != "moduleClass" and document.get("actions"):
        raise DeviceModelError(f"{where}: only a module class has actions")
    cls = DeviceClass(kind=kind, name=name, short_name=document["shortName"], root=document["root"],
                      cnd=document["cnd"], data_points=points,
                      modules=tuple((m["rn"], m["class"]) for m in document.get("modules", ())),
                      actions=tuple(document.get("actions", ())), description=document.get("description", ""),
                      source=document.get("source", ""))
    specializations = [_specialization(cls, cls.root, cls.cnd, {})]
    for alias in document.get("aliases", ()):
        _check_names(where, kind, name, cls.short_name, alias["root"], alias["cnd"], alias=True)
        renamed = alias.get("renamed", {})
        for current, old in renamed.items():
            if current not in points:
                raise DeviceModelError(f"{where}: alias {alias['root']}: renames {current!r}, which is not a "
                                       "data point of the class")
            if old in points or old in reserved:
                raise DeviceModelError(f"{where}: alias {alias['root']}: {old!r} is already a name in the class")
        if alias["root"] in (s.root for s in specializations):
            raise DeviceModelError(f"{where}: root {alias['root']!r} is given twice")
        specializations.append(_specialization(cls, alias["root"], alias["cnd"], renamed))
    return cls, specializations


def _specialization(cls: DeviceClass, root: str, cnd: str, renamed: dict[str, str]) -> Specialization:
    points = {renamed.get(sn, sn): point for sn, point in cls.data_points.items()}
    mandatory = tuple(name for name, point in points.items() if point.mandatory)
    return Specialization(root=root, cnd=cnd, cls=cls, points=points, mandatory=mandatory)


def _check_names(where: str, kind: str, name: str, short_name: str, root: str, cnd: str,
                 alias: bool = False) -> None:
    """The root is <prefix>:<shortName> with a known prefix; the cnd is
    org.onem2m.<domain of the prefix>.<kind>.<name>."""
    prefix, _, local = root.partition(":")
    what = "alias root" if alias else "root"
    domain = PREFIX_DOMAINS.get(prefix)
    if domain is None:
        raise DeviceModelError(f"{where}: {what} {root!r} has an unknown prefix; known: "
                               f"{', '.join(sorted(PREFIX_DOMAINS))}")
    if local != short_name:
        raise DeviceModelError(f"{where}: {what} {root!r} must be {prefix}:{short_name} (the class's shortName)")
    expected = f"org.onem2m.{domain}.{KIND_IN_CND[kind]}.{name}"
    if cnd != expected:
        raise DeviceModelError(f"{where}: cnd {cnd!r} does not fit the {what} {root!r}, the kind {kind!r} and "
                               f"the name {name!r}: expected {expected!r}")


def _check_references(cls: DeviceClass, models: DeviceModels) -> None:
    where = f"{cls.name}.json"
    for rn, module in cls.modules:
        target = models.classes.get(module)
        if target is None or target.kind not in ("moduleClass", "subDevice"):
            raise DeviceModelError(f"{where}: module {rn!r}: {module!r} is not a module class or sub-device")
    names = [rn for rn, _ in cls.modules]
    if len(names) != len(set(names)):
        raise DeviceModelError(f"{where}: two modules have the same rn")
    for action in cls.actions:
        target = models.classes.get(action)
        if target is None or target.kind != "action":
            raise DeviceModelError(f"{where}: action {action!r} is not an action class")


def _no_duplicates(pairs: list[tuple[str, object]]) -> dict:
    result: dict = {}
    for key, value in pairs:
        if key in result:
            raise DeviceModelError(f"the key {key!r} appears twice")
        result[key] = value
    return result


__all__ = ["DataPoint", "DeviceClass", "DeviceModelError", "DeviceModels", "MODELS_DIR", "Specialization",
           "load_device_models"]
