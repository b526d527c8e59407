"""Fixtures for the flexContainer tests: a CSE core with a registered meter AE, and the
shipped device models with a valid sample value for every SDT type."""
from __future__ import annotations

from typing import Any

import pytest

from server.compose import build_cse
from resources.device_models import Specialization, load_device_models
from resources.sdt import ValueType
from tests.conftest import CoreClient, make_config

AE = "Cmeter"
METER = "cse-in/meter"
ENERGY = "org.onem2m.common.moduleclass.energyConsumption"
SWITCH = "org.onem2m.common.moduleclass.binarySwitch"
CHARGER = "org.onem2m.vehicular.device.deviceElectricVehicleCharger"


@pytest.fixture(scope="session")
def models():
    return load_device_models()


@pytest.fixture
async def flex(clock):
    """A started CSE core with the AE Cmeter registered as cse-in/meter."""
    cse = build_cse(make_config(), clock=clock)
    await cse.start()
    try:
        client = CoreClient(cse)
        assert (await client.register_ae(AE, rn="meter")).rsc == 2001
        yield client
    finally:
        await cse.stop()


def sample(value_type: ValueType) -> Any:
    """A valid value of `value_type` (within its range)."""
    name = value_type.name
    if name == "list":
        return [sample(value_type.element)]
    if name == "enum":
        return min(value_type.values)
    if name in ("integer", "nonNegInteger", "positiveInteger", "byte"):
        low = value_type.minimum if value_type.minimum is not None else (1 if name == "positiveInteger" else 0)
        return int(low)
    if name == "float":
        return float(value_type.minimum) if value_type.minimum is not None else 0.5
    return {"boolean": True, "string": "text", "uri": "http://example.net/x",
            "timestamp": "20250301T101500", "datetime": "20250301T101500", "date": "2025-03-01",
            "time": "10:15:00", "blob": "AAEC"}[name]


def minimal(spec: Specialization, **extra: Any) -> dict:
    """The content of a CREATE of `spec` with only its mandatory data points."""
    body = {"cnd": spec.cnd}
    body.update({name: sample(spec.points[name].type) for name in spec.mandatory})
    body.update(extra)
    return {spec.root: body}


async def create_energy(client: CoreClient, rn: str = "energyConsumption", parent: str = METER,
                        **attributes: Any):
    body = {"rn": rn, "cnd": ENERGY, "abECn": 1234.5, "power": 1530.0, **attributes}
    return await client.create(parent, 28, {"cod:eneCn": body}, fr=AE)
