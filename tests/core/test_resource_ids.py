"""Resource identifiers are unique and sort in creation order (keeps storage indexes append-only)."""
import pytest

from cse.tree import ResourceIds, base62


def test_ids_of_one_series_are_unique_and_increasing():
    ids = ResourceIds(now_ms=lambda: 1_700_000_000_000)
    made = [ids.new("cin") for _ in range(5000)]
    assert len(set(made)) == len(made)
    assert made == sorted(made)
    assert all(ri.startswith("cin") and len(ri) == 3 + 15 for ri in made)


def test_a_later_start_sorts_after_an_earlier_one():
    first = ResourceIds(now_ms=lambda: 1_700_000_000_000).new("cnt")
    later = ResourceIds(now_ms=lambda: 1_700_000_000_001).new("cnt")
    assert first < later


def test_an_exhausted_counter_starts_a_new_series_even_if_the_clock_stands_still():
    class Tiny(ResourceIds):
        COUNTER_LIMIT = 3

    ids = Tiny(now_ms=lambda: 5)
    made = [ids.new("cin") for _ in range(10)]
    assert len(set(made)) == 10
    assert made == sorted(made)
    assert len({ri[3:10] for ri in made}) == 4  # series prefixes: 3 + 3 + 3 + 1 IDs


@pytest.mark.parametrize("value, width, expected", [(0, 3, "000"), (61, 2, "0z"), (62, 2, "10"),
                                                    (62 ** 4 - 1, 4, "zzzz")])
def test_base62_is_fixed_width_and_ordered(value, width, expected):
    assert base62(value, width) == expected


def test_base62_refuses_a_value_too_wide():
    with pytest.raises(ValueError, match="3 base-62 digits"):
        base62(62 ** 3, 3)


async def test_content_instances_get_ids_and_names_in_creation_order(core):
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    assert (await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")).rsc == 2001
    created = []
    for watts in range(30):
        response = await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": str(watts)}}, fr="Cmeter")
        assert response.rsc == 2001
        created.append(response.pc["m2m:cin"])
    ris = [c["ri"] for c in created]
    assert ris == sorted(ris) and len(set(ris)) == 30
    assert [c["rn"] for c in created] == sorted(c["rn"] for c in created)
