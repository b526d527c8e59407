"""Expiration time: expired resources are never returned and are removed in the background."""
from cse.clock import format_timestamp


async def test_expired_resource_is_never_returned_and_reaped_with_subtree(core, clock):
    await core.register_ae("Cmeter", rn="meter")
    et = format_timestamp(clock.now() + 30)
    response = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power", "et": et}}, fr="Cmeter")
    assert response.pc["m2m:cnt"]["et"] == et
    await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "x"}}, fr="Cmeter")
    assert (await core.retrieve("cse-in/meter/power/la", fr="Cmeter")).rsc == 2000
    clock.advance(31)
    assert (await core.retrieve("cse-in/meter/power", fr="Cmeter")).rsc == 4004
    assert (await core.retrieve("cse-in/meter/power/la", fr="Cmeter")).rsc == 4004
    children = (await core.retrieve("cse-in/meter", fr="Cmeter", rcn=6)).pc["m2m:rrl"]["rrf"]
    assert children == []
    assert await core.cse.reaper.reap_once() == 1
    assert core.cse.storage.count() == 2           # CSEBase and AE; the instance went with it
    # The name is free again.
    again = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    assert again.rsc == 2001


async def test_expired_instance_updates_the_container_counters(core, clock):
    await core.register_ae("Cmeter", rn="meter")
    await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    et = format_timestamp(clock.now() + 5)
    await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "short", "et": et}}, fr="Cmeter")
    await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "long"}}, fr="Cmeter")
    clock.advance(6)
    assert (await core.retrieve("cse-in/meter/power/ol", fr="Cmeter")).pc["m2m:cin"]["con"] == "long"
    await core.cse.reaper.reap_once()
    state = (await core.retrieve("cse-in/meter/power", fr="Cmeter")).pc["m2m:cnt"]
    assert state["cni"] == 1 and state["cbs"] == 4


async def test_expired_ae_deregisters(core, clock):
    await core.register_ae("Cmeter", rn="meter", et=format_timestamp(clock.now() + 10))
    clock.advance(11)
    await core.cse.reaper.reap_once()
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001


async def test_expiry_can_be_extended_by_update(core, clock):
    await core.register_ae("Cmeter", rn="meter")
    await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "c", "et": format_timestamp(clock.now() + 10)}},
                      fr="Cmeter")
    later = format_timestamp(clock.now() + 100)
    assert (await core.update("cse-in/meter/c", {"m2m:cnt": {"et": later}}, fr="Cmeter")).rsc == 2004
    clock.advance(50)
    assert await core.cse.reaper.reap_once() == 0
    assert (await core.retrieve("cse-in/meter/c", fr="Cmeter")).rsc == 2000


async def test_default_lifetime_is_applied(clock):
    from server.compose import build_cse
    from tests.conftest import CoreClient, make_config

    cse = build_cse(make_config(**{"cse.default_lifetime": 3600}), clock=clock)
    await cse.start()
    try:
        ae = (await CoreClient(cse).register_ae("Cm")).pc["m2m:ae"]
        assert ae["et"] == format_timestamp(clock.now() + 3600)
    finally:
        await cse.stop()


async def test_expired_names_are_free_before_the_reaper_runs(core, clock):
    """An expired resource is absent for every request, also for a CREATE that takes its
    name or a registration that takes its AE-ID; it is removed then, with its subtree."""
    await core.register_ae("Cmeter", rn="meter", et=format_timestamp(clock.now() + 60))
    await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power", "et": format_timestamp(clock.now() + 10)}},
                      fr="Cmeter")
    await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": "old"}}, fr="Cmeter")
    clock.advance(11)
    again = await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    assert again.rsc == 2001, again.pc
    assert (await core.retrieve("cse-in/meter/power", fr="Cmeter", rcn=4)).pc["m2m:cnt"]["cni"] == 0
    clock.advance(50)
    response = await core.register_ae("Cmeter", rn="meter2")
    assert response.rsc == 2001, response.pc
    assert (await core.retrieve("cse-in/meter/power", fr="Cmeter")).rsc == 4004
    assert await core.cse.reaper.reap_once() == 0
    assert core.cse.storage.count() == 2           # CSEBase and the new AE


async def test_an_expired_instance_replaced_by_name_leaves_the_counters_right(core, clock):
    await core.register_ae("Cmeter", rn="meter")
    await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")
    await core.create("cse-in/meter/power", 4, {"m2m:cin": {"rn": "r", "con": "old!",
                                                            "et": format_timestamp(clock.now() + 10)}}, fr="Cmeter")
    clock.advance(11)
    assert (await core.create("cse-in/meter/power", 4, {"m2m:cin": {"rn": "r", "con": "new"}}, fr="Cmeter")).rsc == 2001
    state = (await core.retrieve("cse-in/meter/power", fr="Cmeter")).pc["m2m:cnt"]
    assert (state["cni"], state["cbs"]) == (1, 3)
