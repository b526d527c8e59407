"""timeSeries in the resource tree: discovery by ty, lbl and attribute filters, rcn 4/5/6/8,
subscriptions with net 1-4 on a timeSeries, and access control (the timeSeries' ACPs
govern its instances; the default policy lets only the owner in)."""
from __future__ import annotations

import pytest

from tests.notify.receiver import Receiver
from tests.notify.conftest import notifying_cse
from tests.conftest import CoreClient

from .conftest import AE, METER, SERIES, make_series, reading

T0 = "20250301T101500"


def at(seconds: int) -> str:
    return f"20250301T1015{seconds:02d}"


@pytest.fixture
async def filled(meter):
    await make_series(meter, lbl=["unit:W"], pei=1000)
    await make_series(meter, rn="volts", lbl=["unit:V"])
    for n in range(3):
        assert (await reading(meter, at(n), str(230 + n), lbl=[f"n:{n}"])).rsc == 2001
    assert (await reading(meter, at(0), "x", to=f"{METER}/volts")).rsc == 2001
    return meter


async def test_discovery_by_type_label_and_attributes(filled):
    found = await filled.retrieve(METER, fr=AE, fc={"fu": 1, "ty": [29]})
    assert sorted(found.pc["m2m:uril"]) == [SERIES, f"{METER}/volts"]
    found = await filled.retrieve(METER, fr=AE, fc={"fu": 1, "ty": [30]})
    assert len(found.pc["m2m:uril"]) == 4
    found = await filled.retrieve(METER, fr=AE, fc={"fu": 1, "lbl": ["unit:V"]})
    assert found.pc["m2m:uril"] == [f"{METER}/volts"]
    found = await filled.retrieve(METER, fr=AE, fc={"fu": 1, "lbl": ["n:1"]})
    [path] = found.pc["m2m:uril"]
    assert path.startswith(SERIES + "/")
    found = await filled.retrieve(METER, fr=AE, fc={"fu": 1, "ty": [29], "atr": [{"nm": "pei", "val": 1000}]})
    assert found.pc["m2m:uril"] == [SERIES]
    found = await filled.retrieve(METER, fr=AE, fc={"fu": 1, "ty": [30], "atr": [{"nm": "dgt", "val": at(2)}]})
    [match] = found.pc["m2m:uril"]
    assert (await filled.retrieve(match, fr=AE)).pc["m2m:tsi"]["con"] == "232"


async def test_result_contents_include_the_instances(filled):
    whole = (await filled.retrieve(SERIES, fr=AE, rcn=4)).pc["m2m:ts"]
    assert whole["cni"] == 3 and [i["con"] for i in whole["m2m:tsi"]] == ["230", "231", "232"]
    refs = (await filled.retrieve(SERIES, fr=AE, rcn=5)).pc["m2m:ts"]
    assert refs["cni"] == 3 and [c["typ"] for c in refs["ch"]] == [30, 30, 30]
    only = (await filled.retrieve(SERIES, fr=AE, rcn=6)).pc["m2m:rrl"]["rrf"]
    assert len(only) == 3 and all(r["val"].startswith(SERIES + "/") for r in only)
    children = (await filled.retrieve(METER, fr=AE, rcn=8, fc={"ty": [30]})).pc["m2m:ae"]
    assert sorted(i["con"] for i in children["m2m:tsi"]) == ["230", "231", "232", "x"]   # parents filtered out
    tree = (await filled.retrieve(METER, fr=AE, rcn=4)).pc["m2m:ae"]
    assert sorted(ts["rn"] for ts in tree["m2m:ts"]) == ["power", "volts"]


async def test_access_follows_the_timeseries(filled):
    assert (await filled.register_ae("Cstranger", rn="stranger")).rsc == 2001
    denied = await filled.create(SERIES, 30, {"m2m:tsi": {"dgt": at(9), "con": "1"}}, fr="Cstranger")
    assert denied.rsc == 4103
    assert (await filled.retrieve(f"{SERIES}/la", fr="Cstranger")).rsc == 4103
    rules = {"pv": {"acr": [{"acor": [AE], "acop": 63}, {"acor": ["Cstranger"], "acop": 2}]},
             "pvs": {"acr": [{"acor": [AE], "acop": 63}]}}
    acp = await filled.create(METER, 1, {"m2m:acp": {"rn": "readers", **rules}}, fr=AE)
    assert (await filled.update(SERIES, {"m2m:ts": {"acpi": [acp.pc["m2m:acp"]["ri"]]}}, fr=AE)).rsc == 2004
    assert (await filled.retrieve(f"{SERIES}/la", fr="Cstranger")).pc["m2m:tsi"]["con"] == "232"
    still = await filled.create(SERIES, 30, {"m2m:tsi": {"dgt": at(9), "con": "1"}}, fr="Cstranger")
    assert still.rsc == 4103
    assert (await filled.delete(f"{SERIES}/ol", fr="Cstranger")).rsc == 4103


@pytest.fixture
async def ncore(clock):
    cse = notifying_cse(clock)
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae(AE, rn="meter")).rsc == 2001
        yield client
    finally:
        await cse.stop()


async def test_subscriptions_net_1_to_4_on_a_timeseries(ncore, clock):
    receiver = await Receiver().start()
    try:
        await make_series(ncore, mni=1)
        for net in (1, 2, 3, 4):
            body = {"m2m:sub": {"rn": f"n{net}", "nu": [receiver.url(f"/n{net}")], "enc": {"net": [net], **({"chty": [30]} if net > 2 else {})}}}
            assert (await ncore.create(SERIES, 23, body, fr=AE)).rsc == 2001
        first = (await reading(ncore, T0, "1")).pc["m2m:tsi"]
        await reading(ncore, at(1), "2")                    # pruning the first (mni 1) is not a deletion
        assert (await ncore.update(SERIES, {"m2m:ts": {"mni": 5}}, fr=AE)).rsc == 2004
        latest = (await ncore.retrieve(f"{SERIES}/la", fr=AE)).pc["m2m:tsi"]
        assert (await ncore.delete(f"{SERIES}/{latest['rn']}", fr=AE)).rsc == 2002
        assert (await ncore.delete(SERIES, fr=AE)).rsc == 2002
        await receiver.wait_until(lambda got: len([r for r in got if not r.is_verification]) >= 5)
        by_path: dict[str, list] = {}
        for r in receiver.notifications:
            by_path.setdefault(r.path, []).append(r.sgn)
        assert [s["nev"]["rep"]["m2m:tsi"]["con"] for s in by_path["/n3"]] == ["1", "2"]
        assert by_path["/n3"][0]["nev"]["rep"]["m2m:tsi"]["dgt"] == first["dgt"]
        assert [s["nev"]["rep"]["m2m:ts"]["mni"] for s in by_path["/n1"]] == [5]
        assert [s["nev"]["rep"]["m2m:tsi"]["con"] for s in by_path["/n4"]] == ["2"]
        assert by_path["/n2"][0]["nev"]["net"] == 2 and by_path["/n2"][0]["nev"]["rep"]["m2m:ts"]["rn"] == "power"
    finally:
        await receiver.stop()
