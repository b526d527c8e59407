"""The specialization files (schemas/mgmt_objs/): a new kind is one file, and a file that
cannot work is refused when the CSE starts, naming the file and the problem."""
from __future__ import annotations

import json

import pytest

from resources.mgmt_kinds import KINDS_DIR, load_kinds
from resources.mgmt_obj import MgmtObj
from server.compose import build_cse
from tests.conftest import CoreClient, make_config

NEW_KIND = {"mgd": 1099, "name": "charger", "x-per-node": 1,
            "properties": {"lvl": {"type": "integer", "minimum": 0}, "go": {"type": "boolean"},
                           "gos": {"$ref": "mgo.json#/$defs/actionStatus"}},
            "x-presence": {"lvl": "M O", "go": "O O", "gos": "NP O"},
            "x-actions": {"go": {"status": "gos"}}}


def write(directory, name: str, content: dict) -> None:
    (directory / f"{name}.json").write_text(json.dumps(content))


def test_a_new_kind_is_one_file(tmp_path):
    write(tmp_path, "chg", NEW_KIND)
    kinds = load_kinds(tmp_path)
    kind = kinds[1099]
    assert (kind.root, kind.name, kind.per_node, list(kind.actions)) == ("m2m:chg", "charger", 1, ["go"])
    member = MgmtObj(tmp_path).for_root("m2m:chg")
    assert member is not None and member.schema.rules["lvl"].create.value == "M"
    member.validate_create({"mgd": 1099, "lvl": 3})
    with pytest.raises(Exception, match=r"'gos' at \['sus'\]|'sus'"):
        member.validate_update({"gos": {"acn": "go", "sus": 9}})


@pytest.mark.parametrize("change, message", [
    ({"properties": {**NEW_KIND["properties"], "dc": {"type": "string"}},
      "x-presence": {**NEW_KIND["x-presence"], "dc": "O O"}}, "redefines attributes of the common part"),
    ({"x-presence": {"lvl": "M O"}}, "properties and x-presence name different attributes"),
    ({"mgd": 1001}, "mgd 1001 is missing, repeated or reserved"),
    ({"mgd": 1011}, "mgd 1011 is missing, repeated or reserved"),
    ({"x-actions": {"stop": {}}}, "action 'stop' or its status None is not an attribute"),
    ({"x-actions": {"go": {"status": "nope"}}}, "action 'go' or its status 'nope' is not an attribute"),
    ({"x-exclusive": [["go", "lvl"]]}, "x-exclusive names an attribute that is not an action"),
])
def test_a_broken_file_is_refused_at_start(tmp_path, change, message):
    write(tmp_path, "bat", {"mgd": 1001, "properties": {"x": {"type": "string"}}, "x-presence": {"x": "M O"}})
    write(tmp_path, "chg", {**NEW_KIND, **change})
    with pytest.raises(ValueError, match="schemas/mgmt_objs/chg.json") as refused:
        load_kinds(tmp_path)
    assert message in str(refused.value)


def test_the_shipped_files_are_those_the_docs_list():
    assert sorted(path.stem for path in KINDS_DIR.glob("*.json")) == [
        "andi", "ani", "bat", "dvc", "dvi", "evl", "fwr", "mem", "rbo", "swr"]


async def test_an_action_on_a_node_without_hael_but_with_an_offline_ae_elsewhere(clock):
    cse = build_cse(make_config(), clock=clock)
    await cse.start()
    try:
        client = CoreClient(cse)
        rules = {"pv": {"acr": [{"acor": ["Cdev"], "acop": 63}]}, "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}
        acp = await client.create("cse-in", 1, {"m2m:acp": {"rn": "a", **rules}})
        made = await client.create("cse-in", 14, {"m2m:nod": {"rn": "n", "ni": "x",
                                                              "acpi": [acp.pc["m2m:acp"]["ri"]]}})
        node_ri = made.pc["m2m:nod"]["ri"]
        assert (await client.register_ae("Cdev", rn="dev", nl=node_ri)).rsc == 2001     # rr=false, no channel
        assert (await client.create("cse-in/n", 13, {"m2m:rbo": {"rn": "r", "mgd": 1009}})).rsc == 2001
        answer = await client.update("cse-in/n/r", {"m2m:rbo": {"rbo": True}})
        assert answer.rsc == 6020 and "AE Cdev is not request-reachable (rr=false)" in answer.pc["m2m:dbg"]
        assert (await client.retrieve("cse-in/n/r")).pc["m2m:rbo"].get("rbo") is None    # nothing stored
    finally:
        await cse.stop()


@pytest.mark.parametrize("value", [0, -1.5])
def test_the_action_timeout_must_be_positive(value):
    from cse.config import ConfigError, load_config

    with pytest.raises(ConfigError, match="management.action_timeout must be positive"):
        load_config(None, {"management.action_timeout": value})


def test_the_action_timeout_comes_from_the_toml_file(tmp_path):
    from cse.config import load_config

    path = tmp_path / "cse.toml"
    path.write_text("[management]\naction_timeout = 3\n")
    assert load_config(path).management.action_timeout == 3.0
