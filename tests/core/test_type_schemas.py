"""The universal and common attributes are declared once (schemas/common.json) and merged into
each type's schema.  The tables below are the per-type rules as they were when every schema
file still listed all its attributes: the merge must give exactly these, so that moving an
attribute into common.json (or a group into a type) cannot change what a request may carry
without this test saying so."""
from __future__ import annotations

import re

import pytest

import schemas
from cse.resource_type import Presence
from resources import default_types

# short name: (ty, "name create update, ...", unsupported attributes)
RULES = {
    "cb": (5, """
        ty NP NP, ri NP NP, rn NP NP, pi NP NP, ct NP NP, lt NP NP, lbl NP NP, acpi NP NP,
        cst NP NP, csi NP NP, srt NP NP, poa NP NP, nl NP NP, csz NP NP, srv NP NP,
        ctm NP NP, spi NP NP, ici NP NP
        """, []),
    "ae": (2, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, at O O, aa O O, ast O O, daci O O, apn O O, api M NP, aei NP NP, poa O O, or O O,
        nl O O, rr M O, csz O O, esi O O, mei O O, srv M O, regs O O, trps O O, scp O O,
        tren O O, ape O O, tri O O, trn O O, cstn O O
        """, ['ape', 'daci', 'esi', 'scp', 'tri', 'trn']),
    "cnt": (3, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, st NP NP,
        lbl O O, acpi O O, at O O, aa O O, ast O O, daci O O, cr O NP, mni O O, mbs O O, mia O O,
        cni NP NP, cbs NP NP, li NP NP, or O O, disr O O, cstn O O
        """, ['daci']),
    "cin": (4, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O NP, st NP NP,
        lbl O NP, at O NP, aa O NP, ast O NP, cr O NP, cnf O NP, cs NP NP, conr O NP, or O NP,
        con M NP, dgt O NP, cstn O NP, dcnt O NP
        """, []),
    "sub": (23, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, daci O O, cr O NP, enc O O, exc O O, nu M O, gpi O O, nfu O O, bn O O,
        rl O O, psn O NP, pn O O, nsp O O, ln O O, nct O O, nec O O, su O NP, acrs O O,
        nse O O, nsi NP NP, eeno O O, cstn O O
        """, ['acrs', 'daci', 'nfu', 'nsp', 'psn', 'rl']),
    "acp": (1, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O, at O O,
        aa O O, ast O O, pv M O, pvs M O, adri O O, apri O O, airi O O, cstn O O
        """, ['adri', 'airi', 'apri']),
    "grp": (9, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, at O O, aa O O, ast O O, daci O O, cr O NP, mt O NP, spty O NP, cnm NP NP,
        mnm M O, mid M O, macp O O, mtv NP NP, csy O NP, gn O O, ssi NP NP, nar O O, cstn O O
        """, ['daci']),
    "csr": (16, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, at O O, aa O O, ast O O, daci O O, cst O NP, poa O O, cb M NP, csi O NP, mei O O,
        tri O O, trn O O, rr M O, nl O O, csz O O, esi O O, dcse O O, srv M O, mtcc O O,
        egid O O, tren O O, ape O O, cstn O O, spi O O, ici O O
        """, ['aa', 'ape', 'ast', 'at', 'daci', 'egid', 'esi', 'mtcc', 'tren', 'tri', 'trn']),
    "pch": (15, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        rqag O O, cstn O O
        """, ['rqag']),
    "fcnt": (28, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        st NP NP, acpi O O, daci O O, at O O, aa O O, ast O O, cr O NP, cnd M NP, or O O, cs NP NP,
        nl O O, mni O O, mbs O O, mia O O, cni NP NP, cbs NP NP, fcied O O, cstn O O
        """, ['aa', 'ast', 'at', 'daci']),
    "fci": (58, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et NP NP, lbl NP NP,
        st NP NP, cs NP NP, org NP NP, cstn NP NP
        """, []),
    "req": (17, """
        ty NP NP, ri NP NP, rn NP NP, pi NP NP, ct NP NP, lt NP NP, et NP NP, st NP NP,
        lbl NP NP, acpi NP NP, op NP NP, tg NP NP, org NP NP, rid NP NP, mi NP NP,
        pc NP NP, rs NP NP, ors NP NP, cstn NP NP
        """, []),
    "sch": (18, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, daci O O, at O O, aa O O, ast O O, se M O, nco O O, cstn O O
        """, ['aa', 'ast', 'at', 'daci']),
    "ts": (29, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, st NP NP,
        lbl O O, acpi O O, at O O, aa O O, ast O O, daci O O, cr O NP, mni O O, mbs O O, mia O O,
        cni NP NP, cbs NP NP, pei O O, peid O O, mdd O O, mdn O O, mdlt NP NP, mdc NP NP,
        mdt O O, or O O, cnf O NP, cstn O O
        """, ['daci']),
    "tsi": (30, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O NP, st NP NP,
        lbl O NP, at O NP, aa O NP, ast O NP, dgt M NP, con M NP, snr O NP, cs NP NP, cstn O NP
        """, []),
    "nod": (14, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, daci O O, at O O, aa O O, ast O O, ni M O, hcl O O, hael O O, hsl O O, mgca O O,
        rms NP NP, nid NP NP, nty O O, cstn O O
        """, ['daci']),
    # The part every mgmtObj specialization shares (each adds its own, schemas/mgmt_objs/).
    "mgo": (13, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, daci O O, at O O, aa O O, ast O O, mgd M NP, obis O NP, obps O NP, dc O O,
        mgs O NP, cmlk O O, cstn O O
        """, ['aa', 'ast', 'at', 'daci', 'mgs']),
    "actr": (65, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, daci O O, at O O, aa O O, ast O O, cr O NP, apy O O, sri O O, evc M O, evm M O,
        ecp O O, dep NP O, orc M O, apv M O, ipu O O, air NP NP, cstn O O
        """, ['aa', 'ast', 'at', 'daci', 'ipu']),
    "depr": (66, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, daci O O, at O O, aa O O, ast O O, cr O NP, sfc M O, evc M O, rri M O, cstn O O
        """, ['aa', 'ast', 'at', 'daci']),
    "crs": (48, """
        ty NP NP, ri NP NP, rn O NP, pi NP NP, ct NP NP, lt NP NP, et O O, lbl O O,
        acpi O O, daci O O, cr O NP, rrat O NP, srat O NP, rrats NP NP, twt M O, tws M O,
        encs O NP, nec O NP, exc O O, nu M O, su O NP, nse O O, nsi NP NP, eem O O, cstn O O
        """, ['daci', 'eem', 'nec', 'nse']),
}

# The value schema of each shared attribute, the same for every type that has it (ty: its own number).
SHARED_VALUES = {
    "ri": {"$ref": "common.json#/$defs/id"},
    "rn": {"$ref": "common.json#/$defs/resourceName"},
    "pi": {"type": "string"},
    "ct": {"$ref": "common.json#/$defs/timestamp"},
    "lt": {"$ref": "common.json#/$defs/timestamp"},
    "et": {"$ref": "common.json#/$defs/timestamp"},
    "lbl": {"$ref": "common.json#/$defs/labels"},
    "acpi": {"$ref": "common.json#/$defs/idList"},
    "daci": {"$ref": "common.json#/$defs/idList"},
    "at": {"$ref": "common.json#/$defs/idList"},
    "aa": {"type": "array", "items": {"type": "string"}},
    "ast": {"type": "integer", "enum": [1, 2]},
    "cr": {"type": ["string", "null"]},
    "st": {"$ref": "common.json#/$defs/nonNegativeInteger"},
    "cstn": {"$ref": "common.json#/$defs/id"},
}


def presence_table(text: str) -> dict[str, tuple[str, str]]:
    entries = [entry.split() for entry in text.replace("\n", " ").split(",") if entry.strip()]
    return {name: (create, update) for name, create, update in entries}


@pytest.mark.parametrize("short_name", sorted(RULES))
def test_merged_schema_gives_each_type_exactly_its_rules(short_name):
    ty, presence, unsupported = RULES[short_name]
    merged = schemas.resource_schema(short_name, ty)
    expected = presence_table(presence)
    assert {name: tuple(spec.split()) for name, spec in merged["x-presence"].items()} == expected
    assert sorted(merged["x-unsupported"]) == unsupported
    assert merged["properties"].keys() == expected.keys()
    own = schemas.load(short_name)["properties"]
    for name, value_schema in merged["properties"].items():
        if name == "ty":
            assert value_schema == {"const": ty}
        elif name in SHARED_VALUES and name not in own:
            assert value_schema == SHARED_VALUES[name], name
        else:
            assert value_schema == own[name], name


def test_the_types_of_the_cse_validate_with_the_merged_rules():
    types = {rtype.short_name: rtype for rtype in default_types() if not rtype.managed_by_link}
    assert types.keys() == RULES.keys()
    for short_name, (ty, presence, unsupported) in RULES.items():
        schema = types[short_name].schema
        assert types[short_name].ty == ty
        rules = {name: (rule.create.value, rule.update.value) for name, rule in schema.rules.items()}
        assert rules == presence_table(presence), short_name
        assert sorted(schema.unsupported) == unsupported, short_name
        mandatory = [name for name, (create, _) in presence_table(presence).items() if create == "M"]
        assert list(schema.mandatory_on_create) == mandatory       # first missing one is reported
        assert all(isinstance(rule.create, Presence) for rule in schema.rules.values())


def test_no_type_schema_repeats_a_shared_attribute():
    shared = schemas.load("common")["x-attributes"]
    for short_name in RULES:
        document = schemas.load(short_name)
        assert not shared.keys() & document["properties"].keys(), short_name


COMMON = {
    "x-attributes": {"ri": {"presence": "NP NP", "schema": {"type": "string"}},
                     "et": {"presence": "O O", "schema": {"type": "string"}},
                     "at": {"presence": "O O", "schema": {"type": "array"}, "supported": False}},
    "x-groups": {"universal": ["ri"], "announceable": ["at"]},
}


@pytest.mark.parametrize("document,message", [
    ({"x-common": ["universal", "nosuch"], "properties": {}, "x-presence": {}},
     "x-common names 'nosuch', which is neither a group nor an attribute"),
    ({"x-common": ["universal"], "properties": {"ri": {}}, "x-presence": {"ri": "NP NP"}},
     "attribute 'ri' is declared in common.json"),
    ({"x-common": ["universal"], "properties": {}, "x-presence": {"et": "O NP"}},
     "'et', a shared attribute the type does not declare in x-common"),
    ({"x-common": [], "properties": {}, "x-presence": {"zz": "O O"}},
     "'zz', not an attribute of the type"),
    ({"x-common": [], "properties": {"zz": {}}, "x-presence": {}},
     "no presence (x-presence) for ['zz']"),
])
def test_a_wrong_declaration_is_refused_when_the_schema_is_loaded(document, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        schemas.merge({"$id": "xyz.json", **document}, COMMON, 99)


def test_merge_takes_groups_single_attributes_and_presence_overrides():
    merged = schemas.merge({"$id": "xyz.json", "x-common": ["universal", "et", "announceable"],
                            "properties": {"own": {"type": "integer"}},
                            "x-presence": {"et": "O NP", "own": "M O"}, "x-unsupported": ["own"]},
                           COMMON, 99)
    assert merged["x-presence"] == {"ri": "NP NP", "et": "O NP", "at": "O O", "own": "M O"}
    assert merged["properties"] == {"ri": {"type": "string"}, "et": {"type": "string"},
                                    "at": {"type": "array"}, "own": {"type": "integer"}}
    assert merged["x-unsupported"] == ["at", "own"]
    assert COMMON["x-attributes"]["et"]["presence"] == "O O"          # inputs unchanged


CNT = {"m2m:cnt": {"rn": "power"}}


@pytest.mark.parametrize("ty,content,rsc,message", [
    # shared, but not supported here: 5001
    (18, {"m2m:sch": {"se": {"sce": ["* * * * * * *"]}, "at": ["/id-mn"]}}, 5001, "attribute 'at' of schedule is not supported"),
    (3, {"m2m:cnt": {"daci": ["x"]}}, 5001, "attribute 'daci' of container is not supported"),
    # a shared attribute the type does not have: 4000
    (4, {"m2m:cin": {"con": "1", "acpi": ["x"]}}, 4000, "attribute 'acpi' is not defined for contentInstance"),
    (23, {"m2m:sub": {"nu": ["Cmeter"], "at": ["/id-mn"]}}, 4000, "attribute 'at' is not defined for subscription"),
    # set by the CSE
    (3, {"m2m:cnt": {"st": 1}}, 4000, "attribute 'st' of container is set by the CSE"),
    (3, {"m2m:cnt": {"ri": "x"}}, 4000, "attribute 'ri' of container is set by the CSE"),
    # the shared value schema applies
    (3, {"m2m:cnt": {"lbl": "energy"}}, 4000, "container attribute 'lbl': 'energy' is not of type array"),
    (3, {"m2m:cnt": {"et": "tomorrow"}}, 4000, "container attribute 'et': 'tomorrow' has an invalid format"),
    (3, {"m2m:cnt": {"cr": "Cother"}}, 4000, "attribute 'cr' must be null in CREATE"),
])
async def test_shared_attributes_are_checked_as_each_type_declares_them(core, ty, content, rsc, message):
    assert (await core.create("cse-in", 2, {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False,
                                                        "srv": ["3"]}}, fr="Cmeter")).rsc == 2001
    assert (await core.create("cse-in/meter", 3, CNT, fr="Cmeter")).rsc == 2001
    parent = "cse-in/meter/power" if ty == 4 else "cse-in/meter"
    response = await core.create(parent, ty, content, fr="Cmeter")
    assert response.rsc == rsc
    assert message in response.pc["m2m:dbg"]


async def test_a_shared_attribute_with_a_type_specific_presence(core):
    """et is O O in common.json, O NP for a contentInstance (which is never updatable), and
    the update presence of a container's et is the shared one."""
    assert (await core.create("cse-in", 2, {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False,
                                                        "srv": ["3"]}}, fr="Cmeter")).rsc == 2001
    assert (await core.create("cse-in/meter", 3, CNT, fr="Cmeter")).rsc == 2001
    assert (await core.update("cse-in/meter/power", {"m2m:cnt": {"et": "20991231T000000"}},
                              fr="Cmeter")).rsc == 2004
    created = await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "1", "et": "20991231T000000"}},
                                fr="Cmeter")
    assert created.rsc == 2001
