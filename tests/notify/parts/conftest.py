"""Fixtures for the unit tests of the notifier's parts: a manual clock whose timers move only
with `advance` (no test here sleeps), and a CSE core whose notifications go to a
`RecordingSender` instead of over HTTP."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from cse.app import Cse, build_cse
from cse.clock import ManualClock
from tests.conftest import CoreClient, make_config

from .recording import RecordingSender

TARGET = "http://receiver.test/notify"
SU = "http://receiver.test/su"
READINGS = {"net": [3], "chty": [4]}
UNIT_SETTINGS = {"notification.retry_initial": 1.0, "notification.retry_max": 8.0,
                 "notification.shutdown_timeout": 0.5, "notification.pipeline": 1}


@pytest.fixture
def clock() -> ManualClock:
    """Overrides tests/notify's clock: here timers wait for `advance`, not for real time."""
    return ManualClock(1_700_000_000.0)


@dataclass
class Harness:
    cse: Cse
    core: CoreClient
    sender: RecordingSender
    clock: ManualClock

    @property
    def notifier(self):
        return self.cse.events

    @property
    def delivery(self):
        return self.cse.events.delivery

    async def until(self, condition, what: str, timeout: float = 5.0) -> None:
        """Wait (on delivery progress, real-time bound) until `condition()` holds."""
        assert await self.delivery.wait_until(condition, timeout), f"not reached: {what}; {self.delivery.stats()}"

    async def idle(self) -> None:
        """Until every target's queue is empty and nothing is in flight."""
        await self.until(lambda: not any(q.pending for q in self.delivery.queues.values()), "delivery idle")

    async def container(self, ae: str = "Cmeter") -> str:
        assert (await self.core.register_ae(ae, rn="meter")).rsc == 2001
        assert (await self.core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr=ae)).rsc == 2001
        return "cse-in/meter/power"

    async def subscribe(self, to: str, nu=TARGET, fr: str = "Cmeter", **attributes) -> dict:
        nu = [nu] if isinstance(nu, str) else nu
        response = await self.core.create(to, 23, {"m2m:sub": {"nu": nu, **attributes}}, fr=fr)
        assert response.rsc == 2001, response.pc
        return response.pc["m2m:sub"]

    async def post(self, container: str, value, fr: str = "Cmeter") -> dict:
        response = await self.core.create(container, 4, {"m2m:cin": {"con": str(value)}}, fr=fr)
        assert response.rsc == 2001, response.pc
        return response.pc["m2m:cin"]


def values(sent) -> list[str]:
    """The con of each single notification (m2m:sgn), recorded or queued."""
    return [s.pc["m2m:sgn"]["nev"]["rep"]["m2m:cin"]["con"] for s in sent]


def build_harness(clock: ManualClock, sender: RecordingSender, **settings) -> Harness:
    cse = build_cse(make_config(**{**UNIT_SETTINGS, **settings}), clock=clock)
    cse.outbound.register(("http", "https"), sender)
    return Harness(cse, CoreClient(cse), sender, clock)


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
async def harness(clock, sender):
    """A started CSE core (in-memory storage) notifying through `sender`."""
    built = build_harness(clock, sender)
    await built.cse.start()
    try:
        yield built
    finally:
        sender.release()
        await built.cse.stop()
