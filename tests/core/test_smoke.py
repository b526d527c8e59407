"""The path a smart meter takes: register, create a container, post readings, read the latest."""


async def test_meter_posts_readings_and_application_reads_latest(core):
    assert (await core.register_ae("Cmeter", rn="meter")).rsc == 2001
    assert (await core.create("cse-in/meter", 3, {"m2m:cnt": {"rn": "power"}}, fr="Cmeter")).rsc == 2001
    for watts in (1530, 1610):
        response = await core.create("cse-in/meter/power", 4, {"m2m:cin": {"con": str(watts)}}, fr="Cmeter")
        assert response.rsc == 2001
    latest = await core.retrieve("cse-in/meter/power/la", fr="Cmeter")
    assert latest.rsc == 2000
    assert latest.pc["m2m:cin"]["con"] == "1610"
