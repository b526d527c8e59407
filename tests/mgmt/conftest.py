"""Fixtures for node/mgmtObj tests: a CSE core with a node, and sample contents for every
shipped mgmtObj specialization (its mandatory attributes)."""
from __future__ import annotations

import pytest

from server.compose import build_cse
from tests.conftest import CoreClient, make_config
from tests.notify.conftest import http_sender

NODE = "cse-in/gw"
# One valid CREATE content per specialization: its root, mgd and mandatory attributes.
SAMPLES = {
    "m2m:fwr": {"mgd": 1001, "vr": "1.0", "fwn": "heatpump-fw", "url": "https://fw.example/hp-1.0.bin", "ud": False},
    "m2m:swr": {"mgd": 1002, "vr": "3.1", "swn": "energy-agent", "url": "https://sw.example/agent-3.1.tgz"},
    "m2m:mem": {"mgd": 1003, "mma": 1024, "mmt": 4096},
    "m2m:ani": {"mgd": 1004, "ant": "ZigBee"},
    "m2m:andi": {"mgd": 1005, "dvd": "zb-17", "dvt": "thermostat", "awi": "cse-in/gw/zigbee"},
    "m2m:bat": {"mgd": 1006, "btl": 80, "bts": 1},
    "m2m:dvi": {"mgd": 1007, "dlb": "hp-7", "man": "ACME Heat", "mod": "HP-7", "dty": "heatPump"},
    "m2m:dvc": {"mgd": 1008, "can": "relay", "att": True, "cas": {"acn": "", "sus": 0}, "cus": True},
    "m2m:rbo": {"mgd": 1009},
    "m2m:evl": {"mgd": 1010, "lgt": 1, "lgd": "", "lgst": 2},
}


async def make_node(client: CoreClient, rn: str = "gw", fr: str = "CAdmin", **attributes) -> dict:
    response = await client.create("cse-in", 14, {"m2m:nod": {"rn": rn, "ni": f"urn:dev:{rn}", **attributes}}, fr=fr)
    assert response.rsc == 2001, response.pc
    return response.pc["m2m:nod"]


async def grant(client: CoreClient, rn: str, *originators: str) -> list[str]:
    """An ACP (made by the admin) giving `originators` every right; its acpi list."""
    rules = {"pv": {"acr": [{"acor": list(originators), "acop": 63}]}, "pvs": {"acr": [{"acor": ["CAdmin"], "acop": 63}]}}
    response = await client.create("cse-in", 1, {"m2m:acp": {"rn": rn, **rules}})
    assert response.rsc == 2001, response.pc
    return [response.pc["m2m:acp"]["ri"]]


@pytest.fixture
async def node_core(clock):
    """A started CSE core (sending over HTTP, serving nothing) with the node cse-in/gw."""
    cse = build_cse(make_config(**{"management.action_timeout": 2.0}), clock=clock, bindings=http_sender)
    await cse.start()
    try:
        client = CoreClient(cse)
        await make_node(client)
        yield client
    finally:
        await cse.stop()
