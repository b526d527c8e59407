"""Fixtures for the schedule tests: the notifier harness of tests/notify/parts (a CSE core
whose notifications go to a RecordingSender, timers on the manual clock)."""
from __future__ import annotations

import pytest

from tests.notify.parts.conftest import build_harness
from tests.notify.parts.recording import RecordingSender


@pytest.fixture
def sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
async def harness(clock, sender):
    """A started CSE core (in-memory storage) notifying through `sender`, on `clock`."""
    built = build_harness(clock, sender)
    await built.cse.start()
    try:
        yield built
    finally:
        sender.release()
        await built.cse.stop()
