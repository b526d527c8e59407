"""Fixtures for the timeSeries tests: a started CSE core (manual clock) with the meter AE
registered as cse-in/meter, and helpers to make a timeSeries and its instances."""
from __future__ import annotations

from typing import Any

import time

import pytest

from cse.clock import ManualClock

from server.compose import build_cse
from tests.conftest import CoreClient, make_config

AE = "Cmeter"
METER = "cse-in/meter"
SERIES = f"{METER}/power"


@pytest.fixture
def clock() -> ManualClock:
    """Starts on a whole second, so that timestamps (microseconds) hold its times exactly."""
    return ManualClock(start=float(int(time.time())))


@pytest.fixture
async def meter(clock):
    cse = build_cse(make_config(), clock=clock)
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae(AE, rn="meter")).rsc == 2001
        yield client
    finally:
        await cse.stop()


async def make_series(client: CoreClient, rn: str = "power", parent: str = METER, **attributes: Any) -> dict:
    response = await client.create(parent, 29, {"m2m:ts": {"rn": rn, **attributes}}, fr=AE)
    assert response.rsc == 2001, response.pc
    return response.pc["m2m:ts"]


async def reading(client: CoreClient, dgt: Any, con: Any = "1.5", to: str = SERIES, **attributes: Any):
    return await client.create(to, 30, {"m2m:tsi": {"dgt": dgt, "con": con, **attributes}}, fr=AE)
