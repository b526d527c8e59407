"""Missing-data detection as a utility uses it: a meter reports every second (pei 1000 ms,
peid 125 ms, mdt 250 ms); when a reading does not come, its expected dgt appears in the
timeSeries' mdlt/mdc and a net 8 subscription is notified with m2m:tsn, at the detection
time E(n) + mdt, i.e. within one period plus peid of the missed reading.  The clock is a
ManualClock: `advance` runs the detection timers, nothing sleeps; the notifications travel
over real HTTP to a Receiver."""
from __future__ import annotations

import asyncio

import pytest

from cse.clock import format_timestamp
from cse.notify.missing_data import MissingData
from server.compose import build_cse
from tests.conftest import CoreClient, make_config
from tests.notify.conftest import notifying_cse
from tests.notify.receiver import Receiver

from .conftest import AE, METER, SERIES, make_series, reading

# Binary fractions, so that sums of clock steps meet the timers' due times exactly.
PEI, PEID, MDT = 1.0, 0.125, 0.25
WATCHED = {"pei": 1000, "peid": 125, "mdt": 250, "mdd": True}


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


@pytest.fixture
async def receiver():
    target = await Receiver().start()
    try:
        yield target
    finally:
        await target.stop()


async def subscribe(client, nu: str, to: str = SERIES, **enc):
    response = await client.create(to, 23, {"m2m:sub": {"nu": [nu], "enc": {"net": [8], **enc}}}, fr=AE)
    assert response.rsc == 2001, response.pc
    assert response.pc["m2m:sub"]["nct"] == 5
    return response.pc["m2m:sub"]


async def series_state(client) -> dict:
    return (await client.retrieve(SERIES, fr=AE)).pc["m2m:ts"]


async def test_a_missed_reading_is_listed_and_notified_within_a_period_plus_peid(ncore, clock, receiver):
    await make_series(ncore, mdn=3, **WATCHED)
    sub = await subscribe(ncore, receiver.url())
    t0 = clock.now()
    assert (await reading(ncore, format_timestamp(t0))).rsc == 2001        # starts monitoring
    assert clock.due_times() == [pytest.approx(t0 + PEI + MDT, abs=1e-6)]
    clock.advance(PEI)
    assert (await reading(ncore, format_timestamp(t0 + PEI + 0.0625))).rsc == 2001    # on time (within peid)
    clock.advance(MDT)                                                      # period 1 checked: present
    assert (await series_state(ncore))["mdc"] == 0
    clock.advance(PEI - MDT)                                                # period 2: nothing comes
    clock.advance(MDT)
    detected_at = clock.now()
    expected = format_timestamp(t0 + 2 * PEI)
    assert detected_at - (t0 + 2 * PEI) <= PEI + PEID
    state = await series_state(ncore)
    assert (state["mdlt"], state["mdc"]) == ([expected], 1)
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"] == {"net": 8, "rep": {"m2m:tsn": {"mdlt": [expected], "mdc": 1}}}
    assert received.sgn["sur"] == f"/id-in/{sub['ri']}"
    # A reading outside peid does not count for its period; the list keeps mdn entries, newest first.
    clock.advance(PEI - MDT)
    assert (await reading(ncore, format_timestamp(t0 + 3 * PEI + 0.375))).rsc == 2001
    clock.advance(MDT + 2 * PEI)
    state = await series_state(ncore)
    points = [format_timestamp(t0 + n * PEI) for n in (5, 4, 3)]
    assert (state["mdlt"], state["mdc"]) == (points, 3)
    got = await receiver.wait_for(4)
    assert [r.sgn["nev"]["rep"]["m2m:tsn"]["mdlt"] for r in got[1:]] == [[p] for p in reversed(points)]
    assert ncore.cse.events.stats()["missing_data_watched"] == 1


async def test_md_num_and_dur_count_missing_points_in_a_window(ncore, clock, receiver):
    await make_series(ncore, **WATCHED)
    await subscribe(ncore, receiver.url(), md={"num": 2, "dur": "PT10S"})
    t0 = clock.now()
    await reading(ncore, format_timestamp(t0))
    clock.advance(PEI + MDT)                       # period 1 missing: the window opens, count 1
    await asyncio.sleep(0.05)
    assert receiver.notifications == []
    clock.advance(PEI)                             # period 2: count 2 = num -> notified
    clock.advance(PEI)                             # period 3: each further one notifies too
    first, second = await receiver.wait_for(2)
    assert first.sgn["nev"]["rep"]["m2m:tsn"] == {
        "mdlt": [format_timestamp(t0 + 2 * PEI), format_timestamp(t0 + PEI)], "mdc": 2}
    assert second.sgn["nev"]["rep"]["m2m:tsn"] == {"mdlt": [format_timestamp(t0 + 3 * PEI)], "mdc": 3}
    # Readings come again; after the window has closed one missing point does not reach num.
    for n in range(4, 14):
        clock.advance(PEI - MDT)
        await reading(ncore, format_timestamp(t0 + n * PEI))
        clock.advance(MDT)
    clock.advance(PEI)                             # period 14 missing, a new window, count 1
    await asyncio.sleep(0.05)
    assert len(receiver.notifications) == 2
    assert (await series_state(ncore))["mdc"] == 4


async def test_pausing_stops_the_timer_and_resuming_starts_afresh(ncore, clock):
    await make_series(ncore, **WATCHED)
    t0 = clock.now()
    await reading(ncore, format_timestamp(t0))
    clock.advance(PEI + MDT)
    assert (await series_state(ncore))["mdc"] == 1
    assert (await ncore.update(SERIES, {"m2m:ts": {"mdd": False}}, fr=AE)).rsc == 2004
    assert clock.due_times() == []
    clock.advance(5 * PEI)
    state = await series_state(ncore)
    assert (state["mdc"], state["mdd"]) == (1, False)              # kept while paused
    resumed = await ncore.update(SERIES, {"m2m:ts": {"mdd": True}}, fr=AE)
    assert (resumed.pc["m2m:ts"]["mdlt"], resumed.pc["m2m:ts"]["mdc"]) == ([], 0)
    clock.advance(5 * PEI)
    assert clock.due_times() == []                                  # waits for the next reading
    t1 = clock.now()
    await reading(ncore, format_timestamp(t1))
    assert clock.due_times() == [pytest.approx(t1 + PEI + MDT, abs=1e-6)]


async def test_deleting_the_series_or_its_ancestor_ends_the_watch(ncore, clock):
    await make_series(ncore, **WATCHED)
    await reading(ncore, format_timestamp(clock.now()))
    assert len(clock.due_times()) == 1
    assert (await ncore.delete(SERIES, fr=AE)).rsc == 2002
    assert clock.due_times() == []
    await make_series(ncore, **WATCHED)
    await reading(ncore, format_timestamp(clock.now()))
    assert (await ncore.delete(METER, fr=AE)).rsc == 2002         # no event for the series itself
    clock.advance(PEI + MDT)                                       # the timer finds it gone
    assert clock.due_times() == []
    assert ncore.cse.events.stats()["missing_data_watched"] == 0


async def test_old_data_does_not_report_the_periods_already_past(ncore, clock):
    await make_series(ncore, **WATCHED)
    t0 = clock.now() - 30 * PEI
    await reading(ncore, format_timestamp(t0))
    [due] = clock.due_times()                      # period 30: its detection time is still to come
    assert due == pytest.approx(t0 + 30 * PEI + MDT, abs=1e-6)
    clock.advance(PEI + MDT)
    assert (await series_state(ncore))["mdlt"] == [format_timestamp(t0 + n * PEI) for n in (31, 30)]


async def test_detection_goes_on_after_a_restart(clock, tmp_path):
    config = make_config(**{"storage.url": f"sqlite:///{tmp_path / 'cse.sqlite'}"})
    cse = build_cse(config, clock=clock)
    await cse.start()
    client = CoreClient(cse)
    await client.register_ae(AE, rn="meter")
    await make_series(client, **WATCHED)
    t0 = clock.now()
    await reading(client, format_timestamp(t0))
    await cse.stop()
    assert clock.due_times() == []
    clock.advance(10 * PEI)
    cse = build_cse(config, clock=clock)
    await cse.start()
    try:
        client = CoreClient(cse)
        assert clock.due_times() == [pytest.approx(t0 + 10 * PEI + MDT, abs=1e-6)]     # periods 1-9: not told
        clock.advance(PEI + MDT)
        assert (await series_state(client))["mdlt"] == [format_timestamp(t0 + n * PEI) for n in (11, 10)]
    finally:
        await cse.stop()


async def test_the_number_of_watched_series_is_bounded(ncore, clock, caplog):
    cse = ncore.cse
    reported: list[tuple[str, str]] = []
    for rn in ("a", "b"):
        await make_series(ncore, rn=rn, **WATCHED)
        await reading(ncore, format_timestamp(clock.now()), to=f"{METER}/{rn}")
    monitor = MissingData(clock, cse.storage, cse.events.commits, "cse-in",
                          lambda series, point: reported.append((series["rn"], point)), max_watched=1)
    monitor.start()
    try:
        assert (len(monitor.watches), monitor.unwatched) == (1, 1)
        assert "missing data is not detected, 1 timeSeries are watched already" in caplog.text
        clock.advance(PEI + MDT)
        assert len(reported) == 1
    finally:
        monitor.stop()


@pytest.mark.parametrize("to,sub,message", [
    (f"{METER}/box", {"enc": {"net": [8]}},
     "attribute 'enc': notificationEventType 8 (report on missing data points) applies only to a timeSeries, "
     "not to a container"),
    (METER, {"enc": {"net": [8]}},
     "attribute 'enc': notificationEventType 8 (report on missing data points) applies only to a timeSeries, "
     "not to a AE"),
    (SERIES, {"enc": {"net": [3, 8]}},
     "attribute 'enc': notificationEventType 8 (missing data) cannot be combined with [3]: their notification "
     "contents differ"),
    (SERIES, {"enc": {"net": [8]}, "nct": 1},
     "attribute 'nct': net 8 (missing data) is notified with nct 5 (timeSeries notification), not 1"),
    (SERIES, {"enc": {"net": [3], "md": {"num": 1}}},
     "attribute 'enc': missing data criteria (md) apply only with notificationEventType 8"),
    (SERIES, {"enc": {"net": [3]}, "nct": 5},
     "attribute 'nct': 5 (timeSeries notification) applies only to net 8 (missing data)"),
    (SERIES, {"enc": {"net": [8], "md": {"num": 0}}}, "attribute 'enc': md num 0 is not a positive integer"),
    (SERIES, {"enc": {"net": [8], "md": {"dur": "PT0S"}}}, "attribute 'enc': md dur must be longer than zero"),
    (SERIES, {"enc": {"net": [8], "md": {"dur": "soon"}}},
     "attribute 'enc': md dur: 'soon' is not a duration (e.g. PT30S)"),
    (SERIES, {"enc": {"net": [8], "md": {"nm": 2}}}, "attribute 'enc': md has no member 'nm' (only num and dur)"),
])
async def test_bad_missing_data_subscriptions(ncore, to, sub, message):
    await make_series(ncore, **WATCHED)
    assert (await ncore.create(METER, 3, {"m2m:cnt": {"rn": "box"}}, fr=AE)).rsc == 2001
    response = await ncore.create(to, 23, {"m2m:sub": {"nu": [AE], **sub}}, fr=AE)
    assert (response.rsc, response.pc["m2m:dbg"]) == (4000, message)


async def test_a_subscriber_that_may_no_longer_read_is_not_told(ncore, clock, receiver):
    await make_series(ncore, **WATCHED)
    rules = {"pv": {"acr": [{"acor": [AE], "acop": 63}, {"acor": ["Cother"], "acop": 3}]},
             "pvs": {"acr": [{"acor": [AE], "acop": 63}]}}
    acp = await ncore.create(METER, 1, {"m2m:acp": {"rn": "share", **rules}}, fr=AE)
    assert acp.rsc == 2001, acp.pc
    acpi = [acp.pc["m2m:acp"]["ri"]]
    assert (await ncore.update(SERIES, {"m2m:ts": {"acpi": acpi}}, fr=AE)).rsc == 2004
    assert (await ncore.register_ae("Cother", rn="other")).rsc == 2001
    sub = await ncore.create(SERIES, 23, {"m2m:sub": {"nu": [receiver.url()], "enc": {"net": [8]}}}, fr="Cother")
    assert sub.rsc == 2001, sub.pc
    t0 = clock.now()
    await reading(ncore, format_timestamp(t0))
    clock.advance(PEI + MDT)
    await receiver.wait_for(1)
    only_create = {"pv": {"acr": [{"acor": [AE], "acop": 63}, {"acor": ["Cother"], "acop": 1}]}}
    assert (await ncore.update(f"{METER}/share", {"m2m:acp": only_create}, fr=AE)).rsc == 2004
    clock.advance(PEI)
    await asyncio.sleep(0.1)
    assert len(receiver.notifications) == 1 and (await series_state(ncore))["mdc"] == 2


async def test_a_new_md_restarts_the_count(ncore, clock, receiver):
    await make_series(ncore, **WATCHED)
    sub = await subscribe(ncore, receiver.url(), md={"num": 2, "dur": "PT1H"})
    t0 = clock.now()
    await reading(ncore, format_timestamp(t0))
    clock.advance(PEI + MDT)                                   # missing 1, count 1
    changed = await ncore.update(f"{SERIES}/{sub['rn']}", {"m2m:sub": {"enc": {"net": [8], "md": {
        "num": 2, "dur": "PT2H"}}}}, fr=AE)
    assert changed.rsc == 2004, changed.pc
    clock.advance(PEI)                                         # missing 2: count 1 in the new window
    await asyncio.sleep(0.05)
    assert receiver.notifications == []
    clock.advance(PEI)                                         # missing 3: count 2 -> notified
    [received] = await receiver.wait_for(1)
    assert received.sgn["nev"]["rep"]["m2m:tsn"] == {
        "mdlt": [format_timestamp(t0 + 3 * PEI), format_timestamp(t0 + 2 * PEI)], "mdc": 2}
