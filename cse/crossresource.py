"""crossResourceSubscription (ty 48): one notification when events on *all* of several
resources happen within one time window (docs/automation.md).

`CrossResourceWatch` is an `EventSink`.  Instead of creating a <subscription> on every
`rrat` resource (TS-0004 7.4.58.2.1) it watches their events itself: each target is a
compiled criteria set (`encs` entry, or the enc of an `srat` subscription) on one watched
resource, matched with the notifier's own `Subscription.wants`.  That keeps CREATE free of
the extra subscriptions and their verification round trips, and `publish` costs one
dictionary look-up per event.  When every target has seen a matching event inside the
window, `{"m2m:sgn": {"sur": <crs>}}` goes to each `nu` entry through the notifier's
delivery (`send`: queues, retries, target resolution).  Windows need no timer: a periodic
window is numbered from the crs's creation time, a sliding one starts with the first event
after the previous one ended; events outside it are forgotten.

`exc` counts down per notification.  The crs is deleted (its `et` set to now, so the expiry
reaper removes it and its DELETED event reaches this sink) when `exc` runs out or when a
target resource or srat subscription is deleted; its deletion sends `sud` to `su`.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .clock import format_timestamp, parse_duration, parse_timestamp
from .events import Event, EventKind
from .notify.commits import Commits
from .notify.matching import CHILD_CREATED, CHILD_DELETED, DELETE, UPDATE, Subscription
from .resource_types import Ty

if TYPE_CHECKING:
    from .clock import Clock
    from .config import NotificationSettings
    from .storage import Storage

log = logging.getLogger(__name__)

PERIODIC_WINDOW, SLIDING_WINDOW = 1, 2
# Internal keys of a stored crs: the watched resources' ri per target, and for srat targets
# the ri of the subscription (None for rrat targets).
TARGETS_KEY = "_crst"
# Send(entry, content, serialization): the notifier's send_result.
Send = Callable[[str, dict, "str | None"], None]


def encs_entries(encs: dict) -> list:
    """The criteria list of an eventNotificationCriteriaSet (`encn` in TS-0004 R3, `enc` in ACME)."""
    return encs.get("encn", encs.get("enc")) or []


@dataclass
class Target:
    watched: str                   # ri of the resource whose events count
    criteria: Subscription         # net, atr, filter members
    subscription: str | None       # srat: the subscription's ri
    path: str = ""


@dataclass
class Window:
    ri: str
    sur: str
    targets: list[Target]
    twt: int
    size: float
    start: float                   # periodic windows are numbered from here
    nu: list[str]
    su: str | None
    serialization: str | None
    seen: set[int] = field(default_factory=set)
    number: int = -1               # periodic: the window `seen` belongs to
    opened: float | None = None    # sliding: when the current window opened

    def arrive(self, index: int, now: float) -> bool:
        """Record a matching event of target `index`; True when all targets have one in
        this window (then the window is emptied)."""
        if self.twt == PERIODIC_WINDOW:
            number = math.floor((now - self.start) / self.size) if self.size > 0 else 0
            if number != self.number:
                self.number, self.seen = number, set()
        elif self.opened is None or now - self.opened > self.size:
            self.opened, self.seen = now, set()
        self.seen.add(index)
        if len(self.seen) < len(self.targets):
            return False
        self.seen, self.opened = set(), None
        return True


class CrossResourceWatch:
    def __init__(self, clock: "Clock", storage: "Storage", send: Send, cse_id: str, cse_rn: str,
                 settings: "NotificationSettings"):
        self.clock = clock
        self.storage = storage
        self.send = send
        self.cse_id = cse_id
        self.cse_rn = cse_rn
        self.settings = settings
        self.commits = Commits(storage)
        self._windows: dict[str, Window] = {}
        self._by_watched: dict[str, set[str]] = {}
        self._by_subscription: dict[str, set[str]] = {}
        self._loaded = False
        self.sent = 0

    # -- the index ------------------------------------------------------------------------
    def load(self) -> None:
        """The crs already stored (at the first event after a start)."""
        self._loaded = True
        for doc in self.storage.descendants(self.cse_rn, types=(Ty.CRS,)):
            self.track(doc)

    def track(self, doc: dict, restart: bool = True) -> None:
        ri = doc["ri"]
        old = self._windows.get(ri)
        self.forget(ri)
        targets = []
        for number, (watched, subscription, enc) in enumerate(doc.get(TARGETS_KEY) or ()):
            criteria = Subscription.from_doc({"ri": f"{ri}#{number}", "enc": enc}, self.cse_id, self.settings)
            head = self.storage.get(watched)
            targets.append(Target(watched, criteria, subscription, head["_path"] if head else ""))
        window = Window(ri, f"{self.cse_id}/{ri}", targets, doc["twt"], parse_duration(doc["tws"], "tws"),
                        parse_timestamp(doc["ct"]), list(doc.get("nu") or ()), doc.get("su"), doc.get("_ser"))
        if old is not None and not restart:
            window.seen, window.number, window.opened = old.seen, old.number, old.opened
        self._windows[ri] = window
        for target in targets:
            self._by_watched.setdefault(target.watched, set()).add(ri)
            if target.subscription:
                self._by_subscription.setdefault(target.subscription, set()).add(ri)

    def forget(self, ri: str) -> Window | None:
        window = self._windows.pop(ri, None)
        if window is not None:
            for target in window.targets:
                for index, key in ((self._by_watched, target.watched), (self._by_subscription, target.subscription)):
                    if key is not None and key in index:
                        index[key].discard(ri)
                        if not index[key]:
                            del index[key]
        return window

    def __len__(self) -> int:
        return len(self._windows)

    # -- EventSink ------------------------------------------------------------------------
    def publish(self, events: list[Event]) -> None:
        if not self._loaded:
            self.load()
        if not self._windows and not any(event.resource.get("ty") == Ty.CRS for event in events):
            return              # no crossResourceSubscription: nothing to look up
        for event in events:
            resource = event.resource
            ri = resource.get("ri")
            if resource.get("ty") == Ty.CRS:
                self._own(event)
                continue
            kind = event.kind
            if kind is EventKind.UPDATED:
                self._match(ri, UPDATE, resource, event.modified)
            elif kind is EventKind.CREATED:
                self._match(resource.get("pi"), CHILD_CREATED, resource, None)
            else:
                self._match(resource.get("pi"), CHILD_DELETED, resource, None)
                self._match(ri, DELETE, resource, None)
                self._target_gone(event)

    def _own(self, event: Event) -> None:
        ri = event.resource["ri"]
        if event.kind is EventKind.DELETED:
            window = self.forget(ri)
            if window is not None and window.su:
                self.send(window.su, {"m2m:sgn": {"sur": window.sur, "sud": True}}, window.serialization)
            return
        modified = event.modified or {}
        self.track(event.resource, restart=event.kind is EventKind.CREATED or "twt" in modified or "tws" in modified)

    def _match(self, watched: str | None, event_type: int, resource: dict, modified: dict | None) -> None:
        names = self._by_watched.get(watched) if watched is not None else None
        if not names:
            return
        now = self.clock.now()
        for name in sorted(names):
            window = self._windows.get(name)
            if window is None:
                continue
            for index, target in enumerate(window.targets):
                if target.watched == watched and target.criteria.wants(event_type, resource, modified):
                    if window.arrive(index, now):
                        self._notify(window)

    def _notify(self, window: Window) -> None:
        doc = self.storage.get(window.ri)
        if doc is None:             # removed with an ancestor: no event of its own came
            self.forget(window.ri)
            return
        self.sent += 1
        for entry in window.nu:
            self.send(entry, {"m2m:sgn": {"sur": window.sur}}, window.serialization)
        if doc.get("exc") is not None:
            doc["exc"] -= 1
            changed = ["exc"]
            if doc["exc"] <= 0:
                doc["et"] = format_timestamp(self.clock.now())
                changed.append("et")
            self.storage.update(doc, changed=changed)
            self.commits.schedule()

    def _target_gone(self, event: Event) -> None:
        """A watched resource (or a subtree holding one) or an srat subscription went: the
        crs can no longer hold, so it ends (TS: the deletion notice of a target subscription
        deletes the crs)."""
        path = event.resource.get("_path", "")
        gone = set(self._by_subscription.get(event.resource["ri"], ()))
        for removed in event.removed_subscriptions:
            gone |= self._by_subscription.get(removed["ri"], set())
        for name, window in self._windows.items():
            if any(t.path and (t.path == path or t.path.startswith(path + "/")) for t in window.targets):
                gone.add(name)
        for name in gone:
            doc = self.storage.get(name)
            if doc is not None:
                doc["et"] = format_timestamp(self.clock.now())
                self.storage.update(doc, changed=("et",))
                self.commits.schedule()
