"""Filter criteria on one resource: validation of fc and each condition (cse/filters.py)."""
import pytest

from cse.errors import OneM2MError
from cse.filters import Criteria, check_filter_criteria, matches

METER = {"ty": 3, "ri": "cnt1", "rn": "power", "ct": "20250301T100000,000000",
         "lt": "20250301T120000,000000", "et": "20300101T000000,000000", "st": 5,
         "lbl": ["zone:3", "type:meter"], "mni": 100, "poa": ["http://a", "http://b"], "disr": False}
READING = {"ty": 4, "ri": "cin1", "rn": "r1", "ct": "20250301T100000,000000", "lt": "20250301T100000,000000",
           "cs": 40, "cnf": "application/json:0", "con": "{}", "st": 1}


@pytest.mark.parametrize("fc, rsc, words", [
    ([1], 4000, "must be an object"),
    ({"zzz": 1}, 4000, "unknown member 'zzz'"),
    ({"lim": "ten"}, 4000, "'lim'"),
    ({"lim": True}, 4000, "'lim'"),
    ({"ofst": -1}, 4000, "negative"),
    ({"cra": "yesterday"}, 4000, "'cra'"),
    ({"crb": "20251340T000000"}, 4000, "not a valid date"),
    ({"ty": 3}, 4000, "list of integers"),
    ({"ty": []}, 4000, "non-empty list"),
    ({"lbl": [1]}, 4000, "list of strings"),
    ({"atr": [{"nm": "rn"}]}, 4000, "{nm, val}"),
    ({"atr": [{"nm": "", "val": 1}]}, 4000, "{nm, val}"),
    ({"fu": 7}, 4000, "filter usage"),
    ({"fo": 3}, 4000, "filter operation"),
    ({"fu": 3}, 5001, "IPE on-demand"),
    ({"smf": "SELECT ?x"}, 5001, "semantic"),
    ({"cfs": 1, "cfq": "$.x"}, 5001, "content filters"),
    ({"lbq": ["zone=3"]}, 5001, "label queries"),
    ({"gmty": 1}, 5001, "geographic"),
    ({"arp": "la"}, 4000, "only applies to discovery"),
    ({"fu": 1, "arp": ""}, 4000, "'arp'"),
])
def test_bad_filter_criteria_are_refused_with_a_clear_message(fc, rsc, words):
    with pytest.raises(OneM2MError) as caught:
        check_filter_criteria(fc)
    assert caught.value.rsc == rsc
    assert words in caught.value.message


def test_timestamps_are_normalised_so_string_comparison_is_time_comparison():
    fc = check_filter_criteria({"cra": "20250301T100000Z", "crb": "20250301T100000,5"})
    assert fc == {"cra": "20250301T100000,000000", "crb": "20250301T100000,500000"}
    # ct equals cra (created at that instant) and is before crb by half a second
    assert matches(METER, fc)


@pytest.mark.parametrize("fc, resource, expected", [
    ({"crb": "20250301T100000,000001"}, METER, True),
    ({"crb": "20250301T100000,000000"}, METER, False),
    ({"cra": "20250301T100000,000000"}, METER, True),
    ({"cra": "20250301T100000,000001"}, METER, False),
    ({"ms": "20250301T120000,000000"}, METER, True),
    ({"ms": "20250301T120000,000001"}, METER, False),
    ({"us": "20250301T120000,000001"}, METER, True),
    ({"us": "20250301T120000,000000"}, METER, False),
    ({"sts": 6}, METER, True),
    ({"sts": 5}, METER, False),
    ({"stb": 5}, METER, True),
    ({"stb": 6}, METER, False),
    ({"exb": "20300101T000000,000001"}, METER, True),
    ({"exb": "20300101T000000,000000"}, METER, False),
    ({"exa": "20300101T000000,000000"}, METER, True),
    ({"exa": "20300101T000000,000001"}, METER, False),
    ({"exa": "20990101T000000,000000"}, READING, True),     # no et: never expires
    ({"exb": "20990101T000000,000000"}, READING, False),
    ({"lbl": ["zone:3"]}, METER, True),
    ({"lbl": ["zone:4", "type:meter"]}, METER, True),
    ({"lbl": ["zone:4"]}, METER, False),
    ({"lbl": ["zone:3"]}, READING, False),
    ({"ty": [2, 3]}, METER, True),
    ({"ty": [4]}, METER, False),
    ({"sza": 40}, READING, True),
    ({"sza": 41}, READING, False),
    ({"szb": 41}, READING, True),
    ({"szb": 40}, READING, False),
    ({"sza": 1}, METER, False),                              # no cs at all
    ({"cty": ["application/json"]}, READING, True),
    ({"cty": ["text/plain"]}, READING, False),
    ({"atr": [{"nm": "rn", "val": "pow*"}]}, METER, True),
    ({"atr": [{"nm": "rn", "val": "p?wer"}]}, METER, True),
    ({"atr": [{"nm": "rn", "val": "energy*"}]}, METER, False),
    ({"atr": [{"nm": "mni", "val": "100"}]}, METER, True),   # query strings compare as numbers
    ({"atr": [{"nm": "mni", "val": 100}]}, METER, True),
    ({"atr": [{"nm": "mni", "val": "ten"}]}, METER, False),
    ({"atr": [{"nm": "disr", "val": "false"}]}, METER, True),
    ({"atr": [{"nm": "poa", "val": "http://b"}]}, METER, True),   # member of a list attribute
    ({"atr": [{"nm": "nothere", "val": "x"}]}, METER, False),
    # different attribute names are different conditions (AND by default) ...
    ({"atr": [{"nm": "rn", "val": "power"}, {"nm": "mni", "val": 5}]}, METER, False),
    ({"atr": [{"nm": "rn", "val": "power"}, {"nm": "mni", "val": 100}]}, METER, True),
    # ... values for the same name are alternatives
    ({"atr": [{"nm": "rn", "val": "x"}, {"nm": "rn", "val": "power"}]}, METER, True),
    # fo combines different conditions
    ({"ty": [4], "lbl": ["zone:3"]}, METER, False),
    ({"ty": [4], "lbl": ["zone:3"], "fo": 2}, METER, True),
    ({"ty": [4], "lbl": ["zone:9"], "fo": 2}, METER, False),
    ({"lim": 3, "ofst": 1, "lvl": 2}, METER, True),            # paging members are not conditions
])
def test_each_condition(fc, resource, expected):
    assert matches(resource, check_filter_criteria(dict(fc))) is expected
    assert Criteria(fc).matches(resource) is expected


def test_related_conditions_are_answered_by_the_caller():
    criteria = Criteria({"clbl": ["on"], "pty": [2]})
    asked = []

    def related(name, resource):
        asked.append(name)
        return name == "clbl"

    assert criteria.matches(METER, related) is False          # pty not met (AND)
    assert Criteria({"clbl": ["on"], "pty": [2], "fo": 2}).matches(METER, related) is True
    assert "clbl" in asked
    # without an answer a related condition is not met
    assert Criteria({"clbl": ["on"]}).matches(METER) is False
    assert matches(METER, {"clbl": ["on"]}, {"clbl": True}) is True
    assert matches(METER, {"clbl": ["on"]}) is False


def test_index_hints_only_narrow_when_no_match_can_be_lost():
    assert Criteria({"ty": [3], "lbl": ["a"]}).index_hints() == ([3], ["a"])
    assert Criteria({"ty": [3], "fo": 2}).index_hints() == ([3], None)
    assert Criteria({"ty": [3], "lbl": ["a"], "fo": 2}).index_hints() == (None, None)
    assert Criteria({"ty": [3], "cra": "20250101T000000,000000", "fo": 2}).index_hints() == (None, None)


def test_conditions_the_index_answers_alone():
    assert Criteria({"ty": [3]}).answered_by_index
    assert Criteria({"ty": [3], "lbl": ["a"]}).answered_by_index
    assert Criteria({"lbl": ["a"], "fo": 2, "lim": 5}).answered_by_index
    assert not Criteria({"ty": [3], "lbl": ["a"], "fo": 2}).answered_by_index
    assert not Criteria({"ty": [3], "sza": 1}).answered_by_index
    assert not Criteria({"ty": [3], "clbl": ["a"]}).answered_by_index
    assert not Criteria({"ty": [3], "atr": [{"nm": "rn", "val": "x"}]}).answered_by_index
