"""<crossResourceSubscription> (ty 48): one alert when events on all targets happen within
the window, over real HTTP to a receiver; its lifecycle and bad inputs."""
from __future__ import annotations

import asyncio

import pytest

from .conftest import notifying_cse
from tests.conftest import CoreClient

HOME = "Chome"
LIMIT = 3000.0
ENERGY = "org.onem2m.common.moduleclass.energyConsumption"
SWITCH = "org.onem2m.common.moduleclass.binarySwitch"


@pytest.fixture
async def home(clock):
    cse = notifying_cse(clock, **{"cse.expiry_interval": 0.05})
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae(HOME, rn="home")).rsc == 2001
        for rn in ("overLimit", "charging", "marks"):
            assert (await client.create("cse-in/home", 3, {"m2m:cnt": {"rn": rn}}, fr=HOME)).rsc == 2001
        yield client
    finally:
        await cse.stop()


async def crs(home, nu, **attributes):
    body = {"rrat": ["cse-in/home/overLimit", "cse-in/home/charging"], "encs": {"encn": [{"net": [3]}]},
            "twt": 2, "tws": "PT10S", "nu": nu, **attributes}
    body = {name: value for name, value in body.items() if value is not None}
    return await home.create("cse-in/home", 48, {"m2m:crs": body}, fr=HOME)


async def post(home, container: str) -> None:
    response = await home.create(f"cse-in/home/{container}", 4, {"m2m:cin": {"con": "1"}}, fr=HOME)
    assert response.rsc == 2001, response.pc


def alerts(receiver, sur: str) -> list:
    return [r for r in receiver.notifications if r.sgn.get("sur") == sur]


async def test_one_alert_when_the_meter_is_above_the_limit_while_the_ev_charger_is_on(home, receiver):
    """Two actions turn the values into events (meter above the limit -> overLimit, charger
    on -> charging); the crs alerts once when both happen within its window."""
    for rn, cnd, root, value in (("meter", ENERGY, "cod:eneCn", {"abECn": 1.0, "power": 1000.0}),
                                 ("charger", SWITCH, "cod:binSh", {"state": False})):
        created = await home.create("cse-in/home", 28, {root: {"rn": rn, "cnd": cnd, **value}}, fr=HOME)
        assert created.rsc == 2001, created.pc
    for rn, subject, evc, container in (
            ("markOverLimit", "cse-in/home/meter", {"sbjt": "power", "optr": 3, "thld": LIMIT}, "overLimit"),
            ("markCharging", "cse-in/home/charger", {"sbjt": "state", "optr": 1, "thld": True}, "charging")):
        action = {"rn": rn, "sri": subject, "evc": evc, "evm": 3, "orc": f"cse-in/home/{container}",
                  "apv": {"op": 1, "ty": 4, "pc": {"m2m:cin": {"con": rn}}}}
        assert (await home.create("cse-in/home", 65, {"m2m:actr": action}, fr=HOME)).rsc == 2001
    made = await crs(home, [receiver.url()])
    assert made.rsc == 2001, made.pc
    sur = f"/id-in/{made.pc['m2m:crs']['ri']}"
    # Only the meter above the limit: no alert.
    assert (await home.update("cse-in/home/meter", {"cod:eneCn": {"power": LIMIT + 200}}, fr=HOME)).rsc == 2004
    await home.cse.automation.idle()
    await receiver.barrier(home, "cse-in/home/marks", fr=HOME)
    assert alerts(receiver, sur) == []
    # The charger switched on (the meter is still above the limit, within the window): one alert.
    assert (await home.update("cse-in/home/charger", {"cod:binSh": {"state": True}}, fr=HOME)).rsc == 2004
    await home.cse.automation.idle()
    await receiver.wait_until(lambda got: alerts(receiver, sur))
    await receiver.barrier(home, "cse-in/home/marks", fr=HOME)
    assert [r.sgn for r in alerts(receiver, sur)] == [{"sur": sur}]


async def test_no_alert_when_the_events_are_further_apart_than_the_window(home, receiver, clock):
    made = await crs(home, [receiver.url()])
    assert made.rsc == 2001, made.pc
    sur = f"/id-in/{made.pc['m2m:crs']['ri']}"
    await post(home, "overLimit")
    clock.advance(11)                         # sliding window of 10 s: the first event is forgotten
    await post(home, "charging")
    await receiver.barrier(home, "cse-in/home/marks", fr=HOME)
    assert alerts(receiver, sur) == []
    clock.advance(3)
    await post(home, "overLimit")             # within 10 s of the charging event
    await receiver.wait_until(lambda got: alerts(receiver, sur))


async def test_a_periodic_window_is_counted_from_the_creation(home, receiver, clock):
    made = await crs(home, [receiver.url()], twt=1)
    assert made.rsc == 2001, made.pc
    sur = f"/id-in/{made.pc['m2m:crs']['ri']}"
    clock.advance(9)
    await post(home, "overLimit")             # window 0 (0-10 s)
    clock.advance(2)
    await post(home, "charging")              # window 1: the first one is gone
    await receiver.barrier(home, "cse-in/home/marks", fr=HOME)
    assert alerts(receiver, sur) == []
    await post(home, "overLimit")             # window 1 has both now
    await receiver.wait_until(lambda got: alerts(receiver, sur))


async def test_srat_uses_the_subscriptions_criteria(home, receiver, receivers):
    other = await receivers()
    sub = await home.create("cse-in/home/charging", 23, {"m2m:sub": {"nu": [other.url()], "enc": {"net": [3]}}},
                            fr=HOME)
    assert sub.rsc == 2001, sub.pc
    made = await crs(home, [receiver.url()], rrat=["cse-in/home/overLimit"],
                     srat=[f"cse-in/home/charging/{sub.pc['m2m:sub']['rn']}"])
    assert made.rsc == 2001, made.pc
    sur = f"/id-in/{made.pc['m2m:crs']['ri']}"
    await post(home, "charging")
    await post(home, "overLimit")
    await receiver.wait_until(lambda got: alerts(receiver, sur))
    # Deleting the srat subscription ends the crs.
    assert (await home.delete(f"cse-in/home/charging/{sub.pc['m2m:sub']['rn']}", fr=HOME)).rsc == 2002
    await _until_gone(home, f"cse-in/home/{made.pc['m2m:crs']['rn']}")


async def _until_gone(home, path: str) -> None:
    for _ in range(200):
        if (await home.retrieve(path, fr=HOME)).rsc == 4004:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{path} still exists")


async def test_exc_ends_it_after_the_last_alert_and_su_hears_of_it(home, receiver, receivers):
    subscriber = await receivers()
    made = await crs(home, [receiver.url()], exc=1, su=subscriber.url())
    assert made.rsc == 2001, made.pc
    sur = f"/id-in/{made.pc['m2m:crs']['ri']}"
    await post(home, "overLimit")
    await post(home, "charging")
    await receiver.wait_until(lambda got: alerts(receiver, sur))
    await _until_gone(home, f"cse-in/home/{made.pc['m2m:crs']['rn']}")
    await subscriber.wait_until(lambda got: any(r.sgn == {"sur": sur, "sud": True} for r in got))


async def test_deleting_it_or_a_target_ends_it(home, receiver, receivers):
    subscriber = await receivers()
    made = await crs(home, [receiver.url()], su=subscriber.url())
    assert (await home.delete(f"cse-in/home/{made.pc['m2m:crs']['rn']}", fr=HOME)).rsc == 2002
    sur = f"/id-in/{made.pc['m2m:crs']['ri']}"
    await subscriber.wait_until(lambda got: any(r.sgn == {"sur": sur, "sud": True} for r in got))
    again = await crs(home, [receiver.url()])
    assert (await home.delete("cse-in/home/charging", fr=HOME)).rsc == 2002
    await _until_gone(home, f"cse-in/home/{again.pc['m2m:crs']['rn']}")


async def test_updating_the_window_restarts_it(home, receiver):
    made = await crs(home, [receiver.url()])
    path = f"cse-in/home/{made.pc['m2m:crs']['rn']}"
    sur = f"/id-in/{made.pc['m2m:crs']['ri']}"
    await post(home, "overLimit")
    assert (await home.update(path, {"m2m:crs": {"tws": "PT20S"}}, fr=HOME)).rsc == 2004
    await post(home, "charging")
    await receiver.barrier(home, "cse-in/home/marks", fr=HOME)
    assert alerts(receiver, sur) == []


BAD = [
    ({"rrat": None, "encs": None}, 4000, "needs rrat (resources) or srat"),
    ({"encs": None}, 4000, "attribute 'encs' must give one eventNotificationCriteria"),
    ({"encs": {"encn": [{"net": [3]}] * 3}}, 4000, "or one per entry (2)"),
    ({"encs": {"encn": [{"net": [9]}]}}, 4000, "net [9] must list event types"),
    ({"encs": {"encn": [{"md": {}}]}}, 5001, "member(s) md are not supported"),
    ({"rrat": None, "srat": ["cse-in/home/overLimit"], "encs": None}, 4000, "is a container, not a subscription"),
    ({"rrat": ["cse-in/home/nothing"], "encs": {"encn": [{"net": [3]}]}}, 4000,
     "'cse-in/home/nothing' is not a resource the originator may retrieve"),
    ({"twt": 3}, 4000, "twt"),
    ({"tws": "PT0S"}, 4000, "longer than 0 and at most one day"),
    ({"tws": "P2D"}, 4000, "longer than 0 and at most one day"),
    ({"tws": "soon"}, 4000, "tws"),
    ({"nec": 2}, 5001, "not supported"),
    ({"nse": True}, 5001, "not supported"),
    ({"nu": None}, 4000, "mandatory attribute 'nu'"),
    ({"nu": ["ftp://127.0.0.1/x"]}, 4000, "no binding that sends over ftp"),
]


@pytest.mark.parametrize("attributes, rsc, message", BAD)
async def test_bad_cross_resource_subscriptions_are_refused(home, receiver, attributes, rsc, message):
    attributes = {"nu": [receiver.url()], **attributes}
    response = await crs(home, **attributes)
    assert response.rsc == rsc, response.pc
    assert message in response.pc["m2m:dbg"]


async def test_a_target_that_refuses_verification_refuses_the_crs(home, receivers):
    refusing = await receivers(verification_rsc=4103)
    response = await crs(home, [refusing.url()])
    assert response.rsc == 5204, response.pc


async def test_a_notification_schedule_is_refused(home, receiver):
    made = await crs(home, [receiver.url()])
    path = f"cse-in/home/{made.pc['m2m:crs']['rn']}"
    response = await home.create(path, 18, {"m2m:sch": {"se": {"sce": ["* * * * * * *"]}}}, fr=HOME)
    assert response.rsc == 5001, response.pc
    assert (await home.retrieve(path + "/notificationSchedule", fr=HOME)).rsc == 4004
