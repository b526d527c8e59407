"""Local automation: evaluating <action>s (ty 65) and their <dependency>s (ty 66) off the
request path, and sending their action primitives with the creator's rights.

Two parts, because the dispatcher needs its event sinks when it is made and the runner needs
the dispatcher's `handle`:

* `ActionWatch` is an `EventSink` made before the dispatcher.  It keeps an index from each
  subject resource to the actions that watch it (evalMode once or continuous), fed by the
  events of actions being created, updated and deleted.  A committed change of a subject
  puts the actions watching it, lowest `apy` first, into one bounded queue of pending
  evaluations; an action already waiting there is not queued twice.  Periodic actions
  (evalMode 2) get a timer on the injected clock instead, every `ecp` milliseconds.
  `publish` does dictionary look-ups only, so CRUD does not slow with the number of actions.
* `ActionRunner` is a `Service` made after the dispatcher: at start it loads the existing
  actions into the index, then one task takes evaluations from the queue.  It reads the
  subject's attribute and the dependencies from storage, and when the criteria hold sends
  the action primitive through the dispatcher with `fr` = the action's creator, so access
  control decides as it would for the creator's own request.  The response is stored in
  `air` (actionResult); `once` then turns evalMode off, `continuous` counts `ecp` down.

The attribute rules (what an evalCriteria may say) live here too, because both resource
types and the evaluation use them.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import math
from typing import TYPE_CHECKING, Any, Awaitable, Callable

from .errors import bad_request
from .events import Event, EventKind
from .primitives import Request, Response
from .resource_types import Ty
from .tasks import cancel_and_wait

if TYPE_CHECKING:
    from .clock import Clock, Timer
    from .storage import Storage

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]

# evalMode (evm)
OFF, ONCE, PERIODIC, CONTINUOUS = 0, 1, 2, 3
# Internal keys: the subject's ri (an action's sri or parent), a dependency's rri as an ri.
SUBJECT_KEY = "_sri"
REFERENCED_KEY = "_rri"
# Operators of evalCriteria (optr); 3-6 compare magnitudes.
OPERATORS: dict[int, Callable[[Any, Any], bool]] = {
    1: lambda value, threshold: value == threshold,
    2: lambda value, threshold: value != threshold,
    3: lambda value, threshold: value > threshold,
    4: lambda value, threshold: value < threshold,
    5: lambda value, threshold: value >= threshold,
    6: lambda value, threshold: value <= threshold,
}
ORDERING = frozenset({3, 4, 5, 6})


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_criteria(evc: Any, where: str = "evc") -> None:
    """The shape of an evalCriteria `{"sbjt", "optr", "thld"}` (4000 naming what is wrong).
    Whether `sbjt` is an attribute of the subject is the resource type's check."""
    if not isinstance(evc, dict):
        raise bad_request(f"attribute '{where}' must be an object with sbjt, optr and thld")
    unknown = sorted(set(evc) - {"sbjt", "optr", "thld"})
    if unknown:
        raise bad_request(f"attribute '{where}': unknown member(s) {', '.join(unknown)}")
    for name in ("sbjt", "optr", "thld"):
        if name not in evc or evc[name] is None:
            raise bad_request(f"attribute '{where}': member '{name}' is missing")
    if not isinstance(evc["sbjt"], str) or not evc["sbjt"]:
        raise bad_request(f"attribute '{where}': sbjt must be the short name of an attribute")
    optr = evc["optr"]
    if not isinstance(optr, int) or isinstance(optr, bool) or optr not in OPERATORS:
        raise bad_request(f"attribute '{where}': optr {optr!r} is not an operator (1 equal, 2 not equal, "
                          "3 greater, 4 less, 5 greater or equal, 6 less or equal)")
    threshold = evc["thld"]
    if optr in ORDERING and not is_number(threshold):
        raise bad_request(f"attribute '{where}': operator {optr} compares numbers, and thld "
                          f"{threshold!r} is not a number")
    if isinstance(threshold, (dict, list)):
        raise bad_request(f"attribute '{where}': thld must be a single value, not {type(threshold).__name__}")


def criteria_hold(evc: dict, resource: dict | None) -> bool:
    """Whether `resource`'s attribute `sbjt` satisfies the criteria (False when the resource
    or the attribute is missing, or a magnitude operator meets a non-number)."""
    if resource is None or evc["sbjt"] not in resource:
        return False
    value, threshold, optr = resource[evc["sbjt"]], evc["thld"], evc["optr"]
    if optr in ORDERING and not (is_number(value) and is_number(threshold)):
        return False
    return OPERATORS[optr](value, threshold)


def dependencies_hold(results: list[tuple[bool, bool]]) -> bool:
    """Combine (sufficient, holds) per dependency (the digest's reading of ACME): one
    sufficient dependency that holds is enough; otherwise a necessary one that fails makes
    the check false; with only sufficient ones, at least one must hold; none: true."""
    if not results:
        return True
    if any(sufficient and holds for sufficient, holds in results):
        return True
    necessary = [holds for sufficient, holds in results if not sufficient]
    return bool(necessary) and all(necessary)


class ActionWatch:
    """The event sink: which actions a change concerns, and the bounded queue of the
    evaluations to do (see the module docstring)."""

    def __init__(self, clock: "Clock", queue_size: int):
        self.clock = clock
        self.queue_size = queue_size
        # subject ri -> {action ri: apy}
        self._by_subject: dict[str, dict[str, int]] = {}
        self._subject_of: dict[str, str] = {}
        self._timers: dict[str, "Timer"] = {}
        self._pending: list[str] = []
        self._queued: set[str] = set()
        self._wake: asyncio.Event | None = None
        # Evaluations refused because the queue was full (logged; a figure for operators).
        self.dropped = 0

    # -- the index ------------------------------------------------------------------------
    def track(self, action: dict) -> None:
        """(Re)index one stored action after its CREATE or UPDATE (or at start)."""
        ri = action["ri"]
        self.forget(ri)
        evm = action.get("evm", OFF)
        if evm in (ONCE, CONTINUOUS):
            subject = action[SUBJECT_KEY]
            self._by_subject.setdefault(subject, {})[ri] = action.get("apy", 1 << 30)
            self._subject_of[ri] = subject
        elif evm == PERIODIC:
            self._arm(ri, action.get("ecp") or 10000)

    def forget(self, ri: str) -> None:
        subject = self._subject_of.pop(ri, None)
        if subject is not None:
            watchers = self._by_subject.get(subject, {})
            watchers.pop(ri, None)
            if not watchers:
                self._by_subject.pop(subject, None)
        timer = self._timers.pop(ri, None)
        if timer is not None:
            timer.cancel()

    def _arm(self, ri: str, period_ms: int) -> None:
        self._timers[ri] = self.clock.call_later(period_ms / 1000, self._tick, ri, period_ms)

    def _tick(self, ri: str, period_ms: int) -> None:
        if ri in self._timers:
            self.enqueue(ri)
            self._arm(ri, period_ms)

    @property
    def watched(self) -> int:
        """Actions indexed (change-triggered and periodic)."""
        return len(self._subject_of) + len(self._timers)

    def stop_timers(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    # -- EventSink ------------------------------------------------------------------------
    def publish(self, events: list[Event]) -> None:
        for event in events:
            resource = event.resource
            ri: str = resource["ri"]
            if resource.get("ty") == Ty.ACTR:
                if event.kind is EventKind.DELETED:
                    self.forget(ri)
                    continue
                self.track(resource)
                if event.kind is EventKind.CREATED and ri in self._subject_of:
                    self.enqueue(ri)      # the condition may hold already
                continue
            if event.kind is EventKind.DELETED:
                continue
            watchers = self._by_subject.get(ri)
            if watchers:
                for action in sorted(watchers, key=lambda name: (watchers[name], name)):
                    self.enqueue(action)

    # -- the queue ------------------------------------------------------------------------
    def enqueue(self, ri: str) -> bool:
        """Queue one evaluation; False when it waits already or the queue is full."""
        if ri in self._queued:
            return False
        if len(self._pending) >= self.queue_size:
            self.dropped += 1
            log.warning("automation queue full (%d): evaluation of action %s dropped", self.queue_size, ri)
            return False
        self._pending.append(ri)
        self._queued.add(ri)
        if self._wake is not None:
            self._wake.set()
        return True

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def take(self) -> str:
        """The next action to evaluate (waits while there is none)."""
        if self._wake is None:
            self._wake = asyncio.Event()
        while not self._pending:
            self._wake.clear()
            await self._wake.wait()
        ri = self._pending.pop(0)
        self._queued.discard(ri)
        return ri


class ActionRunner:
    """The service that evaluates queued actions and sends their primitives."""

    def __init__(self, watch: ActionWatch, storage: "Storage", handle: Handler, cse_base_path: str):
        self.watch = watch
        self.storage = storage
        self.handle = handle
        self.cse_base_path = cse_base_path
        self._task: asyncio.Task | None = None
        self._numbers = itertools.count(1)
        # Evaluations whose action was executed (whatever the response), for figures and tests.
        self.executed = 0
        self._idle = asyncio.Event()

    async def start(self) -> None:
        for action in self.storage.descendants(self.cse_base_path, types=(Ty.ACTR,)):
            self.watch.track(action)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self.watch.stop_timers()
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def idle(self) -> None:
        """Until the queue is empty and no evaluation runs (tests, benches)."""
        while self.watch.pending or not self._idle.is_set():
            await asyncio.sleep(0.001)

    async def _run(self) -> None:
        while True:
            self._idle.set()
            ri = await self.watch.take()
            self._idle.clear()
            try:
                await self.evaluate(ri)
            except Exception:
                log.exception("evaluating action %s failed", ri)

    async def evaluate(self, ri: str) -> bool:
        """Evaluate one action now; True when its primitive was sent."""
        action = self.storage.get(ri)
        if action is None or action.get("ty") != Ty.ACTR:
            self.watch.forget(ri)
            return False
        evm = action.get("evm", OFF)
        if evm == OFF:
            return False
        if not criteria_hold(action["evc"], self.storage.get(action[SUBJECT_KEY])):
            return False
        if not dependencies_hold(self._dependencies(action)):
            return False
        response = await self.handle(self._primitive(action))
        self.executed += 1
        action = self.storage.get(ri)
        if action is None:          # deleted while its primitive ran
            return True
        changed = ["air"]
        action["air"] = response.to_primitive()
        if evm == ONCE:
            action["evm"] = OFF
            changed.append("evm")
        elif evm == CONTINUOUS:
            left = (action.get("ecp") or 1000) - 1
            action["ecp"] = left
            changed.append("ecp")
            if left <= 0:
                action["evm"] = OFF
                changed.append("evm")
        self.storage.update(action, changed=changed)
        self.watch.track(action)
        await self.storage.commit()
        if not response.ok:
            log.info("action %s executed and refused: %s %s", ri, response.rsc, response.pc)
        return True

    def _dependencies(self, action: dict) -> list[tuple[bool, bool]]:
        results = []
        for dependency_ri in action.get("dep") or ():
            dependency = self.storage.get(dependency_ri)
            if dependency is None:
                results.append((False, False))      # a necessary condition that cannot hold
                continue
            holds = criteria_hold(dependency["evc"], self.storage.get(dependency[REFERENCED_KEY]))
            results.append((bool(dependency.get("sfc")), holds))
        return results

    def _primitive(self, action: dict) -> Request:
        apv = action["apv"]
        return Request(op=apv["op"], to=action["orc"], fr=action["_org"],
                       rqi=f"{action['ri']}-{next(self._numbers)}", rvi=apv.get("rvi"), ty=apv.get("ty"),
                       pc=apv.get("pc"))
