"""timeSeries and timeSeriesInstance as a meter uses them: readings with their dgt, a
duplicate dgt refused (4105), the history bounded by mni/mbs/mia, la/ol, the parameters
of missing-data detection checked as TS-0004 7.4.38.2 says, and every bad input refused
with the RSC and a message that names what was wrong."""
from __future__ import annotations

import pytest

from cse.clock import format_timestamp, parse_timestamp

from .conftest import AE, METER, SERIES, make_series, reading

T0 = "20250301T101500"


def at(seconds: float) -> str:
    """T0 plus `seconds`, as a timestamp without fraction when whole."""
    stamp = format_timestamp(parse_timestamp(T0) + seconds)
    return stamp[:-7] if stamp.endswith(",000000") else stamp


async def test_readings_are_kept_with_their_dgt_and_counted(meter):
    series = await make_series(meter, cnf="text/plain:0", mni=10, **{"or": "http://example.net/power"})
    assert (series["ty"], series["cni"], series["cbs"], series["st"]) == (29, 0, 0, 0)
    assert "pei" not in series and "mdd" not in series
    first = await reading(meter, T0, "230.5", snr=1)
    assert first.rsc == 2001, first.pc
    tsi = first.pc["m2m:tsi"]
    assert (tsi["ty"], tsi["dgt"], tsi["con"], tsi["snr"], tsi["cs"], tsi["st"]) == (30, T0, "230.5", 1, 5, 1)
    assert not any(key.startswith("_") for key in tsi)
    assert (await reading(meter, at(60), "231")).rsc == 2001
    state = (await meter.retrieve(SERIES, fr=AE)).pc["m2m:ts"]
    assert (state["cni"], state["cbs"], state["st"]) == (2, 8, 2)
    assert not any(key.startswith("_") for key in state)


async def test_a_duplicate_dgt_is_a_conflict_also_when_it_comes_late_or_spelled_otherwise(meter):
    await make_series(meter)
    for seconds in (0, 60, 120):
        assert (await reading(meter, at(seconds))).rsc == 2001
    for dgt in (at(120), at(60), T0 + ",000000", at(60) + ",0"):
        again = await reading(meter, dgt, "9")
        assert again.rsc == 4105, dgt
        assert again.pc["m2m:dbg"].startswith(f"the timeSeries '{SERIES}' already holds an instance with dgt ")
    late = await reading(meter, at(30))            # out of order but new: accepted
    assert late.rsc == 2001
    assert (await meter.retrieve(SERIES, fr=AE)).pc["m2m:ts"]["cni"] == 4
    # The same dgt in another timeSeries is no conflict.
    await make_series(meter, rn="other")
    assert (await reading(meter, at(60), to=f"{METER}/other")).rsc == 2001


async def test_a_dgt_relative_to_now_is_stored_as_a_timestamp(meter, clock):
    await make_series(meter)
    created = await reading(meter, -5000)
    assert created.rsc == 2001
    assert created.pc["m2m:tsi"]["dgt"] == format_timestamp(clock.now() - 5)
    assert (await reading(meter, format_timestamp(clock.now() - 5))).rsc == 4105


async def test_la_and_ol_follow_the_order_of_arrival(meter):
    await make_series(meter)
    empty = await meter.retrieve(f"{SERIES}/la", fr=AE)
    assert (empty.rsc, empty.pc["m2m:dbg"]) == (4004, f"{SERIES}/la: the timeSeries holds no timeSeriesInstance")
    for seconds, con in ((60, "b"), (0, "a"), (120, "c")):
        assert (await reading(meter, at(seconds), con)).rsc == 2001
    latest = (await meter.retrieve(f"{SERIES}/la", fr=AE)).pc["m2m:tsi"]
    oldest = (await meter.retrieve(f"{SERIES}/ol", fr=AE)).pc["m2m:tsi"]
    assert (latest["con"], oldest["con"]) == ("c", "b")
    assert (await meter.delete(f"{SERIES}/ol", fr=AE)).rsc == 2002
    assert (await meter.retrieve(f"{SERIES}/ol", fr=AE)).pc["m2m:tsi"]["con"] == "a"
    refused = await meter.create(f"{SERIES}/la", 30, {"m2m:tsi": {"dgt": at(500), "con": "x"}}, fr=AE)
    assert refused.rsc == 4005


async def test_the_history_is_bounded_by_mni_mbs_and_mia(meter, clock):
    await make_series(meter, mni=2, mbs=10)
    for seconds, con in ((0, "a1"), (1, "b22"), (2, "c333")):
        assert (await reading(meter, at(seconds), con)).rsc == 2001
    state = (await meter.retrieve(SERIES, fr=AE)).pc["m2m:ts"]
    assert (state["cni"], state["cbs"]) == (2, 7)
    assert (await meter.retrieve(f"{SERIES}/ol", fr=AE)).pc["m2m:tsi"]["con"] == "b22"
    too_big = await reading(meter, at(3), "x" * 11)
    assert (too_big.rsc, too_big.pc["m2m:dbg"]) == (5207, "content size 11 exceeds the timeSeries's maxByteSize "
                                                          "(mbs) 10")
    assert (await meter.update(SERIES, {"m2m:ts": {"mni": 1, "mia": 60}}, fr=AE)).rsc == 2004
    state = (await meter.retrieve(SERIES, fr=AE)).pc["m2m:ts"]
    assert (state["cni"], state["cbs"]) == (1, 4)
    capped = (await reading(meter, at(4), "d")).pc["m2m:tsi"]
    assert capped["et"] == format_timestamp(clock.now() + 60)
    # A pruned dgt may come again: it is no longer held.
    assert (await reading(meter, at(0), "a1")).rsc == 2001


async def test_peid_defaults_to_half_the_period_and_is_checked(meter):
    series = await make_series(meter, pei=1000)
    assert series["peid"] == 500
    series = await make_series(meter, rn="watched", pei=1000, mdd=True, mdt=200)
    assert (series["peid"], series["mdt"], series["mdlt"], series["mdc"]) == (100, 200, [], 0)
    series = await make_series(meter, rn="given", pei=1000, peid=50, mdd=True, mdt=100, mdn=5)
    assert (series["peid"], series["mdn"]) == (50, 5)


@pytest.mark.parametrize("attributes,rsc,message", [
    ({"pei": 1000, "peid": 501}, 4000, "attribute 'peid' (501 ms) must not exceed half of 'pei' (1000 ms)"),
    ({"mdd": True, "mdt": 100}, 4000, "missing data detection (mdd true) needs a periodicInterval (pei)"),
    ({"mdd": True, "pei": 1000}, 4000, "missing data detection (mdd true) needs a missingDataDetectTimer (mdt)"),
    ({"mdd": True, "pei": 1000, "peid": 100, "mdt": 100}, 4000,
     "attribute 'mdt' (100 ms) must be longer than 'peid' (100 ms)"),
    ({"pei": 0}, 4000, "timeSeries attribute 'pei': 0 violates minimum 1"),
    ({"pei": "1s"}, 4000, "timeSeries attribute 'pei': '1s' is not of type integer"),
    ({"peid": -1}, 4000, "timeSeries attribute 'peid': -1 violates minimum 0"),
    ({"mdd": "yes"}, 4000, "timeSeries attribute 'mdd': 'yes' is not of type boolean"),
    ({"mdn": 0}, 4000, "timeSeries attribute 'mdn': 0 violates minimum 1"),
    ({"mdt": 0}, 4000, "timeSeries attribute 'mdt': 0 violates minimum 1"),
    ({"mdlt": []}, 4000, "attribute 'mdlt' of timeSeries is set by the CSE and cannot be given in CREATE"),
    ({"mdc": 0}, 4000, "attribute 'mdc' of timeSeries is set by the CSE and cannot be given in CREATE"),
    ({"cni": 1}, 4000, "attribute 'cni' of timeSeries is set by the CSE and cannot be given in CREATE"),
    ({"cnf": "text"}, 4000, "timeSeries attribute 'cnf': 'text' has an invalid format"),
    ({"mni": -1}, 4000, "timeSeries attribute 'mni': -1 violates minimum 0"),
    ({"dgt": T0}, 4000, "attribute 'dgt' is not defined for timeSeries"),
])
async def test_bad_timeseries_creates(meter, attributes, rsc, message):
    response = await meter.create(METER, 29, {"m2m:ts": {"rn": "bad", **attributes}}, fr=AE)
    assert (response.rsc, response.pc["m2m:dbg"]) == (rsc, message)
    assert (await meter.retrieve(f"{METER}/bad", fr=AE)).rsc == 4004


@pytest.mark.parametrize("content,rsc,message", [
    ({"con": "1"}, 4000, "mandatory attribute 'dgt' of timeSeriesInstance is missing"),
    ({"dgt": T0}, 4000, "mandatory attribute 'con' of timeSeriesInstance is missing"),
    ({"dgt": "yesterday", "con": "1"}, 4000,
     "attribute 'dgt': 'yesterday' is not a oneM2M timestamp (YYYYMMDDThhmmss[,ffffff])"),
    ({"dgt": "20250231T101500", "con": "1"}, 4000, "attribute 'dgt': '20250231T101500' is not a valid date and time"),
    ({"dgt": True, "con": "1"}, 4000, "timeSeriesInstance attribute 'dgt': True is not of type string or integer"),
    ({"dgt": "", "con": "1"}, 4000, "timeSeriesInstance attribute 'dgt': '' violates minLength 1"),
    ({"dgt": -10 ** 15, "con": "1"}, 4000,
     "attribute 'dgt': -1000000000000000 ms from now is out of range (years 1-9999)"),
    ({"dgt": 10 ** 15, "con": "1"}, 4000,
     "attribute 'dgt': 1000000000000000 ms from now is out of range (years 1-9999)"),
    ({"dgt": 1.5, "con": "1"}, 4000, "timeSeriesInstance attribute 'dgt': 1.5 is not of type string or integer"),
    ({"dgt": ["20250301T101500"], "con": "1"}, 4000,
     "timeSeriesInstance attribute 'dgt': ['20250301T101500'] is not of type string or integer"),
    ({"dgt": T0, "con": "1", "snr": -1}, 4000, "timeSeriesInstance attribute 'snr': -1 violates minimum 0"),
    ({"dgt": T0, "con": "1", "snr": "1"}, 4000, "timeSeriesInstance attribute 'snr': '1' is not of type integer"),
    ({"dgt": T0, "con": "1", "cs": 1}, 4000,
     "attribute 'cs' of timeSeriesInstance is set by the CSE and cannot be given in CREATE"),
    ({"dgt": T0, "con": "1", "acpi": ["x"]}, 4000, "attribute 'acpi' is not defined for timeSeriesInstance"),
    ({"dgt": T0, "con": "1", "cnf": "text/plain:0"}, 4000, "attribute 'cnf' is not defined for timeSeriesInstance"),
])
async def test_bad_instance_creates(meter, content, rsc, message):
    await make_series(meter)
    response = await meter.create(SERIES, 30, {"m2m:tsi": content}, fr=AE)
    assert (response.rsc, response.pc["m2m:dbg"]) == (rsc, message)
    assert (await meter.retrieve(SERIES, fr=AE)).pc["m2m:ts"]["cni"] == 0


async def test_an_instance_only_under_a_timeseries_and_never_updated(meter):
    created = await meter.create(METER, 3, {"m2m:cnt": {"rn": "box"}}, fr=AE)
    assert created.rsc == 2001
    wrong = await meter.create(f"{METER}/box", 30, {"m2m:tsi": {"dgt": T0, "con": "1"}}, fr=AE)
    assert (wrong.rsc, wrong.pc["m2m:dbg"]) == (4108, "a timeSeriesInstance cannot be created under a container")
    await make_series(meter)
    cin = await meter.create(SERIES, 4, {"m2m:cin": {"con": "1"}}, fr=AE)
    assert (cin.rsc, cin.pc["m2m:dbg"]) == (4108, "a contentInstance cannot be created under a timeSeries")
    root = await meter.create(SERIES, 30, {"m2m:cin": {"dgt": T0, "con": "1"}}, fr=AE)
    assert root.rsc == 4000 and "expected 'm2m:tsi'" in root.pc["m2m:dbg"]
    tsi = (await reading(meter, T0)).pc["m2m:tsi"]
    refused = await meter.update(f"{SERIES}/{tsi['rn']}", {"m2m:tsi": {"con": "2"}}, fr=AE)
    assert (refused.rsc, refused.pc["m2m:dbg"]) == (4005, "a timeSeriesInstance cannot be updated")
    # Under a container and a flexContainer a timeSeries may live; not under a contentInstance.
    assert (await make_series(meter, rn="inner", parent=f"{METER}/box"))["pi"]
    cin = (await meter.create(f"{METER}/box", 4, {"m2m:cin": {"con": "1"}}, fr=AE)).pc["m2m:cin"]
    nested = await meter.create(f"{METER}/box/{cin['rn']}", 29, {"m2m:ts": {}}, fr=AE)
    assert nested.rsc == 4108


@pytest.mark.parametrize("changes,message", [
    ({"mdd": False, "pei": 2000}, "attribute 'mdd' cannot be changed together with pei: pause detection (mdd "
                                  "false), change the parameters, then resume"),
    ({"mdt": 300}, "mdt cannot be changed while missing data detection runs (mdd true): pause it first"),
    ({"peid": 10, "mdn": 3}, "peid, mdn cannot be changed while missing data detection runs (mdd true): pause "
                             "it first"),
    ({"mdlt": []}, "attribute 'mdlt' of timeSeries cannot be changed by UPDATE"),
    ({"cnf": "text/plain:0"}, "attribute 'cnf' of timeSeries cannot be changed by UPDATE"),
])
async def test_parameters_change_only_while_detection_is_paused(meter, changes, message):
    await make_series(meter, pei=1000, mdd=True, mdt=200)
    response = await meter.update(SERIES, {"m2m:ts": changes}, fr=AE)
    assert (response.rsc, response.pc["m2m:dbg"]) == (4000, message)


async def test_pause_change_resume(meter):
    await make_series(meter, pei=1000, mdd=True, mdt=200)
    assert (await meter.update(SERIES, {"m2m:ts": {"mdd": False}}, fr=AE)).rsc == 2004
    changed = await meter.update(SERIES, {"m2m:ts": {"pei": 4000}}, fr=AE)
    assert changed.rsc == 2004
    assert (changed.pc["m2m:ts"]["pei"], changed.pc["m2m:ts"]["peid"]) == (4000, 100)   # below mdt 200
    assert (await meter.update(SERIES, {"m2m:ts": {"peid": 1500}}, fr=AE)).rsc == 2004
    short = await meter.update(SERIES, {"m2m:ts": {"mdd": True}}, fr=AE)
    assert (short.rsc, short.pc["m2m:dbg"]) == (4000, "attribute 'mdt' (200 ms) must be longer than 'peid' "
                                                      "(1500 ms)")
    assert (await meter.update(SERIES, {"m2m:ts": {"mdt": 1600}}, fr=AE)).rsc == 2004
    resumed = await meter.update(SERIES, {"m2m:ts": {"mdd": True}}, fr=AE)
    assert resumed.rsc == 2004
    assert (resumed.pc["m2m:ts"]["mdlt"], resumed.pc["m2m:ts"]["mdc"]) == ([], 0)
    assert (await meter.update(SERIES, {"m2m:ts": {"mdd": False}}, fr=AE)).rsc == 2004
    odd = await meter.update(SERIES, {"m2m:ts": {"peid": 2001}}, fr=AE)
    assert (odd.rsc, odd.pc["m2m:dbg"]) == (4000, "attribute 'peid' (2001 ms) must not exceed half of 'pei' "
                                                  "(4000 ms)")
    gone = await meter.update(SERIES, {"m2m:ts": {"pei": None}}, fr=AE)
    assert gone.rsc == 2004 and "pei" not in gone.pc["m2m:ts"] and "peid" not in gone.pc["m2m:ts"]


async def test_an_expired_reading_no_longer_holds_its_dgt(meter, clock):
    await make_series(meter)
    for seconds in (0, 60):
        assert (await reading(meter, at(seconds), et=format_timestamp(clock.now() + 10))).rsc == 2001
    assert (await reading(meter, at(120))).rsc == 2001
    assert (await reading(meter, T0)).rsc == 4105
    clock.advance(11)                                  # expired; the reaper has not run yet
    assert (await reading(meter, T0, "again")).rsc == 2001


async def test_the_window_of_latest_readings_and_the_readings_below_it(meter):
    """Readings newer than the 64 latest are checked in the window, older ones by a look
    through the stored ones: both refuse a duplicate and accept a new dgt, also once the
    holder of a dgt was deleted or pruned."""
    await make_series(meter, mni=100)
    order = list(range(0, 200, 2))                    # 100 readings, every other second
    order[50], order[51] = order[51], order[50]       # two arrive swapped
    for seconds in order:
        assert (await reading(meter, f"20250301T10{seconds // 60:02d}{seconds % 60:02d}")).rsc == 2001
    for seconds in (198, 150, 100, 2, 0):             # in the window, and below its floor
        assert (await reading(meter, f"20250301T10{seconds // 60:02d}{seconds % 60:02d}")).rsc == 4105, seconds
    for seconds in (199, 151, 99, 3):                 # new, late or very late
        assert (await reading(meter, f"20250301T10{seconds // 60:02d}{seconds % 60:02d}")).rsc == 2001, seconds
    latest = (await meter.retrieve(f"{SERIES}/la", fr=AE)).pc["m2m:tsi"]
    assert (await meter.delete(f"{SERIES}/{latest['rn']}", fr=AE)).rsc == 2002
    assert (await reading(meter, latest["dgt"])).rsc == 2001      # its holder is gone
    state = (await meter.retrieve(SERIES, fr=AE)).pc["m2m:ts"]
    assert state["cni"] == 100                                     # mni pruned the oldest arrivals
    assert (await reading(meter, "20250301T100000")).rsc == 2001  # pruned: free again
