"""Fixtures for automation tests: a home with a meter (energyConsumption flexContainer) and
an EV charger (binarySwitch flexContainer), both belonging to the AE Chome; a second AE
Cother may read the meter but not switch the charger."""
from __future__ import annotations

from typing import Any

import pytest

from server.compose import build_cse
from tests.conftest import CoreClient, make_config

HOME = "Chome"
OTHER = "Cother"
METER = "cse-in/home/meter"
CHARGER = "cse-in/home/charger"
ENERGY = "org.onem2m.common.moduleclass.energyConsumption"
SWITCH = "org.onem2m.common.moduleclass.binarySwitch"
LIMIT = 3000.0


class Home(CoreClient):
    async def power(self, watts: float) -> None:
        response = await self.update(METER, {"cod:eneCn": {"power": watts}}, fr=HOME)
        assert response.rsc == 2004, response.pc

    async def switch(self, on: bool) -> None:
        response = await self.update(CHARGER, {"cod:binSh": {"state": on}}, fr=HOME)
        assert response.rsc == 2004, response.pc

    async def charging(self) -> bool:
        response = await self.retrieve(CHARGER, fr=HOME)
        assert response.rsc == 2000, response.pc
        return response.pc["cod:binSh"]["state"]

    async def action(self, rn: str = "chargerOff", parent: str = "cse-in/home", fr: str = HOME,
                     **attributes: Any):
        body = {"rn": rn, "sri": METER, "evc": {"sbjt": "power", "optr": 3, "thld": LIMIT}, "evm": 3,
                "orc": CHARGER, "apv": {"op": 3, "fr": fr, "pc": {"cod:binSh": {"state": False}}}}
        body.update(attributes)
        body = {name: value for name, value in body.items() if value is not None}
        return await self.create(parent, 65, {"m2m:actr": body}, fr=fr)

    async def settled(self) -> None:
        await self.cse.automation.idle()


@pytest.fixture
async def home(clock):
    cse = build_cse(make_config(), clock=clock)
    await cse.start()
    try:
        client = Home(cse)
        assert (await client.register_ae(HOME, rn="home")).rsc == 2001
        assert (await client.register_ae(OTHER, rn="other")).rsc == 2001
        acp = await client.create("cse-in/home", 1, {"m2m:acp": {
            "rn": "meterReaders", "pv": {"acr": [{"acor": [HOME], "acop": 63}, {"acor": [OTHER], "acop": 2}]},
            "pvs": {"acr": [{"acor": [HOME], "acop": 63}]}}}, fr=HOME)
        assert acp.rsc == 2001, acp.pc
        meter = await client.create("cse-in/home", 28, {"cod:eneCn": {
            "rn": "meter", "cnd": ENERGY, "abECn": 1234.5, "power": 1500.0,
            "acpi": [acp.pc["m2m:acp"]["ri"]]}}, fr=HOME)
        assert meter.rsc == 2001, meter.pc
        charger = await client.create("cse-in/home", 28, {"cod:binSh": {
            "rn": "charger", "cnd": SWITCH, "state": True}}, fr=HOME)
        assert charger.rsc == 2001, charger.pc
        yield client
    finally:
        await cse.stop()
