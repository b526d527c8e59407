"""Attributes and validation as a peer sees them over HTTP (docs/conformance.md, "Lifetimes,
defaults, attributes and validation"): empty UPDATE, POST without ty, attributes of a later
release, custodian, deletionCnt, disableRetrieval, accessControlAttributes, labels, cnf,
App-IDs, empty pv/acpi, groups in acor; and a request that fails leaves nothing behind."""
from __future__ import annotations

import json

import pytest

from tests.conftest import HttpClient

OWNER = "Cowner"
OTHER = "Cother"


async def call(client: HttpClient, method: str, path: str, body: dict | None = None, *,
               fr: str = "CAdmin", ty: int | None = None, rvi: str = "3",
               params: dict | None = None) -> tuple[int, dict]:
    response, payload = await client.call(method, path, originator=fr, ty=ty, body=body,
                                          headers={"X-M2M-RVI": rvi}, params=params)
    return int(response.headers["X-M2M-RSC"]), (json.loads(payload) if payload else {})


async def register(client: HttpClient, originator: str, api: str = "Napp", rvi: str = "3") -> tuple[int, dict]:
    return await call(client, "POST", "/cse-in", {"m2m:ae": {"api": api, "rr": False, "srv": [rvi]}},
                      fr=originator, ty=2, rvi=rvi)


@pytest.fixture
async def http(http_cse):
    cse, client = http_cse
    assert (await register(client, OWNER))[0] == 2001
    assert (await register(client, OTHER))[0] == 2001
    rsc, body = await call(client, "POST", f"/cse-in/{OWNER}", {"m2m:cnt": {"rn": "box"}}, fr=OWNER, ty=3)
    assert rsc == 2001, body
    return client


async def children(client: HttpClient, path: str) -> list[str]:
    """The child references of `path` (rcn=6), as its admin sees them."""
    rsc, body = await call(client, "GET", path, params={"rcn": "6"})
    assert rsc == 2000, body
    return [entry["val"] for entry in body.get("m2m:rrl", {}).get("rrf", [])]


# -- empty UPDATE, POST without ty ----------------------------------------------------------
async def test_an_empty_update_answers_2004_with_the_unchanged_resource(http):
    rsc, before = await call(http, "GET", f"/cse-in/{OWNER}/box", fr=OWNER)
    rsc, after = await call(http, "PUT", f"/cse-in/{OWNER}/box", {"m2m:cnt": {}}, fr=OWNER)
    assert rsc == 2004
    # As ACME: nothing changes but lastModifiedTime and the container's stateTag.
    changed = {k for k in before["m2m:cnt"] if before["m2m:cnt"][k] != after["m2m:cnt"].get(k)}
    assert changed <= {"lt", "st"} and after["m2m:cnt"].keys() == before["m2m:cnt"].keys()


async def test_post_without_ty_to_the_cse_base_is_a_notify_it_refuses_with_4000(http):
    response, payload = await http.call("POST", "/cse-in", originator=OWNER, body={"m2m:cnt": {"rn": "x"}})
    assert response.headers["X-M2M-RSC"] == "4000" and response.status == 400
    assert "POST without ty" in json.loads(payload)["m2m:dbg"]
    assert "x" not in [path.rpartition("/")[2] for path in await children(http, "/cse-in")]


# -- attributes of a later release, unknown attributes ---------------------------------------
@pytest.mark.parametrize("ty, body, name", [
    (3, {"m2m:cnt": {"cstn": OTHER}}, "cstn"),
    (4, {"m2m:cin": {"con": "1", "dcnt": 2}}, "dcnt"),
    (4, {"m2m:cin": {"con": "1", "dgt": "20250101T000000"}}, "dgt"),
])
async def test_an_attribute_of_a_later_release_is_refused_in_an_older_request(http, ty, body, name):
    path = f"/cse-in/{OWNER}/box"
    before = await children(http, path)
    for rvi in ("2a", "3"):
        rsc, answer = await call(http, "POST", path, body, fr=OWNER, ty=ty, rvi=rvi)
        assert rsc == 4000 and f"attribute '{name}'" in answer["m2m:dbg"] and "release 4" in answer["m2m:dbg"]
    assert await children(http, path) == before
    rsc, answer = await call(http, "POST", path, body, fr=OWNER, ty=ty, rvi="4")
    assert rsc == 2001, answer
    assert answer[next(iter(body))][name] == body[next(iter(body))][name]       # kept, not ignored


async def test_an_older_update_may_not_set_a_later_attribute(http):
    rsc, answer = await call(http, "PUT", f"/cse-in/{OWNER}/box", {"m2m:cnt": {"cstn": OTHER, "mni": 3}},
                             fr=OWNER, rvi="3")
    assert rsc == 4000 and "'cstn'" in answer["m2m:dbg"]
    rsc, answer = await call(http, "GET", f"/cse-in/{OWNER}/box", fr=OWNER)
    assert "cstn" not in answer["m2m:cnt"] and "mni" not in answer["m2m:cnt"]


@pytest.mark.parametrize("rvi", ["3", "4"])
async def test_an_unknown_attribute_is_refused_by_name(http, rvi):
    rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}/box", {"m2m:cnt": {"rn": "x", "colour": "red"}},
                             fr=OWNER, ty=3, rvi=rvi)
    assert rsc == 4000 and "'colour'" in answer["m2m:dbg"]
    assert await children(http, f"/cse-in/{OWNER}/box") == []


# -- custodian ------------------------------------------------------------------------------
async def test_the_custodian_has_the_rights_the_creator_had(http):
    rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}/box", {"m2m:cnt": {"rn": "kept", "cstn": OTHER}},
                             fr=OWNER, ty=3, rvi="4")
    assert rsc == 2001 and answer["m2m:cnt"]["cstn"] == OTHER
    path = f"/cse-in/{OWNER}/box/kept"
    assert (await call(http, "GET", path, fr=OTHER, rvi="4"))[0] == 2000
    assert (await call(http, "POST", path, {"m2m:cin": {"con": "1"}}, fr=OTHER, ty=4, rvi="4"))[0] == 2001
    # The custodian replaces the creator: the creator has no default rights any more.
    rsc, answer = await call(http, "GET", path, fr=OWNER, rvi="4")
    assert rsc == 4103
    # Handing custody back (as the custodian) restores the creator's rights.
    assert (await call(http, "PUT", path, {"m2m:cnt": {"cstn": None}}, fr=OTHER, rvi="4"))[0] == 2004
    assert (await call(http, "GET", path, fr=OWNER, rvi="4"))[0] == 2000
    assert (await call(http, "GET", path, fr=OTHER, rvi="4"))[0] == 4103


async def test_a_custodian_has_no_rights_where_an_acp_decides(http):
    acp = {"m2m:acp": {"rn": "ownerOnly", "pv": {"acr": [{"acor": [OWNER], "acop": 63}]},
                       "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}}
    rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}", acp, fr=OWNER, ty=1)
    assert rsc == 2001, answer
    rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}/box",
                             {"m2m:cnt": {"rn": "ruled", "cstn": OTHER, "acpi": [answer["m2m:acp"]["ri"]]}},
                             fr=OWNER, ty=3, rvi="4")
    assert rsc == 2001
    assert (await call(http, "GET", f"/cse-in/{OWNER}/box/ruled", fr=OTHER, rvi="4"))[0] == 4103
    assert (await call(http, "GET", f"/cse-in/{OWNER}/box/ruled", fr=OWNER, rvi="4"))[0] == 2000


# -- deletionCnt ----------------------------------------------------------------------------
async def test_deletion_count_deletes_the_instance_after_that_many_retrievals(http):
    box = f"/cse-in/{OWNER}/box"
    rsc, answer = await call(http, "POST", box, {"m2m:cin": {"rn": "once", "con": "x", "dcnt": 2}},
                             fr=OWNER, ty=4, rvi="4")
    assert rsc == 2001 and answer["m2m:cin"]["dcnt"] == 2
    rsc, answer = await call(http, "GET", f"{box}/once", fr=OWNER, rvi="4")
    assert rsc == 2000 and answer["m2m:cin"]["dcnt"] == 2           # the count before this retrieval
    rsc, answer = await call(http, "GET", f"{box}/la", fr=OWNER, rvi="4")
    assert rsc == 2000 and answer["m2m:cin"]["dcnt"] == 1 and answer["m2m:cin"]["con"] == "x"
    assert (await call(http, "GET", f"{box}/once", fr=OWNER, rvi="4"))[0] == 4004
    rsc, answer = await call(http, "GET", box, fr=OWNER)
    assert answer["m2m:cnt"]["cni"] == 0 and answer["m2m:cnt"]["cbs"] == 0


@pytest.mark.parametrize("dcnt", [0, -1, "2", True])
async def test_a_bad_deletion_count_is_refused(http, dcnt):
    rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}/box", {"m2m:cin": {"con": "x", "dcnt": dcnt}},
                             fr=OWNER, ty=4, rvi="4")
    assert rsc == 4000 and "'dcnt'" in answer["m2m:dbg"]
    assert await children(http, f"/cse-in/{OWNER}/box") == []


# -- disableRetrieval -----------------------------------------------------------------------
async def test_disabled_retrieval_hides_the_instances_and_enabling_deletes_them(http):
    box = f"/cse-in/{OWNER}/box"
    assert (await call(http, "POST", box, {"m2m:cin": {"rn": "seen", "con": "1"}}, fr=OWNER, ty=4))[0] == 2001
    assert (await call(http, "POST", box, {"m2m:cnt": {"rn": "sub"}}, fr=OWNER, ty=3))[0] == 2001
    assert (await call(http, "PUT", box, {"m2m:cnt": {"disr": True}}, fr=OWNER))[0] == 2004
    assert (await call(http, "POST", box, {"m2m:cin": {"rn": "hidden", "con": "2"}}, fr=OWNER, ty=4))[0] == 2001
    # Not listed (references or whole), not retrievable, not through la/ol; other children stay listed.
    assert [path.rpartition("/")[2] for path in await children(http, box)] == ["sub"]
    rsc, answer = await call(http, "GET", box, fr=OWNER, params={"rcn": "4"})
    assert rsc == 2000 and "m2m:cin" not in answer["m2m:cnt"] and len(answer["m2m:cnt"]["m2m:cnt"]) == 1
    for name in ("seen", "hidden", "la", "ol"):
        rsc, answer = await call(http, "GET", f"{box}/{name}", fr=OWNER)
        assert rsc == 4005 and "disr" in answer["m2m:dbg"]
    # true -> false deletes what was kept meanwhile.
    rsc, answer = await call(http, "PUT", box, {"m2m:cnt": {"disr": False}}, fr=OWNER)
    assert rsc == 2004 and answer["m2m:cnt"]["cni"] == 0 and answer["m2m:cnt"]["cbs"] == 0
    assert [path.rpartition("/")[2] for path in await children(http, box)] == ["sub"]
    # false -> false keeps the instances.
    assert (await call(http, "POST", box, {"m2m:cin": {"rn": "new", "con": "3"}}, fr=OWNER, ty=4))[0] == 2001
    assert (await call(http, "PUT", box, {"m2m:cnt": {"disr": False}}, fr=OWNER))[0] == 2004
    assert (await call(http, "GET", f"{box}/new", fr=OWNER))[0] == 2000


# -- accessControlAttributes ------------------------------------------------------------------
async def acl_box(client: HttpClient, rule: dict) -> tuple[int, dict]:
    acp = {"m2m:acp": {"rn": "partial", "pv": {"acr": [{"acor": [OWNER], "acop": 63}, rule]},
                       "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}}
    rsc, answer = await call(client, "POST", f"/cse-in/{OWNER}", acp, fr=OWNER, ty=1, rvi="4")
    if rsc == 2001:
        ri = answer["m2m:acp"]["ri"]
        box = {"lbl": ["public"], "mni": 5, "acpi": [ri]}
        assert (await call(client, "PUT", f"/cse-in/{OWNER}/box", {"m2m:cnt": {"acpi": [ri]}}, fr=OWNER))[0] == 2004
        assert (await call(client, "PUT", f"/cse-in/{OWNER}/box",
                           {"m2m:cnt": {k: v for k, v in box.items() if k != "acpi"}}, fr=OWNER))[0] == 2004
    return rsc, answer


async def test_access_control_attributes_grant_only_the_listed_attributes(http):
    rsc, answer = await acl_box(http, {"acor": [OTHER], "acop": 6, "aca": ["lbl"]})
    assert rsc == 2001, answer
    box = f"/cse-in/{OWNER}/box"
    # RETRIEVE: a partial retrieve of the listed attributes only.
    rsc, answer = await call(http, "GET", box, fr=OTHER, params={"atrl": "lbl"})
    assert rsc == 2000 and answer == {"m2m:cnt": {"lbl": ["public"]}}
    for params in ({}, {"atrl": "lbl mni"}, {"atrl": "mni"}):
        rsc, answer = await call(http, "GET", box, fr=OTHER, params=params)
        assert rsc == 4103, (params, answer)
    # UPDATE: of the listed attributes only; a refused one changes nothing.
    assert (await call(http, "PUT", box, {"m2m:cnt": {"lbl": ["changed"]}}, fr=OTHER))[0] == 2004
    for change in ({"mni": 1}, {"lbl": ["again"], "mni": 1}):
        assert (await call(http, "PUT", box, {"m2m:cnt": change}, fr=OTHER))[0] == 4103
    rsc, answer = await call(http, "GET", box, fr=OWNER)
    assert answer["m2m:cnt"]["lbl"] == ["changed"] and answer["m2m:cnt"]["mni"] == 5
    assert (await call(http, "DELETE", box, fr=OTHER))[0] == 4103


@pytest.mark.parametrize("rule, rsc, words", [
    ({"acor": [OTHER], "acop": 3, "aca": ["lbl"]}, 5001, "RETRIEVE (2) and UPDATE (4) only"),
    ({"acor": [OTHER], "acop": 2, "aca": []}, 4000, "non-empty list"),
    ({"acor": [OTHER], "acop": 2, "aca": "lbl"}, 4000, "aca"),
])
async def test_bad_access_control_attributes_are_refused(http, rule, rsc, words):
    answer_rsc, answer = await acl_box(http, rule)
    assert answer_rsc == rsc and words in answer["m2m:dbg"], answer
    assert "partial" not in [p.rpartition("/")[2] for p in await children(http, f"/cse-in/{OWNER}")]


# -- labels, cnf, App-ID ------------------------------------------------------------------------
@pytest.mark.parametrize("label, rsc", [
    ("key:value", 2001), ("two words", 2001), ("a  b", 4000), (" lead", 4000), ("trail ", 4000),
    ("tab\tbed", 4000), ("line\nbreak", 4000),
])
async def test_labels_are_tokens(http, label, rsc):
    answer_rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}/box", {"m2m:cnt": {"lbl": [label]}},
                                    fr=OWNER, ty=3)
    assert answer_rsc == rsc, answer
    if rsc == 4000:
        assert "'lbl'" in answer["m2m:dbg"] and "token" in answer["m2m:dbg"]
        assert await children(http, f"/cse-in/{OWNER}/box") == []


@pytest.mark.parametrize("cnf, rsc", [
    ("application/json:0", 2001), ("text/plain:1", 2001), ("application/octet-stream:2:1", 2001),
    ("application/json", 4000), ("application/json:", 4000), ("application/json:7", 4000),
    ("json:0", 4000),
])
async def test_content_info_needs_its_encoding(http, cnf, rsc):
    answer_rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}/box", {"m2m:cin": {"cnf": cnf, "con": "1"}},
                                    fr=OWNER, ty=4)
    assert answer_rsc == rsc, answer
    if rsc == 4000:
        assert "'cnf'" in answer["m2m:dbg"]
        rsc, box = await call(http, "GET", f"/cse-in/{OWNER}/box", fr=OWNER)
        assert box["m2m:cnt"]["cni"] == 0 and await children(http, f"/cse-in/{OWNER}/box") == []


@pytest.mark.parametrize("api, rvi, rsc", [
    ("Napp", "3", 2001), ("Napp", "4", 2001), ("Rcom.example.app", "4", 2001),
    ("rcom.example.app", "2a", 2001), ("rcom.example.app", "3", 2001),
    ("rcom.example.app", "4", 4000), ("xapp", "3", 4000), ("napp", "4", 4000),
])
async def test_app_ids_follow_the_release_rule(http_cse, api, rvi, rsc):
    cse, client = http_cse
    answer_rsc, answer = await register(client, "Cnew", api=api, rvi=rvi)
    assert answer_rsc == rsc, answer
    if rsc == 4000:
        assert "'api'" in answer["m2m:dbg"]
        assert (await call(client, "GET", "/cse-in/Cnew"))[0] == 4004


# -- empty pv, empty acpi, groups in acor -----------------------------------------------------
async def test_an_empty_pv_is_valid_and_grants_nothing(http):
    acp = {"m2m:acp": {"rn": "nobody", "pv": {"acr": []}, "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}}
    rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}", acp, fr=OWNER, ty=1)
    assert rsc == 2001 and answer["m2m:acp"]["pv"] == {"acr": []}
    ri = answer["m2m:acp"]["ri"]
    assert (await call(http, "PUT", f"/cse-in/{OWNER}/box", {"m2m:cnt": {"acpi": [ri]}}, fr=OWNER))[0] == 2004
    assert (await call(http, "GET", f"/cse-in/{OWNER}/box", fr=OTHER))[0] == 4103
    assert (await call(http, "GET", f"/cse-in/{OWNER}/box", fr=OWNER))[0] == 4103


async def test_an_empty_acpi_means_no_acp(http):
    rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}/box", {"m2m:cnt": {"rn": "open", "acpi": []}},
                             fr=OWNER, ty=3)
    assert rsc == 2001 and answer["m2m:cnt"]["acpi"] == []
    path = f"/cse-in/{OWNER}/box/open"
    assert (await call(http, "GET", path, fr=OWNER))[0] == 2000          # the default policy
    assert (await call(http, "GET", path, fr=OTHER))[0] == 4103
    # Setting acpi to [] on UPDATE drops the ACPs: the default policy again.
    acp = {"m2m:acp": {"rn": "all", "pv": {"acr": [{"acor": ["all"], "acop": 2}]},
                       "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}}
    ri = (await call(http, "POST", f"/cse-in/{OWNER}", acp, fr=OWNER, ty=1))[1]["m2m:acp"]["ri"]
    assert (await call(http, "PUT", path, {"m2m:cnt": {"acpi": [ri]}}, fr=OWNER))[0] == 2004
    assert (await call(http, "GET", path, fr=OTHER))[0] == 2000
    assert (await call(http, "PUT", path, {"m2m:cnt": {"acpi": []}}, fr=OWNER))[0] == 2004
    assert (await call(http, "GET", path, fr=OTHER))[0] == 4103


async def test_a_group_in_acor_grants_its_members(http):
    assert (await register(http, "Cthird"))[0] == 2001
    group = {"m2m:grp": {"rn": "readers", "mt": 2, "mnm": 5, "mid": [OTHER]}}
    # The admin makes it: a group's creator must be allowed to retrieve its members.
    rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}", group, ty=9)
    assert rsc == 2001, answer
    group_ri = answer["m2m:grp"]["ri"]
    for rn, reference in (("byId", group_ri), ("byPath", f"cse-in/{OWNER}/readers")):
        acp = {"m2m:acp": {"rn": rn, "pv": {"acr": [{"acor": [reference], "acop": 2}]},
                           "pvs": {"acr": [{"acor": [OWNER], "acop": 63}]}}}
        rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}", acp, fr=OWNER, ty=1)
        assert rsc == 2001, answer
        rsc, answer = await call(http, "POST", f"/cse-in/{OWNER}/box",
                                 {"m2m:cnt": {"rn": f"for{rn}", "acpi": [answer["m2m:acp"]["ri"]]}}, fr=OWNER, ty=3)
        assert rsc == 2001, answer
        path = f"/cse-in/{OWNER}/box/for{rn}"
        assert (await call(http, "GET", path, fr=OTHER))[0] == 2000                # a member
        assert (await call(http, "GET", path, fr="Cthird"))[0] == 4103             # not a member
        assert (await call(http, "PUT", path, {"m2m:cnt": {"lbl": ["x"]}}, fr=OTHER))[0] == 4103   # acop 2 only
    # Membership is read at each decision: a member taken out loses the grant.
    assert (await call(http, "PUT", f"/cse-in/{OWNER}/readers", {"m2m:grp": {"mid": ["Cthird"]}}))[0] == 2004
    assert (await call(http, "GET", f"/cse-in/{OWNER}/box/forbyId", fr=OTHER))[0] == 4103
    assert (await call(http, "GET", f"/cse-in/{OWNER}/box/forbyId", fr="Cthird"))[0] == 2000


# -- nothing is left behind -----------------------------------------------------------------
async def test_a_create_refused_inside_the_transaction_leaves_nothing(http_cse):
    cse, client = http_cse
    assert (await register(client, OWNER))[0] == 2001
    assert (await call(client, "POST", f"/cse-in/{OWNER}", {"m2m:cnt": {"rn": "small", "mbs": 3}},
                       fr=OWNER, ty=3))[0] == 2001
    stored = sum(1 for _ in cse.storage.descendants("cse-in"))
    rsc, answer = await call(client, "POST", f"/cse-in/{OWNER}/small", {"m2m:cin": {"rn": "big", "con": "12345"}},
                             fr=OWNER, ty=4)
    assert rsc == 5207
    assert sum(1 for _ in cse.storage.descendants("cse-in")) == stored
    assert cse.storage.get_by_path(f"cse-in/{OWNER}/small/big") is None
    assert await children(client, f"/cse-in/{OWNER}/small") == []
    rsc, answer = await call(client, "GET", f"/cse-in/{OWNER}/small", fr=OWNER)
    assert answer["m2m:cnt"]["cni"] == 0 and answer["m2m:cnt"]["cbs"] == 0 and answer["m2m:cnt"]["st"] == 0


@pytest.mark.parametrize("change", [
    {"lbl": ["fine"], "mni": -1},
    {"lbl": ["fine"], "disr": "yes"},
    {"lbl": ["fine", "not  fine"]},
    {"mni": 2, "cstn": OTHER},                  # cstn in a release-3 request
    {"mni": 2, "colour": "red"},
])
async def test_a_refused_update_changes_nothing(http, change):
    path = f"/cse-in/{OWNER}/box"
    before = (await call(http, "GET", path, fr=OWNER))[1]
    rsc, answer = await call(http, "PUT", path, {"m2m:cnt": change}, fr=OWNER)
    assert rsc == 4000, answer
    assert (await call(http, "GET", path, fr=OWNER))[1] == before
