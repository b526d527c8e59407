"""node (ty 14) and mgmtObj (ty 13) as a user sees them: every specialization under its own
root, the root/mgd rules, presence, links between node, AE and CSE, discovery by ty and
mgd, child lists, subscriptions and access control."""
from __future__ import annotations

import pytest

from resources.mgmt_kinds import load_kinds
from tests.notify.receiver import Receiver

from .conftest import NODE, SAMPLES, grant, make_node


def test_every_specialization_has_a_sample_and_the_numbers_of_the_ts():
    kinds = load_kinds()
    assert {kind.root: kind.mgd for kind in kinds.values()} == {
        "m2m:fwr": 1001, "m2m:swr": 1002, "m2m:mem": 1003, "m2m:ani": 1004, "m2m:andi": 1005,
        "m2m:bat": 1006, "m2m:dvi": 1007, "m2m:dvc": 1008, "m2m:rbo": 1009, "m2m:evl": 1010}
    assert set(SAMPLES) == {kind.root for kind in kinds.values()}


@pytest.mark.parametrize("root", sorted(SAMPLES))
async def test_each_specialization_is_created_retrieved_and_answers_under_its_root(node_core, root):
    created = await node_core.create(NODE, 13, {root: {"rn": "obj", **SAMPLES[root]}})
    assert created.rsc == 2001, created.pc
    assert list(created.pc) == [root] and created.pc[root]["ty"] == 13
    got = await node_core.retrieve(f"{NODE}/obj")
    assert got.rsc == 2000 and got.pc[root]["mgd"] == SAMPLES[root]["mgd"]
    updated = await node_core.update(f"{NODE}/obj", {root: {"dc": "described"}})
    assert updated.rsc == 2004 and updated.pc[root]["dc"] == "described"
    assert (await node_core.delete(f"{NODE}/obj")).rsc == 2002


BAD_CREATES = [
    ({"m2m:fwr": {**SAMPLES["m2m:bat"]}}, 4000,
     "'mgd': 1006 is battery (m2m:bat, mgd 1006), but the content root 'm2m:fwr' is firmware"),
    ({"m2m:bat": {**SAMPLES["m2m:bat"], "mgd": 4711}}, 4000, "'mgd': 4711 is no mgmtDefinition known"),
    ({"m2m:bat": {**SAMPLES["m2m:bat"], "mgd": 1011}}, 4000, "1011 is cmdhPolicy, which this CSE does not support"),
    ({"m2m:bat": {"btl": 80, "bts": 1}}, 4000, "mandatory attribute 'mgd' of battery mgmtObj is missing"),
    ({"m2m:bat": {"mgd": 1006, "btl": 80}}, 4000, "mandatory attribute 'bts' of battery mgmtObj is missing"),
    ({"m2m:bat": {**SAMPLES["m2m:bat"], "btl": 101}}, 4000, "'btl': 101 violates maximum 100"),
    ({"m2m:bat": {**SAMPLES["m2m:bat"], "bts": 9}}, 4000, "'bts': 9 is not one of [1, 2, 3, 4, 5, 6, 7]"),
    ({"m2m:bat": {**SAMPLES["m2m:bat"], "vr": "1"}}, 4000, "attribute 'vr' is not defined for battery mgmtObj"),
    ({"m2m:fwr": {**SAMPLES["m2m:fwr"], "uds": {"acn": "ud", "sus": 1}}}, 4000, "'uds' of firmware mgmtObj is set by"),
    ({"m2m:fwr": {**SAMPLES["m2m:fwr"], "ud": "yes"}}, 4000, "'ud': 'yes' is not of type boolean"),
    ({"m2m:swr": {**SAMPLES["m2m:swr"], "in": True}}, 4000, "'in' of software mgmtObj is set by the CSE"),
    ({"m2m:rbo": {"mgd": 1009, "rbo": True, "far": True}}, 4000, "'rbo' and 'far' cannot both be true"),
    ({"m2m:dvc": {**SAMPLES["m2m:dvc"], "cas": {"acn": "x", "sus": 7}}}, 4000, "'cas': 7 at ['sus'] is not one of"),
    ({"m2m:bat": {**SAMPLES["m2m:bat"], "mgs": "urn:x"}}, 5001, "'mgs' of battery mgmtObj is not supported"),
    ({"m2m:cmp": {"mgd": 1011}}, 5001, "'m2m:cmp' (CMDH) is not supported"),
    ({"m2m:nope": {"mgd": 1006}}, 4000, "content root 'm2m:nope' does not match the resource type 13"),
    ({"m2m:cnt": {}}, 4000, "(that is a container)"),
]


@pytest.mark.parametrize("content, rsc, message", BAD_CREATES)
async def test_bad_mgmt_obj_creates_are_refused_with_a_reason(node_core, content, rsc, message):
    response = await node_core.create(NODE, 13, content)
    assert response.rsc == rsc, response.pc
    assert message in response.pc["m2m:dbg"]


async def test_bad_updates(node_core):
    assert (await node_core.create(NODE, 13, {"m2m:dvi": {"rn": "info", **SAMPLES["m2m:dvi"]}})).rsc == 2001
    for content, message in [
            ({"m2m:dvi": {"man": "Other"}}, "'man' of deviceInfo mgmtObj cannot be changed by UPDATE"),
            ({"m2m:dvi": {"mgd": 1007}}, "'mgd' of deviceInfo mgmtObj cannot be changed"),
            ({"m2m:bat": {"btl": 3}}, "content root 'm2m:bat' does not match the resource type 13; expected 'm2m:dvi'"),
            ({"m2m:dvi": {"dlb": None}}, "mandatory attribute 'dlb' of deviceInfo mgmtObj cannot be deleted")]:
        response = await node_core.update(f"{NODE}/info", content)
        assert response.rsc == 4000 and message in response.pc["m2m:dbg"], response.pc


async def test_a_mgmt_obj_lives_only_under_a_node_and_a_node_only_under_the_cse_base(node_core):
    assert (await node_core.register_ae("Cdev", rn="dev")).rsc == 2001
    response = await node_core.create("cse-in/dev", 13, {"m2m:bat": SAMPLES["m2m:bat"]}, fr="Cdev")
    assert response.rsc == 4108, response.pc
    response = await node_core.create("cse-in/dev", 14, {"m2m:nod": {"ni": "x"}}, fr="Cdev")
    assert response.rsc == 4108, response.pc
    response = await node_core.create("cse-in", 13, {"m2m:bat": SAMPLES["m2m:bat"]})
    assert response.rsc == 4108, response.pc


async def test_a_node_has_at_most_one_memory_reboot_and_event_log(node_core):
    for root in ("m2m:mem", "m2m:rbo", "m2m:evl"):
        assert (await node_core.create(NODE, 13, {root: SAMPLES[root]})).rsc == 2001
        again = await node_core.create(NODE, 13, {root: SAMPLES[root]})
        assert again.rsc == 4105 and "a node has at most 1" in again.pc["m2m:dbg"]
    for _ in range(2):
        assert (await node_core.create(NODE, 13, {"m2m:bat": SAMPLES["m2m:bat"]})).rsc == 2001


async def test_node_attributes_and_bad_links(node_core):
    base = (await node_core.retrieve("cse-in")).pc["m2m:cb"]["ri"]
    assert (await node_core.update(NODE, {"m2m:nod": {"hcl": base, "mgca": "coap://10.0.0.7"}})).rsc == 2004
    for content, message in [
            ({"hcl": "nowhere"}, "'hcl': 'nowhere' is not the CSEBase or a remoteCSE of this CSE"),
            ({"hael": ["Cghost"]}, "'hael': 'Cghost' is not an AE of this CSE"),
            ({"rms": True}, "'rms' of node cannot be changed by UPDATE"),
            ({"ni": None}, "mandatory attribute 'ni' of node cannot be deleted")]:
        response = await node_core.update(NODE, {"m2m:nod": content})
        assert response.rsc == 4000 and message in response.pc["m2m:dbg"], response.pc
    response = await node_core.create("cse-in", 14, {"m2m:nod": {"rn": "x"}})
    assert response.rsc == 4000 and "mandatory attribute 'ni' of node is missing" in response.pc["m2m:dbg"]


async def test_the_ae_links_to_its_node_and_the_node_lists_its_aes(node_core):
    node = (await node_core.retrieve(NODE)).pc["m2m:nod"]
    bad = await node_core.register_ae("Cdev", rn="dev", nl="cse-in")
    assert bad.rsc == 4000, bad.pc
    assert "'nl': 'cse-in' is no resource of this CSE, not a node" in bad.pc["m2m:dbg"]
    base = (await node_core.retrieve("cse-in")).pc["m2m:cb"]["ri"]
    bad = await node_core.register_ae("Cdev", rn="dev", nl=base)
    assert bad.rsc == 4000 and "is a CSEBase of this CSE, not a node" in bad.pc["m2m:dbg"]
    # Linking to a node makes the AE receive its management actions: it needs UPDATE rights there.
    stranger = await node_core.register_ae("Cdev", rn="dev", nl=node["ri"])
    assert stranger.rsc == 4103 and "AE 'Cdev' has no UPDATE privilege on the node" in stranger.pc["m2m:dbg"]
    acpi = await grant(node_core, "dev-acp", "Cdev")
    assert (await node_core.update(NODE, {"m2m:nod": {"acpi": acpi}})).rsc == 2004
    assert (await node_core.register_ae("Cdev", rn="dev", nl=node["ri"])).rsc == 2001
    assert (await node_core.retrieve(NODE)).pc["m2m:nod"]["hael"] == ["Cdev"]
    other = await make_node(node_core, "other", acpi=acpi)
    moved = await node_core.update("cse-in/dev", {"m2m:ae": {"nl": other["ri"]}}, fr="Cdev")
    assert moved.rsc == 2004, moved.pc
    assert "hael" not in (await node_core.retrieve(NODE)).pc["m2m:nod"]
    assert (await node_core.retrieve("cse-in/other")).pc["m2m:nod"]["hael"] == ["Cdev"]
    refused = await node_core.update("cse-in/dev", {"m2m:ae": {"nl": "Cdev"}}, fr="Cdev")
    assert refused.rsc == 4000 and "is a AE of this CSE, not a node" in refused.pc["m2m:dbg"]
    assert (await node_core.delete("cse-in/other")).rsc == 2002
    assert "nl" not in (await node_core.retrieve("cse-in/dev")).pc["m2m:ae"]
    assert (await node_core.update("cse-in/dev", {"m2m:ae": {"nl": node["ri"]}}, fr="Cdev")).rsc == 2004
    assert (await node_core.delete("cse-in/dev")).rsc == 2002
    assert "hael" not in (await node_core.retrieve(NODE)).pc["m2m:nod"]


async def test_discovery_by_ty_mgd_and_labels_and_child_lists(node_core):
    for rn, root in (("fw", "m2m:fwr"), ("bat", "m2m:bat"), ("info", "m2m:dvi")):
        created = await node_core.create(NODE, 13, {root: {"rn": rn, "lbl": [f"kind/{rn}"], **SAMPLES[root]}})
        assert created.rsc == 2001
    found = await node_core.retrieve("cse-in", fc={"fu": 1, "ty": [13]})
    assert sorted(found.pc["m2m:uril"]) == [f"{NODE}/bat", f"{NODE}/fw", f"{NODE}/info"]
    assert (await node_core.retrieve("cse-in", fc={"fu": 1, "ty": [14]})).pc["m2m:uril"] == [NODE]
    assert (await node_core.retrieve("cse-in", fc={"fu": 1, "mgd": 1006})).pc["m2m:uril"] == [f"{NODE}/bat"]
    both = await node_core.retrieve("cse-in", fc={"fu": 1, "mgd": [1001, 1007]})
    assert sorted(both.pc["m2m:uril"]) == [f"{NODE}/fw", f"{NODE}/info"]
    by_query_form = await node_core.retrieve("cse-in", fc={"fu": 1, "atr": [{"nm": "mgd", "val": "1001"}]})
    assert by_query_form.pc["m2m:uril"] == [f"{NODE}/fw"]
    assert (await node_core.retrieve("cse-in", fc={"fu": 1, "lbl": ["kind/info"]})).pc["m2m:uril"] == [f"{NODE}/info"]
    bad = await node_core.retrieve("cse-in", fc={"fu": 1, "mgd": "firmware"})
    assert bad.rsc == 4000 and "'mgd' must be an integer" in bad.pc["m2m:dbg"]
    # rcn 4 (attributes and children), 5 (references), 6 (child references), 8 (children)
    full = (await node_core.retrieve(NODE, rcn=4)).pc["m2m:nod"]
    assert [child["mgd"] for child in full["m2m:fwr"] + full["m2m:bat"] + full["m2m:dvi"]] == [1001, 1006, 1007]
    assert full["m2m:bat"][0]["btl"] == 80 and full["ni"] == "urn:dev:gw"
    refs = (await node_core.retrieve(NODE, rcn=6)).pc["m2m:rrl"]["rrf"]
    assert sorted((ref["nm"], ref["typ"]) for ref in refs) == [("bat", 13), ("fw", 13), ("info", 13)]
    assert len((await node_core.retrieve(NODE, rcn=5)).pc["m2m:nod"]["ch"]) == 3
    children = (await node_core.retrieve(NODE, rcn=8)).pc["m2m:nod"]
    assert set(children) == {"m2m:fwr", "m2m:bat", "m2m:dvi"}
    filtered = (await node_core.retrieve(NODE, rcn=8, fc={"mgd": 1006})).pc["m2m:nod"]
    assert set(filtered) == {"m2m:bat"}


async def test_subscriptions_on_node_and_mgmt_obj_net_1_to_4(node_core):
    receiver = await Receiver().start()
    try:
        assert (await node_core.create(NODE, 13, {"m2m:bat": {"rn": "bat", **SAMPLES["m2m:bat"]}})).rsc == 2001
        sub = {"m2m:sub": {"rn": "s", "nu": [receiver.url()], "enc": {"net": [1, 2, 3, 4]}}}
        assert (await node_core.create(NODE, 23, sub)).rsc == 2001
        assert (await node_core.create(f"{NODE}/bat", 23, sub)).rsc == 2001
        assert (await node_core.update(f"{NODE}/bat", {"m2m:bat": {"btl": 42}})).rsc == 2004
        assert (await node_core.create(NODE, 13, {"m2m:mem": {"rn": "mem", **SAMPLES["m2m:mem"]}})).rsc == 2001
        assert (await node_core.delete(f"{NODE}/mem")).rsc == 2002
        assert (await node_core.delete(f"{NODE}/bat")).rsc == 2002
        await receiver.wait_for(5)
        seen = sorted((n.sgn["nev"]["net"], next(iter(n.sgn["nev"]["rep"]))) for n in receiver.notifications
                      if "nev" in n.sgn)
        assert seen == [(1, "m2m:bat"), (2, "m2m:bat"), (3, "m2m:mem"), (4, "m2m:bat"), (4, "m2m:mem")]
        update = next(n for n in receiver.notifications if n.sgn.get("nev", {}).get("net") == 1)
        assert update.sgn["nev"]["rep"]["m2m:bat"]["btl"] == 42
    finally:
        await receiver.stop()


async def test_access_control_default_policy_and_acps(node_core):
    # The node was made by the admin: another AE may neither read nor change it.
    assert (await node_core.register_ae("Cdev", rn="dev")).rsc == 2001
    assert (await node_core.create(NODE, 13, {"m2m:bat": {"rn": "bat", **SAMPLES["m2m:bat"]}})).rsc == 2001
    assert (await node_core.retrieve(f"{NODE}/bat", fr="Cdev")).rsc == 4103
    assert (await node_core.update(f"{NODE}/bat", {"m2m:bat": {"btl": 1}}, fr="Cdev")).rsc == 4103
    assert (await node_core.create(NODE, 13, {"m2m:bat": SAMPLES["m2m:bat"]}, fr="Cdev")).rsc == 4103
    acp = await node_core.create("cse-in", 1, {"m2m:acp": {"rn": "dev-acp", "pv": {"acr": [{"acor": ["Cdev"], "acop": 34}]},
                                                           "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}})
    assert acp.rsc == 2001, acp.pc
    acpi = [acp.pc["m2m:acp"]["ri"]]
    assert (await node_core.update(f"{NODE}/bat", {"m2m:bat": {"acpi": acpi}})).rsc == 2004
    assert (await node_core.retrieve(f"{NODE}/bat", fr="Cdev")).rsc == 2000
    assert (await node_core.update(f"{NODE}/bat", {"m2m:bat": {"btl": 1}}, fr="Cdev")).rsc == 4103
    found = await node_core.retrieve("cse-in", fr="Cdev", fc={"fu": 1, "mgd": 1006})
    assert found.rsc == 2000 and found.pc["m2m:uril"] == [f"{NODE}/bat"]
    # Under the default policy an AE cannot create a node below the CSEBase: the admin does.
    own = await node_core.create("cse-in", 14, {"m2m:nod": {"rn": "mine", "ni": "urn:dev:mine"}}, fr="Cdev")
    assert own.rsc == 4103, own.pc


async def test_a_subscription_may_name_the_attributes_of_the_specialization(node_core):
    receiver = await Receiver().start()
    try:
        assert (await node_core.create(NODE, 13, {"m2m:bat": {"rn": "bat", **SAMPLES["m2m:bat"]}})).rsc == 2001
        ok = await node_core.create(f"{NODE}/bat", 23, {"m2m:sub": {"nu": [receiver.url()],
                                                                    "enc": {"net": [1], "atr": ["btl"]}}})
        assert ok.rsc == 2001, ok.pc
        bad = await node_core.create(f"{NODE}/bat", 23, {"m2m:sub": {"nu": [receiver.url()],
                                                                     "enc": {"net": [1], "atr": ["vr"]}}})
        assert bad.rsc == 4000 and "atr 'vr' is not an attribute of" in bad.pc["m2m:dbg"]
        assert (await node_core.update(f"{NODE}/bat", {"m2m:bat": {"bts": 2}})).rsc == 2004
        assert (await node_core.update(f"{NODE}/bat", {"m2m:bat": {"btl": 12}})).rsc == 2004
        [note] = await receiver.wait_for(1)
        assert note.sgn["nev"]["rep"]["m2m:bat"]["btl"] == 12
    finally:
        await receiver.stop()


async def test_status_attributes_start_uninitialized(node_core):
    fw = await node_core.create(NODE, 13, {"m2m:fwr": SAMPLES["m2m:fwr"]})
    assert fw.pc["m2m:fwr"]["uds"] == {"acn": "", "sus": 0}
    sw = await node_core.create(NODE, 13, {"m2m:swr": SAMPLES["m2m:swr"]})
    assert (sw.pc["m2m:swr"]["ins"], sw.pc["m2m:swr"]["acts"]) == ({"acn": "", "sus": 0}, {"acn": "", "sus": 0})
    dvc = await node_core.create(NODE, 13, {"m2m:dvc": {**SAMPLES["m2m:dvc"], "cas": {"acn": "ena", "sus": 1}}})
    assert dvc.pc["m2m:dvc"]["cas"] == {"acn": "ena", "sus": 1}
