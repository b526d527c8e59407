"""accessControlPolicy behaviour beyond the matrix: acpi changes, the ACP cache, rule
features (wildcards, contexts, object details), validation, and what a refusal reveals."""
from __future__ import annotations

import calendar

import pytest

from cse.access import AccessControl, Permission
from cse.policy import compile_rules
from cse.primitives import Request
from tests.conftest import make_config

OWNER, OTHER, ADMIN = "Cowner", "Cother", "CAdmin"


def acp(rn: str, pv: list, pvs: list | None = None, **extra) -> dict:
    return {"m2m:acp": {"rn": rn, "pv": {"acr": pv},
                        "pvs": {"acr": pvs if pvs is not None else [{"acor": [OWNER], "acop": 63}]},
                        **extra}}


@pytest.fixture
async def world(core):
    assert (await core.register_ae(OWNER, rn="owner")).rsc == 2001
    assert (await core.register_ae(OTHER, rn="other")).rsc == 2001
    assert (await core.create("cse-in/owner", 3, {"m2m:cnt": {"rn": "cnt"}}, fr=OWNER)).rsc == 2001
    assert (await core.create("cse-in/owner/cnt", 4, {"m2m:cin": {"rn": "cin", "con": "1"}},
                              fr=OWNER)).rsc == 2001
    return core


async def make_acp(core, rn: str, pv: list, pvs: list | None = None, parent: str = "cse-in/owner",
                   fr: str = OWNER, **extra) -> str:
    response = await core.create(parent, 1, acp(rn, pv, pvs, **extra), fr=fr)
    assert response.rsc == 2001, response.pc
    return response.pc["m2m:acp"]["ri"]


async def link(core, target: str, root: str, acpi, fr: str = OWNER):
    return await core.update(target, {root: {"acpi": acpi}}, fr=fr)


# -- acpi changes -------------------------------------------------------------------------
async def test_acpi_must_be_the_only_attribute_of_its_update(world):
    ri = await make_acp(world, "a", [{"acor": [OWNER], "acop": 63}])
    response = await world.update("cse-in/owner/cnt", {"m2m:cnt": {"acpi": [ri], "lbl": ["x"]}}, fr=OWNER)
    assert response.rsc == 4000
    assert "'acpi' must be the only attribute" in response.pc["m2m:dbg"]
    assert "lbl" in response.pc["m2m:dbg"]


async def test_acpi_change_needs_update_in_self_privileges_not_privileges(world):
    # pv lets Cother update the container, pvs does not let it touch acpi.
    ri = await make_acp(world, "a", [{"acor": [OWNER, OTHER], "acop": 63}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.update("cse-in/owner/cnt", {"m2m:cnt": {"lbl": ["ok"]}}, fr=OTHER)).rsc == 2004
    response = await link(world, "cse-in/owner/cnt", "m2m:cnt", None, fr=OTHER)
    assert response.rsc == 4103
    assert "selfPrivileges" in response.pc["m2m:dbg"]
    # ... and pvs alone suffices, even without any right in pv.
    locked = await make_acp(world, "b", [{"acor": [OTHER], "acop": 2}], pvs=[{"acor": [OWNER], "acop": 4}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [locked])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OWNER)).rsc == 4103
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", None)).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OWNER)).rsc == 2000


async def test_acpi_change_without_acpi_follows_the_default_policy(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 63}], parent="cse-in/other", fr=OTHER,
                        pvs=[{"acor": [OTHER], "acop": 63}])
    # Cother cannot attach its ACP to Cowner's container: the container is Cowner's.
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri], fr=OTHER)).rsc == 4103
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 4103


@pytest.mark.parametrize("reference,words", [
    ("acpDoesNotExist", "is not an accessControlPolicy"),
    ("cse-in/owner/cnt", "is not an accessControlPolicy"),
    ("/id-other/acp1", "is not an accessControlPolicy"),
])
async def test_acpi_must_reference_existing_acps(world, reference, words):
    response = await link(world, "cse-in/owner/cnt", "m2m:cnt", [reference])
    assert response.rsc == 4000 and words in response.pc["m2m:dbg"] and reference in response.pc["m2m:dbg"]
    response = await world.create("cse-in/owner", 3, {"m2m:cnt": {"rn": "c2", "acpi": [reference]}}, fr=OWNER)
    assert response.rsc == 4000 and words in response.pc["m2m:dbg"]


async def test_acpi_may_name_an_acp_by_any_local_id_form(world):
    await make_acp(world, "byPath", [{"acor": [OTHER], "acop": 2}])
    for reference in ("cse-in/owner/byPath", "/id-in/cse-in/owner/byPath", "-/owner/byPath"):
        assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [reference])).rsc == 2004
        assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 2000
        assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", None, fr=ADMIN)).rsc == 2004


async def test_removing_acpi_restores_the_default_policy(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 2000
    assert (await world.retrieve("cse-in/owner/cnt", fr=OWNER)).rsc == 4103   # not in pv
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OWNER)).rsc == 2000
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 4103


# -- the ACP cache follows every change ----------------------------------------------------
async def test_acp_update_takes_effect_at_once(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 2000
    response = await world.update("cse-in/owner/a", {"m2m:acp": {"pv": {"acr": []}}}, fr=OWNER)
    assert response.rsc == 2004, response.pc
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 4103


async def test_deleted_acp_grants_nothing(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt/la", fr=OTHER)).rsc == 2000
    assert (await world.delete("cse-in/owner/a", fr=OWNER)).rsc == 2002
    assert (await world.retrieve("cse-in/owner/cnt/la", fr=OTHER)).rsc == 4103


async def test_acp_removed_with_its_subtree_grants_nothing(world):
    # An ACP below Cother's AE protects an admin container; the AE goes, the ACP with it.
    ri = await make_acp(world, "a", [{"acor": [OWNER], "acop": 2}], parent="cse-in/other", fr=OTHER,
                        pvs=[{"acor": [OTHER], "acop": 63}])
    assert (await world.create("cse-in", 3, {"m2m:cnt": {"rn": "adminCnt", "acpi": [ri]}})).rsc == 2001
    assert (await world.retrieve("cse-in/adminCnt", fr=OWNER)).rsc == 2000
    assert (await world.delete("cse-in/other", fr=OTHER)).rsc == 2002
    assert (await world.retrieve("cse-in/adminCnt", fr=OWNER)).rsc == 4103


async def test_acp_created_later_under_a_referenced_path_is_used(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", ["cse-in/owner/a", ri])).rsc == 2004
    assert (await world.delete("cse-in/owner/a", fr=OWNER)).rsc == 2002
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 4103
    await make_acp(world, "a", [{"acor": [OTHER], "acop": 2}])
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 2000


async def test_expired_acp_grants_nothing(world, clock):
    from cse.clock import format_timestamp
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2}], et=format_timestamp(clock.now() + 60))
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 2000
    clock.advance(61)
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 4103


# -- rule features ---------------------------------------------------------------------------
@pytest.mark.parametrize("acor,granted,refused", [
    (["all"], [OTHER, "Cstranger", "/id-x"], []),
    (["C*"], [OTHER, "Cstranger"], ["Sabc", "/id-x"]),
    (["Coth*"], [OTHER], ["Cstranger"]),
    (["/id-in/Cother"], [OTHER, "/id-in/Cother", "//onem2m.example.net/id-in/Cother"], ["Cstranger"]),
    (["Cother"], ["/id-in/Cother"], ["/id-mn/Cother", "Cother2", "cother"]),
    (["C.ther"], [], [OTHER]),           # only '*' is special
])
async def test_originator_forms(world, acor, granted, refused):
    ri = await make_acp(world, "a", [{"acor": acor, "acop": 2}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    for originator in granted:
        assert (await world.retrieve("cse-in/owner/cnt", fr=originator)).rsc == 2000, originator
    for originator in refused:
        assert (await world.retrieve("cse-in/owner/cnt", fr=originator)).rsc == 4103, originator


@pytest.mark.parametrize("pattern,matching,other", [
    ("C*", ["C", "Cx", "C*"], ["", "c", "xC"]),
    ("*x", ["x", "abx"], ["xa", ""]),
    ("C*a*b", ["Cab", "Caxb", "Caab", "Cabab"], ["Cba", "Ca", "Cb", "Caba"]),
    ("ab*ba", ["abba", "abxba"], ["aba", "ab", "ba"]),
    ("**", ["", "anything"], []),
    ("a*.*b", ["a.b", "ax.yb"], ["ab", "axb"]),          # '.' is literal
    ("/id-in/C*", ["Cm", "/id-in/Cm"], ["/id-mn/Cm"]),    # the local part is normalized
])
def test_wildcard_originators(pattern, matching, other):
    normalize = AccessControl(make_config()).normalize
    rule = compile_rules({"acr": [{"acor": [pattern], "acop": 2}]}, "pv", normalize)[0]
    for originator in matching:
        assert rule.grants(normalize(originator), 2, None), (pattern, originator)
    for originator in other:
        assert not rule.grants(normalize(originator), 2, None), (pattern, originator)


def test_wildcards_take_linear_time():
    """'*a' repeated and a long run of 'a's: a backtracking matcher needs years for this
    (twelve stars and 40 characters already took a minute), a linear one microseconds."""
    rule = compile_rules({"acr": [{"acor": ["*a" * 30 + "b"], "acop": 2}]}, "pv", lambda o: o)[0]
    assert not rule.grants("a" * 4000, 2, None)
    assert rule.grants("a" * 4000 + "b", 2, None)


async def test_admin_and_owner_ids_compare_in_every_local_form(world):
    for originator in ("/id-in/CAdmin", "//onem2m.example.net/id-in/CAdmin", "/id-in",
                       "/id-in/Cowner"):
        assert (await world.retrieve("cse-in/owner/cnt", fr=originator)).rsc == 2000, originator


@pytest.mark.parametrize("operation,bit", [("retrieve", 2), ("update", 4), ("delete", 8), ("create", 1)])
async def test_each_operation_needs_its_own_bit(world, operation, bit):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 63 & ~bit}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    if operation == "retrieve":
        response = await world.retrieve("cse-in/owner/cnt", fr=OTHER)
    elif operation == "update":
        response = await world.update("cse-in/owner/cnt", {"m2m:cnt": {"lbl": ["a"]}}, fr=OTHER)
    elif operation == "delete":
        response = await world.delete("cse-in/owner/cnt", fr=OTHER)
    else:
        response = await world.create("cse-in/owner/cnt", 4, {"m2m:cin": {"con": "2"}}, fr=OTHER)
    assert response.rsc == 4103 and operation.upper() in response.pc["m2m:dbg"]


def at(year, month, day, hour, minute=0, second=0) -> float:
    return float(calendar.timegm((year, month, day, hour, minute, second)))


@pytest.mark.parametrize("window,moment,granted", [
    ("* * 8-18 * * 1-5 *", at(2025, 3, 3, 9), True),        # a Monday, 09:00 UTC
    ("* * 8-18 * * 1-5 *", at(2025, 3, 3, 19), False),       # Monday evening
    ("* * 8-18 * * 1-5 *", at(2025, 3, 2, 9), False),        # a Sunday
    ("* * * * * 0,7 *", at(2025, 3, 2, 9), True),             # Sunday as 0 or 7
    ("* */15 * * * * *", at(2025, 3, 3, 9, 30), True),
    ("* */15 * * * * *", at(2025, 3, 3, 9, 31), False),
    ("* * * 1 1 * 2025-2026", at(2026, 1, 1, 0), True),
    ("* * * 1 1 * 2025-2026", at(2027, 1, 1, 0), False),
])
async def test_time_window_context(core, clock, window, moment, granted):
    clock._now = moment
    assert (await core.register_ae(OWNER, rn="owner")).rsc == 2001
    assert (await core.create("cse-in/owner", 3, {"m2m:cnt": {"rn": "cnt"}}, fr=OWNER)).rsc == 2001
    ri = await make_acp(core, "a", [{"acor": [OTHER], "acop": 2, "acco": [{"actw": [window]}]}])
    assert (await link(core, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await core.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == (2000 if granted else 4103)


@pytest.mark.parametrize("remote,granted", [
    ("192.168.1.20", True), ("192.168.2.20", False), ("::ffff:192.168.1.7", True),
    ("fd00::5", True), ("fe80::1", False), (None, False), ("not-an-address", False),
    ("192.168.1.20:5683", True), ("[fd00::5]:5683", True), ("[fe80::1]:5683", False), ("fd00::5%eth0", True),
])
async def test_ip_context(world, remote, granted):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2, "acco": [
        {"acip": {"ipv4": ["192.168.1.0/24"], "ipv6": ["fd00::/8"]}}]}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    response = await world.retrieve("cse-in/owner/cnt", fr=OTHER, remote_address=remote)
    assert response.rsc == (2000 if granted else 4103)


async def test_contexts_are_alternatives_and_their_parts_all_apply(world, clock):
    clock._now = at(2025, 3, 3, 9)
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2, "acco": [
        {"actw": ["* * 8-18 * * * *"], "acip": {"ipv4": ["10.0.0.0/8"]}},
        {"acip": {"ipv4": ["192.168.0.1"]}}]}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER, remote_address="10.1.2.3")).rsc == 2000
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER, remote_address="192.168.0.1")).rsc == 2000
    clock._now = at(2025, 3, 3, 20)
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER, remote_address="10.1.2.3")).rsc == 4103
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER, remote_address="192.168.0.1")).rsc == 2000


async def test_authentication_flag(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2, "acaf": True}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 4103
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER, authenticated=True)).rsc == 2000


async def test_object_details_restrict_created_child_types(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 1, "acod": [{"chty": [3]}]}])
    assert (await link(world, "cse-in/owner", "m2m:ae", [ri])).rsc == 2004
    assert (await world.create("cse-in/owner", 3, {"m2m:cnt": {"rn": "mine"}}, fr=OTHER)).rsc == 2001
    response = await world.create("cse-in/owner", 1, acp("x", []), fr=OTHER)
    assert response.rsc == 4103


async def test_object_details_restrict_target_types(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2, "acod": [{"ty": 3}]}])
    assert (await link(world, "cse-in/owner", "m2m:ae", [ri])).rsc == 2004
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 2000
    assert (await world.retrieve("cse-in/owner", fr=ADMIN)).rsc == 2000
    assert (await world.retrieve("cse-in/owner", fr=OTHER)).rsc == 4103


async def test_acp_itself_is_governed_by_pvs_only(world):
    await make_acp(world, "a", [{"acor": [OTHER], "acop": 63}], pvs=[{"acor": [OWNER, OTHER], "acop": 2}])
    assert (await world.retrieve("cse-in/owner/a", fr=OTHER)).rsc == 2000
    response = await world.update("cse-in/owner/a", {"m2m:acp": {"lbl": ["x"]}}, fr=OTHER)
    assert response.rsc == 4103
    assert (await world.delete("cse-in/owner/a", fr=OTHER)).rsc == 4103
    # The creator has no right beyond pvs either.
    assert (await world.delete("cse-in/owner/a", fr=OWNER)).rsc == 4103
    assert (await world.delete("cse-in/owner/a", fr=ADMIN)).rsc == 2002


async def test_instances_follow_their_container(world):
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 2 | 8}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    assert (await world.retrieve("cse-in/owner/cnt/cin", fr=OTHER)).rsc == 2000
    assert (await world.retrieve("cse-in/owner/cnt/ol", fr=OTHER)).rsc == 2000
    assert (await world.delete("cse-in/owner/cnt/cin", fr=OTHER)).rsc == 2002


async def test_child_lists_show_only_what_the_originator_may_retrieve(world):
    ri = await make_acp(world, "a", [{"acor": [OWNER], "acop": 63}, {"acor": [OTHER], "acop": 2}])
    assert (await link(world, "cse-in/owner", "m2m:ae", [ri])).rsc == 2004
    assert (await world.create("cse-in/owner", 3, {"m2m:cnt": {"rn": "open", "acpi": [ri]}}, fr=OWNER)).rsc == 2001
    response = await world.retrieve("cse-in/owner", fr=OTHER, rcn=6)
    assert response.rsc == 2000
    names = sorted(ref["nm"] for ref in response.pc["m2m:rrl"]["rrf"])
    assert names == ["open"]
    response = await world.retrieve("cse-in/owner", fr=OTHER, rcn=5)
    assert [ref["nm"] for ref in response.pc["m2m:ae"]["ch"]] == ["open"]


# -- the CSEBase -----------------------------------------------------------------------------
@pytest.mark.parametrize("originator", [OWNER, "/id-in/Cowner", "/id-mn"])
async def test_cse_base_is_readable_by_registered_entities_but_shows_no_children_to_others(world, originator):
    # /id-mn is not registered, but may register (cse.allowed_cse_originators): it reads first.
    assert (await world.retrieve("cse-in", fr=originator)).rsc == 2000
    response = await world.retrieve("cse-in", fr=originator, rcn=6)
    names = {ref["nm"] for ref in response.pc["m2m:rrl"]["rrf"]}
    assert names == ({"owner", "cnt", "cin"} if originator in (OWNER, "/id-in/Cowner") else set())


@pytest.mark.parametrize("originator,granted", [
    (OWNER, True), ("/id-in/Cowner", True), ("/id-mn", False), ("Cnobody", False), ("Snobody", False),
])
def test_cse_base_is_discoverable_by_registered_entities_only(world, originator, granted):
    cse = world.cse
    ctx = cse.dispatcher.context(Request(op=2, to="cse-in", fr=originator, rqi="1"))
    assert cse.access.allowed(ctx, originator, Permission.DISCOVER, cse.cse_base) is granted


# -- validation of ACPs ----------------------------------------------------------------------
@pytest.mark.parametrize("body,rsc,words", [
    ({"pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "mandatory attribute 'pv'"),
    ({"pv": {"acr": []}}, 4000, "mandatory attribute 'pvs'"),
    ({"pv": {"acr": []}, "pvs": {"acr": []}}, 4000, "pvs"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 64}]}, "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "acop"),
    ({"pv": {"acr": [{"acor": "C", "acop": 1}]}, "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "pv"),
    ({"pv": {"acr": [{"acop": 1}]}, "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "acor"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "xx": 1}]}, "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}},
     4000, "xx"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "acco": [{"actw": ["* * * * *"]}]}]},
      "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "7 fields"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "acco": [{"actw": ["* * 25 * * * *"]}]}]},
      "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "outside 0..23"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "acco": [{"actw": ["* * x * * * *"]}]}]},
      "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "hour field"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "acco": [{"acip": {"ipv4": ["300.1.1.1"]}}]}]},
      "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "300.1.1.1"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "acco": [{"acip": {"ipv4": ["::1"]}}]}]},
      "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "not an IPv4"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "acco": [{"aclr": {"accc": ["DE"]}}]}]},
      "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 5001, "location"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "acod": [{"spty": True}]}]},
      "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "spty must be a containerDefinition"),
    ({"pv": {"acr": [{"acor": ["C"], "acop": 1, "acod": [{"spty": ""}]}]},
      "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}}, 4000, "spty must be a containerDefinition"),
    ({"pv": {"acr": []}, "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}, "acpi": ["x"]}, 4000, "acpi"),
    ({"pv": {"acr": []}, "pvs": {"acr": [{"acor": ["C"], "acop": 1}]}, "adri": ["x"]}, 5001, "adri"),
])
async def test_bad_acps_are_refused(world, body, rsc, words):
    response = await world.create("cse-in/owner", 1, {"m2m:acp": body}, fr=OWNER)
    assert response.rsc == rsc, response.pc
    assert words in response.pc["m2m:dbg"]


async def test_bad_acp_update_is_refused_and_changes_nothing(world):
    await make_acp(world, "a", [{"acor": [OTHER], "acop": 2}])
    before = (await world.retrieve("cse-in/owner/a", fr=OWNER)).pc
    response = await world.update("cse-in/owner/a", {"m2m:acp": {
        "pv": {"acr": [{"acor": [OTHER], "acop": 2, "acco": [{"actw": ["bad"]}]}]}}}, fr=OWNER)
    assert response.rsc == 4000 and "7 fields" in response.pc["m2m:dbg"]
    assert (await world.retrieve("cse-in/owner/a", fr=OWNER)).pc == before


async def test_acp_may_not_be_created_under_a_container(world):
    response = await world.create("cse-in/owner/cnt", 1, acp("x", []), fr=OWNER)
    assert response.rsc == 4108


# -- what a refusal reveals -------------------------------------------------------------------
async def test_missing_and_forbidden_resources_are_told_apart_as_the_ts_prescribes(world):
    assert (await world.retrieve("cse-in/owner/nothing", fr=OTHER)).rsc == 4004
    assert (await world.retrieve("cse-in/owner/cnt", fr=OTHER)).rsc == 4103


async def test_refusal_names_the_address_sent_not_the_stored_path(world):
    ri = (await world.retrieve("cse-in/owner/cnt")).pc["m2m:cnt"]["ri"]
    response = await world.retrieve(ri, fr=OTHER)
    assert response.rsc == 4103
    assert ri in response.pc["m2m:dbg"] and "owner" not in response.pc["m2m:dbg"].replace(OTHER, "")


@pytest.mark.parametrize("request_kind", ["latest of empty", "update instance", "create under instance",
                                          "wrong root", "bad attribute", "name conflict"])
async def test_refusal_comes_before_anything_that_describes_the_resource(world, request_kind):
    assert (await world.create("cse-in/owner", 3, {"m2m:cnt": {"rn": "empty"}}, fr=OWNER)).rsc == 2001
    if request_kind == "latest of empty":
        response = await world.retrieve("cse-in/owner/empty/la", fr=OTHER)
    elif request_kind == "update instance":
        response = await world.update("cse-in/owner/cnt/cin", {"m2m:cin": {"con": "2"}}, fr=OTHER)
    elif request_kind == "create under instance":
        response = await world.create("cse-in/owner/cnt/cin", 3, {"m2m:cnt": {}}, fr=OTHER)
    elif request_kind == "wrong root":
        response = await world.update("cse-in/owner/cnt", {"m2m:ae": {"lbl": ["x"]}}, fr=OTHER)
    elif request_kind == "bad attribute":
        response = await world.update("cse-in/owner/cnt", {"m2m:cnt": {"mni": "x"}}, fr=OTHER)
    else:
        response = await world.create("cse-in/owner", 3, {"m2m:cnt": {"rn": "cnt"}}, fr=OTHER)
    assert response.rsc == 4103, response.pc


# -- the interface other components use ------------------------------------------------------
async def test_allowed_for_another_originator_ignores_the_requesters_transport(world):
    """A notification check asks about the subscription's creator while another request is
    being handled: IP and authentication facts of that request must not count for it."""
    ri = await make_acp(world, "a", [{"acor": [OTHER], "acop": 16, "acco": [{"acip": {"ipv4": ["10.0.0.0/8"]}}]},
                                     {"acor": [OTHER], "acop": 32}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    cse = world.cse
    container = cse.storage.get_by_path("cse-in/owner/cnt")
    ctx = cse.dispatcher.context(Request(op=2, to="cse-in/owner/cnt", fr=OTHER, rqi="1",
                                         remote_address="10.0.0.1", authenticated=True))
    assert cse.access.allowed(ctx, OTHER, Permission.NOTIFY, container)
    assert cse.access.allowed(ctx, OTHER, Permission.DISCOVER, container)
    assert not cse.access.allowed(ctx, OTHER, Permission.RETRIEVE, container)
    other_ctx = cse.dispatcher.context(Request(op=2, to="x", fr=OWNER, rqi="2", remote_address="10.0.0.1"))
    assert not cse.access.allowed(other_ctx, OTHER, Permission.NOTIFY, container)
    assert cse.access.allowed(other_ctx, OTHER, Permission.DISCOVER, container)


async def test_discovery_lists_only_what_the_originator_may_discover(world):
    discoverable = await make_acp(world, "d", [{"acor": [OWNER], "acop": 63}, {"acor": [OTHER], "acop": 32}])
    readable = await make_acp(world, "r", [{"acor": [OWNER], "acop": 63}, {"acor": [OTHER], "acop": 2}])
    for rn, acpi in (("found", [discoverable]), ("readOnly", [readable])):
        response = await world.create("cse-in/owner", 3, {"m2m:cnt": {"rn": rn, "acpi": acpi, "lbl": ["energy"]}},
                                      fr=OWNER)
        assert response.rsc == 2001, response.pc
    assert (await world.create("cse-in/owner/found", 4, {"m2m:cin": {"rn": "i", "con": "1"}}, fr=OWNER)).rsc == 2001
    response = await world.retrieve("cse-in/owner", fr=OTHER, fc={"fu": 1})
    assert response.rsc == 2000, response.pc
    assert sorted(response.pc["m2m:uril"]) == ["cse-in/owner/found", "cse-in/owner/found/i"]
    # The owner sees everything (its own container without acpi and the ACPs included).
    response = await world.retrieve("cse-in/owner", fr=OWNER, fc={"fu": 1, "ty": [3]})
    assert sorted(response.pc["m2m:uril"]) == ["cse-in/owner/cnt", "cse-in/owner/found", "cse-in/owner/readOnly"]
    response = await world.retrieve("cse-in/owner", fr="Cstranger", fc={"fu": 1})
    assert response.rsc == 2000 and response.pc["m2m:uril"] == []


@pytest.mark.parametrize("acop,rsc", [(1, 4103), (2, 4103), (3, 2001)])
async def test_subscription_needs_create_on_the_parent_and_retrieve_on_the_subscribed_resource(world, acop, rsc):
    ri = await make_acp(world, "a", [{"acor": [OWNER], "acop": 63}, {"acor": [OTHER], "acop": acop}])
    assert (await link(world, "cse-in/owner/cnt", "m2m:cnt", [ri])).rsc == 2004
    response = await world.create("cse-in/owner/cnt", 23, {"m2m:sub": {"rn": "watch", "nu": [OTHER],
                                                                        "enc": {"net": [3]}}}, fr=OTHER)
    assert response.rsc == rsc, response.pc
    if rsc == 4103:
        assert "privilege" in response.pc["m2m:dbg"]
