"""Notifications and verification requests for an AE with rr=false go through its polling channel,
with the notifier's usual semantics (order, exc, retries, failures counted and logged)."""
import asyncio
import logging

from server.compose import build_cse
from tests.conftest import ADMIN, CoreClient, make_config
from tests.e2e.federation_support import eventually

from .support import Poller, open_channel, register

FAST = {"notification.retry_initial": 0.05, "notification.retry_max": 0.1, "notification.timeout": 1.0,
        "notification.verification_timeout": 2.0}


async def started(**settings) -> CoreClient:
    cse = build_cse(make_config(**{**FAST, **settings}))
    await cse.start()
    return CoreClient(cse)


async def meter_container(core: CoreClient) -> str:
    """Cmeter (rr=false, with its channel) and its container 'power'."""
    await open_channel(core)
    assert (await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")).rsc == 2001
    return "cse-in/meter/power"


async def reading(core: CoreClient, value: str) -> None:
    assert (await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": value}}, fr="Cmeter")).rsc == 2001


async def test_verification_and_notifications_are_fetched_and_exc_counts_them():
    core = await started()
    poller = None
    try:
        container = await meter_container(core)
        poller = Poller(core).start()
        # The admin subscribes on the meter's behalf: nu is another entity, so it is verified,
        # through the channel, while the CREATE waits.
        sub = {"nu": ["Cmeter"], "enc": {"net": [3]}, "exc": 2, "nse": True}
        created = await core.create(container, 23, {"m2m:sub": sub})
        assert created.rsc == 2001, created.pc
        ri = created.pc["m2m:sub"]["ri"]
        assert poller.requests[0]["pc"]["m2m:sgn"]["vrq"] is True
        assert poller.requests[0]["pc"]["m2m:sgn"]["cr"] == ADMIN
        await reading(core, "1530")
        await eventually(lambda: len(poller.notifications) == 1, what="the notification is fetched")
        assert poller.notifications[0]["nev"]["rep"]["m2m:cin"]["con"] == "1530"
        assert poller.notifications[0]["sur"] == f"/id-in/{ri}"
        assert (await core.retrieve(ri)).pc["m2m:sub"]["exc"] == 1
        await eventually(lambda: core.cse.events.stats()["delivered"] == 1, what="the answer is counted")
        nsi = (await core.retrieve(ri)).pc["m2m:sub"]["nsi"]
        assert nsi == [{"tg": "Cmeter", "rqs": 1, "rsr": 1, "noec": 1}]
        await reading(core, "1540")
        await eventually(lambda: len(poller.notifications) == 2, what="the second notification is fetched")
        assert (await core.retrieve(ri)).rsc == 4004         # exc used up: the subscription is gone
    finally:
        if poller is not None:
            await poller.stop()
        await core.cse.stop()


async def test_notifications_wait_for_an_ae_that_is_not_polling_and_arrive_in_order():
    core = await started()
    poller = None
    try:
        container = await meter_container(core)
        # The meter subscribes itself: no verification, and it is not polling yet.
        assert (await core.create(container, 23, {"m2m:sub": {"nu": ["Cmeter"], "enc": {"net": [3]}}},
                                  fr="Cmeter")).rsc == 2001
        for value in range(6):
            await reading(core, str(value))
        await eventually(lambda: core.cse.events.stats()["retries"] >= 1,
                         what="the first notification timed out in the channel and is retried")
        poller = Poller(core).start()
        await eventually(lambda: len(poller.notifications) == 6, what="all six fetched")
        assert [n["nev"]["rep"]["m2m:cin"]["con"] for n in poller.notifications] == [str(v) for v in range(6)]
        assert core.cse.events.stats()["dropped"] == 0
    finally:
        if poller is not None:
            await poller.stop()
        await core.cse.stop()


async def test_an_rr_false_ae_without_a_channel_counts_the_notification_as_failed_and_logs_it(caplog):
    core = await started(**{"notification.max_attempts": 1})
    try:
        await register(core, "Capp", "app")
        assert (await core.create("cse-in/app", 3, {"m2m:cnt": {"rn": "box"}}, fr="Capp")).rsc == 2001
        sub = {"nu": ["Capp"], "enc": {"net": [3]}}
        assert (await core.create("cse-in/app/box", 23, {"m2m:sub": sub}, fr="Capp")).rsc == 2001
        with caplog.at_level(logging.WARNING, logger="cse.delivery"):
            assert (await core.create("cse-in/app/box", 4, {"m2m:cin": {"con": "x"}}, fr="Capp")).rsc == 2001
            await eventually(lambda: core.cse.events.stats()["dropped"] == 1, what="the notification is dropped")
        stats = core.cse.events.stats()
        assert stats["delivered"] == 0 and stats["dropped"] == 1
        logged = caplog.text
        assert "dropped 1 notification(s) for Capp" in logged
        assert "Capp is unreachable" in logged
        assert "AE Capp is not request-reachable (rr=false) and has no pollingChannel" in logged
    finally:
        await core.cse.stop()


async def test_subscribing_an_rr_false_ae_without_a_channel_fails_verification_naming_it():
    core = await started()
    try:
        await register(core, "Capp", "app")
        await register(core, "Cmeter", "meter")
        assert (await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")).rsc == 2001
        response = await core.create("cse-in/meter/power", 23, {"m2m:sub": {"nu": ["Capp"]}})
        assert response.rsc == 5204
        message = response.pc["m2m:dbg"]
        assert "notification target 'Capp'" in message
        assert "rr=false" in message and "no pollingChannel" in message
    finally:
        await core.cse.stop()


async def test_verification_of_an_ae_that_does_not_poll_fails_after_the_verification_timeout():
    core = await started(**{"notification.verification_timeout": 0.2})
    try:
        container = await meter_container(core)
        response = await core.create(container, 23, {"m2m:sub": {"nu": ["/id-in/Cmeter"]}})
        assert response.rsc == 5204
        assert "'/id-in/Cmeter' could not be reached for verification" in response.pc["m2m:dbg"]
        assert "did not fetch the request from its pollingChannel within 0.2 s" in response.pc["m2m:dbg"]
        assert core.cse.polling.stats()["queued"] == 0
    finally:
        await core.cse.stop()


async def test_a_refused_verification_through_the_channel_fails_the_creation():
    core = await started()
    poller = None
    try:
        container = await meter_container(core)
        poller = Poller(core, rsc=4101).start()
        response = await core.create(container, 23, {"m2m:sub": {"nu": ["Cmeter"]}})
        assert response.rsc == 5204 and "refused the verification request (rsc 4101" in response.pc["m2m:dbg"]
    finally:
        if poller is not None:
            await poller.stop()
        await core.cse.stop()


async def test_shutdown_answers_a_waiting_poll_at_once():
    core = await started(**{"polling.long_poll_max": 60.0})
    await open_channel(core)
    waiting = asyncio.create_task(core.retrieve("cse-in/meter/pch/pcu", fr="Cmeter"))
    await eventually(lambda: core.cse.polling.stats()["polls"] == 1, what="the poll waits")
    await asyncio.wait_for(core.cse.stop(), 10)
    response = await asyncio.wait_for(waiting, 1)
    assert response.rsc == 5103 and "shutting down" in response.pc["m2m:dbg"]
