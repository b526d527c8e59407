"""Fixtures for subscription and notification tests: a CSE core whose notifications travel
over real HTTP to `Receiver`s on free loopback ports."""
from __future__ import annotations

import pytest

from bindings.http_client import HttpSender
from cse.app import build_cse
from cse.clock import Clock, ManualClock
from tests.conftest import CoreClient, make_config

from .receiver import Receiver

# New readings only (a new subscription is a new child as well).
READINGS = {"net": [3], "chty": [4]}
# Short back-off for tests; a small pipeline so bursts of a few dozen fill the window.
FAST_RETRIES = {"notification.retry_initial": 0.05, "notification.retry_max": 0.2,
                "notification.timeout": 5.0, "notification.verification_timeout": 2.0,
                "notification.pipeline": 4}


class ManualNowClock(ManualClock):
    """`now()` moves only when a test says so, but the timers (retry back-off, bn dur) run in
    real time on the event loop: the receivers here answer over real sockets in real time
    while a test moves `now` to expire subscriptions.  (The unit tests in tests/notify/parts
    use a plain ManualClock and move its timers with `advance`.)"""

    call_later = Clock.call_later
    sleep = Clock.sleep


@pytest.fixture
def clock() -> ManualClock:
    return ManualNowClock()


def notifying_cse(clock=None, **settings):
    """A CSE with in-memory storage and the HTTP sender, not started."""
    cse = build_cse(make_config(**{**FAST_RETRIES, **settings}), clock=clock)
    sender = HttpSender()
    cse.outbound.register(("http", "https"), sender)
    cse.bindings.append(sender)
    return cse


@pytest.fixture
async def ncore(clock):
    cse = notifying_cse(clock)
    await cse.start()
    try:
        yield CoreClient(cse)
    finally:
        await cse.stop()


@pytest.fixture
async def receiver():
    target = await Receiver().start()
    try:
        yield target
    finally:
        await target.stop()


@pytest.fixture
async def receivers():
    """Call `await receivers(**options)` for as many extra receivers as a test needs."""
    started: list[Receiver] = []

    async def make(**options) -> Receiver:
        target = await Receiver(**options).start()
        started.append(target)
        return target

    try:
        yield make
    finally:
        for target in started:
            await target.stop()


async def meter_with_container(core, ae: str = "Cmeter", **container) -> str:
    """Register AE `ae` (rn meter) with a container 'power'; returns the container's path."""
    assert (await core.register_ae(ae, rn="meter")).rsc == 2001
    response = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power", **container}}, fr=ae)
    assert response.rsc == 2001, response.pc
    return "cse-in/meter/power"


async def subscribe(core, to: str, nu, fr: str = "Cmeter", **attributes):
    nu = [nu] if isinstance(nu, str) else nu
    return await core.create(to, 23, {"m2m:sub": {"nu": nu, **attributes}}, fr=fr)


async def post_reading(core, container: str, value, fr: str = "Cmeter"):
    response = await core.create(container, 4, {"m2m:cin": {"con": str(value)}}, fr=fr)
    assert response.rsc == 2001, response.pc
    return response
