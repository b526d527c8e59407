"""Start and stop of a whole CSE: one order up, the reverse down, also after a failed start."""
from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from cse.app import Cse
from cse.storage.sqlite import SqliteStorage
from cse.tasks import cancel_and_wait
from server.compose import build_cse, configured_bindings
from tests.conftest import CoreClient, make_config


class Journal(list):
    def part(self, name: str, **kwargs) -> "Part":
        return Part(name, self, **kwargs)


class Part:
    """A binding or service that writes what happens to it in the journal."""

    def __init__(self, name: str, journal: Journal, *, poa: tuple[str, ...] = (), fail_start: bool = False,
                 fail_stop: bool = False):
        self.name, self.journal, self._poa = name, journal, list(poa)
        self.fail_start, self.fail_stop = fail_start, fail_stop

    @property
    def poa(self) -> list[str]:
        return self._poa

    async def start(self) -> None:
        self.journal.append(f"start {self.name}")
        if self.fail_start:
            raise OSError(f"{self.name}: address already in use")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")
        if self.fail_stop:
            raise RuntimeError(f"{self.name} failed to stop")


class Notifier:
    def __init__(self, journal: Journal):
        self.journal = journal

    async def start(self) -> None:
        self.journal.append("resend kept notifications")

    async def drain(self) -> None:
        self.journal.append("drain notifications")

    async def stop(self) -> None:
        self.journal.append("keep undelivered notifications")


class Polling:
    def __init__(self, journal: Journal):
        self.journal = journal

    def close(self) -> None:
        self.journal.append("close polling channels")


class Dispatcher:
    def __init__(self, journal: Journal):
        self.nonblocking = journal.part("non-blocking requests")


class JournalStorage(SqliteStorage):
    def __init__(self, journal: Journal):
        super().__init__(":memory:")
        self.journal = journal

    def open(self) -> None:
        self.journal.append("open storage")
        super().open()

    async def commit(self) -> None:
        self.journal.append("commit")
        await super().commit()

    def close(self) -> None:
        self.journal.append("close storage")
        super().close()


def recorded_cse(journal: Journal, bindings: list[Part]) -> Cse:
    def provision(poa: list[str]) -> dict:
        journal.append(f"provision CSEBase poa={poa}")
        return {"poa": poa}

    return Cse(make_config(), None, JournalStorage(journal), None, None, None, Dispatcher(journal),
               Notifier(journal), Polling(journal), journal.part("reaper"), journal.part("federation"),
               bindings, provision)


async def test_parts_start_in_order_and_stop_in_reverse():
    journal = Journal()
    cse = recorded_cse(journal, [journal.part("sender"), journal.part("http", poa=("http://127.0.0.1:1",))])
    await cse.start()
    assert cse.cse_base == {"poa": ["http://127.0.0.1:1"]}
    assert journal == ["open storage", "provision CSEBase poa=[]", "start sender", "start http",
                       "provision CSEBase poa=['http://127.0.0.1:1']", "commit", "resend kept notifications",
                       "start non-blocking requests", "start reaper", "start federation"]
    journal.clear()
    await cse.stop()
    # Federation still reaches the registrar, and notifications are delivered, while the
    # bindings are up; what was not delivered is stored before storage closes.
    assert journal == ["stop federation", "stop reaper", "stop non-blocking requests", "drain notifications",
                       "close polling channels", "stop http", "stop sender", "keep undelivered notifications",
                       "close storage"]
    journal.clear()
    await cse.stop()
    assert journal == []                    # stopping twice stops nothing twice


async def test_a_binding_that_fails_to_start_leaves_what_was_started_stopped_and_storage_closed():
    journal = Journal()
    cse = recorded_cse(journal, [journal.part("sender"), journal.part("http", fail_start=True),
                                 journal.part("mqtt")])
    with pytest.raises(OSError, match="address already in use"):
        await cse.start()
    assert journal == ["open storage", "provision CSEBase poa=[]", "start sender", "start http",
                       "stop sender", "keep undelivered notifications", "close storage"]
    journal.clear()
    await cse.stop()
    assert journal == []


async def test_a_binding_that_fails_to_stop_does_not_keep_the_others_running(caplog):
    journal = Journal()
    cse = recorded_cse(journal, [journal.part("sender"), journal.part("http", fail_stop=True)])
    await cse.start()
    journal.clear()
    with caplog.at_level(logging.ERROR, logger="cse.app"):
        await cse.stop()
    assert journal[-4:] == ["stop http", "stop sender", "keep undelivered notifications", "close storage"]
    assert "stopping binding http failed" in caplog.text


async def test_a_failed_start_of_the_real_cse_frees_its_port_and_can_be_retried(tmp_path):
    """The HTTP binding was listening when the next binding failed: it is stopped again,
    so the port is free, and the same storage opens again for the next attempt."""
    url = f"sqlite:///{tmp_path / 'cse.sqlite'}"

    class Broken:
        name, poa = "broken", []

        async def start(self) -> None:
            raise OSError("the broken binding cannot start")

        async def stop(self) -> None:
            raise AssertionError("never started, so never stopped")

    cse = build_cse(make_config(**{"storage.url": url}),
                    bindings=lambda parts: configured_bindings(parts) + [Broken()])
    http = next(b for b in cse.bindings if b.name == "http")
    with pytest.raises(OSError, match="cannot start"):
        await cse.start()
    port = http.port
    assert port
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))     # the listening socket is closed, not only idle
    again = build_cse(make_config(**{"storage.url": url}))
    await again.start()
    try:
        assert (await CoreClient(again).retrieve("cse-in")).rsc == 2000
    finally:
        await again.stop()


# -- cancel_and_wait ------------------------------------------------------------------------
async def test_cancel_and_wait_ends_the_task_before_it_returns():
    ended = asyncio.Event()

    async def worker() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            await asyncio.sleep(0)          # cleanup that itself awaits
            ended.set()

    task = asyncio.create_task(worker())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task) == {task}
    assert task.done() and ended.is_set()
    assert await cancel_and_wait(None) == set()


async def test_cancel_and_wait_lets_tasks_finish_within_the_grace_period():
    release = asyncio.Event()
    quick = asyncio.create_task(release.wait())
    stuck = asyncio.create_task(asyncio.sleep(3600))
    asyncio.get_running_loop().call_later(0.01, release.set)
    assert await cancel_and_wait([quick, stuck, None], grace=5) == {stuck}
    assert quick.result() is True and stuck.cancelled()


async def test_cancel_and_wait_does_not_swallow_the_cancellation_of_its_caller():
    stubborn_started = asyncio.Event()

    async def stubborn() -> None:
        stubborn_started.set()
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                await asyncio.sleep(0.05)   # takes its time to end, then ends
                raise

    task = asyncio.create_task(stubborn())
    await stubborn_started.wait()
    stopper = asyncio.create_task(cancel_and_wait(task))
    await asyncio.sleep(0)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)


async def test_cancel_and_wait_reports_a_task_that_had_failed(caplog):
    async def broken() -> None:
        raise ValueError("bug in the loop")

    task = asyncio.create_task(broken(), name="broken loop")
    await asyncio.sleep(0)
    with caplog.at_level(logging.ERROR, logger="cse.tasks"):
        assert await cancel_and_wait(task) == set()
    assert "broken loop failed" in caplog.text and "bug in the loop" in caplog.text
