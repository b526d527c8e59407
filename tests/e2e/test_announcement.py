"""Announcement between two real CSEs (MN-CSE registered with an IN-CSE, over HTTP; one
path over MQTT): the gateway announces chosen resources to the platform, which sees the
announced copies (ty 10000+x) with `lnk` and the announced attributes, and reaches the
original through `lnk` under the original's ACPs.  Failure cases: the IN down during
create, update and delete, then back (with and without its data)."""
from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.bindings.brokers import shared_broker
from tests.conftest import free_port
from tests.e2e.federation_support import MN, ask, eventually, start_cse, url_of

FAST = {"announcement.retry_min": 0.05, "announcement.retry_max": 0.3}
METER = {"m2m:ae": {"rn": "meter", "api": "Nmeter", "rr": False, "srv": ["3"]}}


async def start_mn(in_url: str, **settings):
    mn = await start_cse(**{**MN, "registrar.url": in_url, **FAST, **settings})
    await mn.federation.registration.wait_until(1, timeout=10)
    return mn


@pytest.fixture
async def pair():
    in_cse = await start_cse(free_port())
    mn = await start_mn(url_of(in_cse))
    try:
        yield in_cse, mn
    finally:
        await mn.stop()
        await in_cse.stop()


async def announced(in_cse, ty: int, label: str, fr: str = "CAdmin") -> list[str]:
    """The addresses discovery on the IN gives for announced resources of `ty` with `label`."""
    found = await ask(in_cse, 2, "cse-in", fr=fr, fc={"fu": 1, "ty": [ty], "lbl": [label]})
    assert found.rsc == 2000, found.pc
    return found.pc["m2m:uril"]


async def one_announced(in_cse, ty: int, label: str) -> dict:
    addresses: list[str] = []

    async def present():
        addresses[:] = await announced(in_cse, ty, label)
        return len(addresses) == 1
    await eventually(present, what=f"one announced resource of ty {ty} labelled {label} on the IN")
    got = await ask(in_cse, 2, addresses[0])
    assert got.rsc == 2000, got.pc
    return {"address": addresses[0], **next(iter(got.pc.values()))}


async def test_create_update_delete_of_the_original_reach_the_announced_copy(pair):
    in_cse, mn = pair
    assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=METER)).rsc == 2001
    started = time.perf_counter()
    made = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {
        "rn": "power", "lbl": ["home:1"], "mni": 5, "mbs": 1000, "at": ["/id-in"], "aa": ["mni"], "ast": 1}})
    assert made.rsc == 2001, made.pc
    assert made.pc["m2m:cnt"]["at"] == ["/id-in"]           # answered before the announcement
    assert made.pc["m2m:cnt"]["ast"] == 1
    original = made.pc["m2m:cnt"]["ri"]
    copy = await one_announced(in_cse, 10003, "home:1")
    print(f"\nannouncement propagation (CREATE answered -> cntA found on the IN): "
          f"{(time.perf_counter() - started) * 1000:.1f} ms")
    assert copy["ty"] == 10003 and copy["lnk"] == f"/id-mn/{original}"
    assert copy["mni"] == 5 and "mbs" not in copy and "at" not in copy     # mbs not in aa
    assert copy["address"].startswith("cse-in/id-mn/")       # below the MN's remoteCSE, reachable
    # Its child is announced below it.
    reading = await ask(mn, 1, "cse-mn/meter/power", fr="Cmeter", ty=4,
                        pc={"m2m:cin": {"con": "1530", "lbl": ["home:1:reading"], "at": ["/id-in"], "aa": ["con"]}})
    assert reading.rsc == 2001, reading.pc
    child = await one_announced(in_cse, 10004, "home:1:reading")
    assert child["con"] == "1530" and child["pi"] == copy["ri"]
    # Retrieving through lnk reaches the original (forwarded to the MN), under the MN's rules:
    # the IN's admin is nobody there, the MN's admin may.
    through = await ask(in_cse, 2, copy["lnk"])
    assert through.rsc == 4103 and "'/id-in/CAdmin' has no RETRIEVE privilege" in through.pc["m2m:dbg"]

    # UPDATE: a changed MA (lbl), aa changes (mni out, mbs in).
    changed = await ask(mn, 3, "cse-mn/meter/power", fr="Cmeter",
                        pc={"m2m:cnt": {"lbl": ["home:1", "shared"], "aa": ["mbs"]}})
    assert changed.rsc == 2004, changed.pc

    async def updated():
        got = (await ask(in_cse, 2, copy["address"])).pc.get("m2m:cntA", {})
        return got.get("lbl") == ["home:1", "shared"] and got.get("mbs") == 1000 and "mni" not in got
    await eventually(updated, what="the update reached the cntA")
    assert len(await announced(in_cse, 10003, "home:1")) == 1      # updated, not duplicated

    # at set to null: de-announced; announced again; then the original deleted.
    assert (await ask(mn, 3, "cse-mn/meter/power", fr="Cmeter", pc={"m2m:cnt": {"at": None}})).rsc == 2004

    async def gone():
        return not await announced(in_cse, 10003, "home:1") and not await announced(in_cse, 10004, "home:1:reading")
    await eventually(gone, what="removing the IN from at deleted the cntA (and the cinA below it)")
    assert (await ask(mn, 3, "cse-mn/meter/power", fr="Cmeter", pc={"m2m:cnt": {"at": ["/id-in"]}})).rsc == 2004
    again = await one_announced(in_cse, 10003, "home:1")
    assert again["lnk"] == f"/id-mn/{original}"
    assert (await ask(mn, 4, "cse-mn/meter/power", fr="Cmeter")).rsc == 2002
    await eventually(gone, what="deleting the original deleted the cntA")


async def test_an_announced_ae_and_node_and_access_by_the_announced_acp(pair):
    in_cse, mn = pair
    partner, stranger = "CPartner", "CStranger"
    for aei in (partner, stranger):
        assert (await ask(in_cse, 1, "cse-in", fr=aei, ty=2,
                          pc={"m2m:ae": {"api": "N" + aei, "rr": False, "srv": ["3"]}})).rsc == 2001
    meter = {"m2m:ae": {**METER["m2m:ae"], "lbl": ["home:2"], "at": ["/id-in"], "aa": ["apn"], "apn": "meter"}}
    assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=meter)).rsc == 2001
    ae_copy = await one_announced(in_cse, 10002, "home:2")
    assert (ae_copy["srv"], ae_copy["apn"]) == (["3"], "meter") and "api" not in ae_copy
    # An ACP announced with the container: the cntA's acpi names the acpA on the IN.
    grants = {"acr": [{"acor": [f"/id-in/{partner}", "Cmeter"], "acop": 2 | 32}]}
    acp = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=1, pc={"m2m:acp": {
        "rn": "sharing", "pv": grants, "pvs": {"acr": [{"acor": ["Cmeter"], "acop": 63}]}, "at": ["/id-in"]}})
    assert acp.rsc == 2001, acp.pc
    cnt = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {
        "rn": "power", "lbl": ["home:2:power"], "acpi": [acp.pc["m2m:acp"]["ri"]], "at": ["/id-in"]}})
    assert cnt.rsc == 2001, cnt.pc
    copy = await one_announced(in_cse, 10003, "home:2:power")
    assert copy["pi"] == ae_copy["ri"] and len(copy["acpi"]) == 1
    acp_copy = (await ask(in_cse, 2, copy["acpi"][0])).pc["m2m:acpA"]
    assert acp_copy["lnk"] == f"/id-mn/{acp.pc['m2m:acp']['ri']}" and acp_copy["pv"] == grants
    # The announced resource's own ACP decides on the IN ...
    assert (await ask(in_cse, 2, copy["address"], fr=partner)).rsc == 2000
    refused = await ask(in_cse, 2, copy["address"], fr=stranger)
    assert refused.rsc == 4103, refused.pc
    assert await announced(in_cse, 10003, "home:2:power", fr=partner) == [copy["address"]]
    assert await announced(in_cse, 10003, "home:2:power", fr=stranger) == []
    # ... and the original's ACP on the MN, through lnk.
    assert (await ask(in_cse, 2, copy["lnk"], fr=partner)).rsc == 2000
    assert (await ask(in_cse, 2, copy["lnk"], fr=stranger)).rsc == 4103
    # Only the MN changes the announced copy.
    for op, pc in ((3, {"m2m:cntA": {"lbl": ["x"]}}), (4, None)):
        denied = await ask(in_cse, op, copy["address"], fr=partner, pc=pc)
        assert denied.rsc == 4103, denied.pc


@pytest.mark.parametrize("op,content,rsc,message", [
    (1, {"at": ["/id-nowhere"]}, 4000, "'/id-nowhere' is not a registered CSE"),
    (1, {"at": ["id-in"]}, 4000, "'id-in' is not a CSE-ID"),
    (1, {"at": ["/id-mn"]}, 4000, "is this CSE"),
    (1, {"at": ["/id-in", "/id-in"]}, 4000, "names '/id-in' twice"),
    (1, {"at": ["/id-in"], "aa": ["cni"]}, 4000, "'cni' of container is not an attribute the type may announce"),
    (1, {"at": ["/id-in"], "aa": ["lbl"]}, 4000, "'lbl' of container is always announced"),
    (1, {"at": ["/id-in"], "ast": 2}, 5001, "announceSyncType 2"),
    (1, {"at": ["/id-in"], "ast": 3}, 4000, "'ast'"),
    (3, {"at": ["/id-other"]}, 4000, "'/id-other' is not a registered CSE"),
    (3, {"aa": ["nope"]}, 4000, "'nope' of container is not an attribute"),
])
async def test_bad_announcement_attributes(pair, op, content, rsc, message):
    in_cse, mn = pair
    assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=METER)).rsc == 2001
    if op == 3:
        assert (await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {"rn": "c"}})).rsc == 2001
        response = await ask(mn, 3, "cse-mn/meter/c", fr="Cmeter", pc={"m2m:cnt": content})
    else:
        response = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {"rn": "c", **content}})
    assert (response.rsc, message in response.pc["m2m:dbg"]) == (rsc, True), response.pc


async def test_refusals_around_announced_resources(pair):
    in_cse, mn = pair
    assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=METER)).rsc == 2001
    assert (await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {"rn": "c"}})).rsc == 2001
    # A contentInstance is announced only below its container's announced copy.
    refused = await ask(mn, 1, "cse-mn/meter/c", fr="Cmeter", ty=4, pc={"m2m:cin": {"con": "1", "at": ["/id-in"]}})
    assert refused.rsc == 4005 and "parent is not announced there" in refused.pc["m2m:dbg"]
    # Nobody but the original's CSE creates announced resources, not even the IN's admin.
    made = await ask(in_cse, 1, "cse-in/id-mn", fr="CAdmin", ty=10003, pc={"m2m:cntA": {"lnk": "/id-mn/cnt1"}})
    assert made.rsc == 4103 and "only by the CSE hosting its original (/id-mn)" in made.pc["m2m:dbg"]
    assert (await ask(in_cse, 1, "cse-in", fr="Capp", ty=2,
                      pc={"m2m:ae": {"api": "Napp", "rr": False, "srv": ["3"]}})).rsc == 2001
    stranger = await ask(in_cse, 1, "cse-in/Capp", fr="Capp", ty=10003, pc={"m2m:cntA": {"lnk": "/id-mn/cnt1"}})
    assert stranger.rsc == 4108, stranger.pc          # not below an AE of the IN
    bad_link = await ask(in_cse, 1, "cse-in/id-mn", fr="/id-mn", ty=10003, pc={"m2m:cntA": {"lnk": "cnt1"}})
    assert bad_link.rsc == 4000, bad_link.pc


async def test_the_target_down_during_create_update_and_delete_then_back(tmp_path):
    """The IN keeps its data (SQLite) across its restart: what changed meanwhile converges."""
    port = free_port()
    storage = f"sqlite:///{tmp_path / 'in.sqlite'}"
    in_cse = await start_cse(port, storage=storage)
    mn = await start_mn(url_of(in_cse))
    try:
        assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=METER)).rsc == 2001
        for name in ("kept", "removed"):
            assert (await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {
                "rn": name, "lbl": [f"d:{name}"], "at": ["/id-in"]}})).rsc == 2001
            await one_announced(in_cse, 10003, f"d:{name}")
        await in_cse.stop()
        # While the IN is down: an update, a create and a delete; each original answers at once.
        assert (await ask(mn, 3, "cse-mn/meter/kept", fr="Cmeter",
                          pc={"m2m:cnt": {"lbl": ["d:kept", "d:changed"]}})).rsc == 2004
        assert (await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {
            "rn": "new", "lbl": ["d:new"], "at": ["/id-in"]}})).rsc == 2001
        assert (await ask(mn, 4, "cse-mn/meter/removed", fr="Cmeter")).rsc == 2002
        await asyncio.sleep(0.5)                    # a few failed attempts
        in_cse = await start_cse(port, storage=storage)
        kept = await one_announced(in_cse, 10003, "d:changed")
        assert kept["lbl"] == ["d:kept", "d:changed"]
        await one_announced(in_cse, 10003, "d:new")

        async def removed():
            return await announced(in_cse, 10003, "d:removed") == []
        await eventually(removed, what="the delete made while the IN was down reached it")
        everything = await ask(in_cse, 2, "cse-in", fc={"fu": 1, "ty": [10003]})
        assert len(everything.pc["m2m:uril"]) == 2          # nothing duplicated
    finally:
        await mn.stop()
        await in_cse.stop()


async def test_a_target_restarted_without_its_data_gets_the_copies_again():
    """The IN restarts empty: the MN registers anew and announces again what it had announced
    there, changed meanwhile or not."""
    port = free_port()
    in_cse = await start_cse(port)
    mn = await start_mn(url_of(in_cse))
    try:
        assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=METER)).rsc == 2001
        for name in ("changed", "untouched"):
            assert (await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {
                "rn": name, "lbl": [f"r:{name}"], "at": ["/id-in"]}})).rsc == 2001
            await one_announced(in_cse, 10003, f"r:{name}")
        await in_cse.stop()
        in_cse = await start_cse(port)                       # empty: the MN registers again
        assert (await ask(mn, 3, "cse-mn/meter/changed", fr="Cmeter",
                          pc={"m2m:cnt": {"lbl": ["r:changed", "r:2"]}})).rsc == 2004
        copy = await one_announced(in_cse, 10003, "r:2")
        assert copy["lnk"].startswith("/id-mn/cnt")
        untouched = await one_announced(in_cse, 10003, "r:untouched")
        assert untouched["lbl"] == ["r:untouched"]
        assert len((await ask(in_cse, 2, "cse-in", fc={"fu": 1, "ty": [10003]})).pc["m2m:uril"]) == 2
    finally:
        await mn.stop()
        await in_cse.stop()


async def test_announcement_over_mqtt():
    broker = shared_broker()
    suffix = uuid.uuid4().hex[:8]
    in_id, mn_id = f"/in{suffix}", f"/mn{suffix}"
    mqtt = {"http.enabled": False, "mqtt.enabled": True, "mqtt.host": broker.host, "mqtt.port": broker.port,
            "mqtt.clean_session": True}
    in_cse = await start_cse(**{**mqtt, "cse.cse_id": in_id})
    mn = await start_cse(**{**MN, **mqtt, **FAST, "cse.cse_id": mn_id, "registrar.cse_id": in_id,
                            "registrar.url": f"mqtt://{broker.host}:{broker.port}"})
    try:
        await mn.federation.registration.wait_until(1, timeout=10)
        assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=METER)).rsc == 2001
        made = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=3, pc={"m2m:cnt": {
            "rn": "power", "lbl": [f"m:{suffix}"], "at": [in_id]}})
        assert made.rsc == 2001, made.pc
        copy = await one_announced(in_cse, 10003, f"m:{suffix}")
        assert copy["lnk"] == f"{mn_id}/{made.pc['m2m:cnt']['ri']}"
        assert (await ask(mn, 4, "cse-mn/meter/power", fr="Cmeter")).rsc == 2002

        async def gone():
            return await announced(in_cse, 10003, f"m:{suffix}") == []
        await eventually(gone, what="the delete reached the IN over MQTT")
    finally:
        await mn.stop()
        await in_cse.stop()


async def test_node_group_timeseries_and_their_instances_are_announced(pair):
    in_cse, mn = pair
    assert (await ask(mn, 1, "cse-mn", fr="Cmeter", ty=2, pc=METER)).rsc == 2001
    node = await ask(mn, 1, "cse-mn", ty=14, pc={"m2m:nod": {
        "rn": "gateway", "ni": "gw-2", "lbl": ["t:node"], "at": ["/id-in"]}})
    assert node.rsc == 2001, node.pc
    group = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=9, pc={"m2m:grp": {
        "rn": "all", "mid": ["Cmeter"], "mnm": 4, "lbl": ["t:grp"], "at": ["/id-in"], "aa": ["gn"], "gn": "meters"}})
    assert group.rsc == 2001, group.pc
    series = await ask(mn, 1, "cse-mn/meter", fr="Cmeter", ty=29, pc={"m2m:ts": {
        "rn": "power", "mni": 10, "lbl": ["t:ts"], "at": ["/id-in"], "aa": ["mni"]}})
    assert series.rsc == 2001, series.pc
    sample = await ask(mn, 1, "cse-mn/meter/power", fr="Cmeter", ty=30, pc={"m2m:tsi": {
        "dgt": "20261204T120000", "con": "1530", "lbl": ["t:tsi"], "at": ["/id-in"], "aa": ["dgt", "con"]}})
    assert sample.rsc == 2001, sample.pc
    assert (await one_announced(in_cse, 10014, "t:node"))["ni"] == "gw-2"
    grp = await one_announced(in_cse, 10009, "t:grp")
    assert (grp["mnm"], grp["gn"], grp["mt"]) == (4, "meters", group.pc["m2m:grp"]["mt"])
    ts_copy = await one_announced(in_cse, 10029, "t:ts")
    assert ts_copy["mni"] == 10
    tsi_copy = await one_announced(in_cse, 10030, "t:tsi")
    assert (tsi_copy["dgt"], tsi_copy["con"], tsi_copy["pi"]) == ("20261204T120000", "1530", ts_copy["ri"])


async def test_the_in_announces_to_a_registered_mn(pair):
    """The other direction: a CSE registered with us is a valid target too."""
    in_cse, mn = pair
    assert (await ask(in_cse, 1, "cse-in", fr="Cplan", ty=2,
                      pc={"m2m:ae": {"api": "Nplan", "rr": False, "srv": ["3"]}})).rsc == 2001
    made = await ask(in_cse, 1, "cse-in/Cplan", fr="Cplan", ty=3, pc={"m2m:cnt": {
        "rn": "tariff", "lbl": ["down:tariff"], "at": ["/id-mn"]}})
    assert made.rsc == 2001, made.pc
    found: list[str] = []

    async def present():
        listing = await ask(mn, 2, "cse-mn", fc={"fu": 1, "ty": [10003], "lbl": ["down:tariff"]})
        found[:] = listing.pc["m2m:uril"]
        return len(found) == 1
    await eventually(present, what="the cntA on the MN")
    copy = (await ask(mn, 2, found[0])).pc["m2m:cntA"]
    assert copy["lnk"] == f"/id-in/{made.pc['m2m:cnt']['ri']}" and found[0].startswith("cse-mn/id-in/")
