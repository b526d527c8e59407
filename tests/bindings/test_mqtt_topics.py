"""Topic-safe IDs and topic parsing (TS-0010 6.3), without a broker."""
from __future__ import annotations

import pytest

from bindings.mqtt_topics import Topic, originator_forms, parse_topic, topic_id

CSE = "/id-in"


@pytest.mark.parametrize("entity, form, expected", [
    ("/id-in", "sp-relative", "id-in"),
    ("/id-mn", "sp-relative", "id-mn"),
    ("Cmeter01", "sp-relative", "id-in:Cmeter01"),         # a C-AE registered here
    ("Cmeter01", "stem", "Cmeter01"),                      # ACME / Mobius spelling
    ("/id-in/Cmeter01", "sp-relative", "id-in:Cmeter01"),
    ("/id-in/Cmeter01", "stem", "Cmeter01"),
    ("/id-mn/Cmeter01", "stem", "id-mn:Cmeter01"),         # another CSE's AE keeps its CSE-ID
    ("S7f3a", "sp-relative", "S7f3a"),                     # S-AE-IDs are SP-wide
    ("/S7f3a", "stem", "S7f3a"),
    ("//sp.example/id-mn", "sp-relative", ":sp.example:id-mn"),
])
def test_topic_id(entity, form, expected):
    assert topic_id(entity, CSE, form) == expected


@pytest.mark.parametrize("fr, topic_level, accepted", [
    ("Cmeter", "Cmeter", True),
    ("Cmeter", "id-in:Cmeter", True),
    ("/id-in/Cmeter", "Cmeter", True),
    ("/id-in/Cmeter", "id-in:Cmeter", True),
    ("//onem2m.example.net/id-in/Cmeter", "id-in:Cmeter", True),
    ("/id-mn", "id-mn", True),
    ("Cmeter", "Cother", False),
    ("Cmeter", "id-mn:Cmeter", False),
    ("/id-mn/Cmeter", "Cmeter", False),                    # someone else's C-AE is not ours
])
def test_originator_forms(fr, topic_level, accepted):
    assert (topic_level in originator_forms(fr, CSE, "//onem2m.example.net")) is accepted


@pytest.mark.parametrize("topic, parsed", [
    ("/oneM2M/req/Cmeter/id-in/json", Topic("req", "Cmeter", "id-in", "json")),
    ("/oneM2M/reg_resp/Cx/id-in/cbor", Topic("reg_resp", "Cx", "id-in", "cbor")),
    ("/oneM2M/req/Cmeter/id-in/xml", Topic("req", "Cmeter", "id-in", "xml")),
    ("oneM2M/req/Cmeter/id-in/json", None),
    ("/oneM2M/req/Cmeter/id-in", None),
    ("/oneM2M/req//id-in/json", None),
    ("/oneM2M/other/a/b/json", None),
    ("/energy/alerts", None),
])
def test_parse_topic(topic, parsed):
    assert parse_topic(topic) == parsed


def test_response_topic_mirrors_the_request():
    assert str(Topic("req", "Cm", "id-in", "cbor").response()) == "/oneM2M/resp/Cm/id-in/cbor"
    assert str(Topic("reg_req", "Cm", "id-in", "json").response()) == "/oneM2M/reg_resp/Cm/id-in/json"
