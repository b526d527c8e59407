"""The bounded parts of missing-data detection on their own: the md windows (num, dur, the
number of windows kept) and a watch's memory of future periods."""
from __future__ import annotations

from dataclasses import dataclass, field

from cse.notify.missing_data import AHEAD, MAX_LISTED, Watch, Windows, watch_of


@dataclass
class Sub:
    """What Windows reads of a compiled subscription."""

    ri: str
    md: dict | None = None
    doc: dict = field(init=False)

    def __post_init__(self) -> None:
        self.doc = {"enc": {"net": [8], **({"md": self.md} if self.md else {})}}


def test_without_md_every_point_is_notified():
    windows = Windows(10)
    assert windows.record(Sub("s"), "p1", 0.0) == {"mdlt": ["p1"], "mdc": 1}
    assert windows.record(Sub("s"), "p2", 5.0) == {"mdlt": ["p2"], "mdc": 2}


def test_num_within_dur_then_each_further_point_then_a_new_window():
    windows, sub = Windows(10), Sub("s", {"num": 3, "dur": "PT60S"})
    assert windows.record(sub, "p1", 0.0) is None
    assert windows.record(sub, "p2", 10.0) is None
    assert windows.record(sub, "p3", 20.0) == {"mdlt": ["p3", "p2", "p1"], "mdc": 3}
    assert windows.record(sub, "p4", 30.0) == {"mdlt": ["p4"], "mdc": 4}
    assert windows.record(sub, "p5", 60.0) is None          # the window (0..60 s) has closed
    assert windows.record(sub, "p6", 70.0) is None
    assert windows.record(sub, "p7", 80.0) == {"mdlt": ["p7", "p6", "p5"], "mdc": 3}


def test_the_windows_and_their_lists_are_bounded():
    windows = Windows(2)
    for ri in ("a", "b", "c"):
        windows.record(Sub(ri, {"num": 10 ** 6}), "p", 0.0)
    assert len(windows) == 2 and set(windows.windows) == {"b", "c"}
    big = Sub("b", {"num": 10 ** 6})
    for n in range(MAX_LISTED + 50):
        windows.record(big, f"p{n}", 1.0)
    assert len(windows.windows["b"].points) == MAX_LISTED
    windows.forget("b")
    assert set(windows.windows) == {"c"}


def test_a_watch_remembers_only_periods_ahead_within_peid():
    watch = Watch("ts1", t0=1000.0, pei=1.0, peid=0.1, mdt=0.2, next=1)
    for n in range(1, 200):
        watch.saw(1000.0 + n)
    watch.saw(1000.0 + 0.5)                                # between two periods: no period
    watch.saw(1000.0 + 0.0)                                # period 0: already behind
    assert watch.received == set(range(1, 1 + AHEAD))
    watch.saw(1000.0 + 70.05)                              # within peid of period 70, beyond AHEAD
    assert 70 not in watch.received


def test_what_needs_a_watch():
    series = {"ri": "ts1", "mdd": True, "pei": 1000, "peid": 100, "mdt": 200, "_mdt0": 1000.0}
    watch = watch_of(series, now=1000.0)
    assert (watch.next, watch.pei, watch.peid, watch.mdt) == (1, 1.0, 0.1, 0.2)
    assert watch_of(series, now=1010.5).next == 11        # period 10's detection time (1010.2) is past
    for off in ({"mdd": False}, {"pei": None}, {"_mdt0": None}, {"mdt": None}):
        assert watch_of({**series, **off}, now=1000.0) is None
