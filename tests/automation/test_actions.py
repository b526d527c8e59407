"""<action> and <dependency>: the local use case (meter above the limit -> the EV charger is
switched off), each evaluation mode, dependencies, the creator's rights, bad inputs."""
from __future__ import annotations

import asyncio
import time

import pytest

from cse.automation import ActionWatch, dependencies_hold
from cse.clock import ManualClock
from cse.events import Event, EventKind

from .conftest import CHARGER, HOME, LIMIT, METER, OTHER


async def test_the_meter_above_the_limit_switches_the_charger_off_within_a_second(home):
    created = await home.action()
    assert created.rsc == 2001, created.pc
    await home.settled()
    assert await home.charging()                     # 1500 W: below the limit
    started = time.perf_counter()
    await home.power(LIMIT + 500)
    while await home.charging():
        assert time.perf_counter() - started < 1.0, "the charger is still on after one second"
        await asyncio.sleep(0.001)
    action = (await home.retrieve("cse-in/home/chargerOff", fr=HOME)).pc["m2m:actr"]
    assert action["air"]["rsc"] == 2004
    assert action["air"]["pc"]["cod:binSh"]["state"] is False
    assert action["ecp"] == 999                       # continuous: one execution counted down
    assert "_sri" not in action


async def test_an_action_whose_creator_may_not_update_the_target_is_recorded_as_failed(home):
    # Cother may read the meter (so the action is accepted) but not update the charger.
    created = await home.action(parent="cse-in/other", fr=OTHER)
    assert created.rsc == 2001, created.pc
    await home.power(LIMIT + 1)
    await home.settled()
    assert await home.charging()
    air = (await home.retrieve("cse-in/other/chargerOff", fr=OTHER)).pc["m2m:actr"]["air"]
    assert air["rsc"] == 4103


async def test_once_acts_one_time_then_turns_itself_off(home):
    assert (await home.action(evm=1)).rsc == 2001
    await home.power(LIMIT + 1)
    await home.settled()
    assert not await home.charging()
    action = (await home.retrieve("cse-in/home/chargerOff", fr=HOME)).pc["m2m:actr"]
    assert action["evm"] == 0
    await home.switch(True)
    await home.power(LIMIT + 2)
    await home.settled()
    assert await home.charging()
    assert home.cse.automation.executed == 1


async def test_off_never_acts(home):
    assert (await home.action(evm=0)).rsc == 2001
    await home.power(LIMIT + 1)
    await home.settled()
    assert await home.charging()
    assert "air" not in (await home.retrieve("cse-in/home/chargerOff", fr=HOME)).pc["m2m:actr"]


async def test_continuous_acts_ecp_times(home):
    assert (await home.action(evm=3, ecp=2)).rsc == 2001
    for watts in (LIMIT + 1, LIMIT + 2, LIMIT + 3):
        await home.switch(True)
        await home.power(watts)
        await home.settled()
    assert home.cse.automation.executed == 2
    assert await home.charging()                      # the third time it no longer acted
    action = (await home.retrieve("cse-in/home/chargerOff", fr=HOME)).pc["m2m:actr"]
    assert (action["evm"], action["ecp"]) == (0, 0)


async def test_continuous_does_not_act_while_the_criteria_do_not_hold(home):
    assert (await home.action()).rsc == 2001
    await home.power(LIMIT)                           # greater than, not equal
    await home.settled()
    assert await home.charging()
    assert home.cse.automation.executed == 0


async def test_periodic_evaluates_on_the_clock(home, clock: ManualClock):
    assert (await home.action(evm=2, ecp=5000)).rsc == 2001
    # Above the limit, but a periodic action does not react to the change itself.
    await home.power(LIMIT + 1)
    await home.settled()
    assert await home.charging()
    clock.advance(5.0)
    await home.settled()
    assert not await home.charging()
    await home.switch(True)
    await home.power(1000.0)                          # below the limit at the next period
    clock.advance(5.0)
    await home.settled()
    assert await home.charging()
    assert home.cse.automation.executed == 1


async def test_deleting_a_periodic_action_stops_its_timer(home, clock: ManualClock):
    assert (await home.action(evm=2, ecp=5000)).rsc == 2001
    assert (await home.delete("cse-in/home/chargerOff", fr=HOME)).rsc == 2002
    await home.power(LIMIT + 1)
    clock.advance(10.0)
    await home.settled()
    assert await home.charging()


async def test_actions_are_loaded_again_after_a_restart(home):
    assert (await home.action()).rsc == 2001
    await home.cse.automation.stop()
    await home.cse.automation.start()
    await home.power(LIMIT + 1)
    await home.settled()
    assert not await home.charging()


async def dependency(home, rn: str, sfc: bool, state: bool):
    body = {"rn": rn, "sfc": sfc, "rri": CHARGER, "evc": {"sbjt": "state", "optr": 1, "thld": state}}
    created = await home.create("cse-in/home/chargerOff", 66, {"m2m:depr": body}, fr=HOME)
    assert created.rsc == 2001, created.pc
    return created.pc["m2m:depr"]["ri"]


async def test_a_necessary_dependency_must_hold(home):
    # Switch off only when charging: the action then records one execution, not one per reading.
    assert (await home.action(evm=3)).rsc == 2001
    charging = await dependency(home, "whileCharging", False, True)
    assert (await home.update("cse-in/home/chargerOff", {"m2m:actr": {"dep": [charging]}}, fr=HOME)).rsc == 2004
    await home.power(LIMIT + 1)
    await home.settled()
    assert not await home.charging()
    await home.power(LIMIT + 2)                       # not charging any more: nothing to do
    await home.settled()
    assert home.cse.automation.executed == 1


async def test_sufficient_dependencies_need_one_that_holds(home):
    assert (await home.action(evm=3)).rsc == 2001
    never = await dependency(home, "never", True, False)     # the charger is on: fails
    assert (await home.update("cse-in/home/chargerOff", {"m2m:actr": {"dep": [never]}}, fr=HOME)).rsc == 2004
    await home.power(LIMIT + 1)
    await home.settled()
    assert await home.charging()
    holds = await dependency(home, "holds", True, True)
    assert (await home.update("cse-in/home/chargerOff", {"m2m:actr": {"dep": [never, holds]}},
                              fr=HOME)).rsc == 2004
    await home.power(LIMIT + 2)
    await home.settled()
    assert not await home.charging()


async def test_deleting_a_dependency_removes_it_from_dep(home):
    assert (await home.action(evm=3)).rsc == 2001
    never = await dependency(home, "never", False, False)
    assert (await home.update("cse-in/home/chargerOff", {"m2m:actr": {"dep": [never]}}, fr=HOME)).rsc == 2004
    assert (await home.delete("cse-in/home/chargerOff/never", fr=HOME)).rsc == 2002
    action = (await home.retrieve("cse-in/home/chargerOff", fr=HOME)).pc["m2m:actr"]
    assert action["dep"] == []
    await home.power(LIMIT + 1)
    await home.settled()
    assert not await home.charging()


@pytest.mark.parametrize("results, holds", [
    ([], True),
    ([(False, True), (False, True)], True),
    ([(False, True), (False, False)], False),
    ([(True, False), (True, False)], False),
    ([(True, False), (True, True)], True),
    ([(True, True), (False, False)], True),       # a sufficient one that holds is enough
])
def test_how_dependencies_combine(results, holds):
    assert dependencies_hold(results) is holds


def test_the_evaluation_queue_is_bounded_and_queues_an_action_once():
    watch = ActionWatch(ManualClock(), queue_size=2)
    for number in range(3):
        watch.track({"ri": f"actr{number}", "ty": 65, "evm": 3, "_sri": "meter1", "apy": number + 1})
    subject = {"ri": "meter1", "ty": 28}
    watch.publish([Event(EventKind.UPDATED, subject)])
    assert (watch.pending, watch.dropped) == (2, 1)
    watch.publish([Event(EventKind.UPDATED, subject)])
    assert (watch.pending, watch.dropped) == (2, 2)    # actr0, actr1 wait already; actr2 dropped again
    assert watch.enqueue("actr0") is False
    assert watch._pending == ["actr0", "actr1"]        # lowest apy first


BAD = [
    ({"evc": {"sbjt": "power", "optr": 9, "thld": 1}}, 4000, "optr 9 is not an operator"),
    ({"evc": {"sbjt": "power", "optr": 3, "thld": "high"}}, 4000, "compares numbers"),
    ({"evc": {"sbjt": "power", "optr": 3}}, 4000, "member 'thld' is missing"),
    ({"evc": {"sbjt": "colour", "optr": 1, "thld": 1}}, 4000, "sbjt 'colour' is not an attribute"),
    ({"evc": {"sbjt": "power", "optr": 1, "thld": True}}, 4000, "not of the type of 'power'"),
    ({"sri": "cse-in/home/nothing"}, 4000, "'cse-in/home/nothing' is not a resource the originator may retrieve"),
    ({"apv": {"op": 5, "pc": {}}}, 4000, "op 5 is not 1 (CREATE)"),
    ({"apv": {"op": 3, "fr": OTHER, "pc": {"cod:binSh": {"state": False}}}}, 4000, "must be the action's creator"),
    ({"apv": {"op": 3}}, 4000, "needs pc"),
    ({"apv": {"op": 3, "pc": {}, "xyz": 1}}, 4000, "not a request primitive: unknown member(s) xyz"),
    ({"apv": {"op": 3, "to": "cse-in/home/meter", "pc": {}}}, 4000, "differs from orc"),
    ({"apv": "switch it off"}, 4000, "apv"),
    ({"evm": 7}, 4000, "evm"),
    ({"evm": 1, "ecp": 10}, 4000, "not to evm 1"),
    ({"evm": 3, "ecp": 0}, 4000, "ecp"),
    ({"dep": ["depr1"]}, 4000, "cannot be given in CREATE"),
    ({"orc": None}, 4000, "mandatory attribute 'orc'"),
    ({"ipu": {"cstr": "x"}}, 5001, "not supported"),
]


@pytest.mark.parametrize("attributes, rsc, message", BAD)
async def test_bad_actions_are_refused(home, attributes, rsc, message):
    response = await home.action(**attributes)
    assert response.rsc == rsc, response.pc
    assert message in response.pc["m2m:dbg"]


async def test_an_action_needs_the_right_to_read_its_subject(home):
    assert (await home.register_ae("Cstranger", rn="stranger")).rsc == 2001
    response = await home.action(parent="cse-in/stranger", fr="Cstranger")
    assert response.rsc == 4000
    assert "not a resource the originator may retrieve (4103" in response.pc["m2m:dbg"]


async def test_bad_updates_and_dependencies_are_refused(home):
    assert (await home.action(evm=1)).rsc == 2001
    cases = [
        ({"dep": ["cse-in/home/charger"]}, "is not a dependency directly below"),
        ({"ecp": 100}, "not to evm 1"),
        ({"orc": None}, "mandatory attribute 'orc' of action cannot be deleted"),
        ({"evc": {"sbjt": "state", "optr": 1, "thld": True}}, "sbjt 'state' is not an attribute"),
        ({"air": {}}, "cannot be changed by UPDATE"),
    ]
    for change, message in cases:
        response = await home.update("cse-in/home/chargerOff", {"m2m:actr": change}, fr=HOME)
        assert response.rsc == 4000, (change, response.pc)
        assert message in response.pc["m2m:dbg"], (change, response.pc)
    bad_dependency = {"rn": "d", "sfc": True, "rri": "cse-in/home/none", "evc": {"sbjt": "state", "optr": 1, "thld": True}}
    response = await home.create("cse-in/home/chargerOff", 66, {"m2m:depr": bad_dependency}, fr=HOME)
    assert response.rsc == 4000 and "'cse-in/home/none'" in response.pc["m2m:dbg"]
    response = await home.create("cse-in/home", 66, {"m2m:depr": {**bad_dependency, "rri": CHARGER}}, fr=HOME)
    assert response.rsc == 4108, response.pc
    response = await home.action(parent=METER + "/nothing")
    assert response.rsc == 4004


async def test_without_sri_the_subject_is_the_parent(home):
    created = await home.action(parent=METER, sri=None)
    assert created.rsc == 2001, created.pc
    await home.power(LIMIT + 1)
    await home.settled()
    assert not await home.charging()
