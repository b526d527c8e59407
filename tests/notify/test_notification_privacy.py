"""A subscription keeps delivering only while its originator may read what it is told:
withdrawing a grant stops the flow of readings to a former partner at once."""
from __future__ import annotations

POWER = "cse-in/meter/power"


def grants(app_rights: int) -> dict:
    return {"acr": [{"acor": ["Cmeter"], "acop": 63}, {"acor": ["CEnergyApp"], "acop": app_rights}]}


async def test_withdrawn_grant_stops_notifications(ncore, receiver):
    assert (await ncore.register_ae("Cmeter", rn="meter")).rsc == 2001
    assert (await ncore.register_ae("CEnergyApp", rn="app")).rsc == 2001
    created = await ncore.create("cse-in/meter", 1, {"m2m:acp": {
        "rn": "share", "pv": grants(1 | 2), "pvs": {"acr": [{"acor": ["Cmeter"], "acop": 63}]}}}, fr="Cmeter")
    assert created.rsc == 2001, created.pc
    response = await ncore.create("cse-in/meter", 3, {"m2m:cnt": {
        "rn": "power", "acpi": [created.pc["m2m:acp"]["ri"]]}}, fr="Cmeter")
    assert response.rsc == 2001, response.pc
    response = await ncore.create(POWER, 23, {"m2m:sub": {"nu": [receiver.url()], "enc": {"net": [3]}}},
                                  fr="CEnergyApp")
    assert response.rsc == 2001, response.pc
    sur = f"/id-in/{response.pc['m2m:sub']['ri']}"

    async def reading(value: str) -> None:
        assert (await ncore.create(POWER, 4, {"m2m:cin": {"con": value}}, fr="Cmeter")).rsc == 2001

    def delivered() -> list[str]:
        return [r.sgn["nev"]["rep"]["m2m:cin"]["con"] for r in receiver.notifications
                if r.sgn.get("sur") == sur and "m2m:cin" in r.sgn["nev"]["rep"]]

    await reading("1530")
    await receiver.wait_until(lambda got: "1530" in delivered())
    # The meter withdraws the energy app's rights: the next reading must not reach it.
    assert (await ncore.update("cse-in/meter/share", {"m2m:acp": {"pv": grants(0)}}, fr="Cmeter")).rsc == 2004
    await reading("1610")
    await receiver.barrier(ncore, POWER)
    assert delivered() == ["1530"]
    # Granted again: notifications flow again (the subscription itself was kept).
    assert (await ncore.update("cse-in/meter/share", {"m2m:acp": {"pv": grants(2)}}, fr="Cmeter")).rsc == 2004
    await reading("1700")
    await receiver.wait_until(lambda got: "1700" in delivered())
    assert delivered() == ["1530", "1700"]
