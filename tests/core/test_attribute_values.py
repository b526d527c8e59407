"""Attribute values checked against the shared value types of schemas/common.json.

These pin the messages a client gets, so that how the schemas are compiled (references to
common.json inlined for speed) cannot change what is accepted or what is said."""
import pytest

AE = {"api": "Nmeter", "rr": False, "srv": ["3"]}


@pytest.mark.parametrize("attributes, words", [
    ({"srv": ["9"]}, "attribute 'srv': '9' at [0] is not one of"),
    ({"srv": []}, "attribute 'srv': [] violates minItems 1"),
    ({"srv": "3"}, "attribute 'srv': '3' is not of type array"),
    ({"rn": "bad name"}, "attribute 'rn': 'bad name' holds ' ', which no address can carry"),
    ({"rn": ""}, "attribute 'rn': '' violates minLength 1"),
    ({"lbl": ["ok", ""]}, "attribute 'lbl': '' at [1] violates minLength 1"),
    ({"lbl": "tariff"}, "attribute 'lbl': 'tariff' is not of type array"),
    ({"et": "2030-01-01"}, "attribute 'et': '2030-01-01' has an invalid format"),
    ({"poa": [""]}, "attribute 'poa': '' at [0] violates minLength 1"),
    ({"rr": "yes"}, "attribute 'rr': 'yes' is not of type boolean"),
])
async def test_bad_ae_attribute_values(core, attributes, words):
    response = await core.create("cse-in", 2, {"m2m:ae": {**AE, **attributes}}, fr="Cmeter")
    assert response.rsc == 4000
    assert words in response.pc["m2m:dbg"]


@pytest.mark.parametrize("attributes, words", [
    ({"mni": -1}, "attribute 'mni': -1 violates minimum 0"),
    ({"mni": "10"}, "attribute 'mni': '10' is not of type integer"),
    ({"mbs": 1.5}, "attribute 'mbs': 1.5 is not of type integer"),
    ({"mia": -3}, "attribute 'mia': -3 violates minimum 0"),
    ({"acpi": [""]}, "attribute 'acpi': '' at [0] violates minLength 1"),
    ({"disr": 1}, "attribute 'disr': 1 is not of type boolean"),
])
async def test_bad_container_attribute_values(core, attributes, words):
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    response = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power", **attributes}}, fr="Cmeter")
    assert response.rsc == 4000
    assert words in response.pc["m2m:dbg"]


async def test_update_checks_values_the_same_way(core):
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    update = await core.update("cse-in/meter", {"m2m:ae": {"lbl": [""]}}, fr="Cmeter")
    assert update.rsc == 4000
    assert "attribute 'lbl': '' at [0] violates minLength 1" in update.pc["m2m:dbg"]


async def test_good_values_of_the_same_types_are_accepted(core):
    assert (await core.create("cse-in", 2, {"m2m:ae": {**AE, "srv": ["2a", "3", "4"], "rn": "meter-1",
                                                        "lbl": ["tariff:peak"], "et": "20991231T000000",
                                                        "poa": ["http://127.0.0.1:9"]}},
                              fr="Cmeter")).rsc == 2001
    response = await core.create("cse-in/meter-1", 3, {"m2m:cnt": {"rn": "power", "mni": 0, "mbs": 10,
                                                                    "mia": 60, "disr": False}}, fr="Cmeter")
    assert response.rsc == 2001


def test_shared_types_are_inlined_and_keywords_next_to_a_reference_still_apply():
    import jsonschema

    from cse.resource_type import _inline_common

    definitions = {"count": {"type": "integer", "minimum": 0}, "names": {"type": "array"}}
    assert _inline_common({"$ref": "common.json#/$defs/names", "minItems": 1}, definitions) == \
        {"type": "array", "minItems": 1}
    both = _inline_common({"$ref": "common.json#/$defs/count", "minimum": 5}, definitions)
    assert both == {"allOf": [{"type": "integer", "minimum": 0}, {"minimum": 5}]}
    assert not jsonschema.Draft202012Validator(both).is_valid(3)       # the sibling keyword holds
    assert jsonschema.Draft202012Validator(both).is_valid(7)
    nested = _inline_common({"items": {"$ref": "common.json#/$defs/count"}}, definitions)
    assert nested == {"items": {"type": "integer", "minimum": 0}}
    other = {"$ref": "other.json#/x"}
    assert _inline_common(other, definitions) == other                   # left to the registry
